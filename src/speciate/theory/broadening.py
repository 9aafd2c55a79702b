"""Broadening of computed XANES and alignment of theory to experiment.

`broaden` applies the FDMNES "arctangent" convolution: a Lorentzian whose full width
grows with the photoelectron energy above the Fermi level (core-hole width plus a
Seah–Dench-like final-state term, see `lorentzian_width`), after removing the occupied
states below the Fermi level, then an optional Gaussian for the instrument.

Any increasing grid works (FDMNES and FEFF grids are not uniform): the Lorentzian is
integrated analytically over the interval each point stands for, either as FDMNES does
(``scheme="fdmnes"``, which reproduces its convolved files to a few parts per million)
or over the piecewise-linear spectrum (``scheme="linear"``); the Gaussian always uses
the piecewise-linear form. Each kernel is one (n_energy, n_energy) matrix built once and
applied to the whole series with one matrix product.

`align_to` finds the energy shift that puts a theory spectrum on an experiment (edge
position or derivative shape) and applies it explicitly, recording it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = [
    "FDMNES_DEFAULTS",
    "FDMNES_TAIL",
    "TheoryAlignment",
    "align_to",
    "broaden",
    "core_hole_width",
    "gaussian_broaden",
    "gaussian_matrix",
    "lorentzian_matrix",
    "lorentzian_width",
]

#: FDMNES defaults of the arctangent model (eV): Gamma_max, Ecent, Elarg.
FDMNES_DEFAULTS: Mapping[str, float] = {"gamma_max": 15.0, "e_cent": 30.0, "e_larg": 30.0}

#: How far (eV) FDMNES continues the last point of a spectrum as a constant when it
#: convolves. Found by matching FDMNES 2021 output: 500 eV reproduces its convolved
#: spectra to 3e-6 of their maximum, 480 or 520 eV only to 1e-4.
FDMNES_TAIL = 500.0

_SCHEMES = ("fdmnes", "linear")

# Rows of the kernel matrix built per block, to bound temporary memory on long grids.
_BLOCK = 512


def core_hole_width(element: str = "Mn", edge: str = "K") -> float:
    """Core-hole lifetime width (Lorentzian FWHM, eV) tabulated by xraydb.

    xraydb's `core_width` follows Keski-Rahkonen & Krause (1974); Mn K gives 1.16 eV, the
    value FDMNES also tabulates.
    """
    import xraydb

    try:
        width = xraydb.core_width(element, edge)
    except Exception as exc:  # xraydb raises several types for unknown elements/edges
        raise ValidationError(
            f"no tabulated core-hole width for element {element!r}, edge {edge!r} in xraydb "
            f"({type(exc).__name__}: {exc}); pass gamma_hole= explicitly"
        ) from exc
    if width is None or not np.isfinite(width) or width <= 0:
        raise ValidationError(
            f"xraydb has no usable core-hole width for {element} {edge} (got {width!r}); pass "
            "gamma_hole= explicitly"
        )
    return float(width)


def lorentzian_width(
    energy: Any,
    *,
    gamma_hole: float,
    gamma_max: float = FDMNES_DEFAULTS["gamma_max"],
    e_cent: float = FDMNES_DEFAULTS["e_cent"],
    e_larg: float = FDMNES_DEFAULTS["e_larg"],
    e_fermi: float = 0.0,
) -> np.ndarray:
    """Energy-dependent Lorentzian FWHM of the FDMNES arctangent model.

    .. math::

        \\Gamma(E) = \\Gamma_{hole} + \\Gamma_{max}\\left(\\frac12 + \\frac1\\pi
        \\arctan\\left(\\frac{\\pi}{3}\\frac{\\Gamma_{max}}{E_{larg}}
        \\left(e - \\frac{1}{e^2}\\right)\\right)\\right),\\qquad e = \\frac{E - E_F}{E_{cent}}

    and :math:`\\Gamma = \\Gamma_{hole}` at and below the Fermi level.

    Parameters
    ----------
    energy
        Energies, any shape, eV, on the same scale as ``e_fermi``.
    gamma_hole
        Core-hole width (FWHM), eV.
    gamma_max
        Final-state width reached far above the edge, eV.
    e_cent
        Energy above ``e_fermi`` of the inflection of the arctangent, eV.
    e_larg
        Width of the arctangent rise, eV.
    e_fermi
        Fermi level (FDMNES's ``E_cut``), eV.

    Returns
    -------
    numpy.ndarray
        FWHM in eV, same shape as ``energy``.
    """
    _check_positive(gamma_hole=gamma_hole, e_cent=e_cent, e_larg=e_larg)
    _check_non_negative(gamma_max=gamma_max)
    energy = np.asarray(energy, dtype=float)
    x = (energy - float(e_fermi)) / e_cent
    above = x > 0
    safe = np.where(above, x, 1.0)
    rise = 0.5 + np.arctan(np.pi / 3 * gamma_max / e_larg * (safe - 1.0 / safe**2)) / np.pi
    return gamma_hole + np.where(above, gamma_max * rise, 0.0)


def lorentzian_matrix(energy: Any, fwhm: Any, e_fermi: float, scheme: str = "fdmnes") -> np.ndarray:
    """Matrix of the Lorentzian convolution with the Fermi cut, for one energy grid.

    Parameters
    ----------
    energy
        Grid, shape (n_energy,), eV, strictly increasing.
    fwhm
        Lorentzian FWHM at each output energy, shape (n_energy,), eV.
    e_fermi
        Fermi level, eV, inside the grid: the spectrum is zero below it.
    scheme
        ``"fdmnes"``: each point stands for the interval between the midpoints to its
        neighbours (the first one starts at ``e_fermi``), and the last point is continued
        as a constant for `FDMNES_TAIL` eV, as FDMNES integrates. ``"linear"``: the
        spectrum is the piecewise-linear function through its points (its value at
        ``e_fermi`` interpolated), continued as a constant to infinity, and every interval
        is integrated exactly.

    Returns
    -------
    numpy.ndarray
        ``K`` of shape (n_energy, n_energy) such that ``mu @ K.T`` is the broadened series.
    """
    energy = np.asarray(energy, dtype=float)
    fwhm = np.broadcast_to(np.asarray(fwhm, dtype=float), energy.shape)
    if scheme not in _SCHEMES:
        raise ValidationError(f"scheme must be one of {_SCHEMES}; got {scheme!r}")
    if not (energy[0] <= e_fermi < energy[-1]):
        raise ValidationError(
            f"e_fermi {e_fermi:.4f} eV must lie inside the energy grid "
            f"{energy[0]:.4f}..{energy[-1]:.4f} eV (the spectrum is cut below it); is it on the "
            "same energy scale as the spectra?"
        )
    if scheme == "fdmnes":
        # a point exactly at the Fermi level is kept, as FDMNES keeps it
        first = int(np.searchsorted(energy, e_fermi, side="left"))
        kept = energy[first:]
        bounds = np.concatenate([[e_fermi], 0.5 * (kept[1:] + kept[:-1]), [kept[-1] + FDMNES_TAIL]])
        out = np.zeros((energy.size, energy.size))
        out[:, first:] = _cell_weights(bounds, energy, fwhm / 2.0)
        return out
    first = int(np.searchsorted(energy, e_fermi, side="right"))
    nodes = np.concatenate([[e_fermi], energy[first:]])
    # node values from the grid values: the cut node interpolates its two neighbours
    to_nodes = np.zeros((nodes.size, energy.size))
    to_nodes[np.arange(1, nodes.size), np.arange(first, energy.size)] = 1.0
    t = (e_fermi - energy[first - 1]) / (energy[first] - energy[first - 1]) if first > 0 else 1.0
    if first > 0:
        to_nodes[0, first - 1] = 1.0 - t
    to_nodes[0, first] += t
    weights = _piecewise_linear_weights(nodes, energy, fwhm / 2.0, _lorentz_primitives)
    return weights @ to_nodes


def _cell_weights(bounds: np.ndarray, centres: np.ndarray, hwhm: np.ndarray) -> np.ndarray:
    """Weights (n_centres, n_cells): the unit Lorentzian integrated over each cell."""
    out = np.empty((centres.size, bounds.size - 1))
    for start in range(0, centres.size, _BLOCK):
        rows = slice(start, start + _BLOCK)
        prim = np.arctan((bounds[None, :] - centres[rows, None]) / hwhm[rows, None]) / np.pi
        out[rows] = np.diff(prim, axis=1)
    return out


def gaussian_matrix(energy: Any, fwhm: float) -> np.ndarray:
    """Matrix of a Gaussian convolution (instrumental resolution) on any grid.

    The spectrum is continued as a constant below the first and above the last point.

    Parameters
    ----------
    energy
        Grid, shape (n_energy,), eV, strictly increasing.
    fwhm
        Gaussian FWHM, eV, > 0.

    Returns
    -------
    numpy.ndarray
        ``G`` of shape (n_energy, n_energy) such that ``mu @ G.T`` is the broadened series.
    """
    _check_positive(gaussian_fwhm=fwhm)
    energy = np.asarray(energy, dtype=float)
    sigma = np.full(energy.shape, fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0))))
    return _piecewise_linear_weights(energy, energy, sigma, _gauss_primitives, low_tail=True)


def _lorentz_primitives(u: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primitives of the unit Lorentzian (HWHM g) and of u times it."""
    return np.arctan(u / g) / np.pi, g / (2.0 * np.pi) * np.log(u * u + g * g)


def _gauss_primitives(u: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primitives of the unit Gaussian (standard deviation s) and of u times it."""
    return 0.5 * erf(u / (s * math.sqrt(2.0))), -s / math.sqrt(2.0 * np.pi) * np.exp(
        -0.5 * (u / s) ** 2
    )


def _piecewise_linear_weights(
    nodes: np.ndarray,
    centres: np.ndarray,
    width: np.ndarray,
    primitives: Any,
    low_tail: bool = False,
) -> np.ndarray:
    """Weights W (n_centres, n_nodes): exact integral of kernel x piecewise-linear data.

    On the interval [x0, x1] the data is a linear interpolation between its node values,
    so its integral against the kernel centred at c splits into two weights, one per end,
    written with the kernel's primitive F and first-moment primitive M (u = x - c).
    The data is constant beyond the last node (and below the first one if ``low_tail``).
    """
    h = np.diff(nodes)
    out = np.empty((centres.size, nodes.size))
    for start in range(0, centres.size, _BLOCK):
        rows = slice(start, start + _BLOCK)
        u = nodes[None, :] - centres[rows, None]
        w = width[rows, None]
        prim, moment = primitives(u, w)
        d_prim = np.diff(prim, axis=1)
        d_moment = np.diff(moment, axis=1)
        block = np.zeros(u.shape)
        block[:, :-1] += (u[:, 1:] * d_prim - d_moment) / h
        block[:, 1:] += (d_moment - u[:, :-1] * d_prim) / h
        block[:, -1] += 0.5 - prim[:, -1]
        if low_tail:
            block[:, 0] += prim[:, 0] + 0.5
        out[rows] = block
    return out


@records_provenance
def broaden(
    series: Series,
    *,
    gamma_hole: float | None = None,
    gamma_max: float = FDMNES_DEFAULTS["gamma_max"],
    e_cent: float = FDMNES_DEFAULTS["e_cent"],
    e_larg: float = FDMNES_DEFAULTS["e_larg"],
    e_fermi: float | Any = None,
    gaussian_fwhm: float = 0.0,
    element: str = "Mn",
    edge: str = "K",
    scheme: str = "fdmnes",
) -> Series:
    """Broaden computed spectra as FDMNES's ``Convolution`` does, plus an instrument Gaussian.

    Parameters
    ----------
    series
        Raw (unbroadened) spectra, shape (n_spectra, n_energy), on any increasing grid (eV).
    gamma_hole
        Core-hole width (Lorentzian FWHM), eV. Default: xraydb's value for
        ``element``/``edge`` (`core_hole_width`).
    gamma_max, e_cent, e_larg
        Arctangent final-state width model (eV), see `lorentzian_width`. Defaults are
        FDMNES's (15, 30, 30 eV).
    e_fermi
        Fermi level (eV, on the scale of ``series.energy``): states below it are removed
        and the final-state width starts there. A scalar, or one value per spectrum
        (n_spectra,). Default: the series' ``e_fermi`` coordinate (theory engines set it),
        else ``meta["e_fermi"]``. For FDMNES output it is ``E_cut`` (header of the raw
        ``.txt``); for FEFF, the ``Mu=`` of the ``xmu.dat`` header on the ``omega`` scale.
    gaussian_fwhm
        Instrumental Gaussian FWHM, eV, applied after the Lorentzian; 0 for none.
    element, edge
        Absorber and edge, used to look up ``gamma_hole``.
    scheme
        How the sampled spectrum is integrated against the Lorentzian (`lorentzian_matrix`):
        ``"fdmnes"`` (default) reproduces FDMNES's own convolution; ``"linear"`` integrates
        the piecewise-linear spectrum exactly, with a constant continuation to infinity.

    Returns
    -------
    Series
        Broadened spectra on the same grid; coords and labels kept; ``meta["broadening"]``
        records every parameter and ``meta["provenance"]`` how it was made.

    Raises
    ------
    ValidationError
        Missing ``e_fermi``, an ``e_fermi`` outside the grid, non-positive widths.
    """
    if not isinstance(series, Series):
        raise ValidationError(f"broaden takes a Series; got {type(series).__name__}")
    source = "given"
    if gamma_hole is None:
        gamma_hole = core_hole_width(element, edge)
        source = f"xraydb.core_width({element!r}, {edge!r})"
    _check_non_negative(gaussian_fwhm=gaussian_fwhm)
    fermi = _fermi_levels(series, e_fermi)
    energy = series.energy
    gauss = gaussian_matrix(energy, gaussian_fwhm) if gaussian_fwhm > 0 else None
    out = np.empty_like(series.mu)
    # spectra sharing a Fermi level share one kernel: usually the whole series
    levels, which = np.unique(fermi, return_inverse=True)
    for k, level in enumerate(levels):
        fwhm = lorentzian_width(
            energy,
            gamma_hole=gamma_hole,
            gamma_max=gamma_max,
            e_cent=e_cent,
            e_larg=e_larg,
            e_fermi=level,
        )
        kernel = lorentzian_matrix(energy, fwhm, float(level), scheme)
        if gauss is not None:
            kernel = gauss @ kernel
        rows = which == k
        out[rows] = series.mu[rows] @ kernel.T
    parameters = {
        "model": "arctangent (FDMNES Convolution)",
        "gamma_hole": float(gamma_hole),
        "gamma_hole_source": source,
        "gamma_max": float(gamma_max),
        "e_cent": float(e_cent),
        "e_larg": float(e_larg),
        "e_fermi": fermi.tolist() if levels.size > 1 else float(levels[0]),
        "gaussian_fwhm": float(gaussian_fwhm),
        "element": element,
        "edge": edge,
        "below_fermi": "removed",
        "scheme": scheme,
        "above_grid": (
            f"last point continued as a constant for {FDMNES_TAIL:g} eV"
            if scheme == "fdmnes"
            else "last point continued as a constant"
        ),
    }
    meta = dict(series.meta)
    meta["broadening"] = parameters
    return series.replace(mu=out, meta=meta)


@records_provenance
def gaussian_broaden(series: Series, fwhm: float) -> Series:
    """Instrumental Gaussian broadening only, for spectra that already hold the core hole.

    FEFF's μ already contains the core-hole lifetime width, so only the resolution of the
    instrument (and any extra width) is left to add; FDMNES raw output needs `broaden`.

    Parameters
    ----------
    series
        Spectra, shape (n_spectra, n_energy), on any increasing grid (eV).
    fwhm
        Gaussian FWHM, eV, > 0. The spectra are continued as constants beyond the grid.

    Returns
    -------
    Series
        Same grid, coords and labels; ``meta["broadening"]`` records the width.
    """
    if not isinstance(series, Series):
        raise ValidationError(f"gaussian_broaden takes a Series; got {type(series).__name__}")
    kernel = gaussian_matrix(series.energy, fwhm)
    parameters = {"model": "Gaussian", "gaussian_fwhm": float(fwhm),
                  "beyond_grid": "first and last points continued as constants"}  # fmt: skip
    meta = dict(series.meta)
    meta["broadening"] = parameters
    return series.replace(mu=series.mu @ kernel.T, meta=meta)


def _fermi_levels(series: Series, e_fermi: Any) -> np.ndarray:
    if e_fermi is None:
        if "e_fermi" in series.coords:
            e_fermi = series.coords["e_fermi"]
        elif "e_fermi" in series.meta:
            e_fermi = series.meta["e_fermi"]
        else:
            raise ValidationError(
                "broaden needs the Fermi level: pass e_fermi= (eV, on the scale of the "
                "series energy), or give the series an 'e_fermi' coord or meta entry"
            )
    try:
        fermi = np.broadcast_to(np.asarray(e_fermi, dtype=float), (series.n_spectra,)).copy()
    except ValueError as exc:
        raise ValidationError(
            f"e_fermi must be a scalar or one value per spectrum ({series.n_spectra},); got "
            f"shape {np.shape(e_fermi)}"
        ) from exc
    if not np.all(np.isfinite(fermi)):
        raise ValidationError(f"e_fermi must be finite; got {e_fermi!r}")
    return fermi


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (np.isfinite(value) and value > 0):
            raise ValidationError(f"{name} must be a finite width > 0 eV; got {value!r}")


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (np.isfinite(value) and value >= 0):
            raise ValidationError(f"{name} must be a finite width >= 0 eV; got {value!r}")


@dataclass(frozen=True, eq=False)
class TheoryAlignment:
    """An explicit energy shift putting theory on an experiment's energy scale.

    Attributes
    ----------
    shift
        Added to the theory energies, eV: aligned = computed + shift. One value, applied to
        every spectrum, unless ``per_spectrum`` was asked (then shape (n_spectra,)).
    method
        ``"edge"`` (derivative maxima matched) or ``"derivative"`` (derivative shapes matched).
    e0_theory
        Edge (derivative maximum, eV) of the theory spectrum(s) used, before the shift.
    e0_experiment
        Edge of the experiment, eV.
    series
        The shifted theory series; ``meta["alignment"]`` records the shift.
    provenance
        How the shift was found.
    """

    shift: float | np.ndarray
    method: str
    e0_theory: np.ndarray
    e0_experiment: float
    series: Series
    provenance: Mapping[str, Any]


@records_provenance
def align_to(
    theory: Series,
    experiment: Series,
    method: str = "edge",
    *,
    using: int | str = 0,
    per_spectrum: bool = False,
    window: tuple[float, float] = (-15.0, 30.0),
    smooth_ev: float = 1.0,
) -> TheoryAlignment:
    """Find and apply the energy shift that puts theory spectra on an experiment.

    Parameters
    ----------
    theory
        Computed spectra (n_spectra, n_energy), energies in eV on an absolute scale (for
        FDMNES relative energies, add ``E_edge`` first).
    experiment
        One measured spectrum (a one-row `Series`), eV.
    method
        ``"edge"``: match the derivative maxima (E0); ``"derivative"``: after the edge match,
        refine by least squares on the peak-normalized first derivatives over ``window``
        (`speciate.xanes.align`).
    using
        Index or label of the theory spectrum that sets the shift (default the first).
    per_spectrum
        Shift every theory spectrum on its own (each then moves onto the experiment,
        hiding the differences in edge position between them) instead of one common shift
        that keeps their relative positions.
    window
        Energy range relative to the experiment's E0 (eV) compared by ``"derivative"``.
    smooth_ev
        Savitzky–Golay width (eV) of the derivatives.

    Returns
    -------
    TheoryAlignment
    """
    from speciate.xanes.align import interp_rows_points

    if method not in ("edge", "derivative"):
        raise ValidationError(f"method must be 'edge' or 'derivative'; got {method!r}")
    if experiment.n_spectra != 1:
        raise ValidationError(
            f"experiment must be one spectrum; got a series of {experiment.n_spectra}"
        )
    rows = theory.mu if per_spectrum else theory.select(using).mu
    e0_exp = float(_edge_position(experiment.energy, experiment.mu)[0])
    e0_theory = _edge_position(theory.energy, rows)
    shifts = e0_exp - e0_theory
    if method == "derivative":
        shifts = shifts + _derivative_refinement(theory.energy, rows, shifts, experiment,
                                                 window, smooth_ev)  # fmt: skip
    if per_spectrum:
        grid = _overlap(theory.energy + shifts.max(), theory.energy + shifts.min())
        mu = interp_rows_points(grid[None, :] - shifts[:, None], theory.energy, theory.mu)
        shifted = theory.replace(energy=grid, mu=mu, reference=None)
        shift: float | np.ndarray = shifts.copy()
        shift.setflags(write=False)
    else:
        shift = float(shifts[0])
        shifted = theory.replace(energy=theory.energy + shift)
    record = {
        "method": method,
        "shift_ev": shift.tolist() if isinstance(shift, np.ndarray) else shift,
        "using": using if not per_spectrum else "each",
        "e0_theory_ev": e0_theory.tolist(),
        "e0_experiment_ev": e0_exp,
        "window_ev": list(window),
        "smooth_ev": smooth_ev,
    }
    meta = dict(shifted.meta)
    meta["alignment"] = record
    shifted = shifted.replace(meta=meta)
    e0_theory.setflags(write=False)
    return TheoryAlignment(
        shift=shift,
        method=method,
        e0_theory=e0_theory,
        e0_experiment=e0_exp,
        series=shifted,
        provenance={"alignment": record},
    )


def _edge_position(energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """E0 per row (eV): derivative maximum, refined between grid points by a parabola."""
    from speciate.xanes.normalize import find_e0

    e0 = find_e0(energy, mu)
    i = np.clip(np.searchsorted(energy, e0), 1, energy.size - 2)
    d = np.gradient(mu, energy, axis=-1)
    rows = np.arange(mu.shape[0])
    x = np.stack([energy[i - 1], energy[i], energy[i + 1]], axis=-1)
    y = np.stack([d[rows, i - 1], d[rows, i], d[rows, i + 1]], axis=-1)
    # vertex of the parabola through three (possibly unevenly spaced) points
    x0, x1, x2 = x.T
    y0, y1, y2 = y.T
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    ok = den != 0
    vertex = x1 - 0.5 * num / np.where(ok, den, 1.0)
    return np.where(ok, np.clip(vertex, x0, x2), x1).astype(float)


def _derivative_refinement(
    energy: np.ndarray,
    rows: np.ndarray,
    edge_shifts: np.ndarray,
    experiment: Series,
    window: tuple[float, float],
    smooth_ev: float,
) -> np.ndarray:
    """Extra shift (eV) per row from a least-squares match of derivative shapes."""
    from speciate.xanes.align import align, interp_rows_points
    from speciate.xanes.derivative import derivative_array

    grid = _overlap(energy + edge_shifts.max(), experiment.energy, energy[-1] + edge_shifts.min())
    moved = interp_rows_points(grid[None, :] - edge_shifts[:, None], energy, rows)
    # least squares on derivatives needs both on one scale: match their maxima
    peak_exp = derivative_array(experiment.energy, experiment.mu, 1, smooth_ev).max()
    peak_rows = derivative_array(grid, moved, 1, smooth_ev).max(axis=1)
    scaled = moved * (peak_exp / peak_rows)[:, None]
    result = align(Series(grid, scaled), reference="mu", target=experiment, window=window,
                   smooth_ev=smooth_ev)  # fmt: skip
    return np.asarray(result.shifts, dtype=float)


def _overlap(a: np.ndarray, b: np.ndarray, upper: float | None = None) -> np.ndarray:
    """Points of grid ``b`` inside the range of grid ``a`` (and below ``upper``)."""
    lo, hi = max(a[0], b[0]), min(a[-1], b[-1])
    if upper is not None:
        hi = min(hi, upper)
    keep = (b >= lo) & (b <= hi)
    if keep.sum() < 2:
        raise ValidationError(
            f"energy ranges {a[0]:.1f}..{a[-1]:.1f} eV and {b[0]:.1f}..{b[-1]:.1f} eV do not "
            "overlap after the edge match"
        )
    return b[keep]
