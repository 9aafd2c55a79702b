"""speciate.theory.normalize: per absorber, post-edge mean = 1, a NormResult."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.errors import ValidationError
from speciate.series import Series
from speciate.theory import normalize, read_fdmnes_conv, read_xmu
from speciate.xanes import NormResult

E = np.linspace(6530.0, 6620.0, 301)


def _edge(height: np.ndarray, e0: float = 6545.0) -> np.ndarray:
    return height[:, None] * 0.5 * (1.0 + np.tanh((E - e0) / 1.5))


def test_known_edge_step_and_absorber_count_are_recovered():
    heights = np.array([1.0, 3.5, 16 * 0.04])
    s = Series(E, _edge(heights), coords={"e_fermi": [6545.0] * 3, "n_absorbers": [1, 1, 16]})
    res = normalize(s, post=(40, 70))
    assert isinstance(res, NormResult)
    np.testing.assert_allclose(res.edge_step, heights, rtol=1e-9)
    np.testing.assert_allclose(res.provenance["edge_step_per_absorber"], [1.0, 3.5, 0.04])
    np.testing.assert_allclose(res.norm[:, -1], 1.0, rtol=1e-9)
    np.testing.assert_array_equal(res.pre_coefs, 0.0)
    assert np.isnan(res.pre_range).all()
    np.testing.assert_allclose(res.post_range[0], [40.0, 70.0], atol=0.3)
    assert not res.norm.flags.writeable
    assert res.to_series("norm").coords["edge_step"][1] == pytest.approx(3.5)


@settings(max_examples=40, deadline=None)
@given(
    scale=st.floats(1e-3, 1e3),
    n_abs=st.integers(1, 32),
    e0=st.floats(6535.0, 6550.0),
)
def test_norm_does_not_depend_on_scale_or_absorber_count(scale, n_abs, e0):
    base = Series(E, _edge(np.array([1.0]), e0), coords={"e_fermi": [e0]})
    scaled = Series(
        E,
        scale * n_abs * _edge(np.array([1.0]), e0),
        coords={"e_fermi": [e0], "n_absorbers": [n_abs]},
    )
    a, b = normalize(base), normalize(scaled)
    np.testing.assert_allclose(a.norm, b.norm, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.edge_step / n_abs, scale * a.edge_step, rtol=1e-9)


def test_fdmnes_spectra_of_16_and_4_absorbers_land_on_one_scale(engine_outputs):
    fdm = engine_outputs / "fdmnes"
    spinel = read_fdmnes_conv(fdm / "limn2o4_r5" / "LiMn2O4_R5_conv.txt")
    li2 = read_fdmnes_conv(fdm / "li2mno3_r5" / "Li2MnO3_R5_conv.txt")
    both = Series.concat([spinel.to_series("LiMn2O4 R5"), li2.to_series("Li2MnO3 R5")])
    res = normalize(both, post=(40, 70))
    per_mn = np.asarray(res.provenance["edge_step_per_absorber"])
    # raw sums differ 4x (16 vs 4 Mn per cell); per Mn both are the Mn K jump, ~0.03-0.04 Mbarn
    assert res.edge_step[0] / res.edge_step[1] == pytest.approx(4.0, rel=0.2)
    assert np.all((per_mn > 0.025) & (per_mn < 0.05))
    assert per_mn[0] / per_mn[1] == pytest.approx(1.0, abs=0.15)
    # white line above the post-edge mean, pre-edge far below it
    assert np.all(res.norm.max(axis=1) > 1.2)
    assert np.all(res.norm[:, res.energy < 6536].max(axis=1) < 0.3)


def test_feff_spectrum_is_already_near_unit_scale(engine_outputs):
    spec = read_xmu(engine_outputs / "feff10" / "LiMn2O4_R5.0" / "xmu_noscf.dat")
    res = normalize(spec.to_series("LiMn2O4 R5"), post=(40, 55))
    # FEFF normalizes mu to 1 at 50 eV above the edge itself
    assert res.edge_step[0] == pytest.approx(1.0, abs=0.15)
    assert res.e0[0] == pytest.approx(spec.e_fermi)


def test_missing_e0_and_empty_window_raise_clear_errors():
    s = Series(E, _edge(np.array([1.0])), labels=["a"])
    with pytest.raises(ValidationError, match="e_fermi"):
        normalize(s)
    with pytest.raises(ValidationError, match=r"spectrum 'a' has no point in e0 \+ post"):
        normalize(s, post=(100, 120), e0=6545.0)
    with pytest.raises(ValidationError, match="high > low"):
        normalize(s, post=(70, 40), e0=6545.0)
