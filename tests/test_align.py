"""align and derivative: known shifts of real spectra, the APS 10-BM foil, derivative accuracy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate import Series, ValidationError
from speciate.xanes import align, derivative
from speciate.xanes.derivative import derivative_array


def _real(path):
    data = np.loadtxt(path)
    order = np.argsort(data[:, 1], kind="stable")
    return data[order, 1], data[order, 2]


def _shifted_copies(energy, mu, shifts, noise=0.0, seed=0):
    """Spectra whose features sit ``shifts`` eV higher than in ``mu``, on a fine common grid."""
    rng = np.random.default_rng(seed)
    grid = np.arange(energy[0] + 10, energy[-1] - 10, 0.1)
    rows = np.interp(grid[None, :] - np.asarray(shifts)[:, None], energy, mu)
    return Series(grid, rows + noise * rng.normal(size=rows.shape))


@pytest.mark.parametrize("name", ["02_MnO.dat", "04_Mn2O3x.dat", "11_Pyrolusite.dat"])
def test_align_recovers_known_shifts_of_real_spectra(mn_groups, name):
    energy, mu = _real(mn_groups / name)
    true = np.array([0.0, 0.05, -0.05, 0.4, -1.1, 2.2, -3.0, 1.7])
    series = _shifted_copies(energy, mu, true, noise=5e-4)
    result = align(series, reference="mu")
    np.testing.assert_allclose(result.shifts, -true, atol=0.02)
    assert (result.stderr < 0.02).all()
    assert result.series.n_spectra == 8
    np.testing.assert_allclose(result.series.coords["energy_shift"], result.shifts)
    # after alignment every spectrum matches the first one
    spread = np.abs(result.series.mu - result.series.mu[:1]).max()
    assert spread < 0.02 * np.ptp(mu)


def test_align_to_tabulated_foil_energy_on_aps_10bm(real_data):
    path = real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"
    cols = np.loadtxt(path, skiprows=19)
    series = Series.from_unsorted(
        cols[:, 0],
        np.log(cols[:, 1] / cols[:, 2]),
        reference=np.log(cols[:, 2] / cols[:, 3]),
        duplicates="mean",
    )
    result = align(series, target=6539.0)
    # the Mn foil in this file sits about 1.4 eV below the tabulated 6539.0 eV
    assert 1.2 < result.shifts[0] < 1.6
    assert result.provenance["channel_used"] == "reference"
    assert result.provenance["parameters"]["target"] == 6539.0


@settings(max_examples=15, deadline=None)
@given(shift=st.floats(-3.0, 3.0))
def test_align_against_a_target_spectrum(mn_groups, shift):
    energy, mu = _real(mn_groups / "01_Mn_foil.dat")
    series = _shifted_copies(energy, mu, [shift])
    target = _shifted_copies(energy, mu, [0.0])
    result = align(series, reference="mu", target=target)
    assert result.shifts[0] == pytest.approx(-shift, abs=0.02)


def test_align_rejects_bad_targets():
    grid = np.linspace(6500, 6600, 400)
    series = Series(grid, 0.5 + np.arctan((grid - 6550) / 2)[None, :] / np.pi)
    with pytest.raises(ValidationError, match="array on the series grid"):
        align(series, target=np.ones(7))
    with pytest.raises(ValidationError, match="reference must be"):
        align(series, reference="ref")


def test_derivative_on_non_uniform_grid_matches_analytic():
    grid = np.unique(np.concatenate([np.arange(6400, 6530, 3.0), np.arange(6530, 6580, 0.2),
                                     np.arange(6580, 6800, 4.0)]))  # fmt: skip
    width = 4.0
    mu = np.arctan((grid - 6550) / width)[None, :]
    exact = width / (width**2 + (grid - 6550) ** 2)
    d = derivative_array(grid, mu, order=1, smooth_ev=0.8)[0]
    near = np.abs(grid - 6550) < 25
    np.testing.assert_allclose(d[near], exact[near], atol=0.01 * exact.max())
    series = derivative(Series(grid, mu), smooth_ev=0.8)
    assert series.meta["derivative"]["order"] == 1
    np.testing.assert_allclose(series.mu[0], d)


def test_absolute_offset_does_not_follow_one_noisy_channel():
    # The foil E0 comes from the mean of the matched channels, so noise on the first
    # spectrum cannot move the whole series (it moved it by 0.15-0.2 eV before).
    from speciate.datasets import synthetic_operando

    for seed in range(4):
        offsets = []
        for noise in (0.0, 0.003):
            series, truth = synthetic_operando(30, noise=noise, seed=seed)
            result = align(series, target=6539.0)
            offsets.append(np.mean(result.shifts - truth["drift"]))
        assert abs(offsets[1] - offsets[0]) < 0.04


def test_derivative_names_spectra_not_measured_everywhere():
    grid = np.arange(6500.0, 6600.0, 0.25)
    mu = np.stack([np.arctan((grid - 6550) / 3.0)] * 2)
    mu[1, grid > 6580] = np.nan
    with pytest.raises(ValidationError, match=r"spectra \[1\].*6500.0-6580.0 eV"):
        derivative(SimpleNamespace(energy=grid, norm=mu), smooth_ev=1.0)
    d = derivative(SimpleNamespace(energy=grid, norm=mu[:1]), smooth_ev=1.0)
    assert d.meta["provenance"]["function"] == "speciate.xanes.derivative"
