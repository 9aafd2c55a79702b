"""Smoothing and derivatives of spectra on non-uniform energy grids, vectorized over the series.

One grid rule and one Savitzky–Golay routine serve every consumer (derivatives, the
fingerprint features, alignment):

- `uniform_grid`: a uniform resampling of the data (or of a window of it); its default
  step is the 10th percentile of the data spacing there, kept within 0.01-0.1 eV: it
  follows the fine near-edge sampling rather than a coarse EXAFS tail, never adds points
  below 0.01 eV (quick scans), and never resamples coarser than 0.1 eV.
- `smooth_on_grid`: Savitzky–Golay smoothing or derivative on that grid, for the whole
  range or one window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series, interp_rows
from speciate.xanes.normalized import as_normalized

__all__ = ["derivative", "derivative_array", "smooth_on_grid", "uniform_grid"]

#: Bounds (eV) of the default resampling step.
STEP_BOUNDS_EV = (0.01, 0.1)
# A grid needs this many points for a quadratic/cubic local polynomial to mean anything.
_MIN_GRID_POINTS = 5


def uniform_grid(
    energy: np.ndarray, window: tuple[float, float] | None = None, step: float | None = None
) -> np.ndarray:
    """A uniform grid over ``window`` (default: all of ``energy``) clipped to the data.

    Parameters
    ----------
    energy
        (n_energy,) eV, strictly increasing.
    window
        (lo, hi) eV; the grid covers its overlap with the data.
    step
        Grid step (eV); default the 10th percentile of the data spacing inside the
        window, within `STEP_BOUNDS_EV`.

    Returns
    -------
    numpy.ndarray
        (n_grid,) eV; empty when the window holds fewer than 3 data points.
    """
    energy = np.asarray(energy, dtype=float)
    lo, hi = (energy[0], energy[-1]) if window is None else (window[0], window[1])
    lo, hi = max(lo, energy[0]), min(hi, energy[-1])
    inside = energy[(energy >= lo) & (energy <= hi)]
    if hi <= lo or inside.size < 3:
        return np.empty(0)
    if step is None:
        step = float(np.clip(np.percentile(np.diff(inside), 10), *STEP_BOUNDS_EV))
    n = int(np.floor((hi - lo) / step + 1e-9)) + 1
    return lo + step * np.arange(n)


def smooth_on_grid(
    energy: np.ndarray,
    values: np.ndarray,
    smooth_ev: float,
    order: int = 0,
    window: tuple[float, float] | None = None,
    step: float | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Savitzky–Golay smoothing or derivative of every spectrum on a uniform grid.

    Parameters
    ----------
    energy
        (n_energy,) eV.
    values
        (n_spectra, n_energy), finite.
    smooth_ev
        Filter width in eV (quadratic local polynomial; cubic for ``order=2``). 0 gives
        central differences of the linear interpolation.
    order
        0 (smoothing), 1 or 2.
    window
        (lo, hi) eV: resample only there, with a margin of ``smooth_ev`` on both sides
        (within the data) cut off afterwards, so the filter's edge handling never reaches
        the window. Default: the whole range (edges handled by a local polynomial fit).
    step
        Grid step (eV), default that of `uniform_grid`.

    Returns
    -------
    (grid, smoothed) with grid (n_grid,) eV and smoothed (n_spectra, n_grid) in units of
    ``values`` per eV^order; ``None`` when the grid holds fewer than 5 points or fewer
    than the filter needs.
    """
    if order not in (0, 1, 2):
        raise ValidationError(f"order must be 0, 1 or 2; got {order}")
    if smooth_ev < 0:
        raise ValidationError(f"smooth_ev must be >= 0 eV; got {smooth_ev}")
    span = None if window is None else (window[0] - smooth_ev, window[1] + smooth_ev)
    grid = uniform_grid(energy, span, step)
    if grid.size < _MIN_GRID_POINTS:
        return None
    h = grid[1] - grid[0]
    on_grid = interp_rows(grid, energy, values)
    polyorder = 3 if order == 2 else 2
    length = max(round(smooth_ev / h) | 1, polyorder + 2 | 1)
    if length > grid.size:
        return None
    if smooth_ev > 0:
        # with a margin the cheap edge mode is enough (the margin is cut off below)
        mode = "interp" if window is None else "nearest"
        out = savgol_filter(on_grid, length, polyorder, deriv=order, delta=h, axis=-1, mode=mode)
    else:
        out = on_grid
        for _ in range(order):
            out = np.gradient(out, h, axis=-1)
    if window is None:
        return grid, out
    keep = (grid >= window[0]) & (grid <= window[1])
    if keep.sum() < _MIN_GRID_POINTS:
        return None
    return grid[keep], out[:, keep]


