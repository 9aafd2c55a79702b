"""Shared numerics of the fingerprint features, vectorized over the whole series.

Everything here works on arrays of shape (n_spectra, n_points) at once: local-maximum
masks, exact topographic prominences, sub-grid parabolic refinement and level crossings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from speciate._arrays import readonly_copy as readonly
from speciate.errors import ValidationError
from speciate.series import interp_rows
from speciate.xanes.normalized import Normalized
from speciate.xanes.normalized import as_normalized as xanes_as_normalized

__all__ = [
    "Normalized",
    "as_normalized",
    "first_crossing",
    "highest_maximum",
    "local_maxima",
    "noise_level",
    "prominences",
    "readonly",
    "refine_parabola",
    "smooth_on_window",
    "smoothing_gain",
    "window_mask",
]

# Finest resampling step (eV) of the uniform grids used for smoothing and derivatives.
# Finer steps add points but no information to data measured at 0.2-1 eV.
_RESAMPLE_STEP_EV = 0.1


def as_normalized(data: Any) -> Normalized:
    """`speciate.xanes.as_normalized`, for the features (which need complete spectra)."""
    out = xanes_as_normalized(data)
    if not out.complete:
        raise ValidationError("norm must be finite; found NaN values")
    return out


def check_window(window: Any, name: str) -> tuple[float, float]:
    """Validate an energy window ``(lo, hi)`` in eV."""
    try:
        lo, hi = (float(x) for x in window)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a pair (lo, hi) in eV; got {window!r}") from exc
    if not lo < hi:
        raise ValidationError(f"{name} must have lo < hi (eV); got ({lo}, {hi})")
    return lo, hi


def window_mask(energy: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Boolean mask (n_energy,) of the points inside ``window`` (eV, inclusive)."""
    return (energy >= window[0]) & (energy <= window[1])


def uniform_grid(
    energy: np.ndarray, window: tuple[float, float], step: float | None = None
) -> np.ndarray | None:
    """A uniform grid over ``window`` clipped to the data, or ``None`` if too short.

    The default step is the median data step inside the window, capped at 0.1 eV.
    """
    lo, hi = max(window[0], energy[0]), min(window[1], energy[-1])
    inside = window_mask(energy, (lo, hi))
    if hi - lo <= 0 or inside.sum() < 3:
        return None
    if step is None:
        step = min(float(np.median(np.diff(energy[inside]))), _RESAMPLE_STEP_EV)
    n = int(np.floor((hi - lo) / step + 1e-9)) + 1
    return lo + step * np.arange(n) if n >= 5 else None


def smooth_on_window(
    energy: np.ndarray,
    norm: np.ndarray,
    window: tuple[float, float],
    smooth_ev: float,
    deriv: int = 0,
    step: float | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Savitzky–Golay smoothing (or derivative) of every spectrum on a uniform grid.

    Parameters
    ----------
    energy
        (n_energy,) eV.
    norm
        (n_spectra, n_energy).
    window
        Energy range (eV) to resample; a margin of ``smooth_ev`` is added on both sides
        (within the data) so the filter's edge handling does not reach the window.
    smooth_ev
        Filter width in eV (quadratic local polynomial; cubic for ``deriv=2``). 0 gives
        central differences of the linear interpolation.
    deriv
        0 (smoothing), 1 or 2.

    Returns
    -------
    (grid, values) with grid (n_grid,) eV inside ``window`` and values (n_spectra, n_grid)
    in norm per eV^deriv; ``None`` when the window holds fewer than 5 grid points.
    """
    grid = uniform_grid(energy, (window[0] - smooth_ev, window[1] + smooth_ev), step)
    if grid is None:
        return None
    h = grid[1] - grid[0]
    on_grid = interp_rows(grid, energy, norm)
    polyorder = 3 if deriv == 2 else 2
    length = max(round(smooth_ev / h) | 1, polyorder + 2 | 1)
    if length > grid.size:
        return None
    if smooth_ev > 0:
        # the margin added above is cut off below, so the cheap edge mode is enough
        values = savgol_filter(
            on_grid, length, polyorder, deriv=deriv, delta=h, axis=-1, mode="nearest"
        )
    else:
        values = on_grid
        for _ in range(deriv):
            values = np.gradient(values, h, axis=-1)
    keep = window_mask(grid, window)
    if keep.sum() < 5:
        return None
    return grid[keep], values[:, keep]


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
    """Noise gain of `smooth_on_window`: output deviation per unit white-noise deviation.

    `smooth_on_window` is linear in the data (interpolation, then a Savitzky–Golay
    filter), so applying it to the identity gives its matrix; the norm of each output
    row is how much white noise of deviation 1 on the data points becomes at that
    output energy. Multiply by `noise_level` to get the noise of the smoothed values.

    Returns
    -------
    (grid, gain) with grid (n_grid,) eV and gain (n_grid,) in 1/eV^deriv; ``None``
    where `smooth_on_window` returns ``None``.
    """
    # only the data points the resampled window can reach (one beyond each end)
    i0 = max(int(np.searchsorted(energy, window[0] - smooth_ev)) - 1, 0)
    i1 = min(int(np.searchsorted(energy, window[1] + smooth_ev, side="right")) + 1, energy.size)
    sub = energy[i0:i1]
    out = smooth_on_window(sub, np.eye(sub.size), window, smooth_ev, deriv, step)
    if out is None:
        return None
    grid, operator_t = out  # (n_sub, n_grid): column j = weights of output point j
    return grid, np.sqrt((operator_t**2).sum(axis=0))


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


def first_crossing(
    energy: np.ndarray, y: np.ndarray, level: float | np.ndarray, start: float
) -> np.ndarray:
    """Energy where each row of ``y`` first rises through ``level`` at or after ``start``.

    Linear interpolation between the two bracketing points. A row already above
    ``level`` at ``start`` has no crossing there (the edge began before the window); it
    gets the next upward crossing, if any.

    Parameters
    ----------
    energy
        (n,) eV.
    y
        (n_spectra, n).
    level
        Scalar or (n_spectra,).
    start
        eV; points below it are ignored.

    Returns
    -------
    numpy.ndarray
        (n_spectra,) eV, NaN where no upward crossing exists.
    """
    lev = np.broadcast_to(np.asarray(level, dtype=float), (y.shape[0],))[:, None]
    i0 = max(int(np.searchsorted(energy, start)) - 1, 0)
    energy, y = energy[i0:], y[:, i0:]
    if energy.size < 2:  # the search starts beyond the data
        return np.full(y.shape[0], np.nan)
    below = y[:, :-1] < lev
    above = y[:, 1:] >= lev
    ok = below & above & (energy[None, 1:] >= start)
    has = ok.any(axis=1)
    j = np.argmax(ok, axis=1)
    rows = np.arange(y.shape[0])
    y0, y1 = y[rows, j], y[rows, j + 1]
    e0, e1 = energy[j], energy[j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = e0 + (lev[:, 0] - y0) * (e1 - e0) / (y1 - y0)
    return np.where(has, e, np.nan)


def reasons(n: int) -> np.ndarray:
    """An (n,) array of empty reasons (``""`` = the feature was measured)."""
    return np.full(n, "", dtype=object)


def set_reason(out: np.ndarray, where: np.ndarray, text: str) -> None:
    """Write ``text`` where ``where`` is true and no earlier reason was recorded."""
    fill = np.asarray(where, dtype=bool) & (out == "")
    out[fill] = text


def frozen_reasons(out: np.ndarray) -> np.ndarray:
    """Reasons as a read-only string array."""
    arr = np.asarray(out.astype(str))
    arr.setflags(write=False)
    return arr
