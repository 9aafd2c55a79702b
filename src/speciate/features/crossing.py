"""First upward crossing of a level, for every spectrum at once."""

from __future__ import annotations

import numpy as np

__all__ = ['first_crossing']


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
