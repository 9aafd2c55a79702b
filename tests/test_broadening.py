"""Tests for speciate.theory.broadening: FDMNES arctangent convolution and theory alignment."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xraydb
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from speciate.errors import ValidationError
from speciate.series import Series
from speciate.theory.broadening import (
    FDMNES_DEFAULTS,
    FDMNES_TAIL,
    align_to,
    broaden,
    core_hole_width,
    gaussian_broaden,
    gaussian_matrix,
    lorentzian_width,
)
from speciate.theory.fdmnes import read_fdmnes_conv, read_fdmnes_txt
from speciate.theory.feff import read_xmu

FDMNES_RUNS = [
    ("limn2o4_r3", "LiMn2O4_R3"),
    ("limn2o4_r5", "LiMn2O4_R5"),
    ("limn2o4_r6", "LiMn2O4_R6"),
    ("li2mno3_r3", "Li2MnO3_R3"),
    ("li2mno3_r5", "Li2MnO3_R5"),
]


# ------------------------------------------------------------------ FDMNES file reading


def _read_fdmnes_raw(path) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Raw FDMNES ``.txt`` on its relative energy scale, with the header values we need."""
    spectrum = read_fdmnes_txt(path)
    header = spectrum.meta["header"]
    e_edge = header["E_edge"]
    info = {"e_edge": e_edge, "e_cut": header["E_cut"], "natomsym": header["natomsym_f"]}
    return spectrum.energy - e_edge, np.asarray(spectrum.mu), info


def _read_fdmnes_conv(path) -> tuple[np.ndarray, np.ndarray]:
    """FDMNES ``_conv.txt`` on the relative energy scale of its raw sibling."""
    spectrum = read_fdmnes_conv(path, e_edge=0.0)
    return np.asarray(spectrum.energy), np.asarray(spectrum.mu)


def _conv_parameters(input_path) -> dict[str, float]:
    """Gamma_hole / Gamma_max / Ecent / Elarg stated in an FDMNES input (others: defaults)."""
    text = input_path.read_text()
    keys = {"gamma_hole": "gamma_hole", "gamma_max": "gamma_max", "ecent": "e_cent",
            "elarg": "e_larg"}  # fmt: skip
    found = {}
    for keyword, name in keys.items():
        match = re.search(rf"^\s*{keyword}\s*\n\s*([-\d.eE+]+)", text, flags=re.M | re.I)
        if match:
            found[name] = float(match.group(1))
    return found


def _width_tables(stdout_path) -> list[np.ndarray]:
    """The ``E_(eV) Width_(eV)`` tables that FDMNES prints after each convolution."""
    tables, current = [], None
    for line in stdout_path.read_text().splitlines():
        if "Width_(eV)" in line:
            current = []
            tables.append(current)
            continue
        parts = line.split()
        if current is not None and len(parts) == 3:
            try:
                current.append([float(parts[0]), float(parts[1])])
            except ValueError:
                current = None
        elif current is not None and parts:
            current = None
    return [np.array(t) for t in tables]


@pytest.fixture(scope="module")
def convonly(engine_outputs):
    return engine_outputs / "fdmnes" / "limn2o4_r5_convonly"


# --------------------------------------------------------------- FDMNES as the oracle


@pytest.mark.parametrize(
    ("inp", "out"),
    [("conv_gh116_inp.txt", "LiMn2O4_R5_gh116_conv.txt"),
     ("conv_gh200_inp.txt", "LiMn2O4_R5_gh200_conv.txt")],
)  # fmt: skip
def test_broadening_reproduces_fdmnes_convolution_only_runs(convonly, inp, out):
    energy, raw, header = _read_fdmnes_raw(convonly / "LiMn2O4_R5.txt")
    params = _conv_parameters(convonly / inp)
    assert "gamma_hole" in params
    e_ref, expected = _read_fdmnes_conv(convonly / out)
    np.testing.assert_allclose(e_ref, energy, atol=1e-9)
    series = Series(energy, raw)
    fdmnes = broaden(series, e_fermi=header["e_cut"], **params)
    linear = broaden(series, e_fermi=header["e_cut"], scheme="linear", **params)
    # FDMNES prints 8 significant digits; its own integration scheme matches to that level
    assert np.abs(fdmnes.mu[0] - expected).max() / expected.max() < 2e-5
    assert np.abs(linear.mu[0] - expected).max() / expected.max() < 0.01


