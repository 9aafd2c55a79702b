"""Model Mn L2,3 edges for Mn2+, Mn3+ and Mn4+, for tests, benchmarks and demonstrations.

No Mn L-edge reference set with a permissive licence is public, so these are models built
from published trends, not measurements:

* the L3 onset moves up by about 1.5-2 eV from Mn2+ to Mn4+ (here 640.0, 640.9, 641.8 eV for
  the L3 maximum);
* the spin-orbit splitting L3-L2 is about 11 eV;
* the white-line intensity ratio L3/L2 falls with valence (about 4.3, 2.6 and 1.9 for
  Mn2+, Mn3+, Mn4+, as measured with a step-function continuum);
* the continuum is a double step, with heights 2:1 at L3 and L2 (the 2p3/2 : 2p1/2
  occupancy); an error-function step is used rather than an arctan so the model has no
  intensity left in the pre-edge background window.

`model_spectra` gives a background and a low-loss spectrum for `shell_core_image` when no
measured pair is at hand: a power-law background and a low loss built by Poisson plural
scattering of a Drude plasmon (Egerton, *Electron Energy-Loss Spectroscopy in the Electron
Microscope*, 3rd ed., sections 3.3 and 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from speciate.eels.drift import shift_rows
from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.series import Series

__all__ = [
    "MN_L23",
    "ValenceImage",
    "mn_l23",
    "mn_references",
    "model_spectra",
    "shell_core_image",
]

# valence -> (L3 energy eV, L3/L2 white-line area ratio, white-line Gaussian sigma eV)
MN_L23: dict[int, tuple[float, float, float]] = {
    2: (640.0, 4.3, 0.75),
    3: (640.9, 2.6, 0.95),
    4: (641.8, 1.9, 1.05),
}
_SPIN_ORBIT = 11.0  # eV between L3 and L2
_STEP_WIDTH = 1.0  # eV, width of the continuum step


def _gauss(e: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((e - centre) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def mn_l23(energy: np.ndarray, valence: int, fwhm: float = 0.0) -> np.ndarray:
    """Model Mn L2,3 edge (background-free) for one valence on ``energy`` (eV).

    Parameters
    ----------
    energy
        Energy loss in eV, shape (n,), uniform.
    valence
        2, 3 or 4.
    fwhm
        Extra Gaussian instrumental broadening in eV (0: none).

    Returns
    -------
    numpy.ndarray
        Shape (n,); the L3 white line has unit area, the continuum step far above L2 is 0.3.
    """
    if valence not in MN_L23:
        raise ValidationError(f"valence must be one of {sorted(MN_L23)}; got {valence!r}")
    e = np.asarray(energy, dtype=float)
    l3, ratio, sigma = MN_L23[valence]
    if fwhm > 0:
        sigma = float(np.hypot(sigma, fwhm / (2 * np.sqrt(2 * np.log(2)))))
    l2 = l3 + _SPIN_ORBIT
    white = _gauss(e, l3, sigma) + _gauss(e, l2, sigma * 1.15) / ratio
    step = (2 / 3) * 0.5 * (1 + erf((e - l3) / _STEP_WIDTH))
    step += (1 / 3) * 0.5 * (1 + erf((e - l2) / _STEP_WIDTH))
    return white + 0.3 * step


def mn_references(
    energy: np.ndarray, valences: Sequence[int] = (2, 3, 4), fwhm: float = 0.0
) -> Series:
    """Model references as a Series with ``coords["valence"]`` (labels ``Mn2+``...)."""
    mu = np.stack([mn_l23(energy, v, fwhm) for v in valences])
    return Series(
        np.asarray(energy, dtype=float),
        mu,
        labels=tuple(f"Mn{v}+" for v in valences),
        coords={"valence": np.asarray(valences, dtype=float)},
        meta={"model": "speciate.eels.synthetic.mn_l23", "fwhm_eV": fwhm},
    )


def model_spectra(
    *,
    dispersion: float = 0.2,
    thickness: float = 0.4,
    plasmon: float = 22.0,
    plasmon_width: float = 6.0,
    zlp_fwhm: float = 0.8,
    exponent: float = 3.5,
    counts_at_640: float = 16000.0,
) -> tuple[Series, Series]:
    """A model core-loss background and low-loss spectrum, for `shell_core_image`.

    Parameters
    ----------
    dispersion
        Channel width in eV.
    thickness
        t / lambda, the specimen thickness in plasmon mean free paths.
    plasmon, plasmon_width
        Drude plasmon energy and width (eV).
    zlp_fwhm
        Gaussian zero-loss FWHM in eV (the energy resolution).
    exponent
        Power-law exponent r of the background ``A E^-r``.
    counts_at_640
        Background counts per channel at 640 eV.

    Returns
    -------
    background, low_loss
        One-spectrum Series: the background on 360-770 eV and the low loss on -40-370 eV
        (total intensity 1e6 counts), both on the same dispersion.
    """
    e_cl = np.arange(360.0, 770.0, dispersion)
    bg = counts_at_640 * (e_cl / 640.0) ** -exponent
    e_ll = -40.0 + dispersion * np.arange(round(410.0 / dispersion))
    n = e_ll.size
    e_pos = dispersion * np.arange(n)  # energies of the FFT frame, 0 eV at index 0
    drude = (
        e_pos
        * plasmon_width
        * plasmon**2
        / ((e_pos**2 - plasmon**2) ** 2 + (e_pos * plasmon_width) ** 2)
    )
    drude /= drude.sum()
    # Poisson plural scattering: FT(J) = FT(Z) exp(t/lambda (FT(S) - 1)), S of unit area
    sigma = zlp_fwhm / (2 * np.sqrt(2 * np.log(2)))
    zlp = _gauss(e_ll, 0.0, sigma) * dispersion
    plural = np.exp(thickness * (np.fft.rfft(drude) - 1.0))
    low = 1e6 * np.clip(np.fft.irfft(np.fft.rfft(zlp) * plural, n), 0.0, None)
    background = Series(e_cl, bg, labels=("background",), meta={"model": "power law"})
    low_loss = Series(e_ll, low, labels=("low_loss",), meta={"model": "Drude plasmon"})
    return background, low_loss


@dataclass(frozen=True, eq=False)
class ValenceImage:
    """A synthetic core-loss image with known truth.

    Attributes
    ----------
    core_loss, low_loss
        Spectrum images (ny, nx, n) in counts, with Poisson noise.
    valence
        True Mn valence per pixel (NaN where there is no Mn), shape (ny, nx).
    fractions
        True Mn2+/Mn3+/Mn4+ fractions, shape (ny, nx, 3).
    particle, shell
        Boolean masks (ny, nx): Mn-bearing pixels and the reduced shell.
    drift
        Energy drift applied to each pixel in eV, shape (ny, nx).
    """

    core_loss: SpectrumImage
    low_loss: SpectrumImage
    valence: np.ndarray
    fractions: np.ndarray
    particle: np.ndarray
    shell: np.ndarray
    drift: np.ndarray


def _convolve_low_loss(signal: np.ndarray, kernel: np.ndarray, zero: int) -> np.ndarray:
    from scipy.signal import fftconvolve

    full = fftconvolve(signal, kernel[None, :], axes=1)
    return full[:, zero : zero + signal.shape[1]]


def shell_core_image(
    background: Series,
    low_loss: Series,
    shape: tuple[int, int] = (32, 32),
    *,
    edge_area: float = 30000.0,
    dose: float = 0.5,
    drift: tuple[float, float] = (0.2, 0.5),
    extra_fwhm: float = 0.6,
    seed: int = 0,
) -> ValenceImage:
    """A particle with an Mn4+ core and a reduced shell (Mn2+/Mn3+ 1:1, valence 2.5).

    Each pixel is ``dose * t(x) * (background + edge_area * edge)`` shifted by a random
    drift of 0.2-0.5 eV (either sign), with Poisson noise. ``edge`` mixes the model edges
    (broadened by ``extra_fwhm`` more than `mn_references` would assume) convolved with the
    low-loss spectrum (plural scattering); ``t`` rises from 0.7 to 1.0 across the image.

    Parameters
    ----------
    background
        One measured core-loss spectrum used as the background (counts), on the grid that
        the image will use; only its part below 642 eV is used, continued by a power law
        fitted on 600-640 eV so the measured spectrum's own Mn edge does not enter.
    low_loss
        One measured low-loss spectrum (counts) on the same dispersion, axis containing 0 eV.
    shape
        (ny, nx) pixels.
    edge_area, dose, drift, extra_fwhm, seed
        Edge strength (counts x eV for unit-area L3), dose factor, drift magnitude range
        (eV), extra broadening of the image's edges (eV), random seed.
    """
    rng = np.random.default_rng(seed)
    e = background.energy
    d = float(e[1] - e[0])
    y = background.mu[0]
    pre = (e >= 600) & (e < 640)
    slope, icpt = np.polyfit(np.log(e[pre]), np.log(y[pre]), 1)
    bg = np.where(e < 642, y, np.exp(icpt + slope * np.log(e)))
    kernel = low_loss.mu[0] / low_loss.mu[0].sum()
    zero = round(float(-low_loss.energy[0] / d))
    edges = _convolve_low_loss(
        np.stack([mn_l23(e, v, extra_fwhm) for v in (2, 3, 4)]), kernel, zero
    )
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
    particle = r < 0.45 * min(ny, nx)
    core = r < 0.25 * min(ny, nx)
    shell = particle & ~core
    frac = np.zeros((ny, nx, 3))
    frac[core] = (0.0, 0.0, 1.0)
    frac[shell] = (0.5, 0.5, 0.0)
    valence = np.where(particle, frac @ np.array([2.0, 3.0, 4.0]), np.nan)
    scale = (dose * (0.7 + 0.3 * xx / max(nx - 1, 1))).reshape(-1, 1)
    shifts = rng.uniform(*drift, (ny, nx)) * rng.choice([-1.0, 1.0], (ny, nx))
    margin = int(np.ceil(drift[1] / d)) + 2
    model = (bg[None, :] + edge_area * (frac.reshape(-1, 3) @ edges)) * scale
    # the measured spectrum at E is the undrifted one at E - shift
    cl = shift_rows(model, -shifts.ravel() / d, slice(margin, e.size - margin))
    ll = shift_rows(
        np.clip(low_loss.mu[0], 0, None)[None, :] * scale,
        -shifts.ravel() / d,
        slice(margin, low_loss.energy.size - margin),
    )
    meta = {"synthetic": "speciate.eels.synthetic.shell_core_image", "dose": dose, "seed": seed}
    return ValenceImage(
        core_loss=SpectrumImage(
            rng.poisson(cl).astype(float).reshape(ny, nx, -1), e[margin:-margin], meta=meta
        ),
        low_loss=SpectrumImage(
            rng.poisson(ll).astype(float).reshape(ny, nx, -1),
            low_loss.energy[margin:-margin],
            meta=meta,
        ),
        valence=valence,
        fractions=frac,
        particle=particle,
        shell=shell,
        drift=shifts,
    )
