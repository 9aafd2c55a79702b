"""`combinations`: fit every subset of the standards and pick, per spectrum, the smallest
subset that no other fit improves significantly (F-test)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from speciate._arrays import readonly_copy as _readonly
from speciate._export import TableExport
from speciate.errors import ValidationError
from speciate.fit.lcf import parse_bounds, prepare
from speciate.fit.solvers import FIXED, FREE, LO, enumerate_states, solve_shared
from speciate.provenance import jsonable, records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from speciate.fit.results import LCFResult

__all__ = ["CombinationsResult", "combinations"]

# Iterations per subset fit with shifts: the ranking needs chi2 to ~1e-4 relative, which
# the batched LM reaches well before its default limit (measured on the Mn mixtures).
_SHIFT_ITER = 12


@dataclass(frozen=True, eq=False)
class CombinationsResult(TableExport):
    """Every subset of standards fitted to every spectrum, and the selection.

    Attributes
    ----------
    standards : (k,) standard names
    subsets : (n_subsets,) tuples of standard indices, by size then lexical order
    weights : (n_subsets, n_spectra, k) weights (0 for standards outside the subset)
    shifts : (n_subsets, n_spectra, k) eV, or None without shifts
    chi2, r_factor : (n_subsets, n_spectra)
    n_free : (n_subsets, n_spectra) int, free parameters (weights off bounds, minus one
        for sum-to-one, plus fitted shifts)
    best_index : (n_spectra,) int, the selected subset per spectrum (index into subsets)
    alpha : significance level of the F-test
    labels : (n_spectra,) spectrum labels
    provenance : the call
    settings : the fit options (window, reference E0, bounds, shifts, background...)
        that `refit` passes on to `lcf`
    scale : (n_subsets, n_spectra) fitted scale (edge step) of each fit with a
        ``background``, else None
    """

    standards: tuple[str, ...]
    subsets: tuple[tuple[int, ...], ...]
    weights: np.ndarray
    shifts: np.ndarray | None
    chi2: np.ndarray
    r_factor: np.ndarray
    n_free: np.ndarray
    best_index: np.ndarray
    alpha: float
    labels: tuple[str, ...]
    provenance: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    scale: np.ndarray | None = None

    @property
    def best(self) -> list[tuple[int, ...]]:
        """Per spectrum, the selected subset as standard indices."""
        return [self.subsets[i] for i in self.best_index]

    @property
    def best_weights(self) -> np.ndarray:
        """(n_spectra, k) weights of the selected subset."""
        return self.weights[self.best_index, np.arange(self.best_index.size)]

    @property
    def best_shifts(self) -> np.ndarray | None:
        """(n_spectra, k) eV shifts of the selected subset, or None."""
        if self.shifts is None:
            return None
        return self.shifts[self.best_index, np.arange(self.best_index.size)]

    def __repr__(self) -> str:
        return (
            f"CombinationsResult(n_spectra={len(self.labels)}, standards={list(self.standards)}, "
            f"n_subsets={len(self.subsets)}, alpha={self.alpha})"
        )

    def to_dataframe(self) -> pd.DataFrame:
        """The ranked table: one row per (spectrum, subset), best R-factor first per
        spectrum, with weights, statistics and whether the subset was selected."""
        import pandas as pd

        n_sub, n_s = self.chi2.shape
        names = [" + ".join(self.standards[j] for j in sub) for sub in self.subsets]
        spec = np.repeat(np.arange(n_s), n_sub)
        sub = np.tile(np.arange(n_sub), n_s)
        cols: dict[str, Any] = {
            "spectrum": spec,
            "label": [self.labels[i] for i in spec],
            "subset": [names[j] for j in sub],
            "n_components": [len(self.subsets[j]) for j in sub],
            "r_factor": self.r_factor[sub, spec],
            "chi2": self.chi2[sub, spec],
            "n_free": self.n_free[sub, spec],
            "selected": self.best_index[spec] == sub,
        }
        for j, name in enumerate(self.standards):
            cols[f"weight_{name}"] = self.weights[sub, spec, j]
        table = pd.DataFrame(cols)
        table["rank"] = table.groupby("spectrum")["r_factor"].rank(method="first").astype(int)
        return table.sort_values(["spectrum", "rank"], ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per spectrum: the selected subset, its weights (0 outside it), shifts
        and statistics."""
        import pandas as pd

        rows = np.arange(self.best_index.size)
        cols: dict[str, Any] = {
            "label": list(self.labels),
            "subset": [" + ".join(self.standards[j] for j in sub) for sub in self.best],
            "n_components": [len(sub) for sub in self.best],
        }
        for j, name in enumerate(self.standards):
            cols[f"weight_{name}"] = self.best_weights[:, j]
        best_shifts = self.best_shifts
        if best_shifts is not None:
            for j, name in enumerate(self.standards):
                cols[f"shift_{name}"] = best_shifts[:, j]
        cols["r_factor"] = self.r_factor[self.best_index, rows]
        cols["chi2"] = self.chi2[self.best_index, rows]
        return pd.DataFrame(cols)

    def to_xarray(self) -> xr.Dataset:
        """Dataset with dims (subset, spectrum, standard): every fit, and the selection."""
        import xarray as xr

        grid = ("subset", "spectrum")
        full = ("subset", "spectrum", "standard")
        data_vars: dict[str, Any] = {
            "weights": (full, self.weights),
            "chi2": (grid, self.chi2),
            "r_factor": (grid, self.r_factor),
            "n_free": (grid, self.n_free),
            "best_index": (("spectrum",), self.best_index),
        }
        if self.shifts is not None:
            data_vars["shifts"] = (full, self.shifts, {"units": "eV"})
        members = np.zeros((len(self.subsets), len(self.standards)), np.int8)
        for i, sub in enumerate(self.subsets):
            members[i, list(sub)] = 1
        data_vars["members"] = (("subset", "standard"), members)
        coords = {
            "standard": ("standard", np.array(self.standards, dtype=str)),
            "label": ("spectrum", np.array(self.labels, dtype=str)),
        }
        attrs = {
            "speciate_type": "CombinationsResult",
            "alpha": self.alpha,
            "provenance": json.dumps(dict(self.provenance)),
        }
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    def refit(self, data: Any, standards: Any) -> LCFResult:
        """`lcf` of every spectrum with its selected subset only, as one `LCFResult`.

        ``data`` and ``standards`` must be those given to `combinations`. Spectra that
        selected the same subset are fitted together (one batched fit per distinct
        subset); weights, stderr and shifts of standards outside a spectrum's subset
        are 0. Gives fits, residuals and uncertainties for plots and exports; with a
        ``background`` a `BackgroundLCFResult` with every spectrum's scale and
        background.
        """
        from speciate.fit.lcf import lcf

        items = [standards] if not isinstance(standards, (list, tuple)) else list(standards)
        # split into one Series per standard (k of them, never the spectra) to compare
        # names and select subsets
        stds = [s.select([i]) for s in items for i in range(len(s.labels))]
        if tuple(str(s.labels[0]) for s in stds) != self.standards:
            raise ValidationError(
                f"refit needs the standards given to combinations {list(self.standards)}; "
                f"got {[str(s.labels[0]) for s in stds]}"
            )
        if len(data.labels) != len(self.labels):
            raise ValidationError(
                f"refit needs the {len(self.labels)} spectra given to combinations; "
                f"got {len(data.labels)}"
            )
        settings = dict(self.settings)
        lo, hi = (np.asarray(b, dtype=float) for b in settings.pop("bounds"))
        parts = []
        for index in np.unique(self.best_index):
            rows = np.nonzero(self.best_index == index)[0]
            sub = list(self.subsets[index])
            fit = lcf(data.select(rows), [stds[j] for j in sub], bounds=(lo[sub], hi[sub]),
                      **settings)  # fmt: skip
            parts.append((rows, sub, fit))
        return _merge(parts, len(self.labels), self.standards, self.provenance)