@pytest.mark.parametrize(("folder", "stem"), FDMNES_RUNS)
def test_broadening_reproduces_fdmnes_default_convolution(engine_outputs, folder, stem):
    run = engine_outputs / "fdmnes" / folder
    energy, raw, header = _read_fdmnes_raw(run / f"{stem}.txt")
    _, expected = _read_fdmnes_conv(run / f"{stem}_conv.txt")
    result = broaden(Series(energy, raw), e_fermi=header["e_cut"])
    assert np.abs(result.mu[0] - expected).max() / expected.max() < 2e-5


def test_lorentzian_width_matches_the_width_table_fdmnes_prints(convonly):
    _, _, header = _read_fdmnes_raw(convonly / "LiMn2O4_R5.txt")
    tables = _width_tables(convonly / "stdout.txt")
    assert len(tables) == 2
    for table, inp in zip(tables, ("conv_gh116_inp.txt", "conv_gh200_inp.txt")):
        params = {**FDMNES_DEFAULTS, **_conv_parameters(convonly / inp)}
        width = lorentzian_width(table[:, 0], e_fermi=header["e_cut"], **params)
        np.testing.assert_allclose(width, table[:, 1], atol=1.5e-3)


def test_core_hole_width_comes_from_xraydb_and_matches_fdmnes_table():
    assert core_hole_width("Mn", "K") == xraydb.core_width("Mn", "K")
    assert core_hole_width("Mn", "K") == pytest.approx(1.16)  # FDMNES's tabulated Mn K width
    assert core_hole_width("Ni", "K") > core_hole_width("Mn", "K")
    with pytest.raises(ValidationError, match="gamma_hole="):
        core_hole_width("Xx", "K")


# ------------------------------------------------------------- synthetic known truths


@pytest.mark.parametrize("scheme", ["linear", "fdmnes"])
def test_step_at_the_fermi_level_broadens_to_an_arctangent(scheme):
    # a unit step at E_F under a constant Lorentzian (HWHM g) is
    # (arctan((E_top - E)/g) - arctan((E_F - E)/g)) / pi, with E_top where the data ends
    rng = np.random.default_rng(3)
    energy = np.sort(np.concatenate([[-20.0, 0.0, 60.0], rng.uniform(-20, 60, 300)]))
    mu = (energy >= 0.0).astype(float)
    out = broaden(Series(energy, mu), e_fermi=0.0, gamma_hole=1.5, gamma_max=0.0, scheme=scheme)
    top = np.pi / 2 if scheme == "linear" else np.arctan((60.0 + FDMNES_TAIL - energy) / 0.75)
    expected = (top + np.arctan(energy / 0.75)) / np.pi
    np.testing.assert_allclose(out.mu[0], expected, atol=1e-12)


def test_gaussian_of_a_gaussian_peak_adds_widths_in_quadrature():
    rng = np.random.default_rng(7)
    energy = np.sort(rng.uniform(-30, 30, 1500))
    s0, fwhm = 0.8, 1.2
    s1 = fwhm / (2 * np.sqrt(2 * np.log(2)))
    peak = np.exp(-0.5 * (energy / s0) ** 2)
    out = peak @ gaussian_matrix(energy, fwhm).T
    s = np.hypot(s0, s1)
    expected = s0 / s * np.exp(-0.5 * (energy / s) ** 2)
    np.testing.assert_allclose(out, expected, atol=2e-3)


