"""Per-pixel energy drift: measure it from the zero-loss peak or an edge onset, then undo it.

Spectrometer drift during a scan moves every spectrum by a fraction of an eV; edges of
different valence differ by 1-2 eV, so uncorrected drift reads as valence. Positions are
measured with sub-channel precision (parabola through the three channels around the
maximum) and spectra are shifted by linear interpolation, all pixels at once. The corrected
image keeps only the channels that every pixel still covers after its shift: nothing is
extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

__all__ = ["DriftCorrection", "correct_drift", "edge_onset_positions", "zlp_positions"]


def _peak_positions(y: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Sub-channel position (eV) of the maximum of each row of y (n_pixels, n)."""
    n = y.shape[1]
    i = np.clip(np.argmax(y, axis=1), 1, n - 2)
    rows = np.arange(y.shape[0])
    ym, y0, yp = y[rows, i - 1], y[rows, i], y[rows, i + 1]
    denom = ym - 2 * y0 + yp
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(denom < 0, 0.5 * (ym - yp) / denom, 0.0)
    step = energy[1] - energy[0]
    return energy[i] + np.clip(frac, -0.5, 0.5) * step


def _dense(si: SpectrumImage, sl: slice) -> np.ndarray:
    return np.asarray(si.data[..., sl], dtype=np.float64).reshape(si.n_pixels, -1)


def zlp_positions(low_loss: SpectrumImage, window: tuple[float, float] = (-5.0, 5.0)) -> np.ndarray:
    """Energy of the zero-loss peak maximum in every pixel.

    Parameters
    ----------
    low_loss
        Low-loss spectrum image (ny, nx, n_energy) covering ``window``.
    window
        Search window (e_min, e_max) in eV.

    Returns
    -------
    numpy.ndarray
        ZLP positions in eV, shape (ny, nx).
    """
    sl = low_loss.channels(window, "zero-loss window")
    pos = _peak_positions(_dense(low_loss, sl), low_loss.energy[sl])
    return pos.reshape(low_loss.nav_shape)


def edge_onset_positions(
    si: SpectrumImage, window: tuple[float, float], smooth: float = 1.0
) -> np.ndarray:
    """Energy of the steepest rise (maximum of dI/dE) of an edge in every pixel.

    Parameters
    ----------
    si
        Core-loss spectrum image (ny, nx, n_energy).
    window
        Search window (e_min, e_max) in eV around the edge onset.
    smooth
        Gaussian smoothing (sigma, eV) applied before differentiating; noise otherwise
        decides the maximum.

    Returns
    -------
    numpy.ndarray
        Onset positions in eV, shape (ny, nx).
    """
    from scipy.ndimage import gaussian_filter1d

    sl = si.channels(window, "edge-onset window")
    y = _dense(si, sl)
    sigma = smooth / si.dispersion
    if sigma > 0:
        y = gaussian_filter1d(y, sigma, axis=1, mode="nearest")
    e = si.energy[sl]
    dy = np.diff(y, axis=1)
    mid = 0.5 * (e[1:] + e[:-1])
    return _peak_positions(dy, mid).reshape(si.nav_shape)


def shift_rows(y: np.ndarray, shift_channels: np.ndarray, keep: slice) -> np.ndarray:
    """Rows of y (n_pixels, n) sampled at channel j + shift, for channels j in ``keep``.

    Linear interpolation; the caller guarantees j + shift stays inside [0, n - 1].
    """
    whole = np.floor(shift_channels).astype(np.int64)
    frac = (shift_channels - whole)[:, None]
    j = np.arange(keep.start, keep.stop)
    idx = j[None, :] + whole[:, None]
    lo = np.take_along_axis(y, idx, axis=1)
    hi = np.take_along_axis(y, np.minimum(idx + 1, y.shape[1] - 1), axis=1)
    return (1.0 - frac) * lo + frac * hi


@dataclass(frozen=True, eq=False)
class DriftCorrection:
    """A drift-corrected image and the shifts that were removed.

    Attributes
    ----------
    image
        Corrected spectrum image on the channels every pixel still covers.
    shifts
        Energy shift removed from each pixel in eV, shape (ny, nx): the corrected spectrum
        at E is the measured one at E + shift.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    image: SpectrumImage
    shifts: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


@records_provenance
def correct_drift(
    si: SpectrumImage, positions: np.ndarray, reference: float | None = None
) -> DriftCorrection:
    """Shift every pixel so that its measured feature lands on ``reference``.

    Parameters
    ----------
    si
        Spectrum image (ny, nx, n_energy) to correct (core loss or low loss).
    positions
        Measured feature energy per pixel in eV, shape (ny, nx) (`zlp_positions`,
        `edge_onset_positions`).
    reference
        Energy the feature should sit at (eV); default: the median of ``positions``.

    Returns
    -------
    DriftCorrection
        The image cropped to the channels covered by all pixels after shifting.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.shape != si.nav_shape:
        raise ValidationError(
            f"positions must have the image's pixel shape {si.nav_shape}; got {positions.shape}"
        )
    if not np.isfinite(positions).all():
        raise ValidationError("positions must be finite; found NaN/inf")
    ref = float(np.median(positions)) if reference is None else float(reference)
    shifts = positions - ref
    sc = shifts.ravel() / si.dispersion
    n = si.n_energy
    first = int(np.ceil(max(0.0, -sc.min())))
    last = int(np.floor(min(n - 1.0, n - 1.0 - sc.max())))
    if last - first < 1:
        raise ValidationError(
            f"shifts of {shifts.min():.2f}..{shifts.max():.2f} eV leave no channel covered by "
            f"every pixel of the {si.energy[0]:.2f}..{si.energy[-1]:.2f} eV axis"
        )
    keep = slice(first, last + 1)
    y = np.asarray(si.data, dtype=np.float64).reshape(si.n_pixels, n)
    out = shift_rows(y, sc, keep).reshape(*si.nav_shape, -1)
    meta = dict(si.meta)
    meta["drift_correction"] = {
        "reference_eV": ref,
        "shift_range_eV": [float(shifts.min()), float(shifts.max())],
    }
    shifts.setflags(write=False)
    return DriftCorrection(si.replace(data=out, energy=si.energy[keep], meta=meta), shifts)
