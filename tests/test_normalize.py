"""normalize: agreement with Larch on real Mn standards, vectorization, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from speciate import Series, ValidationError
from speciate.xanes import find_e0, normalize


def _load_group(path):
    data = np.loadtxt(path)
    order = np.argsort(data[:, 1], kind="stable")
    return Series(data[order, 1], data[order, 2], labels=[path.stem])


@pytest.fixture(scope="module")
def larch(golden):
    return json.loads((golden / "larch_pre_edge_Mn_groups.json").read_text())["spectra"]


def test_normalize_matches_larch_on_mn_standards(larch, real_data):
    assert len(larch) == 14
    for ref in larch:
        series = _load_group(real_data / ref["file"])
        result = normalize(
            series,
            pre=(ref["pre1"], ref["pre2"]),
            post=(ref["norm1"], ref["norm2"]),
            post_order=ref["nnorm"],
        )
        energy = series.energy
        i = np.searchsorted(energy, ref["e0"])
        grid_step = max(np.diff(energy)[i - 1], np.diff(energy)[i])
        assert abs(result.e0[0] - ref["e0"]) <= grid_step + 1e-9, ref["file"]
        rel = np.array([float(k) for k in ref["norm_at"]])
        ours = np.interp(ref["e0"] + rel, energy, result.norm[0])
        np.testing.assert_allclose(ours, list(ref["norm_at"].values()), atol=0.01)
        ours_flat = np.interp(ref["e0"] + rel, energy, result.flat[0])
        np.testing.assert_allclose(ours_flat, list(ref["flat_at"].values()), atol=0.01)
        assert result.edge_step[0] == pytest.approx(ref["edge_step"], rel=0.01)


def _synthetic(n_s=50, seed=0):
    rng = np.random.default_rng(seed)
    energy = np.concatenate([np.arange(6340, 6530, 2.0), np.arange(6530, 6600, 0.25),
                             np.arange(6600, 7000, 3.0)])  # fmt: skip
    e0 = 6545 + rng.uniform(-3, 3, n_s)
    step = rng.uniform(0.5, 2.0, n_s)
    slope = rng.uniform(-1e-4, 1e-4, n_s)
    offset = rng.uniform(-0.5, 0.5, n_s)
    t = energy[None, :] - e0[:, None]
    edge = 0.5 + np.arctan(t / 1.5) / np.pi
    mu = offset[:, None] + slope[:, None] * t + step[:, None] * edge
    return Series(energy, mu), e0, step


def test_normalize_recovers_known_step_and_flat_edge():
    series, e0, step = _synthetic()
    result = normalize(series, e0=e0, post_order=1)
    np.testing.assert_allclose(result.edge_step, step, rtol=0.03)
    above = series.energy > e0.max() + 100
    np.testing.assert_allclose(result.flat[:, above], 1.0, atol=0.02)
    below = series.energy < e0.min() - 50
    np.testing.assert_allclose(result.norm[:, below], 0.0, atol=0.02)


def test_find_e0_is_per_spectrum_and_vectorized():
    series, e0, _ = _synthetic()
    found = find_e0(series.energy, series.mu)
    np.testing.assert_allclose(found, e0, atol=0.26)


def test_batch_equals_one_by_one():
    series, _, _ = _synthetic(8, seed=3)
    batch = normalize(series)
    for i in (0, 5):
        single = normalize(series.select(i))
        np.testing.assert_allclose(single.norm[0], batch.norm[i], atol=1e-10)
        assert single.e0[0] == batch.e0[i]


def test_result_is_frozen_and_converts_to_series():
    series, _, _ = _synthetic(3)
    result = normalize(series)
    with pytest.raises(ValueError):
        result.norm[0, 0] = 3.0
    out = result.to_series("flat")
    np.testing.assert_array_equal(out.mu, result.flat)
    np.testing.assert_array_equal(out.coords["e0"], result.e0)
    assert result.select([2, 0]).labels == (series.labels[2], series.labels[0])


def test_ranges_are_clipped_and_recorded():
    series, _, _ = _synthetic(2)
    result = normalize(series, pre=(-1000, -30))
    assert (result.pre_range[:, 0] > -1000).all()
    assert result.provenance["clipped"]["pre"] == 2


def test_bad_input_raises_clear_errors():
    series, _, _ = _synthetic(2)
    with pytest.raises(ValidationError, match="pre-edge range holds"):
        normalize(series, pre=(-31, -30))
    flat = Series(np.linspace(6400, 6700, 200), np.random.default_rng(1).normal(size=(1, 200)))
    with pytest.raises(ValidationError, match="no absorption edge"):
        normalize(flat)
    inverted = series.replace(mu=-series.mu)
    with pytest.raises(ValidationError, match="edge step"):
        normalize(inverted, e0=6545.0)
    with pytest.raises(ValidationError, match="outside the data"):
        normalize(series, e0=100.0)


def test_pre_and_post_edge_curves_rebuild_norm():
    series, _, _ = _synthetic(4, seed=7)
    result = normalize(series)
    rebuilt = (series.mu - result.pre_edge) / result.edge_step[:, None]
    np.testing.assert_allclose(rebuilt, result.norm, atol=1e-10)
    at_e0 = result.post_edge - result.pre_edge
    idx = np.searchsorted(series.energy, result.e0)
    np.testing.assert_allclose(at_e0[np.arange(4), idx], result.edge_step, rtol=1e-10)
