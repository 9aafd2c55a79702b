"""combinations: every subset fitted, the true subset selected, the ranked table."""

from __future__ import annotations

import numpy as np
import pytest

from speciate import Series, ValidationError
from speciate.fit import CombinationsResult, combinations, lcf
from test_fit_support import SIX, mixtures, six_standards


@pytest.fixture(scope="module")
def six(mn_groups):
    return six_standards(mn_groups)


def _true_subsets(weights):
    return [tuple(int(j) for j in np.nonzero(w > 0)[0]) for w in weights]


def test_combinations_with_shifts_selects_true_subset(six):
    series, truth, _ = mixtures(six, 30, seed=21, shift=0.5)
    result = combinations(series, six, max_components=4, shifts=True)
    hits = np.mean([a == b for a, b in zip(result.best, _true_subsets(truth))])
    assert hits >= 0.95, hits
    assert np.abs(result.best_weights - truth).mean() < 0.02
    assert result.best_shifts is not None


def test_combinations_without_shift_data_selects_true_subset(six):
    series, truth, _ = mixtures(six, 120, seed=22, shift=0.0)
    result = combinations(series, six, max_components=4)
    hits = np.mean([a == b for a, b in zip(result.best, _true_subsets(truth))])
    assert hits >= 0.9, hits


def test_raw_r_factor_alone_would_prefer_more_components(six):
    series, truth, _ = mixtures(six, 40, seed=23, shift=0.0)
    result = combinations(series, six, max_components=4)
    sizes = np.array([len(s) for s in result.subsets])
    true_sizes = (truth > 0).sum(axis=1)
    lowest = np.argmin(result.r_factor, axis=0)
    # the lowest R-factor comes with extra standards; the F-test selection does not
    assert (sizes[lowest] > true_sizes).mean() > 0.5
    assert (sizes[result.best_index] > true_sizes).mean() < 0.1


def test_each_subset_fit_equals_lcf_on_that_subset(six):
    series, _, _ = mixtures(six, 8, seed=24, shift=0.0)
    result = combinations(series, six, max_components=3)
    for i in (0, 7, 25, len(result.subsets) - 1):
        sub = result.subsets[i]
        single = lcf(series, [six[j] for j in sub])
        np.testing.assert_allclose(result.weights[i][:, list(sub)], single.weights, atol=1e-10)
        np.testing.assert_allclose(result.chi2[i], single.chi2, rtol=1e-9)
        others = [j for j in range(6) if j not in sub]
        assert (result.weights[i][:, others] == 0).all()
    np.testing.assert_allclose(result.weights.sum(axis=2), 1.0, atol=1e-12)


def test_ranked_table(six):
    series, _, _ = mixtures(six, 3, seed=25, shift=0.0)
    result = combinations(series, six, max_components=2)
    assert isinstance(result, CombinationsResult)
    assert len(result.subsets) == 6 + 15
    table = result.to_dataframe()
    assert len(table) == 3 * 21
    first = table[table["spectrum"] == 0]
    assert list(first["rank"]) == list(range(1, 22))
    assert first["r_factor"].is_monotonic_increasing
    assert first["selected"].sum() == 1
    assert f"weight_{SIX[0]}" in table


def test_bad_arguments(six):
    series, _, _ = mixtures(six, 2, seed=26)
    with pytest.raises(ValidationError, match="alpha"):
        combinations(series, six, alpha=2.0)
    with pytest.raises(ValidationError, match="shifts"):
        combinations(series, six, shifts=np.zeros(6))
    with pytest.raises(ValidationError, match="max_components"):
        combinations(series, six, max_components=0)


def test_refit_gives_one_lcf_result_of_the_selected_subsets(six, tmp_path):
    import xarray as xr

    series, _, _ = mixtures(six, 12, seed=27, shift=0.0)
    result = combinations(series, six, max_components=3)
    refit = result.refit(series, six)
    np.testing.assert_allclose(refit.weights, result.best_weights, atol=1e-10)
    np.testing.assert_allclose(refit.fit + refit.residual, refit.data)
    np.testing.assert_allclose(refit.total, 1.0, atol=1e-12)
    outside = result.best_weights == 0
    assert (refit.stderr[outside] == 0).all() and (refit.stderr[~outside] > 0).all()
    assert refit.labels == series.labels
    np.testing.assert_allclose(refit.components(3).sum(axis=1), refit.fit[3])
    summary = result.summary()
    assert list(summary["n_components"]) == [len(b) for b in result.best]
    np.testing.assert_allclose(summary[f"weight_{SIX[2]}"], result.best_weights[:, 2])
    result.to_netcdf(tmp_path / "c.nc")
    with xr.open_dataset(tmp_path / "c.nc", engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds["best_index"].values, result.best_index)
        assert ds["members"].values.sum() == sum(len(s) for s in result.subsets)
    result.to_csv(tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text().startswith("spectrum,label,subset,")
    with pytest.raises(ValidationError, match="standards given to combinations"):
        result.refit(series, six[:5])


def test_raw_mu_combinations_with_background_rank_the_true_subset_first(mn_groups):
    six = six_standards(mn_groups)
    mixed, weights, _ = mixtures(six, 30, seed=31, shift=0.0)
    rng = np.random.default_rng(32)
    scale = rng.uniform(0.2, 2.0, (30, 1))
    bg = rng.uniform(-0.5, 0.5, (30, 1)) + rng.uniform(-2e-3, 2e-3, (30, 1)) * (
        mixed.energy - 6549.0
    )
    raw = Series(mixed.energy, scale * mixed.mu + bg)
    result = combinations(raw, six, background="linear", array="mu", e0=6549.0)
    truth = [tuple(np.nonzero(w)[0]) for w in weights]
    hits = np.mean([b == t for b, t in zip(result.best, truth)])
    assert hits >= 0.9
    assert result.scale is not None
    best_scale = result.scale[result.best_index, np.arange(30)]
    np.testing.assert_allclose(best_scale, scale[:, 0], rtol=0.02)
    np.testing.assert_allclose(result.best_weights.sum(axis=1), 1.0, atol=1e-9)
    assert result.settings["background"] == "linear"
    assert result.provenance["function"] == "speciate.fit.combinations"
    refit = result.refit(raw, six)
    np.testing.assert_allclose(refit.weights, result.best_weights, atol=1e-6)
    # the refit keeps what was fitted besides the weights
    np.testing.assert_allclose(refit.scale, best_scale, rtol=1e-6)
    assert refit.background_kind == "linear" and refit.background_coefs.shape == (30, 2)
    np.testing.assert_allclose(refit.fit + refit.residual, refit.data, atol=1e-12)
    assert {"scale", "background_c1"} <= set(refit.to_dataframe().columns)


def test_scale_only_combinations_find_the_subset_when_edge_steps_are_off(mn_groups):
    six = six_standards(mn_groups)
    mixed, weights, _ = mixtures(six, 30, seed=33, shift=0.0)
    off = np.random.default_rng(34).uniform(0.97, 1.03, (30, 1))
    normalized = mixed.replace(mu=off * mixed.mu)
    result = combinations(normalized, six, background="scale")
    truth = [tuple(np.nonzero(w)[0]) for w in weights]
    assert np.mean([b == t for b, t in zip(result.best, truth)]) >= 0.9
    best_scale = result.scale[result.best_index, np.arange(30)]
    np.testing.assert_allclose(best_scale, off[:, 0], rtol=5e-3)
