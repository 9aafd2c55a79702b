"""`scan`: which candidate (phase, domain radius) best explains each spectrum.

Every spectrum is fitted with a fixed set of standards plus one candidate at a time,
for every candidate of a sweep (e.g. theory spectra labelled by phase and cluster
radius). The R-factors over the candidates form a landscape over (phase, radius); the
best candidate has the lowest R-factor and the uncertainty band holds every candidate
whose fit is not significantly worse than the best by Hamilton's R-factor ratio test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from speciate._arrays import readonly_copy as _readonly
from speciate._export import TableExport
from speciate.errors import FitError, ValidationError
from speciate.fit.design import (
    Design,
    Standards,
    as_fit_data,
    as_standards,
    check_collinearity,
    fit_window,
    make_design,
)
from speciate.fit.lcf import (
    edge_reference,
    fit_statistics,
    parse_bounds,
    solve_plain,
    standards_array,
)
from speciate.fit.solvers import FREE, enumerate_states
from speciate.provenance import jsonable, records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["ScanResult", "hamilton_threshold", "scan"]


def hamilton_threshold(n_points: int, n_params: int, alpha: float = 0.05, b: int = 1) -> float:
    """Largest ratio chi2_c / chi2_best (= R_c / R_best with R = Σ(d−f)²/Σd²) that is
    not significantly worse at level ``alpha`` (Hamilton 1965).

    Hamilton's ratio of weighted R-factors, ``sqrt(b/(n−m)·F(b, n−m; 1−α) + 1)``, is
    squared here because the XAS R-factor is a ratio of sums of squares.

    Parameters
    ----------
    n_points
        Number of (independent) data points n.
    n_params
        Number of fitted parameters m.
    alpha
        Significance level.
    b
        Dimension of the hypothesis: 1 for the choice of one candidate (one radius).
    """
    dof = n_points - n_params
    if dof < 1:
        raise FitError(
            f"the band test needs more points than parameters; got {n_points} points "
            f"and {n_params} parameters"
        )
    return float(1.0 + b / dof * stats.f.ppf(1.0 - alpha, b, dof))


@dataclass(frozen=True, eq=False)
class ScanResult(TableExport):
    """Fits of every spectrum with the fixed standards plus each candidate in turn.

    Attributes
    ----------
    fixed : (k_f,) names of the fixed standards
    candidates : (n_c,) candidate names
    phase : (n_c,) str, the candidates' phase (their label when they carry no phase)
    radius : (n_c,) Å, the candidates' radius (NaN when they carry none)
    weights, stderr : (n_c, n_spectra, k_f + 1) weights of the fixed standards then of
        the candidate, and their 1-σ uncertainties
    shifts : (n_c, n_spectra, k_f + 1) eV, or None when shifts were not fitted
    chi2, r_factor : (n_c, n_spectra) Σ(d − f)² and Σ(d − f)²/Σd²
    ratio : (n_c, n_spectra) chi2 / chi2 of the best candidate (>= 1)
    in_band : (n_c, n_spectra) bool, ``ratio <= threshold``: not significantly worse
    best_index : (n_spectra,) int, the candidate with the lowest R-factor
    threshold : the Hamilton ratio limit used for the band
    n_points, n_params : points and parameters entering the test
    alpha : its significance level
    labels, time : carried from the data
    provenance : the call
    """

    fixed: tuple[str, ...]
    candidates: tuple[str, ...]
    phase: np.ndarray
    radius: np.ndarray
    weights: np.ndarray
    stderr: np.ndarray
    shifts: np.ndarray | None
    chi2: np.ndarray
    r_factor: np.ndarray
    ratio: np.ndarray
    in_band: np.ndarray
    best_index: np.ndarray
    threshold: float
    n_points: int
    n_params: int
    alpha: float
    labels: tuple[str, ...]
    time: np.ndarray | None
    provenance: Mapping[str, Any]

    @property
    def n_spectra(self) -> int:
        """Number of fitted spectra."""
        return int(self.chi2.shape[1])

    @property
    def best(self) -> tuple[str, ...]:
        """Per spectrum, the name of the best candidate."""
        return tuple(self.candidates[i] for i in self.best_index)

    @property
    def best_phase(self) -> np.ndarray:
        """(n_spectra,) phase of the best candidate."""
        return self.phase[self.best_index]

    @property
    def best_radius(self) -> np.ndarray:
        """(n_spectra,) Å, radius of the best candidate."""
        return self.radius[self.best_index]

    @property
    def best_weights(self) -> np.ndarray:
        """(n_spectra, k_f + 1) weights of the best fit (fixed standards, then candidate)."""
        return self.weights[self.best_index, np.arange(self.n_spectra)]

    @property
    def best_r_factor(self) -> np.ndarray:
        """(n_spectra,) R-factor of the best fit."""
        return self.r_factor[self.best_index, np.arange(self.n_spectra)]

    @property
    def radius_band(self) -> np.ndarray:
        """(n_spectra, 2) Å, smallest and largest radius inside the band among candidates
        of the best phase (NaN without radii)."""
        same = self.phase[:, None] == self.best_phase[None, :]
        inside = self.in_band & same & np.isfinite(self.radius)[:, None]
        r = self.radius[:, None]
        with np.errstate(invalid="ignore"):
            lo = np.where(inside, r, np.inf).min(axis=0)
            hi = np.where(inside, r, -np.inf).max(axis=0)
        ok = inside.any(axis=0)
        return np.stack([np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)], axis=1)

    def band(self, index: int = 0) -> tuple[str, ...]:
        """Names of the candidates inside the band for spectrum ``index``, best first."""
        inside = np.nonzero(self.in_band[:, index])[0]
        order = inside[np.argsort(self.chi2[inside, index], kind="stable")]
        return tuple(self.candidates[i] for i in order)

    def __repr__(self) -> str:
        return (
            f"ScanResult(n_spectra={self.n_spectra}, candidates={len(self.candidates)}, "
            f"fixed={list(self.fixed)}, threshold={self.threshold:.4f})"
        )

    # ------------------------------------------------------------------ tables
    def landscape(self, index: int = 0, value: str = "r_factor") -> pd.DataFrame:
        """The landscape of spectrum ``index``: phases as rows, radii as columns.

        ``value`` is ``"r_factor"``, ``"chi2"`` or ``"ratio"``; missing (phase, radius)
        pairs are NaN. Candidates without a radius appear in a column ``NaN``.
        """
        import pandas as pd

        if value not in ("r_factor", "chi2", "ratio"):
            raise ValidationError(f"value must be 'r_factor', 'chi2' or 'ratio'; got {value!r}")
        table = pd.DataFrame(
            {"phase": self.phase, "radius": self.radius, value: getattr(self, value)[:, index]}
        )
        return table.pivot_table(index="phase", columns="radius", values=value, dropna=False)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (spectrum, candidate), best first per spectrum: phase, radius,
        R-factor, ratio to the best, whether inside the band, weights."""
        import pandas as pd

        n_c, n_s = self.chi2.shape
        spec = np.repeat(np.arange(n_s), n_c)
        cand = np.tile(np.arange(n_c), n_s)
        cols: dict[str, Any] = {
            "spectrum": spec,
            "label": [self.labels[i] for i in spec],
            "candidate": [self.candidates[j] for j in cand],
            "phase": self.phase[cand],
            "radius": self.radius[cand],
            "r_factor": self.r_factor[cand, spec],
            "chi2": self.chi2[cand, spec],
            "ratio": self.ratio[cand, spec],
            "in_band": self.in_band[cand, spec],
            "best": self.best_index[spec] == cand,
        }
        for j, name in enumerate((*self.fixed, "candidate")):
            cols[f"weight_{name}"] = self.weights[cand, spec, j]
            cols[f"stderr_{name}"] = self.stderr[cand, spec, j]
        table = pd.DataFrame(cols)
        return table.sort_values(["spectrum", "chi2"], kind="stable", ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per spectrum: best candidate, its phase, radius, R-factor, weights and
        the radius band."""
        import pandas as pd

        band = self.radius_band
        cols: dict[str, Any] = {
            "label": list(self.labels),
            "best": list(self.best),
            "phase": self.best_phase,
            "radius": self.best_radius,
            "radius_low": band[:, 0],
            "radius_high": band[:, 1],
            "n_in_band": self.in_band.sum(axis=0),
            "r_factor": self.best_r_factor,
        }
        if self.time is not None:
            cols["time"] = self.time
        for j, name in enumerate((*self.fixed, "candidate")):
            cols[f"weight_{name}"] = self.best_weights[:, j]
        return pd.DataFrame(cols)

    def to_xarray(self) -> xr.Dataset:
        """Dataset with dims (candidate, spectrum, component)."""
        import xarray as xr

        grid = ("candidate", "spectrum")
        full = ("candidate", "spectrum", "component")
        data_vars: dict[str, Any] = {
            "weights": (full, self.weights),
            "stderr": (full, self.stderr),
            "chi2": (grid, self.chi2),
            "r_factor": (grid, self.r_factor),
            "ratio": (grid, self.ratio),
            "in_band": (grid, self.in_band.astype(np.int8)),
            "best_index": (("spectrum",), self.best_index),
        }
        if self.shifts is not None:
            data_vars["shifts"] = (full, self.shifts, {"units": "eV"})
        coords = {
            "candidate": ("candidate", np.array(self.candidates, dtype=str)),
            "phase": ("candidate", self.phase.astype(str)),
            "radius": ("candidate", self.radius, {"units": "angstrom"}),
            "component": ("component", np.array([*self.fixed, "candidate"], dtype=str)),
            "label": ("spectrum", np.array(self.labels, dtype=str)),
        }
        attrs = {
            "speciate_type": "ScanResult",
            "threshold": self.threshold,
            "alpha": self.alpha,
            "n_points": self.n_points,
            "n_params": self.n_params,
            "provenance": json.dumps(dict(self.provenance)),
        }
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    def report(self, max_spectra: int = 10) -> str:
        """Best candidate, band and weights per spectrum."""
        lines = [
            "[[Candidate scan]]",
            f"  fixed standards : {', '.join(self.fixed) or '(none)'}",
            f"  candidates      : {len(self.candidates)} "
            f"({len(set(self.phase.tolist()))} phase(s))",
            f"  band            : chi2 ratio <= {self.threshold:.4f} (Hamilton, alpha = "
            f"{self.alpha:g}, n = {self.n_points}, m = {self.n_params})",
        ]
        band = self.radius_band
        for i in range(min(self.n_spectra, max_spectra)):
            j = int(self.best_index[i])
            lines.append(
                f"[[{self.labels[i]}]]  best {self.candidates[j]} (phase {self.phase[j]}, "
                f"R = {self.radius[j]:g} Å, band {band[i, 0]:g}..{band[i, 1]:g} Å), "
                f"r_factor = {self.r_factor[j, i]:.5g}, {int(self.in_band[:, i].sum())} in band"
            )
            w = self.weights[j, i]
            for name, wj, ej in zip((*self.fixed, self.candidates[j]), w, self.stderr[j, i]):
                lines.append(f"    {name:<28s} {wj:8.4f} +/- {ej:.4f}")
        if self.n_spectra > max_spectra:
            lines.append(f"... {self.n_spectra - max_spectra} more spectra (summary())")
        return "\n".join(lines)


def _candidate_axes(cands: Standards, phase: str, radius: str) -> tuple[np.ndarray, np.ndarray]:
    if phase in cands.coords:
        phases = np.asarray(cands.coords[phase]).astype(str)
    else:
        phases = np.array(cands.names, dtype=str)
    if radius in cands.coords:
        try:
            radii = np.asarray(cands.coords[radius], dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"candidate coordinate {radius!r} must be numeric (Å); got "
                f"{cands.coords[radius][:5].tolist()}"
            ) from exc
    else:
        radii = np.full(cands.k, np.nan)
    return phases, radii


def _fit_one(
    design: Design, lo: np.ndarray, hi: np.ndarray, sum_to_one: bool, shifts: bool,
    max_shift: float, states: np.ndarray, n_bg: int = 0, fractions: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:  # fmt: skip
    """Weights, stderr, shifts and chi2 of one (fixed + candidate) design, all spectra.

    With a background (``n_bg`` coefficients projected out of ``design``) the solved
    variables are amplitudes; ``fractions`` turns them into weights summing to one.
    """
    k = lo.size
    if shifts:
        from speciate.fit.shifts import fit_shifted

        out = fit_shifted(design, lo, hi, sum_to_one, max_shift)
        x, st, cov = out.weights, out.states, out.cov_unit
        fit = np.einsum("sek,sk->se", out.basis, x)
    else:
        sol = solve_plain(design.matrix, design.y, lo, hi, sum_to_one, states)
        x, st, cov = sol.x, sol.states, sol.cov_unit
        fit = x @ design.matrix.T
    n_free = (st == FREE).sum(axis=1) - int(sum_to_one) + n_bg
    _, chi2, reduced, _ = fit_statistics(design.y, fit, n_free)
    cov = cov * reduced[:, None, None]
    if fractions:
        from speciate.fit.background import to_fractions

        x, _, cov, _ = to_fractions(x, cov, True)
    err = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    return x, err[:, :k], (out.shifts if shifts else None), chi2


@records_provenance(name="speciate.fit.scan")
def scan(
    data: Any,
    standards_fixed: Any,
    candidates: Any,
    *,
    alpha: float = 0.05,
    n_independent: int | None = None,
    phase: str = "phase",
    radius: str = "radius",
    e_range: tuple[float, float] = (-20.0, 60.0),
    relative_to: str = "e0",
    e0: float | None = None,
    array: str = "norm",
    sum_to_one: bool = True,
    bounds: Any = (0.0, 1.0),
    shifts: bool | None = None,
    max_shift: float = 3.0,
    background: str | None = None,
) -> ScanResult:
    """Fit every spectrum with the fixed standards plus each candidate in turn.

    Parameters
    ----------
    data
        A `NormResult` or normalized `Series`, (n_spectra, n_energy).
    standards_fixed
        Standards present in every fit (`NormResult`/`Series` or a sequence of them),
        or ``None``/``[]`` to fit each candidate alone.
    candidates
        The sweep: a `NormResult`/`Series` (or a sequence) whose n_c spectra are the
        candidates, typically carrying per-spectrum coords ``phase`` (str) and
        ``radius`` (Å), e.g. normalized theory spectra of a cluster-radius sweep. On
        any grids covering the fit window.
    alpha
        Significance level of the band: candidates whose chi2 ratio to the best stays
        within `hamilton_threshold` are inside.
    n_independent
        Number of independent points for the band test; default the number of points
        in the fit window. Closely spaced XANES points whose residuals are correlated
        (theory mismatch, not noise) make the band too narrow: pass a smaller number
        (e.g. window width / energy resolution) to widen it.
    phase, radius
        Names of the candidates' coords for the phase and the radius. A candidate
        without a phase is its own phase (its label); without a radius, NaN.
    e_range, relative_to, e0, array, sum_to_one, bounds, max_shift
        As for `lcf`; ``bounds`` applies to all k_f + 1 weights.
    shifts
        ``True``: fit one energy shift per standard and spectrum (within ±max_shift eV)
        in every fit.
    background
        As for `lcf`: every fit also fits a polynomial background (and a scale with
        sum-to-one); the band test counts them as parameters.

    Returns
    -------
    ScanResult
        The landscape (``r_factor`` (n_c, n_spectra), `ScanResult.landscape`), the best
        candidate per spectrum and the band.

    Raises
    ------
    FitError
        Standards or candidates not covering the window, a candidate duplicate of or
        collinear with the fixed standards (named), fewer points than parameters.
    ValidationError
        Bad arguments.
    """
    if not (shifts is None or isinstance(shifts, bool)):
        raise ValidationError(f"scan takes shifts=None/False/True; got {shifts!r}")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be in (0, 1); got {alpha}")
    from speciate.fit.background import amplitude_bounds, background_order, project_out

    order = background_order(background)
    fit_data = as_fit_data(data, array)
    none_fixed = standards_fixed is None or (
        isinstance(standards_fixed, (list, tuple)) and not standards_fixed
    )
    std_array = standards_array(array, background)
    fixed = None if none_fixed else as_standards(standards_fixed, std_array)
    cands = as_standards(candidates, std_array)
    k_f = 0 if fixed is None else fixed.k
    if fixed is not None:
        clash = sorted(set(fixed.names) & set(cands.names))
        if clash:
            raise FitError(f"candidates {clash} are also fixed standards; drop them from one side")
    everything = cands if fixed is None else _join(fixed, cands)
    if order is not None:
        e0 = edge_reference(fit_data, relative_to, e0)
    mask, ref = fit_window(fit_data, e_range, relative_to, e0)
    reach = max_shift if shifts else 0.0
    design = make_design(fit_data, everything, mask, ref, reach, check=False)
    if fixed is not None:
        check_collinearity(design.matrix[:, :k_f], fixed.names)
    k = k_f + 1
    lo, hi = parse_bounds(bounds, k, sum_to_one)
    y_data = design.y
    n_bg, sum_s, lo_s, hi_s = 0, sum_to_one, lo, hi
    if order is not None:
        design = project_out(design, order)
        n_bg, sum_s = order + 1, False
        lo_s, hi_s = amplitude_bounds(lo, hi, sum_to_one, background)
    states = enumerate_states(k, lo_s, hi_s, sum_s)
    n_s, n_c = design.y.shape[0], cands.k
    weights = np.zeros((n_c, n_s, k))
    stderr = np.zeros((n_c, n_s, k))
    shift_arr = np.zeros((n_c, n_s, k)) if shifts else None
    chi2 = np.zeros((n_c, n_s))
    for c in range(n_c):  # one batched fit of all spectra per candidate
        sub = design.subset([*range(k_f), k_f + c])
        check_collinearity(sub.matrix, sub.names)
        w, e, sh, ch = _fit_one(sub, lo_s, hi_s, sum_s, bool(shifts), max_shift, states,
                                n_bg, order is not None and sum_to_one)  # fmt: skip
        weights[c], stderr[c], chi2[c] = w, e, ch
        if shift_arr is not None and sh is not None:
            shift_arr[c] = sh
    with np.errstate(divide="ignore", invalid="ignore"):
        r_factor = chi2 / (y_data**2).sum(axis=1)[None, :]
    best = np.argmin(chi2, axis=0)
    best_chi2 = chi2[best, np.arange(n_s)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(best_chi2 > 0, chi2 / best_chi2, np.where(chi2 > 0, np.inf, 1.0))
    n_points = design.energy.size if n_independent is None else int(n_independent)
    if n_independent is not None and not 1 <= n_points <= design.energy.size:
        raise ValidationError(
            f"n_independent must be in 1..{design.energy.size} (points in the window); "
            f"got {n_independent}"
        )
    n_params = k - int(sum_s) + (k if shifts else 0) + n_bg
    threshold = hamilton_threshold(n_points, n_params, alpha)
    phases, radii = _candidate_axes(cands, phase, radius)
    provenance = jsonable(
        {"e0_used": design.e0, "bounds_used": [lo, hi],
         "fixed": list(fixed.names) if fixed is not None else [],
         "candidates": list(cands.names)}
    )  # fmt: skip
    return ScanResult(
        fixed=() if fixed is None else fixed.names,
        candidates=cands.names,
        phase=_readonly(phases, str),
        radius=_readonly(radii),
        weights=_readonly(weights),
        stderr=_readonly(stderr),
        shifts=None if shift_arr is None else _readonly(shift_arr),
        chi2=_readonly(chi2),
        r_factor=_readonly(r_factor),
        ratio=_readonly(ratio),
        in_band=_readonly(ratio <= threshold, bool),
        best_index=_readonly(best, int),
        threshold=threshold,
        n_points=n_points,
        n_params=n_params,
        alpha=float(alpha),
        labels=fit_data.labels,
        time=fit_data.time,
        provenance=provenance,
    )


def _join(a: Standards, b: Standards) -> Standards:
    """Fixed standards then candidates, as one `Standards` (coords dropped)."""
    return Standards(a.names + b.names, a.energies + b.energies, a.values + b.values, {})
