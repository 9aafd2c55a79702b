"""How much white noise a spectrum holds, and how much of it survives smoothing."""

from __future__ import annotations

import numpy as np

from speciate.xanes.derivative import smooth_on_grid

__all__ = ['noise_level', 'smoothing_gain']


def noise_level(
    energy: np.ndarray, norm: np.ndarray, below: float = np.inf, min_points: int = 8
) -> np.ndarray:
    """Standard deviation of the white noise of every spectrum, from its own points.

    Each point is compared with the straight line through its two neighbours (exact on
    non-uniform grids); the residual ``r_i = y_i - (w_l y_{i-1} + w_r y_{i+1})`` of white
    noise of deviation σ has deviation ``σ sqrt(1 + w_l² + w_r²)``. The robust estimate is
    ``1.4826 × median |r_i| / sqrt(1 + w_l² + w_r²)`` over the points below ``below``
    (eV). Keep ``below`` in the smooth pre-edge: there the curvature of the signal is
    far below the noise, whereas on a coarse noiseless theory spectrum the curvature of
    the edge would pass for noise.

    Parameters
    ----------
    energy
        (n_energy,) eV, strictly increasing.
    norm
        (n_spectra, n_energy).
    below
        Only points (with both neighbours) below this energy (eV) are used.
    min_points
        Fewer usable points give NaN (noise unknown).

    Returns
    -------
    numpy.ndarray
        (n_spectra,) in the units of ``norm``; NaN when unknown.
    """
    n_use = int(np.searchsorted(energy, below))  # points energy[:n_use] are below
    if n_use - 2 < min_points:
        return np.full(norm.shape[0], np.nan)
    energy, norm = energy[:n_use], norm[:, :n_use]
    h1, h2 = np.diff(energy)[:-1], np.diff(energy)[1:]
    w_l, w_r = h2 / (h1 + h2), h1 / (h1 + h2)
    resid = norm[:, 1:-1] - w_l * norm[:, :-2] - w_r * norm[:, 2:]
    return 1.4826 * np.median(np.abs(resid) / np.sqrt(1.0 + w_l**2 + w_r**2), axis=1)


def smoothing_gain(
    energy: np.ndarray,
    window: tuple[float, float],
    smooth_ev: float,
    deriv: int = 0,
    step: float | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Noise gain of `smooth_on_grid` over a window: output deviation per unit noise deviation.

    `speciate.xanes.derivative.smooth_on_grid` is linear in the data (interpolation,
    then a Savitzky–Golay filter), so applying it to the identity gives its matrix; the
    norm of each output row is how much white noise of deviation 1 on the data points
    becomes at that output energy. Multiply by `noise_level` to get the noise of the
    smoothed values.

    Returns
    -------
    (grid, gain) with grid (n_grid,) eV and gain (n_grid,) in 1/eV^deriv; ``None``
    where `smooth_on_grid` returns ``None``.
    """
    # only the data points the resampled window can reach (one beyond each end)
    i0 = max(int(np.searchsorted(energy, window[0] - smooth_ev)) - 1, 0)
    i1 = min(int(np.searchsorted(energy, window[1] + smooth_ev, side="right")) + 1, energy.size)
    sub = energy[i0:i1]
    out = smooth_on_grid(sub, np.eye(sub.size), smooth_ev, deriv, window, step)
    if out is None:
        return None
    grid, operator_t = out  # (n_sub, n_grid): column j = weights of output point j
    return grid, np.sqrt((operator_t**2).sum(axis=0))
