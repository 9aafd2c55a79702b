"""Derivatives of spectra on non-uniform energy grids, vectorized over the series."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from speciate.errors import ValidationError
from speciate.series import Series, interp_rows

__all__ = ["derivative", "derivative_array", "uniform_grid"]

# Finest step used when resampling onto a uniform grid; quick-scan data can have
# sub-meV steps that would blow up the resampled size without adding information.
_MIN_STEP_EV = 0.01


def uniform_grid(energy: np.ndarray, step: float | None = None) -> np.ndarray:
    """A uniform grid spanning ``energy`` (eV) with the given step (default: the fine step).

    The default step is the 10th percentile of the grid spacing, which follows the
    fine near-edge sampling of XANES scans rather than their coarse EXAFS tail.
    """
    energy = np.asarray(energy, dtype=float)
    if step is None:
        step = max(float(np.percentile(np.diff(energy), 10)), _MIN_STEP_EV)
    n = int(np.floor((energy[-1] - energy[0]) / step)) + 1
    return energy[0] + step * np.arange(n)


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
        Width in eV of the Savitzky–Golay window (quadratic/cubic local polynomial)
        applied on a uniform resampling of the data. ``None`` or 0 gives the plain
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
    if smooth_ev < 0:
        raise ValidationError(f"smooth_ev must be >= 0 eV; got {smooth_ev}")
    grid = uniform_grid(energy)
    step = grid[1] - grid[0]
    on_grid = interp_rows(grid, energy, mu)
    window = round(smooth_ev / step) | 1
    polyorder = 2 if order < 2 else 3
    window = max(window, polyorder + 2 | 1)
    if window > grid.size:
        raise ValidationError(
            f"smoothing window {smooth_ev} eV ({window} points) is longer than the data "
            f"({grid.size} points at {step:.3f} eV)"
        )
    smoothed = savgol_filter(
        on_grid, window, polyorder, deriv=order, delta=step, axis=-1, mode="interp"
    )
    return interp_rows(energy, grid, smoothed)


def derivative(data: Any, order: int = 1, smooth_ev: float | None = 1.0) -> Series:
    """Derivative of every spectrum of a series, as a new `Series` on the same grid.

    Parameters
    ----------
    data
        A `Series` or a `NormResult` (its ``norm`` array is differentiated).
    order
        1 (default) or 2.
    smooth_ev
        Savitzky–Golay window width in eV on a uniform resampling (see `derivative_array`).

    Returns
    -------
    Series
        ``mu`` holds ``d^order mu/dE^order`` (per eV^order); labels, time and coords carried,
        ``meta["derivative"]`` records order and smoothing.
    """
    series = data.to_series("norm") if hasattr(data, "to_series") else data
    if not isinstance(series, Series):
        raise ValidationError(f"derivative expects a Series or NormResult; got {type(data)}")
    d = derivative_array(series.energy, series.mu, order=order, smooth_ev=smooth_ev)
    meta = dict(series.meta)
    meta["derivative"] = {"order": order, "smooth_ev": smooth_ev, "method": "savgol-uniform"}
    return series.replace(mu=d, reference=None, meta=meta)
