"""MLLS valence maps: known truth, real background and plural scattering, bad input.

The Mn2+/Mn3+/Mn4+ L2,3 references are models (speciate.eels.synthetic) following published
facts: the L3 maximum moves up by ~2 eV from Mn2+ to Mn4+ and the L3/L2 white-line ratio
falls with valence (4.3, 2.6, 1.9). The background and the plural scattering are real: the
core-loss and low-loss spectra shipped inside the exspy package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.eels import (
    ReferenceGridWarning,
    SpectrumImage,
    fit_background,
    mlls,
    read,
    subtract_background,
)
from speciate.eels.deconvolution import fourier_ratio
from speciate.eels.drift import correct_drift, zlp_positions
from speciate.eels.synthetic import mn_l23, mn_references, shell_core_image
from speciate.errors import FitError, ValidationError
from speciate.series import Series


def _exspy_components() -> Path:
    spec = importlib.util.find_spec("exspy")
    if spec is None or spec.origin is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    return Path(spec.origin).parent / "tests" / "components"


@pytest.fixture(scope="module")
def real_spectra() -> tuple[Series, Series]:
    root = _exspy_components()
    cl = read(root / "coreloss_spectrum.msa")
    ll = read(root / "lowloss_spectrum.msa")
    return cl.mean_spectrum(label="core_loss"), ll.mean_spectrum(label="low_loss")


@pytest.fixture(scope="module")
def shell_image(real_spectra):
    # dose: 0.5 x the exspy spectrum, i.e. ~5800-8300 background counts/channel at 640 eV
    return shell_core_image(*real_spectra, shape=(32, 32), dose=0.5, seed=3)


def _pipeline(img, derivatives=False):
    """ZLP drift correction -> power-law background -> Fourier ratio -> MLLS."""
    pos = zlp_positions(img.low_loss)
    cl = correct_drift(img.core_loss, pos, reference=0.0).image
    ll = correct_drift(img.low_loss, pos, reference=0.0).image
    signal = subtract_background(cl, fit_background(cl, (600.0, 634.0)))
    single = fourier_ratio(signal, ll, fwhm=1.0)
    refs = mn_references(single.energy, fwhm=1.0)
    return mlls(single, refs, window=(635.0, 665.0), derivatives=derivatives)


def test_mlls_recovers_known_fractions_noise_free():
    energy = np.arange(620.0, 680.0, 0.25)
    refs = mn_references(energy)
    rng = np.random.default_rng(0)
    frac = rng.uniform(0, 1, (5, 7, 3))
    si = SpectrumImage(frac @ refs.mu, energy)
    res = mlls(si, refs, window=(635.0, 665.0))
    np.testing.assert_allclose(res.coefficients, frac, rtol=0, atol=1e-9)
    expected = frac @ np.array([2.0, 3.0, 4.0]) / frac.sum(axis=-1)
    np.testing.assert_allclose(res.valence, expected, atol=1e-9)
    assert res.labels == ("Mn2+", "Mn3+", "Mn4+")


def test_synthetic_shell_valence_error_below_0p1_and_shell_found(shell_image):
    res = _pipeline(shell_image)
    mn = shell_image.particle
    err = res.valence[mn] - shell_image.valence[mn]
    assert abs(err.mean()) <= 0.1
    assert np.abs(err).mean() <= 0.15
    found = mn & (res.valence < 3.25)
    iou = (found & shell_image.shell).sum() / (found | shell_image.shell).sum()
    assert iou >= 0.85


def test_uncorrected_drift_biases_the_valence(shell_image):
    # Same fit without the ZLP calibration: the 0.2-0.5 eV drift plus the ZLP offset read
    # as valence, which is why drift correction is part of the pipeline.
    refs = mn_references(shell_image.core_loss.energy, fwhm=3.0)
    res = mlls(
        shell_image.core_loss,
        refs,
        window=(635.0, 665.0),
        background="power_law",
        background_window=(600.0, 634.0),
    )
    mn = shell_image.particle
    assert abs((res.valence[mn] - shell_image.valence[mn]).mean()) > 0.2


def test_stderr_matches_scatter_of_repeated_pixels():
    energy = np.arange(600.0, 700.0, 0.2)
    refs = mn_references(energy, valences=(2, 4))
    truth = np.array([3000.0, 5000.0])
    bg = 2e9 * energy**-2.5
    rng = np.random.default_rng(7)
    counts = rng.poisson(np.broadcast_to(bg + truth @ refs.mu, (40, 50, energy.size)))
    res = mlls(
        SpectrumImage(counts.astype(float), energy),
        refs,
        window=(630.0, 670.0),
        background="power_law",
        background_window=(605.0, 630.0),
    )
    scatter = res.coefficients.reshape(-1, 2).std(axis=0)
    predicted = np.median(res.stderr.reshape(-1, 2), axis=0)
    # the background extrapolation adds correlated error the OLS formula does not see,
    # so the predicted error may fall somewhat short of the scatter, never far
    assert np.all(predicted <= scatter * 1.15)
    assert np.all(predicted >= scatter * 0.75)
    np.testing.assert_allclose(res.coefficients.reshape(-1, 2).mean(axis=0), truth, rtol=0.005)
    assert 0.8 < np.median(res.reduced_chi2) < 1.3


def test_joint_background_refits_amplitude_close_to_one():
    energy = np.arange(600.0, 700.0, 0.2)
    refs = mn_references(energy, valences=(2, 4))
    bg = 2e9 * energy**-2.5
    si = SpectrumImage(np.broadcast_to(bg + 4000 * refs.mu[1], (3, 4, energy.size)), energy)
    res = mlls(
        si,
        refs,
        window=(630.0, 670.0),
        background="power_law",
        background_window=(605.0, 630.0),
        joint_background=True,
    )
    np.testing.assert_allclose(res.background_scale, 1.0, atol=1e-6)
    np.testing.assert_allclose(res.coefficients[..., 1], 4000, rtol=1e-6)
    np.testing.assert_allclose(res.valence, 4.0, atol=1e-6)


def test_dask_chunks_give_the_numpy_result():
    da = pytest.importorskip("dask.array")
    energy = np.arange(600.0, 700.0, 0.5)
    refs = mn_references(energy)
    rng = np.random.default_rng(1)
    data = rng.poisson(1e3 + 500 * rng.uniform(0, 1, (12, 10, 3)) @ refs.mu).astype(float)
    eager = mlls(
        SpectrumImage(data, energy),
        refs,
        background="exponential",
        background_window=(605.0, 630.0),
    )
    lazy_si = SpectrumImage(da.from_array(data, chunks=(5, 4, 50)), energy)
    lazy = mlls(lazy_si, refs, background="exponential", background_window=(605.0, 630.0))
    np.testing.assert_allclose(lazy.coefficients, eager.coefficients, rtol=1e-10)
    np.testing.assert_allclose(lazy.reduced_chi2, eager.reduced_chi2, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e4), min_size=3, max_size=3),
    st.floats(-0.3, 0.3),
)
def test_valence_is_the_coefficient_weighted_mean(weights, offset):
    energy = np.arange(625.0, 675.0, 0.3)
    refs = mn_references(energy)
    w = np.asarray(weights)
    si = SpectrumImage(w @ refs.mu + offset * 0, energy)
    res = mlls(si, refs, window=(635.0, 665.0))
    if w.sum() < 1e-6:
        return
    np.testing.assert_allclose(res.valence[0, 0], w @ [2, 3, 4] / w.sum(), atol=1e-6)


# ------------------------------------------------------------------ bad input
def test_references_on_another_grid_are_interpolated_and_said_so():
    energy = np.arange(620.0, 680.0, 0.25)
    fine = np.arange(615.0, 690.0, 0.1)
    si = SpectrumImage(mn_references(energy).mu[2], energy)
    with pytest.warns(ReferenceGridWarning, match="interpolated linearly"):
        res = mlls(si, mn_references(fine), window=(635.0, 665.0))
    assert len(res.notes) == 3 and "0.1 eV/step" in res.notes[0]
    assert res.valence[0, 0] == pytest.approx(4.0, abs=0.02)


def test_references_not_covering_the_window_raise():
    energy = np.arange(620.0, 680.0, 0.25)
    si = SpectrumImage(mn_references(energy).mu[0], energy)
    short = mn_references(np.arange(630.0, 650.0, 0.25))
    with pytest.raises(ValidationError, match="never extrapolated"):
        mlls(si, short, window=(635.0, 665.0))


def test_window_outside_the_data_raises():
    energy = np.arange(620.0, 680.0, 0.25)
    si = SpectrumImage(mn_references(energy).mu[0], energy)
    with pytest.raises(ValidationError, match="reaches outside the data"):
        mlls(si, mn_references(energy), window=(600.0, 665.0))
    with pytest.raises(ValidationError, match="e_min < e_max"):
        mlls(si, mn_references(energy), window=(665.0, 635.0))


def test_identical_references_raise_fit_error():
    energy = np.arange(620.0, 680.0, 0.25)
    refs = mn_references(energy, valences=(2, 4))
    twin = Series(energy, np.stack([refs.mu[0], refs.mu[0]]), labels=("a", "b"))
    si = SpectrumImage(refs.mu[0], energy)
    with pytest.raises(FitError, match="linearly dependent"):
        mlls(si, twin)


def test_background_without_window_and_bad_valences_raise():
    energy = np.arange(600.0, 680.0, 0.25)
    refs = mn_references(energy)
    si = SpectrumImage(1e4 + refs.mu[0], energy)
    with pytest.raises(ValidationError, match="background_window"):
        mlls(si, refs, background="power_law")
    with pytest.raises(ValidationError, match="one value per reference"):
        mlls(si, refs, valences=(2.0, 4.0))
    with pytest.raises(ValidationError, match="power_law"):
        mlls(si, refs, background="linear", background_window=(605.0, 630.0))


def test_result_is_frozen_and_exports_to_netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    energy = np.arange(620.0, 680.0, 0.25)
    refs = mn_references(energy)
    si = SpectrumImage(np.broadcast_to(refs.mu[1], (2, 3, energy.size)), energy)
    res = mlls(si, refs)
    with pytest.raises(ValueError):
        res.coefficients[0, 0, 0] = 1.0
    path = tmp_path / "maps.nc"
    res.to_xarray().to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    np.testing.assert_allclose(back["valence"].values, 3.0, atol=1e-9)
    assert list(back["reference"].values) == ["Mn2+", "Mn3+", "Mn4+"]
    assert "Mn3+" in res.report()


def test_model_edge_follows_published_trends():
    energy = np.arange(630.0, 670.0, 0.05)
    l3_max = [energy[np.argmax(np.where(energy < 646, mn_l23(energy, v), 0))] for v in (2, 3, 4)]
    assert 1.5 <= l3_max[2] - l3_max[0] <= 2.0 + 1e-9
    assert l3_max[0] < l3_max[1] < l3_max[2]


def _power(e, a, r):
    return a * (e / 600.0) ** -r


def test_closed_form_background_is_as_accurate_as_a_per_pixel_nonlinear_fit(real_spectra):
    # 150 pixels: exspy's real pre-Mn background (below 642 eV, its power-law continuation
    # above) under Mn2+/Mn4+ model edges of known weight, Poisson noise. Reference: per pixel,
    # a Poisson-weighted scipy curve_fit of the power law, subtraction, then lstsq.
    from scipy.optimize import curve_fit

    core_loss = real_spectra[0]
    e = core_loss.energy
    keep = (e >= 595.0) & (e <= 670.0)
    e, y = e[keep], core_loss.mu[0, keep]
    pre = (e >= 600) & (e < 640)
    slope, icpt = np.polyfit(np.log(e[pre]), np.log(y[pre]), 1)
    bg = np.where(e < 642, y, np.exp(icpt + slope * np.log(e)))
    refs = mn_references(e, valences=(2, 4))
    rng = np.random.default_rng(5)
    f4 = rng.uniform(0, 1, (10, 15))
    truth = 6000.0 * np.stack([1 - f4, f4], axis=-1)
    counts = rng.poisson(0.5 * bg + truth @ refs.mu).astype(float)
    res = mlls(
        SpectrumImage(counts, e),
        refs,
        window=(635.0, 665.0),
        background="power_law",
        background_window=(600.0, 634.0),
    )
    bsl = (e >= 600.0) & (e <= 634.0)
    wsl = (e >= 635.0) & (e <= 665.0)
    ref = np.empty((150, 2))
    for i, spec in enumerate(counts.reshape(150, -1)):  # the per-pixel reference
        p, _ = curve_fit(
            _power, e[bsl], spec[bsl], p0=(spec[bsl][0], 3.0), sigma=np.sqrt(spec[bsl])
        )
        ref[i] = np.linalg.lstsq(refs.mu[:, wsl].T, spec[wsl] - _power(e[wsl], *p), rcond=None)[0]
    ours = res.coefficients.reshape(150, 2)
    err_ours = np.sqrt(np.mean((ours - truth.reshape(150, 2)) ** 2))
    err_ref = np.sqrt(np.mean((ref - truth.reshape(150, 2)) ** 2))
    # pixel by pixel the two agree far inside the noise, and ours is no less accurate
    assert np.abs(ours - ref).mean() < 0.1 * err_ref
    assert err_ours <= 1.02 * err_ref
    v_ref = ref @ [2.0, 4.0] / ref.sum(axis=1)
    v_true = 2.0 + 2.0 * f4.ravel()
    assert np.abs(res.valence.ravel() - v_true).mean() <= 1.02 * np.abs(v_ref - v_true).mean()


def test_zero_and_negative_counts_in_mlls():
    energy = np.arange(600.0, 680.0, 0.25)
    refs = mn_references(energy, valences=(2, 4))
    counts = np.broadcast_to(1e4 * (energy / 600.0) ** -3 + 3000 * refs.mu[1], (2, 3, energy.size))
    counts = counts.copy()
    counts[0, 2, [12, 20]] = [0.0, -2.0]  # dead channels in the pre-edge: masked, counted
    res = mlls(
        SpectrumImage(counts, energy),
        refs,
        background="power_law",
        background_window=(602.0, 630.0),
    )
    assert res.background.n_masked.tolist() == [[0, 0, 2], [0, 0, 0]]
    np.testing.assert_allclose(res.valence, 4.0, atol=1e-6)
    counts[1, 1, :] = 0.0  # an empty pixel (vacuum read as zeros): no background to fit
    with pytest.raises(ValidationError, match=r"at least 2 channels with positive counts"):
        mlls(
            SpectrumImage(counts, energy),
            refs,
            background="power_law",
            background_window=(602.0, 630.0),
        )


def test_images_and_references_with_other_dispersions():
    # references sampled at 0.3 eV for an image at 0.25 eV: interpolated onto the image's
    # channels, and the result says so; a low-loss image of another dispersion is refused
    energy = np.arange(620.0, 680.0, 0.25)
    si = SpectrumImage(
        0.3 * mn_references(energy).mu[0] + 0.7 * mn_references(energy).mu[2], energy
    )
    with pytest.warns(ReferenceGridWarning):
        res = mlls(si, mn_references(np.arange(610.0, 690.0, 0.3)), window=(635.0, 665.0))
    assert any("interpolated" in n for n in res.notes)
    assert res.valence[0, 0] == pytest.approx(0.3 * 2 + 0.7 * 4, abs=0.03)
    low = SpectrumImage(
        np.exp(-0.5 * (np.arange(-10.0, 30.0, 0.2) / 0.4) ** 2), np.arange(-10.0, 30.0, 0.2)
    )
    with pytest.raises(ValidationError, match="dispersions differ"):
        fourier_ratio(si, low)


def test_threaded_blocks_give_the_serial_result(monkeypatch):
    from speciate.eels import _chunks

    energy = np.arange(600.0, 680.0, 0.25)
    refs = mn_references(energy)
    rng = np.random.default_rng(8)
    frac = rng.uniform(0, 1, (30, 20, 3))
    counts = rng.poisson(3e3 * (energy / 600.0) ** -3 + 2e3 * frac @ refs.mu).astype(float)
    si = SpectrumImage(counts, energy)
    monkeypatch.setattr(_chunks, "_BLOCK_BYTES", 64 * 8 * 200)  # ~10 blocks
    kwargs = {"background": "power_law", "background_window": (602.0, 634.0)}
    monkeypatch.setattr(_chunks, "_MAX_WORKERS", 1)
    serial = mlls(si, refs, **kwargs)
    monkeypatch.setattr(_chunks, "_MAX_WORKERS", 4)
    threaded = mlls(si, refs, **kwargs)
    np.testing.assert_array_equal(threaded.coefficients, serial.coefficients)
    np.testing.assert_array_equal(threaded.reduced_chi2, serial.reduced_chi2)
    assert np.abs(serial.fractions - frac / frac.sum(-1, keepdims=True)).mean() < 0.05
