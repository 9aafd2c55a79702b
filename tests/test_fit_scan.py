"""scan: R-factor landscape over (phase, radius), best candidate and Hamilton band, on
theory-like sweeps with a known true radius and on real FDMNES / FEFF outputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import PchipInterpolator

from speciate import FitError, Series, ValidationError
from speciate.fit import ScanResult, hamilton_threshold, lcf, scan
from test_fit_support import mixtures, six_standards

PHASES = {"spinel": (6552.0, 6.0, 21.0), "layered": (6553.5, 7.5, 25.0)}
CAND_GRID = np.arange(6500.0, 6650.0, 0.25)
DATA_GRID = np.arange(6520.0, 6625.0, 0.3)
FDMNES = [("li2mno3_r3", "Li2MnO3", 3.0), ("li2mno3_r5", "Li2MnO3", 5.0),
          ("limn2o4_r3", "LiMn2O4", 3.0), ("limn2o4_r5", "LiMn2O4", 5.0),
          ("limn2o4_r6", "LiMn2O4", 6.0)]  # fmt: skip


def sweep(radii) -> Series:
    """Theory-like candidates: an edge whose white line and first oscillation grow and
    sharpen with the cluster radius (as multiple scattering builds up), two phases."""
    e = CAND_GRID
    rows, phase, radius, labels = [], [], [], []
    for name, (e0, wl, osc) in PHASES.items():
        for r in radii:
            grow = 1.0 - np.exp(-(r - 2.0) / 1.8)
            width = 2.5 + 6.0 / r
            mu = 0.5 + np.arctan((e - e0) / 1.5) / np.pi
            mu = mu + 0.55 * grow * np.exp(-0.5 * ((e - e0 - wl) / width) ** 2)
            u = e - e0 - osc
            ripple = np.sin(u / (4.0 + 0.3 * r)) * np.exp(-((u / 30.0) ** 2))
            mu = mu + 0.18 * grow * ripple * (e > e0)
            rows.append(mu)
            phase.append(name)
            radius.append(r)
            labels.append(f"{name}_R{r:.1f}")
    coords = {"phase": np.array(phase), "radius": np.array(radius)}
    return Series(e, np.array(rows), labels=labels, coords=coords)


def mixture(fixed, cands: Series, true_label: str, n: int, seed: int, w_fixed=0.4,
            shift=0.0, noise=0.003) -> Series:  # fmt: skip
    rng = np.random.default_rng(seed)
    j = list(cands.labels).index(true_label)
    clean = w_fixed * PchipInterpolator(fixed.energy, fixed.norm[0])(DATA_GRID)
    clean = clean + (1 - w_fixed) * np.interp(DATA_GRID - shift, cands.energy, cands.mu[j])
    mu = clean + rng.normal(0.0, noise, (n, DATA_GRID.size))
    return Series(DATA_GRID, mu, coords={"e0": np.full(n, 6549.0)})


@pytest.fixture(scope="module")
def mno(mn_groups):
    return six_standards(mn_groups)[0]


@pytest.fixture(scope="module")
def fdmnes_sweep(engine_outputs):
    """Real FDMNES outputs: Li2MnO3 R = 3, 5 Å and LiMn2O4 R = 3, 5, 6 Å, normalized."""
    from speciate import io as sio
    from speciate import theory

    parts = []
    for folder, phase, r in FDMNES:
        name = f"{phase}_R{r:g}"
        s = sio.read(engine_outputs / "fdmnes" / folder / f"{name}_conv.txt")
        coords = {**s.coords, "phase": np.array([phase]), "radius": np.array([r])}
        parts.append(s.replace(labels=[name], coords=coords))
    return theory.normalize(Series.concat(parts))


@pytest.fixture(scope="module")
def coarse():
    return sweep(np.arange(3.0, 8.01, 0.5))


def test_hamilton_threshold_matches_tabulated_value():
    # F(1, 100; 0.95) = 3.936: Hamilton's ratio sqrt(1 + 3.936/100) = 1.0195, squared here
    assert hamilton_threshold(102, 2, 0.05) == pytest.approx(1.03936, abs=2e-5)
    assert hamilton_threshold(102, 2, 0.01) > hamilton_threshold(102, 2, 0.05)
    with pytest.raises(FitError, match="more points than parameters"):
        hamilton_threshold(3, 3)


def test_scan_finds_true_phase_and_radius(mno, coarse):
    data = mixture(mno, coarse, "spinel_R5.5", 60, seed=1)
    result = scan(data, mno, coarse)
    assert isinstance(result, ScanResult)
    assert (result.best_phase == "spinel").all()
    assert (result.best_radius == 5.5).all()
    np.testing.assert_allclose(result.radius_band, 5.5)  # 0.5 Å steps: neighbours excluded
    assert np.abs(result.best_weights - [0.4, 0.6]).max() < 0.01
    np.testing.assert_allclose(result.best_weights.sum(axis=1), 1.0, atol=1e-12)
    # the landscape has one minimum along radius and the wrong phase is far worse
    land = result.landscape(0)
    assert list(land.index) == ["layered", "spinel"]
    spinel = land.loc["spinel"].to_numpy()
    assert np.argmin(spinel) == list(land.columns).index(5.5)
    assert (np.diff(spinel[: np.argmin(spinel) + 1]) < 0).all()
    assert (np.diff(spinel[np.argmin(spinel) :]) > 0).all()
    assert land.loc["layered"].min() > 10 * spinel.min()


def test_band_covers_true_radius_at_the_stated_level(mno):
    # 0.1 Å steps: neighbours are within noise of the truth, so the band matters;
    # 300 noise draws fitted as one series
    cands = sweep(np.round(np.arange(4.5, 6.51, 0.1), 1))
    data = mixture(mno, cands, "spinel_R5.5", 300, seed=2)
    result = scan(data, mno, cands, alpha=0.05)
    true = list(cands.labels).index("spinel_R5.5")
    coverage = result.in_band[true].mean()
    assert 0.90 <= coverage <= 0.995, coverage
    assert (result.best_radius != 5.5).mean() > 0.03  # noise does move the minimum
    band = result.radius_band
    assert (band[:, 0] >= 5.2).all() and (band[:, 1] <= 5.8).all()
    # a stricter level widens the band; fewer independent points widen it too
    strict = scan(data, mno, cands, alpha=0.001)
    fewer = scan(data, mno, cands, n_independent=40)
    assert (strict.in_band >= result.in_band).all() and strict.in_band.sum() > result.in_band.sum()
    assert fewer.threshold > result.threshold and fewer.in_band[true].mean() > coverage
    np.testing.assert_array_equal(strict.best_index, result.best_index)


def test_each_candidate_fit_equals_lcf(mno, coarse):
    data = mixture(mno, coarse, "layered_R4.0", 5, seed=3)
    result = scan(data, mno, coarse)
    for c in (0, 7, 15):
        single = lcf(data, [mno, coarse.select([c])])
        np.testing.assert_allclose(result.weights[c], single.weights, atol=1e-10)
        np.testing.assert_allclose(result.stderr[c], single.stderr, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(result.r_factor[c], single.r_factor, rtol=1e-9)
    assert (result.best_radius == 4.0).all() and (result.best_phase == "layered").all()


def test_scan_with_shifts_recovers_radius_of_shifted_data(mno, coarse):
    data = mixture(mno, coarse, "spinel_R6.0", 20, seed=4, shift=0.8)
    fitted = scan(data, mno, coarse, shifts=True, max_shift=2.0)
    assert (fitted.best_radius == 6.0).all() and (fitted.best_phase == "spinel").all()
    j = list(fitted.candidates).index("spinel_R6.0")
    assert np.abs(fitted.shifts[j, :, 1] - 0.8).max() < 0.05
    assert fitted.n_params == 3
    plain = scan(data, mno, coarse)
    assert (fitted.best_r_factor < plain.best_r_factor).all()


def test_scan_on_fdmnes_radius_sweep(fdmnes_sweep):
    cands = fdmnes_sweep
    rng = np.random.default_rng(5)
    li2, spinel = cands.select([1]), cands.select([2, 3, 4])
    truth = 0.35 * cands.norm[1] + 0.65 * cands.norm[3]  # Li2MnO3 R5 + LiMn2O4 R5
    n = 50
    data = Series(cands.energy, truth + rng.normal(0, 0.003, (n, truth.size)),
                  coords={"e0": np.full(n, 6539.0)})  # fmt: skip
    result = scan(data, li2, spinel, e_range=(-8.0, 60.0))
    assert (result.best_radius == 5.0).all()
    # R = 3 and 6 Å are both significantly worse: the band is R = 5 Å alone
    assert result.in_band.sum(axis=0).tolist() == [1] * n
    assert np.abs(result.best_weights - [0.35, 0.65]).max() < 0.02
    # the landscape over both phases, with no fixed standard
    both = scan(data.select([0]), None, cands.select([0, 2, 3, 4]), e_range=(-8.0, 60.0))
    land = both.landscape(0)
    assert land.shape == (2, 3) and np.isnan(land.loc["Li2MnO3", 5.0])
    assert land.loc["LiMn2O4"].idxmin() == 5.0


def test_scan_on_feff_radius_sweep(engine_outputs):
    from speciate import io as sio
    from speciate import theory

    parts = []
    for r in (3.0, 4.0, 5.0, 6.0):
        s = sio.read(engine_outputs / "feff10" / f"LiMn2O4_R{r}" / "xmu.dat")
        coords = {**s.coords, "phase": np.array(["LiMn2O4"]), "radius": np.array([r])}
        parts.append(s.replace(labels=[f"LiMn2O4_R{r}"], coords=coords))
    grid = np.arange(6537.0, 6603.0, 0.5)
    cands = theory.normalize(Series.concat(parts, grid=grid))
    rng = np.random.default_rng(6)
    data = Series(grid, cands.norm[1] + rng.normal(0, 0.003, (20, grid.size)),
                  coords={"e0": np.full(20, 6544.0)})  # fmt: skip
    result = scan(data, None, cands, e_range=(-5.0, 55.0))
    assert (result.best_radius == 4.0).all()
    assert (result.radius_band == 4.0).all()


# --------------------------------------------------------------- exports, bad input
def test_scan_exports_and_is_frozen(mno, coarse, tmp_path):
    data = mixture(mno, coarse, "spinel_R5.0", 3, seed=7)
    result = scan(data, mno, coarse)
    with pytest.raises(ValueError):
        result.chi2[0, 0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.threshold = 2.0
    table = result.to_dataframe()
    assert len(table) == 3 * len(coarse.labels)
    first = table[table["spectrum"] == 0]
    assert first["chi2"].is_monotonic_increasing and first.iloc[0]["best"]
    assert first.iloc[0]["candidate"] == "spinel_R5.0" and first.iloc[0]["ratio"] == 1.0
    summary = result.summary()
    assert list(summary["radius"]) == [5.0] * 3 and "radius_low" in summary
    result.to_csv(tmp_path / "scan.csv")
    assert (tmp_path / "scan.csv").read_text().startswith("spectrum,label,candidate,phase,")
    result.to_netcdf(tmp_path / "scan.nc")
    with xr.open_dataset(tmp_path / "scan.nc", engine="h5netcdf") as ds:
        np.testing.assert_allclose(ds["r_factor"].values, result.r_factor)
        assert ds.attrs["threshold"] == pytest.approx(result.threshold)
        assert list(ds["radius"].values[:3]) == [3.0, 3.5, 4.0]
    text = result.report()
    assert "best spinel_R5.0" in text and "Hamilton" in text
    with pytest.raises(ValidationError, match="value"):
        result.landscape(0, value="weights")


def test_scan_without_phase_or_radius_uses_labels(mno, coarse):
    bare = coarse.select([2, 13]).replace(coords={})
    data = mixture(mno, coarse, "spinel_R4.0", 2, seed=8)
    result = scan(data, mno, bare)
    assert list(result.phase) == ["spinel_R4.0", "layered_R4.0"]
    assert np.isnan(result.radius).all() and np.isnan(result.radius_band).all()
    assert result.best == ("spinel_R4.0", "spinel_R4.0")


def test_scan_bad_input_is_named(mno, coarse):
    data = mixture(mno, coarse, "spinel_R5.0", 2, seed=9)
    copy = Series(mno.energy, mno.norm, labels=["copy_of_MnO"])
    with pytest.raises(FitError, match=r"duplicate.*copy_of_MnO"):
        scan(data, mno, [coarse.select([0]), copy])
    short = coarse.select([3]).window(None, 6580.0).replace(labels=["short_one"])
    with pytest.raises(FitError, match="short_one"):
        scan(data, mno, short)
    with pytest.raises(FitError, match="also fixed"):
        scan(data, mno, Series(mno.energy, mno.norm, labels=list(mno.labels)))
    with pytest.raises(ValidationError, match="alpha"):
        scan(data, mno, coarse, alpha=0.0)
    with pytest.raises(ValidationError, match="n_independent"):
        scan(data, mno, coarse, n_independent=10_000)
    with pytest.raises(ValidationError, match="shifts"):
        scan(data, mno, coarse, shifts=np.zeros(2))
    with pytest.raises(ValidationError, match="radius"):
        scan(data, mno, coarse.replace(coords={"radius": np.array(["a"] * 22)}))


def test_scan_with_background_fits_raw_mu_and_counts_its_parameters(mn_groups):
    six = six_standards(mn_groups)
    mixed, weights, _ = mixtures(six[:3], 8, seed=41, shift=0.0, n_active=(3, 3))
    raw = Series(mixed.energy, 1.7 * mixed.mu + 0.2 + 1e-3 * (mixed.energy - 6549.0))
    result = scan(raw, six[:2], six[2:], background="linear", array="mu", e0=6549.0)
    assert result.best == (six[2].labels[0],) * 8
    plain = scan(mixed, six[:2], six[2:], e0=6549.0)
    assert result.n_params == plain.n_params + 1 + 2  # scale and two coefficients
    np.testing.assert_allclose(result.best_weights, weights, atol=0.03)
    np.testing.assert_allclose(result.best_weights.sum(axis=1), 1.0, atol=1e-9)


def test_scan_with_a_scale_counts_one_parameter_more(mn_groups):
    six = six_standards(mn_groups)
    mixed, weights, _ = mixtures(six[:3], 8, seed=43, shift=0.0, n_active=(3, 3))
    scaled = mixed.replace(mu=1.02 * mixed.mu)
    result = scan(scaled, six[:2], six[2:], background="scale", e0=6549.0)
    plain = scan(mixed, six[:2], six[2:], e0=6549.0)
    assert result.best == (six[2].labels[0],) * 8
    assert result.n_params == plain.n_params + 1
    np.testing.assert_allclose(result.best_weights, weights, atol=0.03)
