"""Per-standard energy shifts: batched Levenberg–Marquardt over all spectra at once.

Model for spectrum s: ``f_s(E) = Σ_j w_sj · S_j(E − δ_sj)``, each standard j with its
own shift δ_sj (eV, |δ| <= max_shift). Every iteration linearizes in δ around the
current point and solves the joint problem in (w, Δδ) *exactly* under the weight
constraints (sum-to-one, bounds) with the batched active-set solver, Marquardt damping
on the Δδ block. A step is kept only if the chi2, with the weights re-solved exactly at
the new shifts, goes down; damping is adapted per spectrum. No per-spectrum loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speciate.fit.design import Design
from speciate.fit.solvers import (
    FIXED,
    FREE,
    LO,
    covariance_unit,
    enumerate_states,
    kkt_matrix,
    solve_batched,
)

__all__ = ["ShiftFit", "fit_shifted"]

_MAX_ITER = 20
_LAMBDA0 = 1e-3
# relative chi2 decrease / shift step below which a spectrum counts as converged
_RTOL = 1e-6
_STEP_TOL = 1e-4  # eV


@dataclass(frozen=True, eq=False)
class ShiftFit:
    """Weights and shifts of every item (spectrum, or spectrum × subset).

    Attributes
    ----------
    weights : (n, k)
    shifts : (n, k) eV
    states : (n, 2k) FREE/LO/HI/FIXED of weights then shifts at the optimum
    cov_unit : (n, 2k, 2k) covariance for unit noise variance
    basis : (n, n_energy, k) standards at ``E − shift``
    chi2 : (n,) Σ residual²
    n_iter : int, iterations used
    """

    weights: np.ndarray
    shifts: np.ndarray
    states: np.ndarray
    cov_unit: np.ndarray
    basis: np.ndarray
    chi2: np.ndarray
    n_iter: int


def _candidates(k: int, lo, hi, sum_to_one: bool, include: np.ndarray, extra: bool) -> np.ndarray:
    """Active sets per item (n, n_sets, k or 2k); items with the same standards share them."""
    uniq, inverse = np.unique(include, axis=0, return_inverse=True)
    sets = [enumerate_states(k, lo, hi, sum_to_one, row) for row in uniq]
    n_sets = max(s.shape[0] for s in sets)
    # pad with repeats of the first set: a duplicate candidate changes nothing
    padded = np.stack([np.concatenate([s, np.repeat(s[:1], n_sets - len(s), 0)]) for s in sets])
    if extra:
        shift_state = np.where(uniq, FREE, FIXED).astype(np.int8)[:, None, :]
        padded = np.concatenate([padded, np.broadcast_to(shift_state, padded.shape)], axis=2)
    return padded[inverse.ravel()]


def _warm(include: np.ndarray, extra: bool) -> np.ndarray:
    w = np.where(include, FREE, FIXED).astype(np.int8)
    return np.concatenate([w, w], axis=1) if extra else w


def _solve_weights(basis, y, lo, hi, sum_to_one, cand, warm, with_cov=False):
    bt = basis.transpose(0, 2, 1)
    g = bt @ basis
    b = (bt @ y[:, :, None])[..., 0]
    return solve_batched(g, b, lo, hi, sum_to_one, cand, warm, with_cov)


def _chi2(basis: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = y - np.einsum("nek,nk->ne", basis, w)
    return (r**2).sum(axis=1)


def _joint_system(basis, deriv, w, y):
    jac = np.concatenate([basis, -deriv * w[:, None, :]], axis=2)  # (n, n_e, 2k)
    jt = jac.transpose(0, 2, 1)
    g = jt @ jac
    b = (jt @ y[:, :, None])[..., 0]
    return g, b


def fit_shifted(
    design: Design,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    max_shift: float,
    fixed: np.ndarray | None = None,
    include: np.ndarray | None = None,
    y: np.ndarray | None = None,
    max_iter: int = _MAX_ITER,
) -> ShiftFit:
    """Fit weights and per-standard shifts (or weights at given fixed shifts).

    Parameters
    ----------
    design
        Standards and data on the fit window.
    lo, hi
        (k,) weight bounds.
    sum_to_one
        Constrain weights to sum to one.
    max_shift
        Bound on |shift|, eV.
    fixed
        (n, k) shifts to apply instead of fitting them.
    include
        (n, k) bool, standards used by each item (others excluded: weight and shift 0);
        default all.
    y
        (n, n_energy) data per item; default ``design.y``.
    max_iter
        Largest number of Levenberg–Marquardt iterations.

    A standard that ends with weight 0 has no measurable shift: its shift is reported
    as 0 (with stderr 0).
    """
    y = design.y if y is None else y
    n, k = y.shape[0], design.matrix.shape[1]
    include = np.ones((n, k), bool) if include is None else np.asarray(include, bool)
    cand_w = _candidates(k, lo, hi, sum_to_one, include, extra=False)
    if fixed is not None:
        basis = design.shifted(fixed)
        sol = _solve_weights(basis, y, lo, hi, sum_to_one, cand_w, _warm(include, False), True)
        return ShiftFit(sol.x, fixed, sol.states, sol.cov_unit, basis,
                        _chi2(basis, sol.x, y), 0)  # fmt: skip
    cand_j = _candidates(k, lo, hi, sum_to_one, include, extra=True)
    delta = np.zeros((n, k))
    basis, slope = design.shifted_with_slope(delta)
    sol = _solve_weights(basis, y, lo, hi, sum_to_one, cand_w, _warm(include, False))
    w, w_states = sol.x, sol.states
    chi2 = _chi2(basis, w, y)
    lam = np.full(n, _LAMBDA0)
    active = np.ones(n, bool)
    joint_states = np.concatenate([w_states, np.where(include, FREE, FIXED)], axis=1)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - kept for the result
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        g, b = _joint_system(basis[idx], slope[idx], w[idx], y[idx])
        diag = np.diagonal(g, axis1=1, axis2=2)
        floor = 1e-9 * diag[:, :k].sum(axis=1, keepdims=True) / k + 1e-300
        damp = lam[idx, None] * (diag[:, k:] + floor) + floor
        g[:, np.arange(k, 2 * k), np.arange(k, 2 * k)] += damp
        step = solve_batched(
            g, b, lo, hi, sum_to_one, cand_j[idx], joint_states[idx], with_cov=False
        )
        trial = np.clip(delta[idx] + step.x[:, k:], -max_shift, max_shift)
        trial_basis, trial_slope = design.shifted_with_slope(trial)
        trial_sol = _solve_weights(
            trial_basis, y[idx], lo, hi, sum_to_one, cand_w[idx], w_states[idx]
        )
        trial_chi2 = _chi2(trial_basis, trial_sol.x, y[idx])
        better = trial_chi2 < chi2[idx]
        acc = idx[better]
        gain = (chi2[acc] - trial_chi2[better]) / np.maximum(chi2[acc], 1e-300)
        moved = np.abs(trial[better] - delta[acc]).max(axis=1)
        delta[acc] = trial[better]
        basis[acc] = trial_basis[better]
        slope[acc] = trial_slope[better]
        w[acc] = trial_sol.x[better]
        w_states[acc] = trial_sol.states[better]
        chi2[acc] = trial_chi2[better]
        joint_states[acc] = step.states[better]
        lam[acc] = np.maximum(lam[acc] / 3.0, 1e-12)
        lam[idx[~better]] *= 10.0
        done = np.zeros(n, bool)
        done[acc[(gain < _RTOL) | (moved < _STEP_TOL)]] = True
        done[idx[~better & (lam[idx] > 1e6)]] = True
        active &= ~done
    absent = w == 0.0  # an absent standard's shift is undetermined: report 0
    rows = np.nonzero((absent & (delta != 0.0)).any(axis=1))[0]
    if rows.size:
        delta[rows] = np.where(absent[rows], 0.0, delta[rows])
        basis[rows], slope[rows] = design.shifted_with_slope(delta[rows])
    return _finish(y, w, w_states, delta, basis, slope, chi2, include, lo, sum_to_one,
                   max_shift, n_iter)  # fmt: skip


def _finish(y, w, w_states, delta, basis, slope, chi2, include, lo, sum_to_one, max_shift,
            n_iter) -> ShiftFit:  # fmt: skip
    """Covariance from the undamped joint Jacobian at the optimum.

    A shift counts as free only for a standard with a non-zero weight whose shift is
    inside ±max_shift; the others are held fixed (their derivative column is zero or
    they sit on the bound).
    """
    k = w.shape[1]
    g, _b = _joint_system(basis, slope, w, y)
    nonzero = include & ~((w_states == LO) & (lo == 0)) & (np.abs(w) > 0)
    inside = np.abs(delta) < max_shift * (1 - 1e-9)
    shift_states = np.where(nonzero & inside, FREE, FIXED).astype(np.int8)
    states = np.concatenate([w_states, shift_states], axis=1)
    kkt = kkt_matrix(g, states, k, sum_to_one)
    cov = covariance_unit(np.linalg.pinv(kkt), states)
    return ShiftFit(w, delta, states, cov, basis, chi2, n_iter)
