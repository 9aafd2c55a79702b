"""Edge maps independent of reference spectra: L3/L2 white-line ratio and L3 onset energy.

Both are classic valence measures for 3d transition metals: the L3/L2 intensity ratio falls
and the L3 onset moves up in energy as the Mn valence rises. They need no references, so
they check an MLLS valence map. Inputs are background-subtracted (`subtract_background`);
every function takes a `SpectrumImage` (returns (ny, nx) maps) or a `Series` of region
spectra (returns (n_spectra,) values), computed for all pixels or spectra at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate._arrays import readonly_view
from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = [
    "MN_L3_L2_RATIO",
    "MN_L3_ONSET_EV",
    "OnsetMap",
    "RatioMap",
    "l3_l2_ratio",
    "l3_onset",
    "valence_from_calibration",
]

# Model calibration points (speciate.eels.synthetic); measure your own on known standards.
MN_L3_L2_RATIO: Mapping[float, float] = {2.0: 4.3, 3.0: 2.6, 4.0: 1.9}
MN_L3_ONSET_EV: Mapping[float, float] = {2.0: 640.0, 3.0: 640.9, 4.0: 641.8}


def _rows(obj: SpectrumImage | Series, window: tuple[float, float], name: str):
    """(energy of window, rows (n, n_window), output shape) for an image or a Series."""
    if isinstance(obj, SpectrumImage):
        sl = obj.channels(window, name)
        y = np.asarray(obj.data[..., sl], dtype=float).reshape(obj.n_pixels, -1)
        return obj.energy[sl], y, obj.nav_shape
    if isinstance(obj, Series):
        lo, hi = window
        if lo < obj.energy[0] or hi > obj.energy[-1]:
            raise ValidationError(
                f"{name} {lo:.2f}..{hi:.2f} eV reaches outside the data "
                f"{obj.energy[0]:.2f}..{obj.energy[-1]:.2f} eV"
            )
        keep = (obj.energy >= lo) & (obj.energy <= hi)
        if keep.sum() < 2:
            raise ValidationError(f"{name} {lo:.2f}..{hi:.2f} eV holds fewer than 2 points")
        return obj.energy[keep], np.asarray(obj.mu[:, keep], dtype=float), (obj.n_spectra,)
    raise ValidationError(f"expected a SpectrumImage or a Series; got {type(obj).__name__}")


def _integrate(energy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.trapezoid(y, energy, axis=1)


def _centroid(energy: np.ndarray, y: np.ndarray) -> np.ndarray:
    # centroid of the top half of the white line: at its maximum for one peak, yet it moves
    # continuously (unlike the maximum) when two white lines of different valence mix
    lo, hi = y.min(axis=1, keepdims=True), y.max(axis=1, keepdims=True)
    w = np.clip(y - 0.5 * (lo + hi), 0, None)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w @ energy) / total, energy[0])


@dataclass(frozen=True, eq=False)
class RatioMap:
    """L3/L2 white-line intensity ratio.

    Attributes
    ----------
    ratio
        I(L3) / I(L2), shape (ny, nx) or (n_spectra,).
    l3, l2
        Integrated white-line intensities (counts x eV) after the continuum removal.
    windows
        ``{"l3": (lo, hi), "l2": (lo, hi), "post_edge": (lo, hi) or None}`` in eV.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    ratio: np.ndarray
    l3: np.ndarray
    l2: np.ndarray
    windows: Mapping[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("ratio", "l3", "l2"):
            object.__setattr__(self, name, readonly_view(getattr(self, name), dtype=None))


@records_provenance
def l3_l2_ratio(
    obj: SpectrumImage | Series,
    l3: tuple[float, float] = (637.0, 648.0),
    l2: tuple[float, float] = (648.0, 660.0),
    post_edge: tuple[float, float] | None = (665.0, 680.0),
    splitting: float = 11.0,
) -> RatioMap:
    """White-line ratio I(L3)/I(L2) with a double-step continuum removed.

    The continuum is a step of heights 2:1 (2p3/2 : 2p1/2 occupancy) scaled to the mean
    intensity in ``post_edge``, as in the step-function method of Pearson et al. (Phys. Rev.
    B 47, 8471, 1993). The L3 step sits at the centroid of the top half of the L3 white line
    (at its maximum for one peak, but moving smoothly when white lines of two valences mix),
    the L2 step ``splitting`` eV higher (the weak L2 line of Mn2+ is no reliable marker).
    ``post_edge=None`` integrates the windows without removing a continuum.

    Parameters
    ----------
    obj
        Background-subtracted image (ny, nx, n_energy) or Series (n_spectra, n_energy).
    l3, l2, post_edge
        Windows (e_min, e_max) in eV.
    splitting
        2p spin-orbit splitting L2 - L3 in eV (11 eV for Mn).

    Returns
    -------
    RatioMap
    """
    e3, y3, shape = _rows(obj, l3, "L3 window")
    e2, y2, _ = _rows(obj, l2, "L2 window")
    if post_edge is not None:
        ep, yp, _ = _rows(obj, post_edge, "post-edge window")
        height = _integrate(ep, yp) / (ep[-1] - ep[0])
        pos3 = _centroid(e3, y3)
        pos2 = pos3 + splitting

        def step(energy: np.ndarray) -> np.ndarray:
            s = (2 / 3) * (energy[None, :] >= pos3[:, None])
            s = s + (1 / 3) * (energy[None, :] >= pos2[:, None])
            return height[:, None] * s

        y3 = y3 - step(e3)
        y2 = y2 - step(e2)
    i3, i2 = _integrate(e3, y3), _integrate(e2, y2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(i2 > 0, i3 / i2, np.nan)
    windows = {"l3": tuple(l3), "l2": tuple(l2), "post_edge": post_edge}
    return RatioMap(ratio.reshape(shape), i3.reshape(shape), i2.reshape(shape), windows)


@dataclass(frozen=True, eq=False)
class OnsetMap:
    """Energy where the L3 edge first reaches a fraction of its maximum.

    Attributes
    ----------
    onset
        Onset energy in eV, shape (ny, nx) or (n_spectra,); NaN where the window holds no
        positive signal.
    fraction
        The fraction of the window maximum used.
    window
        Search window (e_min, e_max) in eV.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    onset: np.ndarray
    fraction: float
    window: tuple[float, float]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "onset", readonly_view(self.onset, dtype=None))


@records_provenance
def l3_onset(
    obj: SpectrumImage | Series,
    window: tuple[float, float] = (635.0, 646.0),
    fraction: float = 0.5,
    smooth: float = 0.0,
) -> OnsetMap:
    """L3 onset energy: first crossing of ``fraction`` x the window maximum, interpolated.

    Parameters
    ----------
    obj
        Background-subtracted image or Series.
    window
        Window (e_min, e_max) in eV that starts below the edge and contains the L3 maximum.
    fraction
        Threshold as a fraction of the maximum, in (0, 1).
    smooth
        Gaussian smoothing (sigma, eV) before searching; 0: none.
    """
    if not 0 < fraction < 1:
        raise ValidationError(f"fraction must be in (0, 1); got {fraction}")
    energy, y, shape = _rows(obj, window, "onset window")
    if smooth > 0:
        from scipy.ndimage import gaussian_filter1d

        y = gaussian_filter1d(y, smooth / (energy[1] - energy[0]), axis=1, mode="nearest")
    peak = y.max(axis=1)
    thr = fraction * peak
    above = y >= thr[:, None]
    i = np.argmax(above, axis=1)
    rows = np.arange(y.shape[0])
    prev = np.maximum(i - 1, 0)
    y0, y1 = y[rows, prev], y[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where((i > 0) & (y1 > y0), (thr - y0) / (y1 - y0), 0.0)
    onset = energy[prev] + t * (energy[i] - energy[prev])
    onset = np.where(peak > 0, onset, np.nan)
    return OnsetMap(onset.reshape(shape), float(fraction), (float(window[0]), float(window[1])))


def valence_from_calibration(values: Any, calibration: Mapping[float, float]) -> np.ndarray:
    """Valence by linear interpolation in a calibration {valence: measured value}.

    Works for decreasing (L3/L2 ratio) and increasing (onset energy) calibrations; values
    outside the calibrated range are NaN, not extrapolated.

    Parameters
    ----------
    values
        Ratio or onset map, any shape.
    calibration
        At least two {valence: value} pairs, monotonic in value.
    """
    if len(calibration) < 2:
        raise ValidationError("calibration needs at least two {valence: value} pairs")
    val = np.array(sorted(calibration), dtype=float)
    meas = np.array([calibration[v] for v in sorted(calibration)], dtype=float)
    step = np.diff(meas)
    if not ((step > 0).all() or (step < 0).all()):
        raise ValidationError(f"calibration values must be monotonic in valence; got {meas}")
    if step[0] < 0:
        val, meas = val[::-1], meas[::-1]
    x = np.asarray(values, dtype=float)
    out = np.interp(x, meas, val)
    return np.where((x >= meas[0]) & (x <= meas[-1]), out, np.nan)
