"""Closed-form pre-edge background: exact on clean data, as good as a nonlinear fit on noise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import curve_fit

from speciate.eels import SpectrumImage, fit_background, read, subtract_background
from speciate.errors import ValidationError


def _power(e, a, r):
    return a * (e / 600.0) ** -r


@pytest.fixture(scope="module")
def real_core_loss() -> SpectrumImage:
    spec = importlib.util.find_spec("exspy")
    if spec is None or spec.origin is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    return read(Path(spec.origin).parent / "tests" / "components" / "coreloss_spectrum.msa")


@settings(max_examples=30, deadline=None)
@given(st.floats(1e2, 1e7), st.floats(0.5, 6.0), st.floats(100.0, 1500.0))
def test_power_law_is_recovered_exactly_from_clean_data(amplitude, r, start):
    energy = start + 0.25 * np.arange(200)
    counts = amplitude * (energy / energy[0]) ** -r
    fit = fit_background(SpectrumImage(counts, energy), (energy[10], energy[150]))
    assert fit.exponent[0, 0] == pytest.approx(r, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(fit.evaluate(energy)[0, 0], counts, rtol=1e-8)


def test_exponential_background_is_recovered():
    energy = np.linspace(300.0, 400.0, 401)
    counts = 5e4 * np.exp(-0.012 * (energy - 300.0))
    fit = fit_background(SpectrumImage(counts, energy), (310.0, 380.0), "exponential")
    assert fit.exponent[0, 0] == pytest.approx(0.012, rel=1e-9)
    np.testing.assert_allclose(fit.evaluate([390.0])[0, 0, 0], counts[360], rtol=1e-9)


def test_noisy_fit_matches_per_pixel_nonlinear_fit(real_core_loss):
    # The real pre-Mn-edge background of exspy's spectrum, 300 Poisson realisations at
    # 1/4 of its dose; reference: scipy curve_fit per pixel with Poisson sigma.
    sl = real_core_loss.channels((600.0, 640.0))
    energy = real_core_loss.energy[sl]
    truth = 0.25 * real_core_loss.data[0, 0, sl]
    rng = np.random.default_rng(11)
    counts = rng.poisson(np.broadcast_to(truth, (15, 20, truth.size))).astype(float)
    ours = fit_background(SpectrumImage(counts, energy), (600.0, 640.0))
    flat = counts.reshape(-1, truth.size)
    ref_r = np.empty(flat.shape[0])
    ref_edge = np.empty(flat.shape[0])
    for i, y in enumerate(flat):  # the per-pixel reference the closed form replaces
        p, _ = curve_fit(_power, energy, y, p0=(y[0], 3.0), sigma=np.sqrt(y))
        ref_r[i] = p[1]
        ref_edge[i] = _power(650.0, *p)
    our_edge = ours.evaluate([650.0])[..., 0].ravel()
    p_true, _ = curve_fit(_power, energy, truth, p0=(truth[0], 3.0))
    edge_true = _power(650.0, *p_true)
    scatter = ref_edge.std()
    # pixel by pixel the two estimates agree far inside the noise...
    assert np.abs(our_edge - ref_edge).mean() < 0.1 * scatter
    assert np.abs(ours.exponent.ravel() - ref_r).mean() < 0.1 * ref_r.std()
    # ...and the closed form is at least as accurate about the truth
    rms_ours = np.sqrt(np.mean((our_edge - edge_true) ** 2))
    rms_ref = np.sqrt(np.mean((ref_edge - edge_true) ** 2))
    assert rms_ours <= 1.02 * rms_ref


def test_unweighted_single_pass_is_worse_than_reweighted(real_core_loss):
    sl = real_core_loss.channels((600.0, 640.0))
    energy = real_core_loss.energy[sl]
    truth = 0.01 * real_core_loss.data[0, 0, sl]  # ~170 counts per channel
    rng = np.random.default_rng(2)
    counts = rng.poisson(np.broadcast_to(truth, (20, 20, truth.size))).astype(float)
    si = SpectrumImage(counts, energy)
    p_true, _ = curve_fit(_power, energy, truth, p0=(truth[0], 3.0))
    edge_true = _power(650.0, *p_true)
    one = fit_background(si, (600.0, 640.0), iterations=1).evaluate([650.0]).mean()
    two = fit_background(si, (600.0, 640.0), iterations=2).evaluate([650.0]).mean()
    assert abs(two - edge_true) <= abs(one - edge_true) + 1e-9
    assert abs(two - edge_true) / edge_true < 0.01


def test_non_positive_counts_are_masked_and_counted():
    energy = np.linspace(500.0, 550.0, 101)
    counts = np.tile(1e3 * (energy / 500.0) ** -3, (2, 2, 1))
    counts[0, 1, [3, 7, 9]] = [0.0, -4.0, 0.0]
    fit = fit_background(SpectrumImage(counts, energy), (500.0, 550.0))
    assert fit.n_masked.tolist() == [[0, 3], [0, 0]]
    np.testing.assert_allclose(fit.exponent, 3.0, rtol=1e-9)


def test_pixel_without_positive_counts_raises():
    energy = np.linspace(500.0, 550.0, 101)
    counts = np.ones((2, 3, 101))
    counts[1, 2] = 0.0
    with pytest.raises(ValidationError, match="at least 2 channels with positive counts"):
        fit_background(SpectrumImage(counts, energy), (510.0, 540.0))


def test_bad_windows_and_models_raise():
    si = SpectrumImage(np.ones(50), np.linspace(500.0, 549.0, 50))
    with pytest.raises(ValidationError, match="reaches outside the data"):
        fit_background(si, (450.0, 520.0))
    with pytest.raises(ValidationError, match="power_law"):
        fit_background(si, (500.0, 520.0), model="polynomial")
    neg = SpectrumImage(np.ones(50), np.linspace(-10.0, 39.0, 50))
    with pytest.raises(ValidationError, match="positive energy"):
        fit_background(neg, (-5.0, 20.0))


def test_subtraction_leaves_the_edge_and_drops_channels_below_the_window(real_core_loss):
    fit = fit_background(real_core_loss, (600.0, 640.0))
    sub = subtract_background(real_core_loss, fit)
    assert sub.energy[0] == pytest.approx(600.0)
    pre = sub.data[0, 0, sub.channels((600.0, 640.0))]
    assert abs(pre.mean()) < 0.01 * real_core_loss.data[0, 0].mean()
    # the real spectrum's Mn L3 white line (near 648 eV on its axis) stands out afterwards
    assert sub.data[0, 0, sub.channels((646.0, 650.0))].mean() > 5000


def test_dask_and_numpy_fits_agree():
    da = pytest.importorskip("dask.array")
    energy = np.linspace(500.0, 600.0, 201)
    rng = np.random.default_rng(4)
    counts = rng.poisson(2e3 * (energy / 500.0) ** -3.2, (9, 7, 201)).astype(float)
    eager = fit_background(SpectrumImage(counts, energy), (505.0, 560.0))
    lazy = fit_background(
        SpectrumImage(da.from_array(counts, chunks=(4, 3, 201)), energy), (505.0, 560.0)
    )
    np.testing.assert_allclose(lazy.exponent, eager.exponent, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-8.0, 0.0),
    st.floats(0.0, 4.0),
    st.floats(200.0, 1500.0),
    st.integers(0, 2**32 - 1),
)
def test_series_evaluation_equals_exact_exponentials(mean_slope, spread, start, seed):
    # The background in the edge window is evaluated as a truncated series about the mean
    # slope (a matrix product).
    from speciate.eels.background import evaluate_flat, evaluate_rows

    rng = np.random.default_rng(seed)
    x = np.log(start + 0.25 * np.arange(160))
    slope = mean_slope + rng.uniform(-spread, spread, 300)
    log_a = rng.uniform(5.0, 20.0, 300) - slope * x[0]
    exact = evaluate_flat(log_a[:, None], slope[:, None], x)
    np.testing.assert_allclose(evaluate_rows(log_a, slope, x), exact, rtol=1e-12, atol=0)


def test_rows_far_from_the_mean_slope_are_evaluated_exactly():
    from speciate.eels.background import _series_split, evaluate_flat, evaluate_rows

    x = np.log(200.0 + 0.25 * np.arange(400))
    slope = np.full(300, -3.0)
    slope[7] = -60.0  # a wild pixel: the series about the mean would need ~30 terms
    log_a = 8.0 - slope * x[0]
    _, _, ok, _ = _series_split(slope, x - x.mean())
    assert not ok[7] and ok.sum() == 299
    exact = evaluate_flat(log_a[:, None], slope[:, None], x)
    np.testing.assert_allclose(evaluate_rows(log_a, slope, x), exact, rtol=1e-12, atol=0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 30.0), st.booleans(), st.integers(0, 2**32 - 1))
def test_series_weighted_sums_equal_exact_sums(spread, masked, seed):
    from speciate.eels.background import _exp_weighted_sums

    rng = np.random.default_rng(seed)
    xc = np.log(600.0 + 0.25 * np.arange(140))
    xc -= xc.mean()
    z = rng.uniform(2.0, 12.0, (250, xc.size))
    slope = -3.0 + spread * rng.standard_normal(250)
    mask = (rng.uniform(size=z.shape) > 0.1).astype(float) if masked else None
    if mask is not None:
        z *= mask  # masked channels carry ln 1 = 0, as in fit_flat
    w = np.exp(slope[:, None] * xc) * (1.0 if mask is None else mask)
    powers = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)
    exact = np.concatenate([(w @ powers).T, ((w * z) @ powers[:, :2]).T])
    got = np.stack(_exp_weighted_sums(z, mask, xc, slope))
    # sums of xc-weighted terms can cancel: compare against the size of their parts
    scale = np.concatenate([(w @ np.abs(powers)).T, ((w * z) @ np.abs(powers[:, :2])).T])
    assert np.all(np.abs(got - exact) <= 1e-12 * scale)
