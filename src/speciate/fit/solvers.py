"""Exact constrained least squares for many spectra at once.

The problem, for every spectrum ``s``::

    minimize  ½ xᵀ G_s x − b_sᵀ x        (G = MᵀM, b = Mᵀy: normal equations)
    subject to  Σ_{j<k} x_j = 1           (optional sum-to-one over the k weights)
                lo_j <= x_j <= hi_j        (j < k; further variables, e.g. shifts, are free)

is a strictly convex quadratic programme. Its optimum is the solution of the
equality-constrained problem on *some* active set (each weight free, on its lower
bound, on its upper bound, or excluded = fixed at 0), and that solution has the
lowest objective among all active sets whose solution is feasible. With k <= ~6
weights there are few active sets, so all of them are solved in one batched call
and the best feasible one is kept: exact, no iteration, no per-spectrum loop.

When G is shared by all spectra (plain LCF) each active set is a fixed linear map
of b, computed once. When G differs per spectrum (shift fits), the previous active
set is tried first and only spectra whose KKT conditions fail are enumerated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from speciate.errors import FitError

__all__ = ["FIXED", "FREE", "HI", "LO", "QPSolution", "enumerate_states", "solve_batched",
           "solve_shared"]  # fmt: skip

FREE, LO, HI, FIXED = 0, 1, 2, 3
# Feasibility slack, relative to the bound range: far below any meaningful weight.
_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class QPSolution:
    """Solution of the batched problem.

    Attributes
    ----------
    x : (n, p) the optimum
    states : (n, p) int, per variable FREE/LO/HI/FIXED at the optimum
    cov_unit : (n, p, p) covariance of x for unit noise variance (``σ² = 1``): the
        constrained inverse of G restricted to the free variables, zero elsewhere
    """

    x: np.ndarray
    states: np.ndarray
    cov_unit: np.ndarray


def enumerate_states(
    k: int,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    include: np.ndarray | None = None,
) -> np.ndarray:
    """Every active set worth trying for k bounded weights.

    Parameters
    ----------
    k
        Number of weights.
    lo, hi
        (k,) bounds (``±inf`` for none).
    sum_to_one
        Whether the weights must sum to one: then at least one weight is free, and a
        bound that the other bounds make unreachable is never tried.
    include
        (k,) bool, the standards allowed in the fit; the others are excluded (fixed at 0).

    Returns
    -------
    numpy.ndarray
        (n_sets, k) int8 of FREE/LO/HI/FIXED.
    """
    include = np.ones(k, bool) if include is None else np.asarray(include, bool)
    lo_in = np.where(include, lo, 0.0)
    hi_in = np.where(include, hi, 0.0)
    options = []
    for j in range(k):
        if not include[j]:
            options.append((FIXED,))
            continue
        opts = [FREE]
        others_lo = np.delete(lo_in, j).sum()
        others_hi = np.delete(hi_in, j).sum()
        # Under sum-to-one, w_j = 1 - Σ others: a lower bound below 1 - Σ hi_others is never
        # reached; an upper bound at or above 1 - Σ lo_others is reached only with all the
        # others on their lower bounds, which the set "j free, others at lo" already gives.
        if np.isfinite(lo[j]) and not (sum_to_one and lo[j] < 1.0 - others_hi):
            opts.append(LO)
        if np.isfinite(hi[j]) and not (sum_to_one and hi[j] >= 1.0 - others_lo):
            opts.append(HI)
        options.append(tuple(opts))
    states = np.array(list(itertools.product(*options)), dtype=np.int8).reshape(-1, k)
    if sum_to_one:
        states = states[(states == FREE).any(axis=1)]
    if states.shape[0] == 0:
        raise FitError("no standard is free to vary: check bounds and the standards included")
    return states


def _fixed_values(states: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    k = lo.size
    w = states[..., :k]
    vals = np.where(w == LO, lo, np.where(w == HI, hi, 0.0))
    vals = np.where(np.isfinite(vals), vals, 0.0)
    if states.shape[-1] > k:
        pad = np.zeros((*states.shape[:-1], states.shape[-1] - k))
        vals = np.concatenate([vals, pad], axis=-1)
    return vals


def kkt_matrix(g: np.ndarray, states: np.ndarray, k: int, sum_to_one: bool) -> np.ndarray:
    """KKT matrices (..., p+1, p+1): stationarity rows for free variables, ``x_i = v_i``
    rows for the others, and the sum-to-one row (or ``ν = 0`` without it)."""
    p = g.shape[-1]
    shape = np.broadcast_shapes(g.shape[:-2], states.shape[:-1])
    kkt = np.zeros((*shape, p + 1, p + 1))
    kkt[..., :p, :p] = g
    eq = np.zeros(p)
    eq[:k] = 1.0
    free = states != FREE
    kkt[..., :p, :p] = np.where(free[..., :, None], np.eye(p), kkt[..., :p, :p])
    if sum_to_one:
        kkt[..., :p, p] = np.where(free, 0.0, eq)
        kkt[..., p, :p] = eq
    else:
        kkt[..., p, p] = 1.0
    return kkt


def _rhs(b: np.ndarray, states: np.ndarray, fixed: np.ndarray, sum_to_one: bool) -> np.ndarray:
    top = np.where(states == FREE, b, fixed)
    last = np.full((*top.shape[:-1], 1), 1.0 if sum_to_one else 0.0)
    return np.concatenate([top, last], axis=-1)


def _feasible(x: np.ndarray, states: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    k = lo.size
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    tol = _TOL * np.maximum(span, 1.0)
    w = x[..., :k]
    ok = (w >= lo - tol) & (w <= hi + tol)
    return (ok | (states[..., :k] != FREE)).all(axis=-1)


def _objective(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    gx = (g @ x[..., None])[..., 0] if g.ndim > 2 else x @ g  # g is symmetric
    return ((0.5 * gx - b) * x).sum(axis=-1)


def _clip(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    k = lo.size
    x = x.copy()
    x[..., :k] = np.clip(x[..., :k], lo, hi)
    return x


def covariance_unit(kinv: np.ndarray, states: np.ndarray) -> np.ndarray:
    p = states.shape[-1]
    free = states == FREE
    cov = kinv[..., :p, :p] * free[..., :, None] * free[..., None, :]
    return cov


def solve_shared(
    g: np.ndarray,
    b: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    states: np.ndarray,
) -> QPSolution:
    """Solve for many right-hand sides sharing one G, over the given active sets.

    Parameters
    ----------
    g
        (p, p) normal matrix, positive definite.
    b
        (n, p) right-hand sides ``Mᵀy``.
    lo, hi
        (k,) bounds of the first k variables.
    sum_to_one
        Constrain the first k variables to sum to one.
    states
        (n_sets, p) active sets to try (see `enumerate_states`), or (n_groups, n_sets, p)
        to solve each group of sets separately (e.g. one group per subset of standards):
        then every output gains a leading n_groups axis.

    Returns
    -------
    QPSolution
        ``x`` (n, p) or (n_groups, n, p).
    """
    states = np.asarray(states)
    k = lo.size
    fixed = _fixed_values(states, lo, hi)
    kinv = np.linalg.inv(kkt_matrix(g, states, k, sum_to_one))  # (..., sets, p+1, p+1)
    p = g.shape[-1]
    free = (states == FREE).astype(float)
    # x = Kinv[:, :p] (free ⊙ b) + Kinv @ (fixed, eq): a linear map of b per active set
    lin = kinv[..., :, :p] * free[..., None, :]
    const = np.einsum("...ij,...j->...i", kinv, _rhs(np.zeros_like(fixed), states, fixed,
                                                      sum_to_one))  # fmt: skip
    x_all = np.swapaxes(lin[..., :p, :] @ b.T, -1, -2) + const[..., :, None, :p]
    feasible = _feasible(x_all, states[..., :, None, :], lo, hi)
    obj = _objective(x_all, g, b)
    obj = np.where(feasible, obj, np.inf)
    best = np.argmin(obj, axis=-2)  # (..., n)
    if not np.isfinite(np.take_along_axis(obj, best[..., None, :], axis=-2)).all():
        raise FitError("no feasible weights: the bounds cannot be met with weights summing to 1")
    x = np.take_along_axis(x_all, best[..., None, :, None], axis=-3)[..., 0, :, :]
    chosen = np.take(states, best, axis=-2) if states.ndim == 2 else np.take_along_axis(
        states, best[..., None], axis=-2)  # fmt: skip
    cov_sets = covariance_unit(kinv, states)  # (..., sets, p, p)
    if states.ndim == 2:
        cov = cov_sets[best]
    else:
        cov = np.take_along_axis(cov_sets, best[..., None, None], axis=-3)
    # fixed and bound variables take their values exactly, not through the inverse
    x = np.where(chosen == FREE, x, _fixed_values(chosen, lo, hi))
    return QPSolution(_clip(x, lo, hi), chosen, cov)


def _kkt_check(
    x: np.ndarray, nu: np.ndarray, g: np.ndarray, b: np.ndarray, states: np.ndarray,
    lo: np.ndarray, hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per item: KKT satisfied, primal violation of free weights, dual violation of bound ones."""
    k = lo.size
    grad = (g @ x[..., None])[..., 0] - b
    grad[:, :k] += nu[:, None]
    scale = _TOL * (1.0 + np.abs(b).max(axis=1, keepdims=True)) * 1e3
    s = states[:, :k]
    w = x[:, :k]
    primal = np.where(s == FREE, np.maximum(lo - w, w - hi), -np.inf)
    dual = np.where(s == LO, -grad[:, :k], np.where(s == HI, grad[:, :k], -np.inf))
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    ok = ((primal <= _TOL * np.maximum(span, 1.0)) & (dual <= scale)).all(axis=1)
    return ok, primal, dual


