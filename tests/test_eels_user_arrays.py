"""EELS functions and results never lock the caller's arrays; background models as a protocol."""

from __future__ import annotations

import numpy as np
import pytest

from speciate.eels import (
    BackgroundFit,
    OnsetMap,
    PowerLaw,
    RatioMap,
    SpectrumImage,
    background_model,
    correct_drift,
    fit_background,
    l3_l2_ratio,
    l3_onset,
    mlls,
    region_spectra,
    region_statistics,
)
from speciate.eels.synthetic import mn_references
from speciate.errors import ValidationError


@pytest.fixture
def user_image() -> tuple[np.ndarray, np.ndarray]:
    energy = np.linspace(600.0, 700.0, 401)
    refs = mn_references(energy)
    mix = 0.3 * refs.mu[0] + 0.7 * refs.mu[2]
    background = 2e4 * (energy / 600.0) ** -3.2
    data = np.broadcast_to(background + 1e3 * mix, (2, 3, energy.size)).copy()
    return data, energy


def test_user_arrays_stay_writeable_after_every_eels_call(user_image):
    data, energy = user_image
    si = SpectrumImage(data, energy)
    fit_background(si, (605.0, 630.0))
    mlls(si, mn_references(energy), background="power_law", background_window=(605.0, 630.0))
    l3_l2_ratio(si)
    l3_onset(si)
    amp, expo, masked = np.zeros((2, 3)), np.full((2, 3), 3.0), np.zeros((2, 3), int)
    BackgroundFit("power_law", (605.0, 630.0), amp, expo, masked)
    ratio, l3, l2 = np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3))
    RatioMap(ratio, l3, l2, {})
    onset = np.zeros((2, 3))
    OnsetMap(onset, 0.5, (635.0, 646.0))
    positions = np.zeros((2, 3))
    correct_drift(si, positions, 0.0)
    values, mask = np.arange(6.0).reshape(2, 3), np.eye(2, 3, dtype=bool)
    region_statistics(values, {"diagonal": mask})
    region_spectra(si, {"diagonal": mask})
    user = (data, energy, amp, expo, masked, ratio, l3, l2, onset, positions, values, mask)
    for arr in user:
        assert arr.flags.writeable
    # the result's own view is still locked
    assert not si.data.flags.writeable


def test_background_models_share_one_protocol():
    energy = np.array([600.0, 650.0])
    np.testing.assert_allclose(background_model("power_law").columns(energy), np.log(energy))
    np.testing.assert_allclose(background_model("exponential").columns(energy), energy)
    assert background_model(PowerLaw()) == PowerLaw()
    with pytest.raises(ValidationError, match="one of"):
        background_model("gaussian")
    with pytest.raises(ValidationError, match="positive energy losses"):
        PowerLaw().columns(np.array([-1.0, 2.0]))


def test_implausible_power_law_exponents_are_flagged_not_clipped():
    expo = np.array([[3.0, 0.5], [7.5, 2.0]])
    fit = BackgroundFit("power_law", (605.0, 630.0), np.zeros((2, 2)), expo, np.zeros((2, 2)))
    np.testing.assert_array_equal(fit.implausible, [[False, True], [True, False]])
    np.testing.assert_array_equal(fit.exponent, expo)
