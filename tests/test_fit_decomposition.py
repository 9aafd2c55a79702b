"""pca / target_transform / mcr_als on a synthetic 3-phase series of real Mn standards."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from speciate import FitError, Series, ValidationError
from speciate.fit import lcf, mcr_als, pca, target_transform
from test_fit_support import SIX, six_standards

TRUE = (0, 2, 4)  # MnO, Mn2O3, pyrolusite: Mn2+ -> Mn3+ -> Mn4+


@pytest.fixture(scope="module")
def six(mn_groups):
    return six_standards(mn_groups)


@pytest.fixture(scope="module")
def three_phase(six):
    """100 spectra: pure MnO turns into Mn2O3, which turns into MnO2 (0.3 % noise)."""
    rng = np.random.default_rng(0)
    energy = np.arange(6530.0, 6610.0, 0.3)
    pure = np.stack([CubicSpline(six[j].energy, six[j].norm[0])(energy) for j in TRUE])
    t = np.linspace(0.0, 1.0, 100)
    first = 1.0 - 1.0 / (1.0 + np.exp(-(t - 0.3) / 0.05))
    last = 1.0 / (1.0 + np.exp(-(t - 0.7) / 0.05))
    conc = np.stack([first, 1.0 - first - last, last], axis=1)
    mu = conc @ pure + rng.normal(0.0, 0.003, (100, energy.size))
    series = Series(energy, mu, time=t * 3600.0, coords={"e0": np.full(100, 6549.0)})
    return series, conc, pure


@pytest.fixture(scope="module")
def mcr_three(three_phase):
    return mcr_als(three_phase[0], 3)


def _matched_rms(found, truth):
    return min(
        np.sqrt(((found[:, list(p)] - truth) ** 2).mean())
        for p in permutations(range(truth.shape[1]))
    )


def test_pca_estimates_rank_three_and_noise(three_phase):
    series, _, _ = three_phase
    result = pca(series)
    assert result.rank == 3
    assert result.rank_f == 3
    assert result.real_error[2] == pytest.approx(0.003, rel=0.1)
    np.testing.assert_allclose(result.reconstruct(), series.mu, atol=0.02)
    assert result.explained.sum() == pytest.approx(1.0)
    assert "rank (IND) = 3" in result.report()


def test_target_transform_ranks_true_standards_first(three_phase, six):
    series, _, _ = three_phase
    result = target_transform(pca(series), six)
    assert set(result.order[:3].tolist()) == set(TRUE)
    assert (result.spoil[list(TRUE)] < 3).all()
    others = [j for j in range(6) if j not in TRUE]
    assert (result.spoil[others] > 6).all()
    assert SIX[0] in result.report()


def test_mcr_als_recovers_concentration_profiles(three_phase, mcr_three):
    _, conc, _ = three_phase
    result = mcr_three
    assert result.converged
    assert _matched_rms(result.concentrations, conc) <= 0.03
    np.testing.assert_allclose(result.concentrations.sum(axis=1), 1.0, atol=1e-12)
    assert (result.concentrations >= 0).all() and (result.spectra >= 0).all()
    assert result.lack_of_fit < 1.0


def test_mcr_als_keeps_fixed_pristine_spectrum(three_phase, six):
    series, conc, pure = three_phase
    result = mcr_als(series, 3, fixed=[six[0]])
    np.testing.assert_allclose(result.spectra[0], pure[0], atol=0.01)
    assert result.fixed.tolist() == [True, False, False]
    assert np.sqrt(((result.concentrations[:, 0] - conc[:, 0]) ** 2).mean()) <= 0.03


def test_chain_pca_mcr_lcf_identifies_the_phases(three_phase, six, mcr_three):
    series, _, _ = three_phase
    assert pca(series).rank == mcr_three.spectra.shape[0]
    components = mcr_three.to_series()
    ident = lcf(components, six, relative_to="absolute", e_range=(6531.0, 6605.0))
    found = {int(np.argmax(w)) for w in ident.weights}
    assert found == set(TRUE)
    assert (ident.weights.max(axis=1) > 0.9).all()


def test_decomposition_bad_input(three_phase, six):
    series, _, _ = three_phase
    with pytest.raises(ValidationError, match="n_components"):
        mcr_als(series, 0)
    with pytest.raises(ValidationError, match="init"):
        mcr_als(series, 3, init="random")
    with pytest.raises(ValidationError, match="n_components"):
        target_transform(pca(series), six, n_components=500)
    with pytest.raises(FitError, match="at least 3"):
        pca(series.select([0, 1]))
    short = series.window(6540.0, 6600.0)
    with pytest.raises(FitError, match="cover"):
        target_transform(pca(series), short.select([0]))