def _solve_states(g, b, states, lo, hi, sum_to_one):
    k, p = lo.size, b.shape[-1]
    fixed = _fixed_values(states, lo, hi)
    sol = np.linalg.solve(
        kkt_matrix(g, states, k, sum_to_one), _rhs(b, states, fixed, sum_to_one)[..., None]
    )[..., 0]
    return sol[..., :p], sol[..., p]


def solve_batched(
    g: np.ndarray,
    b: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    candidates: np.ndarray,
    warm: np.ndarray,
    with_cov: bool = True,
) -> QPSolution:
    """Solve problems with one G per item, starting from a guessed active set.

    A few active-set moves (pin the worst bound violator or free the worst wrong-signed
    multiplier) fix most items; those still failing the KKT conditions are solved by
    enumerating ``candidates`` and keeping the best feasible one, so the result is exact.

    Parameters
    ----------
    g
        (n, p, p) normal matrices.
    b
        (n, p) right-hand sides.
    lo, hi
        (k,) bounds of the first k variables.
    sum_to_one
        Constrain the first k variables to sum to one.
    candidates
        (n_sets, p) active sets enumerated for items whose warm start fails, or
        (n, n_sets, p) per item.
    warm
        (n, p) the active set to try first (usually the previous iteration's).
        Variables beyond k are FREE or FIXED (at 0).
    with_cov
        Also return the unit-noise covariance (skipped inside iterations).

    Returns
    -------
    QPSolution
    """
    n, p = b.shape
    k = lo.size
    states = np.array(warm, copy=True)
    x, nu = _solve_states(g, b, states, lo, hi, sum_to_one)
    todo = np.arange(n)
    for _ in range(2 * k):
        ok, primal, dual = _kkt_check(x[todo], nu[todo], g[todo], b[todo], states[todo], lo, hi)
        todo = todo[~ok]
        if todo.size == 0:
            break
        primal, dual = primal[~ok], dual[~ok]
        new = states[todo].copy()
        rows = np.arange(todo.size)
        worst_p = np.argmax(primal, axis=1)
        has_p = primal[rows, worst_p] > 0
        n_free = (new[:, :k] == FREE).sum(axis=1)
        pin = has_p & ~(sum_to_one & (n_free <= 1))
        w = x[todo, worst_p]
        new[rows[pin], worst_p[pin]] = np.where(w[pin] < lo[worst_p[pin]], LO, HI)
        worst_d = np.argmax(dual, axis=1)
        release = ~has_p
        new[rows[release], worst_d[release]] = FREE
        states[todo] = new
        x[todo], nu[todo] = _solve_states(g[todo], b[todo], new, lo, hi, sum_to_one)
    else:
        ok = _kkt_check(x[todo], nu[todo], g[todo], b[todo], states[todo], lo, hi)[0]
        todo = todo[~ok]
    if todo.size:
        cand = candidates if candidates.ndim == 3 else np.broadcast_to(
            candidates, (n, *candidates.shape))  # fmt: skip
        cand = cand[todo]  # (m, sets, p)
        gt, bt = g[todo][:, None], b[todo][:, None]
        sol_all = _solve_states(gt, bt, cand, lo, hi, sum_to_one)[0]
        obj = np.where(_feasible(sol_all, cand, lo, hi), _objective(sol_all, gt, bt), np.inf)
        best = np.argmin(obj, axis=1)
        if not np.isfinite(obj[np.arange(todo.size), best]).all():
            raise FitError(
                "no feasible weights: the bounds cannot be met with weights summing to 1"
            )
        x[todo] = sol_all[np.arange(todo.size), best]
        states[todo] = cand[np.arange(todo.size), best]
    cov = np.zeros((0, p, p))
    if with_cov:
        cov = covariance_unit(np.linalg.inv(kkt_matrix(g, states, k, sum_to_one)), states)
    x = np.where(states == FREE, x, _fixed_values(states, lo, hi))
    return QPSolution(_clip(x, lo, hi), states, cov)
