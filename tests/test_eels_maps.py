"""L3/L2 ratio and L3 onset maps on model Mn edges (published trends, see synthetic.py)."""

from __future__ import annotations

import numpy as np
import pytest

from speciate.eels import SpectrumImage, l3_l2_ratio, l3_onset, valence_from_calibration
from speciate.eels.maps import MN_L3_L2_RATIO
from speciate.eels.synthetic import mn_l23, mn_references
from speciate.errors import ValidationError

ENERGY = np.arange(620.0, 700.0, 0.1)


def test_l3_l2_ratio_falls_with_valence_near_published_values():
    ratio = l3_l2_ratio(mn_references(ENERGY, fwhm=1.0)).ratio
    assert ratio[0] > ratio[1] > ratio[2]
    published = np.array([MN_L3_L2_RATIO[v] for v in (2.0, 3.0, 4.0)])
    np.testing.assert_allclose(ratio, published, rtol=0.15)


def test_ratio_and_onset_follow_a_rigid_shift():
    base = mn_l23(ENERGY, 3, fwhm=1.0)
    moved = mn_l23(ENERGY - 0.5, 3, fwhm=1.0)
    si = SpectrumImage(np.stack([base, moved])[None], ENERGY)
    ratio = l3_l2_ratio(si).ratio[0]
    assert ratio[1] == pytest.approx(ratio[0], rel=0.02)
    onset = l3_onset(si).onset[0]
    assert onset[1] - onset[0] == pytest.approx(0.5, abs=0.02)


def test_onset_moves_up_1p5_to_2_ev_from_mn2_to_mn4():
    onset = l3_onset(mn_references(ENERGY, fwhm=1.0)).onset
    assert onset[0] < onset[1] < onset[2]
    assert 1.4 <= onset[2] - onset[0] <= 2.0


def test_maps_of_a_mixing_image_are_monotonic():
    refs = mn_references(ENERGY, valences=(2, 4), fwhm=1.0)
    f4 = np.linspace(0, 1, 12).reshape(3, 4)
    si = SpectrumImage((1 - f4)[..., None] * refs.mu[0] + f4[..., None] * refs.mu[1], ENERGY)
    ratio = l3_l2_ratio(si).ratio.ravel()
    onset = l3_onset(si).onset.ravel()
    assert ratio.shape == (12,) and np.all(np.diff(ratio) < 0)
    assert np.all(np.diff(onset) > 0)


def test_valence_from_calibration_interpolates_and_never_extrapolates():
    cal = {2.0: 4.3, 3.0: 2.6, 4.0: 1.9}
    np.testing.assert_allclose(valence_from_calibration([4.3, 2.6, 1.9], cal), [2, 3, 4])
    assert valence_from_calibration(2.25, cal) == pytest.approx(3.5)
    assert np.isnan(valence_from_calibration(5.0, cal))
    onset = valence_from_calibration([640.0, 640.9], {2.0: 640.0, 4.0: 641.8})
    np.testing.assert_allclose(onset, [2.0, 3.0])
    with pytest.raises(ValidationError, match="monotonic"):
        valence_from_calibration(3.0, {2.0: 4.0, 3.0: 2.0, 4.0: 3.0})


def test_bad_windows_raise():
    refs = mn_references(ENERGY)
    with pytest.raises(ValidationError, match="reaches outside"):
        l3_l2_ratio(refs, post_edge=(690.0, 720.0))
    with pytest.raises(ValidationError, match="fraction"):
        l3_onset(refs, fraction=1.5)
    with pytest.raises(ValidationError, match="SpectrumImage or a Series"):
        l3_onset(np.ones(10))
