"""Model inputs for synthetic spectrum images: published facts and Poisson plural scattering.

The Mn L2,3 model edges follow published trends (L3 maximum ~1.5-2 eV higher for Mn4+ than
Mn2+, L3/L2 white-line ratio falling with valence); the model low loss obeys the Poisson law
of plural scattering (Egerton): the zero-loss fraction is exp(-t/lambda).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.eels import correct_drift, fit_background, fourier_ratio, mlls, subtract_background
from speciate.eels.drift import zlp_positions
from speciate.eels.synthetic import mn_references, model_spectra, shell_core_image


@settings(max_examples=15, deadline=None)
@given(st.floats(0.1, 1.2), st.floats(15.0, 30.0))
def test_model_low_loss_follows_poisson_plural_scattering(thickness, plasmon):
    _, low = model_spectra(thickness=thickness, plasmon=plasmon)
    e, y = low.energy, low.mu[0]
    zero_loss = y[(e > -3.0) & (e < 3.0)].sum() / y.sum()
    # (the window also holds the Drude tail below 3 eV: <1 % at t/lambda = 1.2)
    assert zero_loss == pytest.approx(np.exp(-thickness), rel=1e-2)
    assert e[np.argmax(y)] == pytest.approx(0.0, abs=0.11)
    beyond = e > 8.0  # the first plasmon peak sits near (slightly above) E_p
    assert e[beyond][np.argmax(y[beyond])] == pytest.approx(plasmon, abs=1.5)


def test_model_background_is_the_stated_power_law():
    bg, low = model_spectra(exponent=3.0, counts_at_640=1e4)
    i = np.argmin(np.abs(bg.energy - 640.0))
    assert bg.mu[0, i] == pytest.approx(1e4 * (bg.energy[i] / 640.0) ** -3.0)
    assert bg.energy[1] - bg.energy[0] == pytest.approx(low.energy[1] - low.energy[0])


def test_shell_recovered_from_model_inputs_without_measured_spectra():
    img = shell_core_image(*model_spectra(), shape=(24, 24), seed=1)
    pos = zlp_positions(img.low_loss)
    assert np.abs(pos - img.drift).max() < 0.05  # the ZLP moved with the drift
    cl = correct_drift(img.core_loss, pos, reference=0.0).image
    ll = correct_drift(img.low_loss, pos, reference=0.0).image
    single = fourier_ratio(
        subtract_background(cl, fit_background(cl, (600.0, 634.0))), ll, fwhm=1.0
    )
    res = mlls(single, mn_references(single.energy, fwhm=1.0))
    err = res.valence[img.particle] - img.valence[img.particle]
    assert abs(err.mean()) <= 0.1
    found = img.particle & (res.valence < 3.25)
    assert (found & img.shell).sum() / (found | img.shell).sum() >= 0.9
