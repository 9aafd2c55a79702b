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


# ----------------------------------------------------------------- adaptive defaults
def _cut(series, lo=-25.0, hi=75.0):
    e0 = find_e0(series.energy, series.mu)[0]
    return series.window(e0 + lo, e0 + hi)


def test_default_normalize_keeps_real_normalized_short_spectra_near_unit_step(real_data):
    from speciate.io import read

    folder = real_data / "operando" / "perex_LNO_NiK" / "XAS_normalized"
    files = sorted(folder.glob("*.txt"))
    assert len(files) == 21
    for path in files:
        short = _cut(read(path))
        result = normalize(short)
        assert abs(result.edge_step[0] - 1.0) <= 0.10, path.name
        assert result.provenance["already_normalized"] == 1
        assert result.pre_order.tolist() == [0] and result.post_order.tolist() == [0]
        assert result.post_range[0, 1] <= 75.0 + 1e-9


def test_default_normalize_keeps_feff_xmu_near_unit_step(engine_outputs):
    paths = sorted((engine_outputs / "feff10").glob("*/xmu*.dat"))
    assert len(paths) >= 5
    for path in paths:
        data = np.loadtxt(path)
        short = _cut(Series(data[:, 0], data[:, 3], labels=[path.parent.name]))
        result = normalize(short)
        assert abs(result.edge_step[0] - 1.0) <= 0.10, path


def test_adaptive_ranges_follow_the_data_extent_and_are_recorded():
    series, e0, step = _synthetic(n_s=6)
    result = normalize(series, e0=e0)
    below, above = e0 - series.energy[0], series.energy[-1] - e0
    np.testing.assert_allclose(result.pre_range[:, 0], -np.minimum(below, 200.0))
    np.testing.assert_allclose(result.pre_range[:, 1], -30.0)
    assert (np.abs(result.post_range[:, 0] - 150.0) < 1.5).all()
    np.testing.assert_allclose(result.post_range[:, 1], above)
    # ~300 eV of post-edge span: a quadratic
    assert result.post_order.shape == (6,) and set(result.post_order.tolist()) <= {1, 2}
    assert result.provenance["function"] == "speciate.xanes.normalize"
    assert result.provenance["settings"]["pre"] == "adaptive"
    np.testing.assert_allclose(result.edge_step, step, rtol=0.03)


def test_short_raw_pre_edge_gets_a_constant_with_a_warning():
    series, e0, _ = _synthetic(n_s=4)
    short = series.window(float(e0.max()) - 15.0, float(e0.min()) + 120.0)
    with pytest.warns(UserWarning, match="constant pre-edge"):
        result = normalize(short, e0=e0)
    assert (result.pre_order == 0).all()
    assert (result.pre_coefs[:, 1] == 0).all()
    assert result.edge_step.shape == (4,)


def test_fixed_step_and_shared_e0_are_used_and_recorded():
    series, e0, _ = _synthetic(n_s=5)
    result = normalize(series, step=2.0, shared_e0=True)
    np.testing.assert_array_equal(result.edge_step, 2.0)
    assert np.unique(result.e0).size == 1
    assert result.e0[0] == pytest.approx(np.median(find_e0(series.energy, series.mu)))
    settings = result.provenance["settings"]
    assert settings["shared_e0"] is True and settings["step"] == [2.0] * 5
    # the flat curve still subtracts only the post-edge curvature, not the step
    above = series.energy > e0.max() + 100
    ratio = result.flat[:, above] / result.norm[:, above]
    assert np.isfinite(ratio).all()


def test_default_normalize_of_raw_mn_mixtures_gets_the_step_within_2_5_percent():
    from scipy.interpolate import PchipInterpolator

    from speciate.datasets import mn_standards

    stds = [normalize(s, pre=(-150, -30), post=(50, 400)) for s in
            mn_standards(["MnO", "Mn2O3", "MnO2 pyrolusite"])]  # fmt: skip
    rng = np.random.default_rng(3)
    energy = np.arange(6480.0, 6700.0, 0.25)
    n_s = 40
    weights = rng.dirichlet(np.ones(3), n_s)
    mix = sum(weights[:, [j]] * PchipInterpolator(s.energy, s.norm[0])(energy)
              for j, s in enumerate(stds))  # fmt: skip
    scale = rng.uniform(0.2, 2.0, (n_s, 1))
    background = rng.uniform(-0.5, 0.5, (n_s, 1)) + rng.uniform(-2e-3, 2e-3, (n_s, 1)) * (
        energy - 6550.0
    )
    mu = scale * (mix + 0.003 * rng.normal(size=mix.shape)) + background
    result = normalize(Series(energy, mu))
    error = np.abs(result.edge_step / scale[:, 0] - 1.0)
    assert np.median(error) <= 0.025
    assert (result.post_order == 1).all()


def test_flat_is_computed_once_read_only_and_agrees_with_a_selection():
    series, _, _ = _synthetic(5)
    result = normalize(series)
    flat = result.flat
    assert result.flat is flat and not flat.flags.writeable
    np.testing.assert_allclose(result.select([3, 1]).flat, flat[[3, 1]], rtol=0, atol=1e-12)
    below = series.energy[None, :] < result.e0[:, None]
    np.testing.assert_array_equal(flat[below], result.norm[below])
    # above E0 the post-edge curvature is gone: flat's post-edge trend is level at 1
    post = series.energy > result.e0.max() + 50
    slope = np.polyfit(series.energy[post], flat[:, post].T, 1)[0]
    raw_slope = np.polyfit(series.energy[post], result.norm[:, post].T, 1)[0]
    assert np.all(np.abs(slope) < 0.2 * np.abs(raw_slope).max() + 1e-6)