def _subsets(k: int, max_components: int) -> list[tuple[int, ...]]:
    return [c for m in range(1, max_components + 1) for c in itertools.combinations(range(k), m)]


def _grouped_states(k, lo, hi, sum_to_one, include) -> np.ndarray:
    sets = [enumerate_states(k, lo, hi, sum_to_one, row) for row in include]
    n_sets = max(s.shape[0] for s in sets)
    return np.stack([np.concatenate([s, np.repeat(s[:1], n_sets - len(s), 0)]) for s in sets])


def _fit_plain(design, lo, hi, sum_to_one, include):
    matrix, y = design.matrix, design.y  # projected ones with a background: same algebra
    states = _grouped_states(matrix.shape[1], lo, hi, sum_to_one, include)
    sol = solve_shared(matrix.T @ matrix, y @ matrix, lo, hi, sum_to_one, states)
    # chi2 = |y|² − 2 x·Mᵀy + xᵀ(MᵀM)x from the normal equations: forming the residuals
    # of every subset and spectrum would be (n_subsets, n_spectra, n_points) floats
    gram, proj = matrix.T @ matrix, y @ matrix
    x = sol.x
    chi2 = (y * y).sum(axis=1)[None, :] - 2.0 * np.einsum("tsk,sk->ts", x, proj)
    chi2 += np.einsum("tsk,tsk->ts", x @ gram, x)
    np.maximum(chi2, 0.0, out=chi2)
    n_free = (sol.states == FREE).sum(axis=-1) - int(sum_to_one)
    return sol.x, None, chi2, n_free, sol.states


