"""Local maxima of many rows at once: masks, exact topographic prominences, sub-grid refinement.

Everything works on arrays of shape (n_spectra, n_points) at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ['highest_maximum', 'local_maxima', 'prominences', 'refine_parabola']


def local_maxima(y: np.ndarray) -> np.ndarray:
    """Mask (n_spectra, n) of interior local maxima: ``y[i-1] < y[i] >= y[i+1]``.

    The first and last points are never maxima (the true peak may lie outside).
    """
    mask = np.zeros(y.shape, dtype=bool)
    mask[:, 1:-1] = (y[:, 1:-1] > y[:, :-2]) & (y[:, 1:-1] >= y[:, 2:])
    return mask


def prominences(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Topographic prominence of every masked maximum, all spectra at once.

    Same definition as `scipy.signal.peak_prominences` (no ``wlen``): from each peak,
    walk left and right until a strictly higher point or the end of the data; the base
    on each side is the lowest point passed; prominence = height - the higher base.

    Parameters
    ----------
    y
        (n_spectra, n) values.
    mask
        (n_spectra, n) bool, the peaks.

    Returns
    -------
    numpy.ndarray
        (n_spectra, n): the prominence at each peak, NaN elsewhere.
    """
    out = np.full(y.shape, np.nan)
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return out
    n = y.shape[1]
    idx = np.arange(n)[None, :]
    vals = y[rows]  # (n_peaks, n)
    h = vals[np.arange(rows.size), cols][:, None]
    higher = vals > h
    left_block = higher & (idx < cols[:, None])
    right_block = higher & (idx > cols[:, None])
    # nearest strictly higher point on each side (or the ends of the data)
    k_left = np.where(left_block.any(1), n - 1 - np.argmax(left_block[:, ::-1], axis=1), -1)
    k_right = np.where(right_block.any(1), np.argmax(right_block, axis=1), n)
    left_span = (idx > k_left[:, None]) & (idx <= cols[:, None])
    right_span = (idx >= cols[:, None]) & (idx < k_right[:, None])
    base_left = np.where(left_span, vals, np.inf).min(axis=1)
    base_right = np.where(right_span, vals, np.inf).min(axis=1)
    out[rows, cols] = h[:, 0] - np.maximum(base_left, base_right)
    return out


def highest_maximum(grid: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's highest interior local maximum, refined to sub-grid precision.

    Parameters
    ----------
    grid
        (n,) uniform energies (eV).
    y
        (m, n) values.

    Returns
    -------
    position, height : (m,) eV and value, NaN where a row has no interior maximum
    index : (m,) grid index of the maximum, -1 where there is none (the row peaks at an end)
    """
    peaks = local_maxima(y)
    idx = np.where(peaks.any(1), np.argmax(np.where(peaks, y, -np.inf), axis=1), -1)
    position, height = (a[:, 0] for a in refine_parabola(grid, y, idx[:, None]))
    return position, height, idx


def refine_parabola(
    grid: np.ndarray, y: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-grid position and height of maxima through the parabola on 3 points.

    Parameters
    ----------
    grid
        (n,) uniform energies (eV).
    y
        (m, n) values.
    idx
        (m, k) integer indices of interior maxima (``1 <= idx <= n-2``) or -1 (missing).

    Returns
    -------
    (position, height), each (m, k); NaN where ``idx`` is -1.
    """
    valid = idx >= 1
    i = np.clip(idx, 1, grid.size - 2)
    rows = np.arange(y.shape[0])[:, None]
    y0, y1, y2 = y[rows, i - 1], y[rows, i], y[rows, i + 1]
    curv = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(curv < 0, 0.5 * (y0 - y2) / curv, 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    step = grid[1] - grid[0]
    pos = grid[i] + delta * step
    height = y1 - 0.25 * (y0 - y2) * delta
    return np.where(valid, pos, np.nan), np.where(valid, height, np.nan)