def test_gaussian_keeps_a_constant_and_an_error_function_edge():
    energy = np.linspace(-10, 10, 401)
    constant = np.ones_like(energy) @ gaussian_matrix(energy, 2.0).T
    np.testing.assert_allclose(constant, 1.0, atol=1e-12)
    step = (energy >= 0).astype(float)
    s = 2.0 / (2 * np.sqrt(2 * np.log(2)))
    smeared = step @ gaussian_matrix(energy, 2.0).T
    # as a piecewise-linear function the step is a ramp over the last interval before 0
    centre = -0.5 * (energy[1] - energy[0])
    expected = 0.5 * (1 + erf((energy - centre) / (s * np.sqrt(2))))
    np.testing.assert_allclose(smeared, expected, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(
    a=st.floats(-5, 5),
    b=st.floats(-5, 5),
    e_fermi=st.floats(-5.0, 5.0),
    gaussian=st.sampled_from([0.0, 0.7]),
)
def test_broadening_is_linear_and_rows_are_independent(a, b, e_fermi, gaussian):
    rng = np.random.default_rng(11)
    energy = np.sort(rng.uniform(-10, 50, 120))
    x, y = rng.random((2, energy.size))
    stack = Series(energy, np.vstack([x, y, a * x + b * y]))
    out = broaden(stack, e_fermi=e_fermi, gamma_hole=1.0, gaussian_fwhm=gaussian).mu
    single = broaden(Series(energy, y), e_fermi=e_fermi, gamma_hole=1.0,
                     gaussian_fwhm=gaussian).mu[0]  # fmt: skip
    np.testing.assert_allclose(out[1], single, atol=1e-12)
    np.testing.assert_allclose(out[2], a * out[0] + b * out[1], atol=1e-9)


def test_per_spectrum_fermi_levels_match_separate_calls():
    energy = np.linspace(-10, 40, 200)
    mu = np.exp(-0.5 * ((energy[None, :] - np.array([[5.0], [8.0], [5.0]])) / 2.0) ** 2)
    levels = np.array([-1.0, 0.5, -1.0])
    out = broaden(Series(energy, mu), e_fermi=levels, gamma_hole=1.2)
    for i, level in enumerate(levels):
        alone = broaden(Series(energy, mu[i]), e_fermi=level, gamma_hole=1.2)
        np.testing.assert_allclose(out.mu[i], alone.mu[0], atol=1e-13)
    assert out.meta["broadening"]["e_fermi"] == levels.tolist()


# ------------------------------------------------------------------- contract details


def test_parameters_are_recorded_and_input_untouched(convonly):
    energy, raw, header = _read_fdmnes_raw(convonly / "LiMn2O4_R5.txt")
    series = Series(energy, raw, coords={"e_fermi": header["e_cut"]}, meta={"source": "x"})
    out = broaden(series, gaussian_fwhm=0.5)
    record = out.meta["broadening"]
    assert record["gamma_hole"] == xraydb.core_width("Mn", "K")
    assert record["gamma_hole_source"].startswith("xraydb")
    assert record["e_fermi"] == header["e_cut"]
    assert record["gaussian_fwhm"] == 0.5
    assert out.meta["source"] == "x"
    assert out.meta["provenance"]["function"].endswith("broaden")
    np.testing.assert_array_equal(series.mu[0], raw)
    assert not out.mu.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs the Fermi level"),
        ({"e_fermi": 500.0}, "inside the energy grid"),
        ({"e_fermi": [0.0, 1.0]}, "one value per spectrum"),
        ({"e_fermi": 0.0, "gaussian_fwhm": -1.0}, "gaussian_fwhm"),
        ({"e_fermi": 0.0, "gamma_hole": 0.0}, "gamma_hole"),
        ({"e_fermi": 0.0, "e_larg": 0.0}, "e_larg"),
        ({"e_fermi": float("nan")}, "finite"),
        ({"e_fermi": 0.0, "scheme": "cubic"}, "scheme"),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs, message):
    series = Series(np.linspace(-10, 50, 50), np.ones(50))
    with pytest.raises(ValidationError, match=message):
        broaden(series, **kwargs)


# ----------------------------------------------------------------------------- align_to


def _edge(energy, e0, width=2.0):
    return 0.5 * (1 + erf((energy - e0) / width)) + 0.3 * np.exp(-(((energy - e0 - 8) / 3) ** 2))