def derivative_array(
    energy: np.ndarray, mu: np.ndarray, order: int = 1, smooth_ev: float | None = 1.0
) -> np.ndarray:
    """``d^order mu / dE^order`` of every row of ``mu`` on a possibly non-uniform grid.

    Parameters
    ----------
    energy
        Energy grid in eV, shape (n_energy,), strictly increasing.
    mu
        Spectra, shape (n_spectra, n_energy).
    order
        Derivative order, 1 or 2 (or 0 for smoothing only).
    smooth_ev
        Width in eV of the Savitzky–Golay window (`smooth_on_grid` on `uniform_grid`),
        interpolated back onto ``energy``. ``None`` or 0 gives the plain
        finite-difference derivative (`numpy.gradient`) on the original grid.

    Returns
    -------
    numpy.ndarray
        Shape (n_spectra, n_energy), units of mu per eV^order.
    """
    if order not in (0, 1, 2):
        raise ValidationError(f"order must be 0, 1 or 2; got {order}")
    energy = np.asarray(energy, dtype=float)
    mu = np.atleast_2d(np.asarray(mu, dtype=float))
    if not smooth_ev:
        out = mu
        for _ in range(order):
            out = np.gradient(out, energy, axis=-1)
        return out
    result = smooth_on_grid(energy, mu, smooth_ev, order)
    if result is None:
        grid = uniform_grid(energy)
        raise ValidationError(
            f"smoothing window {smooth_ev} eV is longer than the data "
            f"({grid.size} points of {energy[-1] - energy[0]:.2f} eV)"
        )
    grid, smoothed = result
    return interp_rows(energy, grid, smoothed)


@records_provenance(name="speciate.xanes.derivative")
def derivative(
    data: Any, order: int = 1, smooth_ev: float | None = 1.0, array: str = "norm"
) -> Series:
    """Derivative of every spectrum of a series, as a new `Series` on the same grid.

    Parameters
    ----------
    data
        A `NormResult` or a normalized `Series` (anything `speciate.xanes.as_normalized`
        accepts), measured over the whole grid (the result is a `Series`, which holds
        no NaN).
    order
        1 (default) or 2.
    smooth_ev
        Savitzky–Golay window width in eV on a uniform resampling (see `derivative_array`).
    array
        Which array of a `NormResult`: "norm" (default), "flat" or "mu".

    Returns
    -------
    Series
        ``mu`` holds ``d^order mu/dE^order`` (per eV^order); labels, time, coords and meta
        carried, ``meta["derivative"]`` records order and smoothing.
    """
    norm = as_normalized(data, array=array)
    if not norm.complete:
        measured = norm.measured()
        rows = np.nonzero(~measured.all(axis=1))[0]
        common = norm.energy[measured.all(axis=0)]
        where = f"{common[0]:.1f}-{common[-1]:.1f} eV" if common.size else "no energy"
        raise ValidationError(
            f"spectra {rows[:10].tolist()} were not measured over the whole grid, and the "
            f"derivative is a Series (finite everywhere); all spectra share {where}: "
            "differentiate that range, or use derivative_array per measured range"
        )
    d = derivative_array(norm.energy, np.asarray(norm.norm), order=order, smooth_ev=smooth_ev)
    meta = dict(norm.meta)
    meta["derivative"] = {"order": order, "smooth_ev": smooth_ev, "method": "savgol-uniform"}
    coords = {k: np.asarray(v) for k, v in norm.coords.items()}
    if "e0" not in coords and np.isfinite(norm.e0).any():
        coords["e0"] = np.asarray(norm.e0)
    return Series(norm.energy, d, labels=norm.labels, time=norm.time, coords=coords, meta=meta)
