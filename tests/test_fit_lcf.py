"""lcf: agreement with Larch, recovery of known fractions, exact constraints, honest
uncertainties, exports and bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from speciate import FitError, Series, ValidationError
from speciate.fit import LCFResult, lcf
from speciate.fit import shifts as shifts_module
from speciate.fit.lcf import parse_bounds, prepare, solve_plain
from speciate.fit.shifts import fit_shifted
from speciate.fit.solvers import FIXED, FREE, HI, LO, enumerate_states, solve_shared
from speciate.xanes import normalize
from test_fit_support import SIX, larch_normalized, mixtures, six_standards


@pytest.fixture(scope="module")
def six(mn_groups):
    return six_standards(mn_groups)


def test_lcf_matches_larch_weights_and_keeps_totals_exactly_one(real_data, golden):
    fits = json.loads((golden / "larch_lcf_Mn.json").read_text())["fits"]
    for ref in fits:
        target = larch_normalized(real_data, ref["target"])
        standards = [larch_normalized(real_data, f) for f in ref["standards"]]
        result = lcf(target, standards, e_range=(-20, 60))
        assert result.e0 == pytest.approx(ref["target_e0"])
        np.testing.assert_allclose(result.weights[0], ref["weights"], atol=0.05)
        assert abs(result.total[0] - 1.0) < 1e-12
        assert (result.weights >= 0).all() and (result.weights <= 1).all()
        assert result.r_factor[0] == pytest.approx(ref["rfactor"], rel=0.3)
    # Larch's own total for Mn3O4 slips to 1.023 because a weight sits on its bound
    assert sum(fits[0]["weights"]) > 1.02


def test_lcf_recovers_known_fractions_of_real_standards(six):
    series, truth, _ = mixtures(six, 120, seed=2, shift=0.0)
    result = lcf(series, six)
    assert np.abs(result.weights - truth).mean() < 0.01
    np.testing.assert_allclose(result.total, 1.0, atol=1e-12)
    assert result.standards == tuple(SIX)


def test_lcf_with_per_standard_shifts_recovers_weights(six):
    series, truth, true_shifts = mixtures(six, 100, seed=3, shift=0.5)
    plain = lcf(series, six)
    result = lcf(series, six, shifts=True)
    err = np.abs(result.weights - truth).mean()
    assert err <= 0.02
    assert err < np.abs(plain.weights - truth).mean()
    np.testing.assert_allclose(result.total, 1.0, atol=1e-12)
    big = truth > 0.3
    assert np.median(np.abs(result.shifts - true_shifts)[big]) < 0.1
    assert (np.abs(result.shifts) <= 3.0 + 1e-12).all()


def test_lcf_fixed_shifts_are_applied_per_standard(six):
    series, truth, true_shifts = mixtures(six, 20, seed=4, shift=0.5, noise=0.0005)
    known = lcf(series, six, shifts=true_shifts)
    none = lcf(series, six)
    assert np.abs(known.weights - truth).max() < 0.02
    assert known.r_factor.mean() < none.r_factor.mean()


def test_batch_equals_one_by_one(six):
    series, _, _ = mixtures(six, 6, seed=5)
    batch = lcf(series, six)
    for i in (0, 4):
        single = lcf(series.select(i), six, e0=batch.e0)
        np.testing.assert_allclose(single.weights[0], batch.weights[i], atol=1e-12)
        np.testing.assert_allclose(single.stderr[0], batch.stderr[i], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 5),
    lo=st.sampled_from([0.0, -0.2, 0.05]),
    hi=st.sampled_from([1.0, 0.6, 0.45]),
)
def test_solver_is_exact_constrained_optimum(seed, k, lo, hi):
    rng = np.random.default_rng(seed)
    n_e, n_s = 30, 8
    if not (k * lo <= 1.0 <= k * hi):
        return
    matrix = rng.normal(size=(n_e, k))
    y = rng.normal(size=(n_s, n_e))
    lo_v, hi_v = np.full(k, lo), np.full(k, hi)
    sol = solve_plain(matrix, y, lo_v, hi_v, True)
    assert np.abs(sol.x.sum(axis=1) - 1.0).max() < 1e-12
    assert (sol.x >= lo - 1e-12).all() and (sol.x <= hi + 1e-12).all()
    for s in range(n_s):
        ours = ((y[s] - matrix @ sol.x[s]) ** 2).sum()
        ref = minimize(
            lambda w, s=s: ((y[s] - matrix @ w) ** 2).sum(),
            np.full(k, 1.0 / k),
            method="SLSQP",
            bounds=[(lo, hi)] * k,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        # exact up to rounding: SLSQP's optimum (or its own rounding) is never better
        assert ours <= ref.fun * (1.0 + 1e-9) + 1e-12


def test_stderr_covers_true_weights_about_68_percent(six):
    # 600 noise draws of one interior mixture, fitted as one series
    rng = np.random.default_rng(11)
    three = [six[0], six[2], six[4]]
    truth = np.array([0.3, 0.45, 0.25])
    energy = np.arange(6525.0, 6610.0, 0.4)
    clean = sum(w * np.interp(energy, s.energy, s.norm[0]) for w, s in zip(truth, three))
    mu = clean + rng.normal(0.0, 0.003, (600, energy.size))
    series = Series(energy, mu, coords={"e0": np.full(600, 6549.0)})
    result = lcf(series, three)
    inside = np.abs(result.weights - truth) <= result.stderr
    frac = inside.mean()
    assert 0.60 <= frac <= 0.76, frac
    assert (result.n_free == 2).all()


def test_result_exports_and_is_frozen(six, tmp_path):
    series, _, _ = mixtures(six, 5, seed=6)
    result = lcf(series, six[:3], shifts=True)
    assert isinstance(result, LCFResult)
    with pytest.raises(ValueError):
        result.weights[0, 0] = 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.weights = None
    table = result.to_dataframe()
    assert list(table["label"]) == list(series.labels)
    np.testing.assert_allclose(table[f"weight_{SIX[1]}"], result.weights[:, 1])
    assert f"shift_{SIX[2]}" in table
    result.to_csv(tmp_path / "w.csv")
    assert (tmp_path / "w.csv").read_text().startswith("label,e0,")
    result.to_netcdf(tmp_path / "w.nc")
    with xr.open_dataset(tmp_path / "w.nc", engine="h5netcdf") as ds:
        np.testing.assert_allclose(ds["weights"].values, result.weights)
        assert list(ds["standard"].values) == SIX[:3]
    text = result.report()
    assert SIX[0] in text and "+/-" in text and "shift" in text
    np.testing.assert_allclose(result.fit + result.residual, result.data)
    np.testing.assert_allclose(result.components(1).sum(axis=1), result.fit[1])


def test_absolute_window_equals_relative_window(six):
    series, _, _ = mixtures(six, 4, seed=7)
    rel = lcf(series, six, e_range=(-20, 60))
    ab = lcf(series, six, e_range=(6529.0, 6609.0), relative_to="absolute")
    np.testing.assert_allclose(rel.weights, ab.weights, atol=1e-12)


# ----------------------------------------------------------------- bad input
def test_standard_not_covering_range_is_named(six):
    series, _, _ = mixtures(six, 2, seed=8)
    short = normalize(Series(six[0].energy, six[0].mu, labels=["short"])).to_series()
    short = short.window(None, 6580.0)
    with pytest.raises(FitError, match="short"):
        lcf(series, [six[1], short])


def test_duplicate_standards_are_named(six):
    series, _, _ = mixtures(six, 2, seed=8)
    copy = six[0].to_series().replace(labels=["copy_of_MnO"])
    with pytest.raises(FitError, match=r"duplicate.*copy_of_MnO"):
        lcf(series, [six[0], six[2], copy])


def test_collinear_standards_are_named(six):
    series, _, _ = mixtures(six, 2, seed=8)
    a, b = six[0].to_series(), six[4].to_series()
    grid = a.energy[(a.energy > 6450) & (a.energy < 6700)]
    mix = Series(grid, 0.5 * a.interpolate(grid).mu + 0.5 * b.interpolate(grid).mu,
                 labels=["half_half"])  # fmt: skip
    with pytest.raises(FitError, match=r"02_MnO.*half_half.*collinear"):
        lcf(series, [a, b, mix])


def test_more_standards_than_points(six):
    series, _, _ = mixtures(six, 2, seed=8)
    with pytest.raises(FitError, match="6 standards but only"):
        lcf(series, six, e_range=(0.0, 1.0))


def test_all_nan_spectra_are_named(six):
    norm = six[1]
    both = normalize(Series(norm.energy, np.vstack([norm.mu, norm.mu])))
    bad = dataclasses.replace(
        both, norm=np.vstack([both.norm[0], np.full_like(both.norm[1], np.nan)])
    )
    with pytest.raises(ValidationError, match=r"\[1\] are NaN everywhere"):
        lcf(bad, six[:3])


def test_bad_arguments_say_what_was_expected(six):
    series, _, _ = mixtures(six, 2, seed=8)
    with pytest.raises(ValidationError, match="relative_to"):
        lcf(series, six, relative_to="edge")
    with pytest.raises(ValidationError, match="summing to 1"):
        lcf(series, six, bounds=(0.0, 0.1))
    with pytest.raises(ValidationError, match="e_range"):
        lcf(series, six, e_range=(10, -10))
    with pytest.raises(ValidationError, match="NormResult"):
        lcf(series.mu, six)
    with pytest.raises(ValidationError, match="needs an edge energy"):
        lcf(series.replace(coords={}), six)


def test_cached_splines_follow_the_standards_content(six):
    series, _, _ = mixtures(six, 3, seed=9)
    first = lcf(series, six[:3])
    again = lcf(series, six[:3])  # splines from the cache: same numbers
    np.testing.assert_array_equal(first.weights, again.weights)
    # same grid and label, different values: a new spline, a different fit
    changed = six[2].to_series()
    changed = changed.replace(mu=changed.mu * 1.05)
    other = lcf(series, [six[0], six[1], changed])
    assert np.abs(other.basis[0][:, 2] / first.basis[0][:, 2] - 1.05).max() < 1e-9


def test_absent_standards_report_zero_shift(six):
    series, _, _ = mixtures(six, 40, seed=12, shift=0.5)
    result = lcf(series, six, shifts=True)
    absent = result.weights == 0
    assert absent.any()
    assert (result.shifts[absent] == 0).all() and (result.shifts_stderr[absent] == 0).all()
    # the basis of an absent standard is the unshifted standard
    i, j = np.argwhere(absent)[0]
    plain = lcf(series, six)
    np.testing.assert_allclose(result.basis[i][:, j], plain.basis[0][:, j], atol=1e-12)
    np.testing.assert_allclose(result.fit + result.residual, result.data)


# ----------------------------------------------------------------- machinery
def _brute_force(g, b, sets, lo, hi):
    """Lowest objective ½xᵀGx − bᵀx over the feasible solutions of every active set."""
    best = np.inf
    for state in sets:
        free = state == FREE
        x = np.where(state == LO, lo, np.where(state == HI, hi, 0.0))
        x = np.where(np.isfinite(x), x, 0.0)
        nf = int(free.sum())
        kkt = np.zeros((nf + 1, nf + 1))
        kkt[:nf, :nf] = g[np.ix_(free, free)]
        kkt[:nf, nf] = kkt[nf, :nf] = 1.0
        rhs = np.concatenate([b[free] - g[np.ix_(free, ~free)] @ x[~free], [1.0 - x.sum()]])
        x[free] = np.linalg.solve(kkt, rhs)[:nf]
        if (x >= lo - 1e-10).all() and (x <= hi + 1e-10).all():
            best = min(best, 0.5 * x @ g @ x - b @ x)
    return best


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    lo=st.sampled_from([0.0, -0.3, 0.1]),
    hi=st.sampled_from([1.0, 0.5, np.inf]),
)
def test_shared_solver_finds_the_best_feasible_active_set_per_group(seed, lo, hi):
    # groups of standards (as combinations uses them) solved at once, against brute force
    k, n_s = 4, 10
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(25, k)) + 0.5
    y = rng.normal(size=(n_s, 25))
    g, b = matrix.T @ matrix, y @ matrix
    lo_v, hi_v = np.full(k, lo), np.full(k, hi)
    include = np.array([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 0]], bool)
    if not all(lo * r.sum() <= 1.0 <= hi * r.sum() for r in include):
        return
    sets = [enumerate_states(k, lo_v, hi_v, True, row) for row in include]
    width = max(len(x) for x in sets)
    states = np.stack([np.concatenate([x, np.repeat(x[:1], width - len(x), 0)]) for x in sets])
    sol = solve_shared(g, b, lo_v, hi_v, True, states)
    assert sol.x.shape == (3, n_s, k)
    np.testing.assert_allclose(sol.x.sum(axis=2), 1.0, atol=1e-12)
    for gi, row in enumerate(include):
        assert (sol.x[gi][:, ~row] == 0).all() and (sol.states[gi][:, ~row] == FIXED).all()
        for s in range(n_s):
            x = sol.x[gi, s]
            best = _brute_force(g, b[s], sets[gi], lo_v, hi_v)
            assert 0.5 * x @ g @ x - b[s] @ x <= best + 1e-9 * (1.0 + abs(best))


def test_shift_table_reproduces_the_splines(six):
    series, _, _ = mixtures(six, 4, seed=13)
    design = prepare(series, six, (-20.0, 60.0), "e0", None, "norm", 3.0)[2]
    table = design.shift_table(3.0)
    shifts = np.random.default_rng(0).uniform(-3.0, 3.0, (40, 6))
    values = table.evaluate(shifts, "values")
    # normalized standards (edge step 1): within 5e-6, far below 0.3 % noise
    assert np.abs(values.transpose(0, 2, 1) - design.shifted(shifts)).max() < 5e-6
    slopes = table.evaluate(shifts, "slopes")
    exact = -design.shifted(shifts, derivative=True)  # d/dshift S(E - shift), per eV
    assert np.abs(slopes.transpose(0, 2, 1) - exact).max() < 5e-4 * np.abs(exact).max()
    np.testing.assert_allclose(table.evaluate(shifts), np.concatenate([values, slopes], 1),
                               rtol=0, atol=1e-14)  # fmt: skip
    zero = table.evaluate(np.zeros((2, 6)), "values")
    np.testing.assert_array_equal(zero[1].T, design.matrix)  # no shift: the splines exactly


def test_holding_insignificant_shifts_keeps_accuracy_and_saves_iterations(six, monkeypatch):
    series, truth, true_shifts = mixtures(six, 60, seed=14, shift=0.5)
    design = prepare(series, six, (-20.0, 60.0), "e0", None, "norm", 3.0)[2]
    lo, hi = parse_bounds((0.0, 1.0), 6, True)
    work = []  # spectra still iterating, per iteration
    step = shifts_module._step
    monkeypatch.setattr(shifts_module, "_step", lambda g, *a: work.append(len(g)) or step(g, *a))
    held = fit_shifted(design, lo, hi, True, 3.0)
    held_work, work[:] = sum(work), []
    monkeypatch.setattr(shifts_module, "_HOLD_Z", 0.0)  # refine every shift
    free = fit_shifted(design, lo, hi, True, 3.0)
    err_held = np.abs(held.weights - truth).mean()
    err_free = np.abs(free.weights - truth).mean()
    assert err_held <= err_free + 5e-4, (err_held, err_free)
    assert held_work < 0.7 * sum(work), (held_work, sum(work))
    present = truth >= 0.1  # present standards keep their shifts refined
    assert np.median(np.abs(held.shifts - true_shifts)[present]) < 0.1
    assert (held.shifts[present] != 0).all()


# ------------------------------------------------------------ raw μ with a background
def _raw(series: Series, seed: int) -> tuple[Series, np.ndarray, np.ndarray]:
    """The mixtures as raw μ: a random scale (edge step) and linear background each."""
    rng = np.random.default_rng(seed)
    n_s = series.n_spectra
    scale = rng.uniform(0.2, 2.0, n_s)
    slope = rng.uniform(-2e-3, 2e-3, n_s)
    offset = rng.uniform(-0.5, 0.5, n_s)
    bg = offset[:, None] + slope[:, None] * (series.energy[None, :] - 6549.0)
    return (
        Series(series.energy, scale[:, None] * series.mu + bg),
        scale,
        np.stack([offset, slope], axis=1),
    )


def test_raw_mu_lcf_recovers_weights_scale_and_background(six):
    mixed, weights, _ = mixtures(six, 60, seed=11, shift=0.0)
    raw, scale, bg = _raw(mixed, seed=12)
    result = lcf(raw, six, background="linear", array="mu", e0=6549.0)
    from speciate.fit.background import BackgroundLCFResult

    assert isinstance(result, BackgroundLCFResult)
    assert np.abs(result.weights - weights).mean() < 0.01
    np.testing.assert_allclose(result.total, 1.0, atol=1e-12)
    np.testing.assert_allclose(result.scale, scale, rtol=0.01)
    np.testing.assert_allclose(result.background_coefs[:, 0], bg[:, 0], atol=0.01)
    np.testing.assert_allclose(result.background_coefs[:, 1], bg[:, 1], atol=1e-4)
    np.testing.assert_allclose(result.fit + result.residual, result.data, atol=1e-12)
    assert result.background_center == 6549.0
    # errors are honest: the scatter of the misfit matches the reported stderr
    free = result.stderr > 0
    z = (result.weights - weights)[free] / result.stderr[free]
    assert 0.4 < np.std(z) < 2.5
    table = result.to_dataframe()
    assert {"scale", "scale_stderr", "background_c0", "background_c1"} <= set(table.columns)
    assert result.provenance["function"] == "speciate.fit.lcf"
    assert result.provenance["parameters"]["background"] == "linear"


def test_raw_mu_lcf_with_shifts_beats_normalize_then_lcf(six):
    mixed, weights, _ = mixtures(six, 40, seed=21, shift=0.3)
    raw, _, _ = _raw(mixed, seed=22)
    both = lcf(raw, six, background="linear", array="mu", shifts=True, e0=6549.0)
    assert np.abs(both.weights - weights).mean() < 0.008
    assert both.shifts is not None and both.shifts.shape == (40, 6)
    # a NormResult gives its raw mu to array="mu"; standards as NormResult give their norm
    normed = normalize(raw, e0=6549.0, pre=(-29, -15))
    via_norm = lcf(normed, six, background="linear", array="mu", shifts=True)
    np.testing.assert_allclose(via_norm.weights, both.weights, atol=1e-6)


def test_background_default_is_unchanged_and_bad_bounds_are_refused(six):
    mixed, _, _ = mixtures(six, 5, seed=1)
    plain = lcf(mixed, six)
    assert type(plain) is LCFResult
    with pytest.raises(ValidationError, match="bounded below by 0"):
        lcf(mixed, six, background="linear", bounds=(0.1, 1.0))
    with pytest.raises(ValidationError, match="background must be"):
        lcf(mixed, six, background="cubic")
    with pytest.raises(ValidationError, match="free already"):
        lcf(mixed, six, background="scale", sum_to_one=False)


def test_raw_series_without_e0_gets_the_median_edge(six):
    mixed, weights, _ = mixtures(six, 20, seed=5, shift=0.0)
    raw, _, _ = _raw(mixed, seed=6)
    bare = Series(raw.energy, raw.mu)
    result = lcf(bare, six, background="linear", array="mu")
    assert 6540 < result.e0 < 6560
    assert np.abs(result.weights - weights).mean() < 0.02


def test_scale_background_absorbs_an_edge_step_error_of_normalized_data(six):
    mixed, weights, _ = mixtures(six, 40, seed=31, shift=0.0)
    off = np.random.default_rng(32).uniform(0.97, 1.03, 40)  # edge steps off by up to 3 %
    scaled = mixed.replace(mu=off[:, None] * mixed.mu)
    plain = lcf(scaled, six)
    fitted = lcf(scaled, six, background="scale")
    assert fitted.background_kind == "scale" and fitted.background_coefs.shape == (40, 0)
    np.testing.assert_array_equal(fitted.background, 0.0)
    np.testing.assert_allclose(fitted.scale, off, rtol=2e-3)
    np.testing.assert_allclose(fitted.total, 1.0, atol=1e-12)
    err_fitted = np.abs(fitted.weights - weights).mean()
    assert err_fitted < 0.005
    assert np.abs(plain.weights - weights).mean() > 3 * err_fitted  # the step leaks there
    assert "none (scale only)" in fitted.report(1)
    # the same as leaving the sum free and renormalizing (Athena's practice)
    free = lcf(scaled, six, sum_to_one=False, bounds=(0.0, 2.0))
    np.testing.assert_allclose(
        fitted.weights, free.weights / free.weights.sum(axis=1, keepdims=True), atol=1e-8
    )
