"""The features' side of the NaN policy: NaN means "not measured".

`speciate.xanes.as_normalized` accepts spectra holding NaN where they were not measured
(a stack on a union grid). A feature is measured on a spectrum only when the spectrum
holds data at every point of the feature's window; otherwise the feature is NaN with the
reason, and the other spectra are measured as usual. For the numerics (which run on all
spectra at once), the unmeasured points are filled with the nearest measured value of
the same spectrum: a filled value can only reach a result that is then masked, or the
filter margins outside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speciate.xanes.normalized import Normalized

__all__ = ["Measured", "measured_in"]


@dataclass(frozen=True, eq=False)
class Measured:
    """Spectra ready for the vectorized numerics of one window.

    Attributes
    ----------
    values : (n_spectra, n_energy) finite: NaN replaced by the nearest measured value
    ok : (n_spectra,) bool, the spectrum has data at every point of the window
    reason : the reason to record where ``ok`` is False
    """

    values: np.ndarray
    ok: np.ndarray
    reason: str


def _fill_nearest(values: np.ndarray) -> np.ndarray:
    """NaN replaced by the nearest earlier measured value, or the next one at the start."""
    finite = np.isfinite(values)
    n = values.shape[1]
    idx = np.where(finite, np.arange(n)[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)  # index of the last finite at or before
    idx_r = np.where(finite, np.arange(n)[None, :], n)
    first = np.minimum.accumulate(idx_r[:, ::-1], axis=1)[:, ::-1]  # next finite at or after
    src = np.where(last >= 0, last, first)
    src = np.clip(src, 0, n - 1)
    return np.take_along_axis(values, src, axis=1)


def measured_in(norm: Normalized, window: tuple[float, float], name: str) -> Measured:
    """Which spectra hold data over all of ``window`` (eV), and finite values for the numerics.

    Parameters
    ----------
    norm
        From `speciate.xanes.as_normalized`.
    window
        (lo, hi) eV.
    name
        The window's name, for the reason ("edge", "pre-edge"...).
    """
    values = np.asarray(norm.norm)
    inside = (norm.energy >= window[0]) & (norm.energy <= window[1])
    reason = f"no data over the {name} window {window[0]:g}-{window[1]:g} eV"
    if norm.complete:
        return Measured(values, np.full(norm.n_spectra, True), reason)
    ok = np.isfinite(values[:, inside]).all(axis=1)
    return Measured(_fill_nearest(values), ok, reason)
