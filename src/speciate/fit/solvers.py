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


def _clip(x: np.ndarray, states: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Weights into their bounds (rounding), except excluded ones, which stay at 0."""
    k = lo.size
    x = x.copy()
    x[..., :k] = np.where(states[..., :k] == FIXED, x[..., :k], np.clip(x[..., :k], lo, hi))
    return x


def covariance_unit(kinv: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Covariance for unit noise variance from inverted KKT matrices (..., p+1, p+1):
    the block of the free variables, zero rows and columns for the others."""
    p = states.shape[-1]
    free = states == FREE
    return kinv[..., :p, :p] * free[..., :, None] * free[..., None, :]


def _kkt_check(x, nu, gx, b, states, lo, hi, dual_tol, primal_tol):
    """Per item: KKT satisfied, primal violation of free weights, dual violation of bound
    ones. ``gx`` is G·x (n, p); ``dual_tol`` (n,) and ``primal_tol`` (k,) the slacks."""
    k = lo.size
    s = states[:, :k]
    w = x[:, :k]
    grad = gx[:, :k] - b[:, :k] + nu[:, None]
    primal = np.where(s == FREE, np.maximum(lo - w, w - hi), -np.inf)
    dual = np.where(s == LO, -grad, np.where(s == HI, grad, -np.inf))
    ok = ((primal <= primal_tol) & (dual <= dual_tol[:, None])).all(axis=1)
    return ok, primal, dual


def _move(states, x, primal, dual, lo, hi, sum_to_one, block: bool) -> np.ndarray:
    """Active-set moves per item: pin the worst bound violator (``block``: every
    violator, keeping the mildest free when nothing else would be), else free the
    weight with the worst wrong-signed multiplier."""
    k = lo.size
    new = states.copy()
    rows = np.arange(new.shape[0])
    worst_p = np.argmax(primal, axis=1)
    has_p = primal[rows, worst_p] > 0
    n_free = (new[:, :k] == FREE).sum(axis=1)
    if block:
        pin = primal > 0
        if sum_to_one:  # keep one weight free: the least violating of the free ones
            all_pinned = (pin.sum(axis=1) >= n_free) & has_p
            keep = np.argmin(np.where(pin, primal, np.inf), axis=1)
            pin[rows[all_pinned], keep[all_pinned]] = False
        w = x[:, :k]
        new[:, :k] = np.where(pin, np.where(w < lo, LO, HI), new[:, :k])
    else:
        pin = has_p & ~(sum_to_one & (n_free <= 1))
        w = x[rows, worst_p]
        new[rows[pin], worst_p[pin]] = np.where(w[pin] < lo[worst_p[pin]], LO, HI)
    worst_d = np.argmax(dual, axis=1)
    release = ~has_p
    new[rows[release], worst_d[release]] = FREE
    return new


def _active_set(solve, gx_of, b, states, lo, hi, sum_to_one):
    """Primal-dual active-set moves from ``states`` (n, p), all items at once.

    ``solve(idx, states)`` returns x (m, p), ν (m,) and whether each item's active set
    could be solved; ``gx_of(idx, x)`` returns G·x. Returns x, ν, the states and the
    items that still fail the KKT conditions (to be enumerated).
    """
    n, p = b.shape
    k = lo.size
    x, nu = np.zeros((n, p)), np.zeros(n)
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    primal_tol = _TOL * np.maximum(span, 1.0)
    dual_tol = _TOL * 1e3 * (1.0 + np.abs(b).max(axis=1))
    todo = np.arange(n)
    unsolved = []
    for move in range(2 * k + 1):
        xs, nus, found = solve(todo, states[todo])
        if not found.all():
            unsolved.append(todo[~found])
            todo, xs, nus = todo[found], xs[found], nus[found]
        x[todo], nu[todo] = xs, nus
        st = states[todo]
        ok, primal, dual = _kkt_check(xs, nus, gx_of(todo, xs), b[todo], st, lo, hi,
                                      dual_tol[todo], primal_tol)  # fmt: skip
        bad = ~ok
        todo, primal, dual = todo[bad], primal[bad], dual[bad]
        if todo.size == 0 or move == 2 * k:
            break
        # pin all violators at first (most items are then done), one at a time later
        states[todo] = _move(st[bad], xs[bad], primal, dual, lo, hi, sum_to_one,
                             block=move < 2)  # fmt: skip
    return x, nu, states, np.concatenate([*unsolved, todo])


def _best_feasible(x_all, cand, gx_all, b, lo, hi) -> np.ndarray:
    """Per item, the candidate (axis 1) with the lowest objective among feasible ones."""
    obj = ((0.5 * gx_all - b[:, None, :]) * x_all).sum(axis=-1)
    obj = np.where(_feasible(x_all, cand, lo, hi), obj, np.inf)
    best = np.argmin(obj, axis=1)
    if not np.isfinite(obj[np.arange(best.size), best]).all():
        raise FitError("no feasible weights: the bounds cannot be met with weights summing to 1")
    return best


def _state_codes(states: np.ndarray) -> np.ndarray:
    """An integer per active set (base 4 over the p variables; p <= 20 in practice)."""
    return states.astype(np.int64) @ (4 ** np.arange(states.shape[-1], dtype=np.int64))


def solve_shared(
    g: np.ndarray,
    b: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    states: np.ndarray,
) -> QPSolution:
    """Solve for many right-hand sides sharing one G, over the given active sets.

    Every active set's solution is a fixed linear map of b (the KKT matrix inverted once
    per set), so each item moves through active sets at the cost of a small product:
    starting from all weights free, the worst bound violator is pinned or the worst
    wrong-signed multiplier freed until the KKT conditions hold (the optimum of a convex
    problem). The rare items not done after 2k moves are solved by trying all their sets.

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
    grouped = states.ndim == 3
    table = states if grouped else states[None]  # (n_groups, n_sets, p)
    n_groups, n_sets, p = table.shape
    n, k = b.shape[0], lo.size
    fixed = _fixed_values(table, lo, hi)
    kinv = np.linalg.inv(kkt_matrix(g, table, k, sum_to_one)).reshape(-1, p + 1, p + 1)
    flat = table.reshape(-1, p)
    lin = kinv[:, :, :p] * (flat == FREE)[:, None, :]  # (sets, p+1, p), acts on b
    rhs = _rhs(np.zeros_like(fixed), table, fixed, sum_to_one).reshape(-1, p + 1, 1)
    const = (kinv @ rhs)[..., 0]  # the part of the solution not proportional to b
    # look-up of a set by (group, code): sorted codes, groups apart by 4**p
    span = np.int64(4) ** p
    keys = _state_codes(flat) + np.repeat(np.arange(n_groups, dtype=np.int64), n_sets) * span
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    group = np.repeat(np.arange(n_groups), n)  # item = group * n + spectrum
    spectrum = np.tile(np.arange(n), n_groups)
    b_items = b[spectrum] if grouped else b
    chosen_set = np.zeros(group.size, np.intp)

    def solve(idx, st):
        q = _state_codes(st) + group[idx] * span
        pos = np.minimum(np.searchsorted(sorted_keys, q), sorted_keys.size - 1)
        found = sorted_keys[pos] == q
        chosen_set[idx] = order[pos]
        m = lin[chosen_set[idx]]
        sol = (m @ b_items[idx][:, :, None])[..., 0] + const[chosen_set[idx]]
        return sol[:, :p], sol[:, p], found

    # start from every included weight free: the set with the most FREE entries
    start = np.argmax((table == FREE).sum(axis=2), axis=1)  # (n_groups,)
    warm = table[group, start[group]]
    x, _nu, st, todo = _active_set(solve, lambda idx, xi: xi @ g, b_items, warm, lo, hi,
                                   sum_to_one)  # fmt: skip
    if todo.size:
        sets = group[todo, None] * n_sets + np.arange(n_sets)  # (m, n_sets) flat set ids
        x_all = (lin[sets] @ b_items[todo][:, None, :, None])[..., 0] + const[sets]
        x_all = x_all[..., :p]
        best = _best_feasible(x_all, flat[sets], x_all @ g, b_items[todo], lo, hi)
        rows = np.arange(todo.size)
        x[todo] = x_all[rows, best]
        st[todo] = flat[sets[rows, best]]
        chosen_set[todo] = sets[rows, best]
    cov = covariance_unit(kinv, flat)[chosen_set]
    x = np.where(st == FREE, x, _fixed_values(st, lo, hi))
    x = _clip(x, st, lo, hi)
    if grouped:
        return QPSolution(x.reshape(n_groups, n, p), st.reshape(n_groups, n, p),
                          cov.reshape(n_groups, n, p, p))  # fmt: skip
    return QPSolution(x, st, cov)


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

    def solve(idx, st):
        x, nu = _solve_states(g[idx], b[idx], st, lo, hi, sum_to_one)
        return x, nu, np.ones(idx.size, bool)

    def gx_of(idx, xi):
        return (g[idx] @ xi[:, :, None])[..., 0]

    states = np.array(warm, copy=True)
    x, _nu, states, todo = _active_set(solve, gx_of, b, states, lo, hi, sum_to_one)
    if todo.size:
        cand = candidates if candidates.ndim == 3 else np.broadcast_to(
            candidates, (n, *candidates.shape))  # fmt: skip
        cand = cand[todo]  # (m, sets, p)
        gt = g[todo][:, None]
        sol_all = _solve_states(gt, b[todo][:, None], cand, lo, hi, sum_to_one)[0]
        best = _best_feasible(sol_all, cand, (gt @ sol_all[..., None])[..., 0], b[todo], lo, hi)
        rows = np.arange(todo.size)
        x[todo] = sol_all[rows, best]
        states[todo] = cand[rows, best]
    cov = np.zeros((0, p, p))
    if with_cov:
        cov = covariance_unit(np.linalg.inv(kkt_matrix(g, states, k, sum_to_one)), states)
    x = np.where(states == FREE, x, _fixed_values(states, lo, hi))
    return QPSolution(_clip(x, states, lo, hi), states, cov)
