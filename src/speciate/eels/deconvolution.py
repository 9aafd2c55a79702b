"""Fourier-ratio deconvolution: remove plural scattering from core-loss spectra.

A core-loss spectrum J(E) is the single-scattering edge convolved with the low-loss spectrum
L(E) of the same pixel. Following Egerton (Electron Energy-Loss Spectroscopy in the Electron
Microscope, 3rd ed., section 4.3), the single-scattering edge is recovered as

    S = IFFT[ I0 * G(f) * J(f) / L(f) ]

where I0 is the zero-loss intensity and G a unit-area Gaussian that sets the final energy
resolution (dividing by L(f) alone would amplify noise without bound). Spectra are padded
and the core loss is tapered to zero at the high-energy end so the FFT does not wrap a step.
All pixels are transformed at once along the energy axis.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

__all__ = ["fourier_ratio", "zlp_fwhm"]


def _check_pair(core_loss: SpectrumImage, low_loss: SpectrumImage) -> None:
    d_cl, d_ll = core_loss.dispersion, low_loss.dispersion
    if not np.isclose(d_cl, d_ll, rtol=1e-6, atol=0):
        raise ValidationError(
            f"core-loss and low-loss dispersions differ ({d_cl:.6g} vs {d_ll:.6g} eV/channel); "
            "record both at the same dispersion or rebin one of them explicitly"
        )
    if low_loss.nav_shape not in ((1, 1), core_loss.nav_shape):
        raise ValidationError(
            f"low-loss image has {low_loss.nav_shape} pixels; expected one spectrum or the "
            f"core-loss pixel grid {core_loss.nav_shape}"
        )
    if not low_loss.energy[0] < 0 < low_loss.energy[-1]:
        raise ValidationError(
            f"low-loss axis {low_loss.energy[0]:.2f}..{low_loss.energy[-1]:.2f} eV must "
            "contain 0 eV (the zero-loss peak)"
        )


def zlp_fwhm(low_loss: SpectrumImage) -> float:
    """Full width at half maximum of the mean zero-loss peak, in eV."""
    y = np.asarray(low_loss.data, dtype=float).reshape(low_loss.n_pixels, -1).mean(axis=0)
    i = int(np.argmax(y))
    above = y >= 0.5 * y[i]
    lo = i
    while lo > 0 and above[lo - 1]:
        lo -= 1
    hi = i
    while hi < y.size - 1 and above[hi + 1]:
        hi += 1
    return float((hi - lo + 1) * low_loss.dispersion)


@records_provenance
def fourier_ratio(
    core_loss: SpectrumImage,
    low_loss: SpectrumImage,
    *,
    fwhm: float | None = None,
    zlp_window: tuple[float, float] = (-3.0, 3.0),
) -> SpectrumImage:
    """Single-scattering core-loss spectra by Fourier-ratio deconvolution.

    Parameters
    ----------
    core_loss
        Background-subtracted core-loss image (ny, nx, n_cl) in counts.
    low_loss
        Low-loss image of the same pixels (ny, nx, n_ll) or one spectrum (1, 1, n_ll), same
        dispersion, axis containing 0 eV (calibrate the zero-loss peak to 0 eV first).
    fwhm
        Resolution (eV) of the reconvolution Gaussian; default: the zero-loss FWHM.
    zlp_window
        Window (eV) integrated for the zero-loss intensity I0.

    Returns
    -------
    SpectrumImage
        Single-scattering spectra on the core-loss axis, counts per I0.

    Raises
    ------
    ValidationError
        On mismatched dispersion or pixel grids, or a low-loss axis without 0 eV.
    """
    _check_pair(core_loss, low_loss)
    n_cl, n_ll = core_loss.n_energy, low_loss.n_energy
    n = sfft.next_fast_len(n_cl + n_ll, real=True)
    d = core_loss.dispersion
    cl = np.asarray(core_loss.data, dtype=float).reshape(core_loss.n_pixels, n_cl)
    ll = np.asarray(low_loss.data, dtype=float).reshape(low_loss.n_pixels, n_ll)

    j = np.zeros((cl.shape[0], n))
    j[:, :n_cl] = cl
    ramp = np.cos(0.5 * np.pi * np.linspace(0, 1, n_ll)) ** 2
    j[:, n_cl : n_cl + n_ll] = cl[:, -1:] * ramp  # smooth decay instead of a wrapped step

    # put E = 0 of the low-loss axis at index 0; negative energies wrap to the end
    zero = round(float(-low_loss.energy[0] / d))
    lpad = np.zeros((ll.shape[0], n))
    lpad[:, : n_ll - zero] = ll[:, zero:]
    lpad[:, n - zero :] = ll[:, :zero]

    zsl = low_loss.channels(zlp_window, "zero-loss window")
    i0 = ll[:, zsl].sum(axis=1, keepdims=True)
    width = zlp_fwhm(low_loss) if fwhm is None else float(fwhm)
    if not width > 0:
        raise ValidationError(f"fwhm must be > 0 eV; got {width}")
    sigma = width / (2 * np.sqrt(2 * np.log(2)))
    e = np.fft.fftfreq(n, 1.0 / (n * d))  # channel energies with wrap-around, eV
    gauss = np.exp(-0.5 * (e / sigma) ** 2)
    gauss /= gauss.sum()

    numer = sfft.rfft(j, axis=1) * sfft.rfft(gauss)[None, :]
    denom = sfft.rfft(lpad, axis=1)
    # Frequencies where the low loss has no power carry no information (e.g. Nyquist after
    # a half-channel drift shift, which averages neighbours); the reconvolution Gaussian is
    # ~0 there anyway, so they are set to 0 instead of dividing 0 by 0.
    usable = np.abs(denom) > 1e-12 * np.abs(denom[:, :1])
    spec = np.divide(numer, denom, out=np.zeros_like(numer), where=usable)
    single = sfft.irfft(spec * i0, n, axis=1)[:, :n_cl]
    meta = dict(core_loss.meta)
    meta["fourier_ratio"] = {"fwhm_eV": width, "zlp_window_eV": list(zlp_window)}
    return core_loss.replace(data=single.reshape(*core_loss.nav_shape, n_cl), meta=meta)
