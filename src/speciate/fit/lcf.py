"""`lcf`: batched linear-combination fitting of a whole series against standards."""

from __future__ import annotations

from typing import Any

import numpy as np

from speciate._arrays import readonly_copy as _readonly
from speciate.errors import FitError, ValidationError
from speciate.fit.design import (
    Design,
    FitData,
    Standards,
    as_fit_data,
    as_standards,
    fit_window,
    make_design,
)
from speciate.fit.results import LCFResult
from speciate.fit.solvers import FREE, HI, LO, QPSolution, enumerate_states, solve_shared
from speciate.provenance import jsonable, records_provenance

__all__ = ["lcf", "parse_bounds", "prepare", "solve_plain", "standards_array"]


def _freeze(a: np.ndarray) -> np.ndarray:
    """Read-only without a copy: ``a`` was made by this fit (or is a view of an array made
    by it, such as the transposed shifted standards, or of the read-only design)."""
    if a.dtype != float:
        return _readonly(a)
    a.setflags(write=False)
    return a


def parse_bounds(bounds: Any, k: int, sum_to_one: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bounds as two (k,) arrays; ``None`` on either side means unbounded.

    ``bounds`` is ``(lo, hi)`` with scalars or (k,) sequences, or ``None``.
    """
    if bounds is None:
        bounds = (None, None)
    try:
        lo_in, hi_in = bounds
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"bounds must be (lo, hi) or None; got {bounds!r}") from exc
    lo = np.broadcast_to(np.asarray(-np.inf if lo_in is None else lo_in, dtype=float), (k,))
    hi = np.broadcast_to(np.asarray(np.inf if hi_in is None else hi_in, dtype=float), (k,))
    if (lo > hi).any():
        raise ValidationError(f"bounds need lo <= hi for every standard; got lo={lo}, hi={hi}")
    if sum_to_one and not (lo.sum() <= 1.0 <= hi.sum()):
        raise ValidationError(
            f"weights summing to 1 cannot satisfy bounds lo={lo.tolist()}, hi={hi.tolist()} "
            f"(Σlo = {lo.sum():g}, Σhi = {hi.sum():g})"
        )
    return lo.copy(), hi.copy()


def solve_plain(
    matrix: np.ndarray,
    y: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sum_to_one: bool,
    states: np.ndarray | None = None,
) -> QPSolution:
    """Exact bounded (and sum-to-one) least squares of every row of ``y`` on ``matrix``.

    Parameters
    ----------
    matrix
        (n_energy, k) standards on the data grid, shared by all spectra.
    y
        (n_spectra, n_energy) data.
    lo, hi
        (k,) bounds.
    sum_to_one
        Constrain the weights to sum to one.
    states
        Active sets to try, (n_sets, k) or grouped (n_groups, n_sets, k); default all.
    """
    if states is None:
        states = enumerate_states(matrix.shape[1], lo, hi, sum_to_one)
    g = matrix.T @ matrix
    b = y @ matrix
    return solve_shared(g, b, lo, hi, sum_to_one, states)


def standards_array(array: str, background: Any) -> str:
    """Which array of `NormResult` standards a fit uses: a raw-μ fit with a background
    (``array="mu"``) fits the raw data with the normalized standards."""
    return "norm" if (background is not None and array == "mu") else array


def edge_reference(fit_data: FitData, relative_to: str, e0: float | None) -> float | None:
    """``e0`` as given, or for raw data without E0s (a plain `Series` of μ) the median
    E0 found by `speciate.xanes.find_e0`, so that ``relative_to="e0"`` windows work."""
    if e0 is not None or relative_to != "e0" or fit_data.e0 is not None:
        return e0
    from speciate.xanes.normalize import find_e0

    values = fit_data.values
    finite = np.isfinite(values).all(axis=0)
    return float(np.median(find_e0(fit_data.energy[finite], values[:, finite])))


def prepare(
    data: Any,
    standards: Any,
    e_range: tuple[float, float],
    relative_to: str,
    e0: float | None,
    array: str,
    max_shift: float = 0.0,
    background: Any = None,
) -> tuple[FitData, Standards, Design]:
    """Validate inputs and build the design on the fit window (shared by every fit).

    With a ``background`` the design has it projected out (`speciate.fit.background`).
    """
    from speciate.fit.background import background_order, project_out

    order = background_order(background)
    fit_data = as_fit_data(data, array)
    stds = as_standards(standards, standards_array(array, background))
    if order is not None:
        e0 = edge_reference(fit_data, relative_to, e0)
    mask, ref = fit_window(fit_data, e_range, relative_to, e0)
    design = make_design(fit_data, stds, mask, ref, max_shift)
    if order is not None:
        design = project_out(design, order)
    return fit_data, stds, design


def fit_statistics(
    y: np.ndarray, fit: np.ndarray, n_free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residual, chi2, reduced chi2 and R-factor per spectrum."""
    residual = y - fit
    chi2 = np.einsum("se,se->s", residual, residual)
    dof = y.shape[1] - n_free
    with np.errstate(divide="ignore", invalid="ignore"):
        reduced = np.where(dof > 0, chi2 / np.maximum(dof, 1), np.nan)
        r_factor = chi2 / np.einsum("se,se->s", y, y)
    return residual, chi2, reduced, r_factor


def build_result(
    fit_data: FitData,
    design: Design,
    weights: np.ndarray,
    states: np.ndarray,
    cov_unit: np.ndarray,
    basis: np.ndarray,
    sum_to_one: bool,
    shifts: np.ndarray | None,
    e_range: tuple[float, float],
    provenance: dict[str, Any],
) -> LCFResult:
    """Statistics and uncertainties from a solved fit, as an `LCFResult`.

    ``cov_unit`` (n_s, p, p) is the covariance for unit noise; it is scaled by the
    reduced chi2 of each spectrum. Free parameters are the FREE entries of ``states``
    (weights off their bounds and fitted shifts) minus one for sum-to-one.
    """
    k = weights.shape[1]
    n_free = (states == FREE).sum(axis=1) - int(sum_to_one)
    fit = np.einsum("sek,sk->se", basis, weights) if basis.shape[0] > 1 else weights @ basis[0].T
    residual, chi2, reduced, r_factor = fit_statistics(design.y, fit, n_free)
    var = np.clip(np.diagonal(cov_unit, axis1=1, axis2=2), 0.0, None) * reduced[:, None]
    err = np.sqrt(var)
    return LCFResult(
        energy=design.energy,
        data=design.y,
        fit=_freeze(fit),
        residual=_freeze(residual),
        basis=_freeze(basis),
        weights=_freeze(weights),
        stderr=_readonly(err[:, :k]),
        total=_freeze(weights.sum(axis=1)),
        shifts=None if shifts is None else _freeze(shifts),
        shifts_stderr=None if shifts is None else _readonly(err[:, k : 2 * k]),
        r_factor=_freeze(r_factor),
        chi2=_freeze(chi2),
        reduced_chi2=_freeze(reduced),
        n_free=_readonly(n_free, int),
        at_bound=_readonly((states[:, :k] == LO) | (states[:, :k] == HI), bool),
        standards=design.names,
        labels=fit_data.labels,
        time=fit_data.time,
        coords=fit_data.coords,
        e0=design.e0,
        e_range=(float(e_range[0]), float(e_range[1])),
        provenance=provenance,
    )


@records_provenance(name="speciate.fit.lcf")
def lcf(
    data: Any,
    standards: Any,
    *,
    e_range: tuple[float, float] = (-20.0, 60.0),
    relative_to: str = "e0",
    e0: float | None = None,
    array: str = "norm",
    sum_to_one: bool = True,
    bounds: Any = (0.0, 1.0),
    shifts: Any = None,
    max_shift: float = 3.0,
    background: str | None = None,
) -> LCFResult:
    """Fit every spectrum as a linear combination of standards, all spectra at once.

    With ``background`` each spectrum is fitted as ``scale × Σ wⱼ sⱼ(E − δⱼ) +
    polynomial(E)`` (`speciate.fit.background`): raw μ (``array="mu"``) or imperfectly
    normalized spectra, with the edge step and any smooth background fitted together
    with the weights, so normalization errors cannot leak into them.

    Parameters
    ----------
    data
        A `NormResult` (its ``array`` is fitted) or an already-normalized `Series`,
        (n_spectra, n_energy).
    standards
        A `NormResult`/`Series` whose spectra are the standards, or a sequence of them,
        on any energy grids (eV) covering the fit window. Each is interpolated (cubic
        spline) onto the data grid once.
    e_range
        Fit window (start, end) in eV, relative to one reference E0 (``relative_to="e0"``)
        or absolute (``relative_to="absolute"``).
    relative_to
        ``"e0"``: the window is ``E0 + e_range`` with E0 = ``e0`` or the median of the
        data's E0s, so all spectra share one design matrix. ``"absolute"``: eV as given.
    e0
        Reference E0 in eV for ``relative_to="e0"``.
    array
        Which array of a `NormResult` to fit: ``"norm"`` (default, as Larch), ``"flat"``
        or ``"mu"``.
    sum_to_one
        Constrain the weights of each spectrum to sum to exactly 1.
    bounds
        ``(lo, hi)``, scalars or (k,) sequences; ``None`` for no bound. Default (0, 1).
    shifts
        ``None``/``False``: no shifts. ``True``: fit one energy shift per standard and
        spectrum (standard j used at ``E − shift_j``), within ``±max_shift``. An array
        (k,) or (n_spectra, k) in eV: apply these fixed shifts.
    max_shift
        Largest fitted shift, eV; the standards must cover the window widened by it.
    background
        ``None`` (default): the data are fitted as they are. ``"constant"``, ``"linear"``
        or ``"quadratic"``: a polynomial in E of that degree is fitted too, and with
        ``sum_to_one`` a free scale (``bounds`` must then be (0, 1) or None: only the
        sign of the weights carries over). ``"scale"``: the scale alone, for normalized
        spectra whose edge step may be off by a few % (the weights are then fractions
        of the fitted total, as when Athena's sum is left free and renormalized). With
        ``array="mu"`` a `NormResult` gives its raw μ and standards given as `NormResult`
        their ``norm``; a raw `Series` without E0 gets the median E0 of its spectra
        (`speciate.xanes.find_e0`).

    Returns
    -------
    LCFResult
        A `BackgroundLCFResult` (with ``scale``, ``background``, ``background_coefs``)
        when ``background`` is given.

    Raises
    ------
    FitError
        Standards not covering the window, duplicate or collinear standards, more
        standards than points, all-NaN spectra.
    ValidationError
        Bad arguments (window, bounds, array name).
    """
    fit_shifts = shifts is True
    fixed_shifts = None
    if shifts is not None and shifts is not False and not fit_shifts:
        fixed_shifts = np.asarray(shifts, dtype=float)
    if fit_shifts and not max_shift > 0:
        raise ValidationError(f"max_shift must be > 0 eV to fit shifts; got {max_shift}")
    reach = max_shift if fit_shifts else 0.0
    if fixed_shifts is not None:
        reach = float(np.abs(fixed_shifts).max()) if fixed_shifts.size else 0.0
    fit_data, stds, design = prepare(
        data, standards, e_range, relative_to, e0, array, reach, background
    )
    n_s, k = design.y.shape[0], stds.k
    lo, hi = parse_bounds(bounds, k, sum_to_one)
    provenance = jsonable(
        {"standards": list(stds.names), "e0_used": design.e0, "bounds_used": [lo, hi]}
    )
    if fixed_shifts is not None:
        try:
            fixed_shifts = np.broadcast_to(fixed_shifts, (n_s, k)).copy()
        except ValueError as exc:
            raise ValidationError(
                f"shifts must be True or an array of shape ({k},) or ({n_s}, {k}) eV; "
                f"got shape {fixed_shifts.shape}"
            ) from exc
    if background is not None:
        return _fit_background(
            fit_data, design, lo, hi, sum_to_one, fit_shifts, fixed_shifts, max_shift,
            e_range, provenance, background,
        )  # fmt: skip
    if fit_shifts or fixed_shifts is not None:
        from speciate.fit.shifts import fit_shifted

        out = fit_shifted(design, lo, hi, sum_to_one, max_shift, fixed=fixed_shifts)
        return build_result(
            fit_data, design, out.weights, out.states, out.cov_unit, out.basis, sum_to_one,
            out.shifts if fit_shifts else None, e_range, provenance,
        )  # fmt: skip
    sol = solve_plain(design.matrix, design.y, lo, hi, sum_to_one)
    if not np.isfinite(sol.x).all():
        raise FitError("the constrained least-squares solution is not finite")
    return build_result(
        fit_data, design, sol.x, sol.states, sol.cov_unit, design.matrix[None], sum_to_one,
        None, e_range, provenance,
    )  # fmt: skip


def _fit_background(
    fit_data, design, lo, hi, sum_to_one, fit_shifts, fixed_shifts, max_shift, e_range,
    provenance, background,
) -> LCFResult:  # fmt: skip
    """Amplitudes ``scale·w`` on the projected design, then fractions and background."""
    from speciate.fit.background import amplitude_bounds, build_background_result

    lo_a, hi_a = amplitude_bounds(lo, hi, sum_to_one, background)
    if fit_shifts or fixed_shifts is not None:
        from speciate.fit.shifts import fit_shifted

        out = fit_shifted(design, lo_a, hi_a, False, max_shift, fixed=fixed_shifts)
        shifts = out.shifts if fixed_shifts is None else fixed_shifts
        if fixed_shifts is None:
            basis = design.parent.shift_table(max_shift).evaluate(shifts, "values")
            basis = basis.transpose(0, 2, 1)
        else:
            basis = design.parent.shifted(shifts)
        return build_background_result(
            fit_data, design, out.weights, out.states, out.cov_unit, basis, sum_to_one,
            out.shifts if fit_shifts else None, e_range, provenance, background,
        )  # fmt: skip
    sol = solve_plain(design.matrix, design.y, lo_a, hi_a, False)
    if not np.isfinite(sol.x).all():
        raise FitError("the constrained least-squares solution is not finite")
    return build_background_result(
        fit_data, design, sol.x, sol.states, sol.cov_unit, design.parent.matrix[None],
        sum_to_one, None, e_range, provenance, background,
    )  # fmt: skip
