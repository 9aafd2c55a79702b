"""Edge position (three definitions), edge step and edge shape β, for every spectrum at once.

Edge definitions (all on the normalized spectrum, absolute eV):

``e0``
    Maximum of the Savitzky–Golay first derivative inside the edge window, refined
    between grid points by a parabola through the three highest points.
``e_half``
    First upward crossing of half the edge step (norm = 0.5) inside the edge window.
``e_integral``
    The integral (centroid) edge position of Dau et al.: the mean energy of the rising
    edge between normalized levels ``lo`` and ``hi`` (default 0.15 and 1.0),
    ``(1 / (hi - lo)) ∫ E dμ``, computed as
    ``E_hi - ∫_{E_lo}^{E_hi} (clip(μ, lo, hi) - lo) dE / (hi - lo)``, which equals it for
    a monotonic edge and stays defined when noise makes μ wiggle.

Edge shape β (``edge_shape``): the signed mean distance of the rising edge from its
chord between the 20 % and 80 % crossings, in units of that 60 % rise:
``β = mean_{E20 ≤ E ≤ E80} (μ(E) - chord(E)) / 0.6``. **Sign convention**: β > 0 when the
edge bulges above its chord (concave, rises fast then slows), β < 0 when it sags below
(convex, slow start then steep), 0 for a straight edge. Dimensionless, |β| < 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate.errors import ValidationError
from speciate.features.crossing import first_crossing
from speciate.features.measured import measured_in
from speciate.features.peaks import highest_maximum
from speciate.features.reasons import frozen_reasons, reasons, set_reason
from speciate.features.windows import check_window, resolve_window
from speciate.provenance import records_provenance
from speciate.series import interp_rows
from speciate.xanes.derivative import smooth_on_grid, uniform_grid
from speciate.xanes.normalized import as_normalized

__all__ = ["DEFAULT_EDGE_WINDOW", "EdgeFeatures", "EdgeShape", "edge_positions", "edge_shape"]

#: Mn K edge: holds the rising edges of Mn(0) to Mn(VII) oxides and salts (eV).
DEFAULT_EDGE_WINDOW = (6535.0, 6570.0)


@dataclass(frozen=True, eq=False)
class EdgeFeatures:
    """Edge positions of every spectrum.

    Attributes
    ----------
    e0 : (n_spectra,) eV, maximum of the smoothed derivative
    e0_slope : (n_spectra,) norm per eV, the derivative at ``e0``
    e_half : (n_spectra,) eV, energy at half edge step
    e_integral : (n_spectra,) eV, integral (centroid) edge position
    edge_step : (n_spectra,) units of the raw absorption (from the normalization)
    reason : (n_spectra,) str, why a position is NaN (``""`` when all were measured)
    window : (lo, hi) eV searched
    integral_levels : (lo, hi) normalized levels of the integral position
    smooth_ev : float, derivative smoothing width (eV)
    provenance : record of the call
    """

    e0: np.ndarray
    e0_slope: np.ndarray
    e_half: np.ndarray
    e_integral: np.ndarray
    edge_step: np.ndarray
    reason: np.ndarray
    window: tuple[float, float]
    integral_levels: tuple[float, float]
    smooth_ev: float
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class EdgeShape:
    """Edge shape β of every spectrum (see the module docstring for the sign convention).

    Attributes
    ----------
    beta : (n_spectra,) dimensionless
    e20, e80 : (n_spectra,) eV, the 20 % and 80 % crossings bounding the measure
    reason : (n_spectra,) str
    provenance : record of the call
    """

    beta: np.ndarray
    e20: np.ndarray
    e80: np.ndarray
    reason: np.ndarray
    provenance: Mapping[str, Any] = field(default_factory=dict)


def _integral_position(
    energy: np.ndarray, norm: np.ndarray, window: tuple[float, float], lo: float, hi: float
) -> np.ndarray:
    e_lo = first_crossing(energy, norm, lo, window[0])
    e_hi = first_crossing(energy, norm, hi, window[0])
    e_hi[e_hi > window[1]] = np.nan
    grid = uniform_grid(energy, window)
    if grid.size < 2:
        return np.full(norm.shape[0], np.nan)
    on_grid = interp_rows(grid, energy, norm)
    rise = (np.clip(on_grid, lo, hi) - lo) / (hi - lo)
    # below the first crossing of `lo` the clipped rise is 0, so integrating from the
    # window start equals integrating from E_lo; trapezoids up to the last grid point
    # below E_hi, then one partial trapezoid up to E_hi where the rise is exactly 1
    step = grid[1] - grid[0]
    below = grid[None, :] <= e_hi[:, None]
    seg = 0.5 * (rise[:, 1:] + rise[:, :-1]) * step
    area = np.where(below[:, 1:], seg, 0.0).sum(axis=1)
    last = np.clip(below.sum(axis=1) - 1, 0, grid.size - 1)
    rows = np.arange(norm.shape[0])
    area += 0.5 * (rise[rows, last] + 1.0) * (e_hi - grid[last])
    return np.where(np.isfinite(e_lo) & np.isfinite(e_hi), e_hi - area, np.nan)


@records_provenance(name="speciate.features.edge_positions")
def edge_positions(
    data: Any,
    window: tuple[float, float] | None = None,
    smooth_ev: float = 1.0,
    integral_levels: tuple[float, float] = (0.15, 1.0),
) -> EdgeFeatures:
    """E0, half-step energy and integral edge position of every spectrum.

    Parameters
    ----------
    data
        A `NormResult` (or a normalized `Series`), n_spectra spectra.
    window
        (lo, hi) eV where the edge is searched; crossings are searched from ``lo``.
    smooth_ev
        Savitzky–Golay width (eV) of the derivative used for ``e0``.
    integral_levels
        Normalized levels (lo, hi) bounding the integral edge position.

    Returns
    -------
    EdgeFeatures
    """
    norm = as_normalized(data)
    window = resolve_window(norm, window, "edge")
    lo, hi = check_window(integral_levels, "integral_levels")
    n_s = norm.n_spectra
    data = measured_in(norm, window, "edge")
    why = reasons(n_s)
    set_reason(why, ~data.ok, data.reason)
    e0 = np.full(n_s, np.nan)
    slope = np.full(n_s, np.nan)
    deriv = smooth_on_grid(norm.energy, data.values, smooth_ev, 1, window)
    if deriv is None:
        set_reason(why, np.ones(n_s, bool), f"edge window {window} eV is outside the data")
    else:
        grid, d = deriv
        # no interior maximum means the derivative peaks at the window's end
        e0, slope, idx = highest_maximum(grid, d)
        set_reason(why, idx < 0, "no derivative maximum inside the edge window")
        set_reason(why, slope <= 0, "no rising edge in the edge window")
    e_half = first_crossing(norm.energy, data.values, 0.5, window[0])
    e_half[e_half > window[1]] = np.nan
    set_reason(why, np.isnan(e_half), "normalized absorption never rises through 0.5")
    e_int = _integral_position(norm.energy, data.values, window, lo, hi)
    e_int[e_int > window[1]] = np.nan
    set_reason(why, np.isnan(e_int), f"normalized absorption never rises through {hi:g}")
    return EdgeFeatures(
        e0=readonly(np.where(data.ok, e0, np.nan)),
        e0_slope=readonly(np.where(data.ok, slope, np.nan)),
        e_half=readonly(np.where(data.ok, e_half, np.nan)),
        e_integral=readonly(np.where(data.ok, e_int, np.nan)),
        edge_step=readonly(norm.edge_step),
        reason=frozen_reasons(why),
        window=window,
        integral_levels=(lo, hi),
        smooth_ev=float(smooth_ev),
    )


@records_provenance(name="speciate.features.edge_shape")
def edge_shape(
    data: Any, window: tuple[float, float] | None = None, levels: tuple = (0.2, 0.8)
) -> EdgeShape:
    """Edge shape β: signed mean departure of the rising edge from its chord.

    Parameters
    ----------
    data
        A `NormResult` (or a normalized `Series`).
    window
        (lo, hi) eV; the crossings are searched from ``lo`` and must lie below ``hi``.
    levels
        Normalized levels bounding the measured part of the edge (default 20 % and 80 %).

    Returns
    -------
    EdgeShape
        ``beta`` > 0: concave edge (above its chord); < 0: convex (below its chord).
    """
    norm = as_normalized(data)
    window = resolve_window(norm, window, "edge")
    l_lo, l_hi = check_window(levels, "levels")
    if not 0.0 <= l_lo < l_hi <= 1.5:
        raise ValidationError(f"levels must satisfy 0 <= lo < hi <= 1.5; got {levels}")
    data = measured_in(norm, window, "edge")
    why = reasons(norm.n_spectra)
    set_reason(why, ~data.ok, data.reason)
    e20 = first_crossing(norm.energy, data.values, l_lo, window[0])
    e80 = first_crossing(norm.energy, data.values, l_hi, window[0])
    missing = ~(np.isfinite(e20) & np.isfinite(e80)) | (e80 > window[1]) | ~data.ok
    set_reason(why, missing, f"edge does not rise through {l_lo:g} and {l_hi:g} in the window")
    grid = uniform_grid(norm.energy, window)
    beta = np.full(norm.n_spectra, np.nan)
    if grid.size >= 2:
        on_grid = interp_rows(grid, norm.energy, data.values)
        inside = (grid[None, :] >= e20[:, None]) & (grid[None, :] <= e80[:, None])
        frac = (grid[None, :] - e20[:, None]) / (e80 - e20)[:, None]
        chord = l_lo + (l_hi - l_lo) * frac
        count = inside.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(inside, on_grid - chord, 0.0).sum(axis=1) / count / (l_hi - l_lo)
        few = (count < 3) & ~missing
        set_reason(why, few, "rising edge spans fewer than 3 grid points")
        beta = np.where(missing | (count < 3), np.nan, beta)
    else:
        set_reason(why, np.ones(norm.n_spectra, bool), f"window {window} eV is outside the data")
    keep = data.ok
    return EdgeShape(
        beta=readonly(beta),
        e20=readonly(np.where(keep, e20, np.nan)),
        e80=readonly(np.where(keep, e80, np.nan)),
        reason=frozen_reasons(why),
    )