@pytest.mark.parametrize("method", ["edge", "derivative"])
def test_align_to_recovers_a_known_shift(method):
    theory_e = np.concatenate([np.arange(-10, 10, 0.2), np.arange(10, 60.01, 0.5)]) + 6530.0
    theory = Series(theory_e, 16 * _edge(theory_e, 6541.3))  # summed over 16 absorbers
    exp_e = np.arange(6500, 6620, 0.25)
    experiment = Series(exp_e, 0.02 + _edge(exp_e, 6553.6))
    result = align_to(theory, experiment, method=method)
    tolerance = 0.1 if method == "edge" else 0.05
    assert result.shift == pytest.approx(12.3, abs=tolerance)
    np.testing.assert_allclose(result.series.energy, theory_e + result.shift)
    assert result.series.meta["alignment"]["shift_ev"] == result.shift
    assert result.series.meta["alignment"]["method"] == method


def test_one_common_shift_keeps_the_radius_trend(engine_outputs, mn_groups):
    rows, energies = [], []
    for folder, stem in FDMNES_RUNS[:2]:
        energy, raw, header = _read_fdmnes_raw(engine_outputs / "fdmnes" / folder / f"{stem}.txt")
        broadened = broaden(Series(energy, raw / header["natomsym"]), e_fermi=header["e_cut"])
        rows.append(broadened.mu[0])
        energies.append(energy + header["e_edge"])
    np.testing.assert_array_equal(energies[0], energies[1])
    theory = Series(energies[0], np.vstack(rows), labels=("R3", "R5"))
    measured = np.loadtxt(mn_groups / "02_MnO.dat", comments="#")
    experiment = Series(measured[:, 1], measured[:, 2]).window(6500, 6620)
    common = align_to(theory, experiment, method="edge")
    each = align_to(theory, experiment, method="edge", per_spectrum=True)
    assert np.ndim(common.shift) == 0
    assert each.shift.shape == (2,)
    # the common shift is the one found for the first spectrum
    assert common.shift == pytest.approx(each.shift[0])
    # the edge moves between R = 3 and 5 Å; a common shift keeps that difference
    gap = common.e0_theory[0] - align_to(theory, experiment, using="R5").e0_theory[0]
    assert each.shift[1] - each.shift[0] == pytest.approx(gap)


def test_align_to_refuses_a_series_of_experiments():
    energy = np.linspace(6500, 6600, 400)
    theory = Series(energy, _edge(energy, 6540))
    with pytest.raises(ValidationError, match="one spectrum"):
        align_to(theory, Series(energy, np.vstack([_edge(energy, 6550)] * 2)))
    with pytest.raises(ValidationError, match="method"):
        align_to(theory, Series(energy, _edge(energy, 6550)), method="peak")


def test_gaussian_broaden_keeps_the_area_of_a_feff_spectrum(engine_outputs):
    spectrum = read_xmu(engine_outputs / "feff10" / "LiMn2O4_R5.0" / "xmu_noscf.dat")
    series = spectrum.to_series("R5")
    out = gaussian_broaden(series, 1.5)
    inner = (series.energy > series.energy[0] + 8) & (series.energy < series.energy[-1] - 8)
    area_in = np.trapezoid(series.mu[0][inner], series.energy[inner])
    area_out = np.trapezoid(out.mu[0][inner], series.energy[inner])
    assert area_out == pytest.approx(area_in, rel=0.01)
    slope_in = np.gradient(series.mu[0], series.energy).max()
    assert np.gradient(out.mu[0], series.energy).max() < slope_in
    assert out.meta["broadening"] == {
        "model": "Gaussian",
        "gaussian_fwhm": 1.5,
        "beyond_grid": "first and last points continued as constants",
    }
    assert out.coords["e_fermi"][0] == spectrum.e_fermi
    with pytest.raises(ValidationError, match="gaussian_fwhm"):
        gaussian_broaden(series, 0.0)


def test_broadening_api_is_reexported_by_speciate_theory():
    import speciate.theory as theory

    for name in ("broaden", "gaussian_broaden", "align_to", "lorentzian_width"):
        assert getattr(theory, name) is globals()[name]
        assert name in theory.__all__
