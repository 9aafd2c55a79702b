"""Fourier-ratio deconvolution with exspy's real low-loss spectrum: known single scattering."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from speciate.eels import SpectrumImage, fourier_ratio, read
from speciate.eels.deconvolution import zlp_fwhm
from speciate.eels.synthetic import mn_l23
from speciate.errors import ValidationError


@pytest.fixture(scope="module")
def low_loss() -> SpectrumImage:
    spec = importlib.util.find_spec("exspy")
    if spec is None or spec.origin is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    return read(Path(spec.origin).parent / "tests" / "components" / "lowloss_spectrum.msa")


def _plural(single: np.ndarray, energy: np.ndarray, low_loss: SpectrumImage) -> np.ndarray:
    """Convolve a single-scattering spectrum with the low loss, per unit zero-loss intensity."""
    ll = low_loss.data[0, 0]
    i0 = ll[low_loss.channels((-3.0, 3.0))].sum()
    full = np.convolve(single, ll)
    zero = round(float(-low_loss.energy[0] / low_loss.dispersion))
    return full[zero : zero + energy.size] / i0


def test_fourier_ratio_recovers_the_single_scattering_edge(low_loss):
    energy = 560.0 + low_loss.dispersion * np.arange(800)
    single = 1e4 * mn_l23(energy, 3)
    plural = _plural(single, energy, low_loss)
    # the real sample is ~0.6 inelastic mean free paths thick: plural scattering is strong
    assert np.abs(plural - single).max() > 0.2 * single.max()
    out = fourier_ratio(SpectrumImage(plural, energy), low_loss, fwhm=1.0)
    expected = 1e4 * mn_l23(energy, 3, fwhm=1.0)
    win = (energy > 630) & (energy < 670)
    err = np.abs(out.data[0, 0, win] - expected[win]).max()
    assert err < 0.03 * expected.max()
    assert out.meta["fourier_ratio"]["fwhm_eV"] == 1.0


def test_default_resolution_is_the_zero_loss_width(low_loss):
    assert 2.5 < zlp_fwhm(low_loss) < 3.5  # measured on the file: 3.0 eV at 0.2 eV/channel
    energy = 560.0 + low_loss.dispersion * np.arange(400)
    out = fourier_ratio(SpectrumImage(np.ones(400), energy), low_loss)
    assert out.meta["fourier_ratio"]["fwhm_eV"] == pytest.approx(zlp_fwhm(low_loss))


def test_mismatched_inputs_raise(low_loss):
    energy = 560.0 + 0.25 * np.arange(100)
    with pytest.raises(ValidationError, match="dispersions differ"):
        fourier_ratio(SpectrumImage(np.ones(100), energy), low_loss)
    cl = SpectrumImage(np.ones((2, 2, 100)), 560.0 + 0.2 * np.arange(100))
    two = SpectrumImage(np.ones((3, 1, low_loss.n_energy)), low_loss.energy)
    with pytest.raises(ValidationError, match="pixel grid"):
        fourier_ratio(cl, two)
    shifted = SpectrumImage(low_loss.data, low_loss.energy + 100.0)
    with pytest.raises(ValidationError, match="contain 0 eV"):
        fourier_ratio(cl, shifted)