def _fit_shifted(design, lo, hi, sum_to_one, include, max_shift):
    """One batched shift fit of all spectra per subset, on that subset's standards only
    (a loop over the few subsets; spectra are never looped over)."""
    from speciate.fit.shifts import fit_shifted

    n_sub, k = include.shape
    n_s = design.y.shape[0]
    weights = np.zeros((n_sub, n_s, k))
    shifts = np.zeros((n_sub, n_s, k))
    chi2 = np.zeros((n_sub, n_s))
    n_free = np.zeros((n_sub, n_s), int)
    states = np.full((n_sub, n_s, k), FIXED, dtype=np.int8)
    for i, row in enumerate(include):
        idx = np.nonzero(row)[0]
        out = fit_shifted(
            design.subset(idx), lo[idx], hi[idx], sum_to_one, max_shift, max_iter=_SHIFT_ITER
        )
        weights[i][:, idx] = out.weights
        shifts[i][:, idx] = out.shifts
        chi2[i] = out.chi2
        n_free[i] = (out.states == FREE).sum(axis=1) - int(sum_to_one)
        states[i][:, idx] = out.states[:, : idx.size]
    return weights, shifts, chi2, n_free, states


def select_subsets(
    chi2: np.ndarray,
    n_free: np.ndarray,
    sizes: np.ndarray,
    superset: np.ndarray,
    redundant: np.ndarray,
    n_points: int,
    alpha: float,
) -> np.ndarray:
    """Per spectrum, the smallest adequate subset (lowest chi2 among equals).

    A subset S is adequate when no superset T and not the overall best fit improve it
    significantly: ``F = ((chi2_S − chi2_T)/max(p_T − p_S, 1)) / (chi2_T/(n − p_T))``
    has a p-value >= ``alpha / m`` for all m comparisons of S (Bonferroni). Subsets with
    a standard stuck on a zero bound are redundant (a smaller subset gives the same fit)
    and never selected.

    Parameters
    ----------
    chi2, n_free
        (n_subsets, n_spectra): chi2 and the number of parameters of each fit.
    sizes
        (n_subsets,) number of standards per subset.
    superset
        (n_subsets, n_subsets) bool, ``superset[t, s]``: subset t strictly contains s.
    redundant
        (n_subsets, n_spectra) bool.
    n_points
        Number of data points in the fit window.
    alpha
        Significance level.
    """
    n_sub, n_s = chi2.shape
    overall = np.argmin(chi2, axis=0)
    compare = superset[:, :, None] | (np.arange(n_sub)[:, None, None] == overall[None, None, :])
    c_s, c_t = chi2[None, :, :], chi2[:, None, :]  # [t, s, spectrum]
    p_s, p_t = n_free[None, :, :], n_free[:, None, :]
    dfd = np.maximum(n_points - p_t, 1)
    dfn = np.maximum(p_t - p_s, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = ((c_s - c_t) / dfn) / (c_t / dfd)
    f = np.where(np.isfinite(f), f, np.where(c_s > c_t, np.inf, 0.0))
    # Bonferroni: S is tested against all its supersets at once, so each comparison gets
    # alpha / (number of comparisons) and the family keeps the level alpha
    n_compare = np.maximum(compare.sum(axis=0, keepdims=True), 1)
    # the F distribution is evaluated only where a superset fits better (a small share)
    tested = (c_t < c_s) & compare
    dfn_t = np.broadcast_to(dfn, tested.shape)[tested]
    dfd_t = np.broadcast_to(dfd, tested.shape)[tested]
    level = np.broadcast_to(alpha / n_compare, tested.shape)[tested]
    significant = np.zeros_like(tested)
    significant[tested] = stats.f.sf(f[tested], dfn_t, dfd_t) < level
    adequate = ~significant.any(axis=0) & ~redundant
    # the overall best fit is always adequate (nothing beats it), so every spectrum has one
    adequate[overall, np.arange(n_s)] |= True
    smallest = np.where(adequate, sizes[:, None].astype(float), np.inf).min(axis=0)
    tie = np.where(adequate & (sizes[:, None] == smallest[None, :]), chi2, np.inf)
    return np.argmin(tie, axis=0)


@records_provenance(name="speciate.fit.combinations")
def combinations(
    data: Any,
    standards: Any,
    max_components: int = 4,
    shifts: Any = None,
    alpha: float = 0.05,
    *,
    e_range: tuple[float, float] = (-20.0, 60.0),
    relative_to: str = "e0",
    e0: float | None = None,
    array: str = "norm",
    sum_to_one: bool = True,
    bounds: Any = (0.0, 1.0),
    max_shift: float = 3.0,
    background: str | None = None,
) -> CombinationsResult:
    """Fit every subset of up to ``max_components`` standards to every spectrum.

    All subsets and spectra are solved together: without shifts each subset's active
    sets are linear maps of the shared normal equations; with shifts, every
    (subset, spectrum) pair is one item of the batched shift fit.

    Parameters
    ----------
    data, standards
        As for `lcf`.
    max_components
        Largest subset size.
    shifts
        ``None``/``False`` or ``True`` (fit per-standard shifts within ``±max_shift`` eV).
    alpha
        Significance level of the F-test that decides whether a larger fit is better.
    e_range, relative_to, e0, array, sum_to_one, bounds, max_shift, background
        As for `lcf`. With a ``background`` every subset fit also fits the polynomial
        (and a scale with sum-to-one), so raw μ can be ranked directly; the F-test counts
        the background coefficients and the scale as parameters of every fit.

    Returns
    -------
    CombinationsResult
        ``best`` (selected subset per spectrum), ``best_weights``, and the ranked table
        (`CombinationsResult.to_dataframe`).
    """
    if not (shifts is None or isinstance(shifts, bool)):
        raise ValidationError(f"combinations takes shifts=None/False/True; got {shifts!r}")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be in (0, 1); got {alpha}")
    fit_data, stds, design = prepare(
        data, standards, e_range, relative_to, e0, array, max_shift if shifts else 0.0,
        background,
    )  # fmt: skip
    k = stds.k
    if not 1 <= max_components:
        raise ValidationError(f"max_components must be >= 1; got {max_components}")
    max_components = min(int(max_components), k)
    lo, hi = parse_bounds(bounds, k, sum_to_one)
    # with a background the solvers see amplitudes scale·w: no sum-to-one, sign bounds
    n_bg = 0 if background is None else design.background.shape[1]
    if background is not None:
        from speciate.fit.background import amplitude_bounds

        lo_s, hi_s, sum_s = *amplitude_bounds(lo, hi, sum_to_one, background), False
    else:
        lo_s, hi_s, sum_s = lo, hi, sum_to_one
    subsets = _subsets(k, max_components)
    include = np.zeros((len(subsets), k), bool)
    for i, sub in enumerate(subsets):
        include[i, list(sub)] = True
    if shifts:
        weights, shift_arr, chi2, n_free, w_states = _fit_shifted(
            design, lo_s, hi_s, sum_s, include, max_shift
        )
    else:
        weights, shift_arr, chi2, n_free, w_states = _fit_plain(design, lo_s, hi_s, sum_s, include)
    scale = None
    if background is not None:
        n_free = n_free + n_bg
        if sum_to_one:
            scale = weights.sum(axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                weights = weights / scale[:, :, None]
    y_data = getattr(design, "parent", design).y  # the data as given, not projected
    with np.errstate(divide="ignore", invalid="ignore"):
        r_factor = chi2 / (y_data**2).sum(axis=1)[None, :]
    sizes = include.sum(axis=1)
    superset = (include[:, None, :] >= include[None, :, :]).all(axis=2) & (
        sizes[:, None] > sizes[None, :]
    )
    redundant = ((w_states == LO) & (lo_s == 0.0) & include[:, None, :]).any(axis=2)
    # the F-test counts every parameter a subset brings (weights, shifts), even when one
    # ends on a bound: counting only the free ones would favour adding a standard whose
    # shift runs to ±max_shift to soak up noise. With a background the scale replaces
    # the sum-to-one constraint and the background coefficients add to every fit.
    n_param = sizes - int(sum_s) + (sizes if shifts else 0) + n_bg
    n_param = np.broadcast_to(n_param[:, None], chi2.shape)
    best = select_subsets(chi2, n_param, sizes, superset, redundant, design.y.shape[1], alpha)
    settings = {
        "e_range": e_range,
        "relative_to": "absolute" if design.e0 is None else "e0",
        "e0": design.e0,
        "array": array,
        "sum_to_one": sum_to_one,
        "bounds": (lo, hi),
        "shifts": True if shifts else None,
        "max_shift": max_shift,
        "background": background,
    }
    return CombinationsResult(
        standards=stds.names,
        subsets=tuple(subsets),
        weights=_readonly(weights),
        shifts=None if shift_arr is None else _readonly(shift_arr),
        chi2=_readonly(chi2),
        r_factor=_readonly(r_factor),
        n_free=_readonly(n_free, int),
        best_index=_readonly(best, int),
        alpha=float(alpha),
        labels=fit_data.labels,
        provenance=jsonable({"standards": list(stds.names), "e0_used": design.e0}),
        settings=settings,
        scale=None if scale is None else _readonly(scale),
    )


def _merge(parts, n_s, names, provenance):
    """One result, of the parts' own class, from per-subset `LCFResult`s
    ``(rows, subset, result)`` (all plain or all with a fitted background)."""
    from speciate.fit.background import BackgroundLCFResult

    first = parts[0][2]
    k, n_e = len(names), first.energy.size
    out: dict[str, Any] = {
        "data": np.zeros((n_s, n_e)), "fit": np.zeros((n_s, n_e)),
        "residual": np.zeros((n_s, n_e)), "basis": np.zeros((n_s, n_e, k)),
        "weights": np.zeros((n_s, k)), "stderr": np.zeros((n_s, k)),
        "total": np.zeros(n_s), "r_factor": np.zeros(n_s), "chi2": np.zeros(n_s),
        "reduced_chi2": np.zeros(n_s), "n_free": np.zeros(n_s, int),
        "at_bound": np.zeros((n_s, k), bool),
    }  # fmt: skip
    with_shifts = first.shifts is not None
    if with_shifts:
        out["shifts"] = np.zeros((n_s, k))
        out["shifts_stderr"] = np.zeros((n_s, k))
    per_spectrum = ["data", "fit", "residual", "total", "r_factor", "chi2", "reduced_chi2",
                    "n_free"]  # fmt: skip
    extra = {}
    if isinstance(first, BackgroundLCFResult):  # scale and background too
        out["scale"], out["scale_stderr"] = np.zeros(n_s), np.zeros(n_s)
        out["background"] = np.zeros((n_s, n_e))
        out["background_coefs"] = np.zeros((n_s, first.background_coefs.shape[1]))
        per_spectrum += ["scale", "scale_stderr", "background", "background_coefs"]
        extra = {"background_center": first.background_center,
                 "background_kind": first.background_kind}  # fmt: skip
    labels = [""] * n_s
    for rows, sub, res in parts:  # one item per distinct subset
        for key in per_spectrum:
            out[key][rows] = getattr(res, key)
        for key in ("weights", "stderr", "at_bound") + (
            ("shifts", "shifts_stderr") if with_shifts else ()
        ):
            out[key][np.ix_(rows, sub)] = getattr(res, key)
        out["basis"][np.ix_(rows, np.arange(n_e), sub)] = np.broadcast_to(
            res.basis, (rows.size, n_e, len(sub))
        )
        for r, lab in zip(rows, res.labels):
            labels[r] = lab
    arrays = {key: _readonly(val, val.dtype) for key, val in out.items()}
    if not with_shifts:
        arrays["shifts"] = arrays["shifts_stderr"] = None
    time = None
    if first.time is not None:
        time = np.empty(n_s, dtype=first.time.dtype)
        for rows, _, res in parts:
            time[rows] = res.time
    coords = {}
    for key, val in first.coords.items():
        full = np.empty(n_s, dtype=np.asarray(val).dtype)
        for rows, _, res in parts:
            full[rows] = res.coords[key]
        coords[key] = full
    return type(first)(
        energy=first.energy, standards=tuple(names), labels=tuple(labels), time=time,
        coords=coords, e0=first.e0, e_range=first.e_range,
        provenance={**dict(provenance), "refit": "lcf per selected subset"}, **arrays, **extra,
    )  # fmt: skip
