"""trends: change from the first spectrum, slope, reversibility over a charge/discharge cycle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate import Series, ValidationError
from speciate.features import FeatureTable, extract, trends


def _table(values, time=None, **extra):
    n = len(values)
    cols = {
        "e_half": np.asarray(values, float),
        **{k: np.asarray(v, float) for k, v in extra.items()},
    }
    return FeatureTable(
        labels=tuple(f"s{i}" for i in range(n)),
        columns=cols,
        units=dict.fromkeys(cols, "eV"),
        reasons={},
        reason_of={},
        time=time,
    )


def test_reversibility_over_a_cycle_on_state_of_charge():
    # charge: edge +3 eV at top of charge; discharge back to +0.6 eV: 80 % recovered
    soc = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0])
    e = 6550.0 + np.array([0, 0.75, 1.5, 2.25, 3.0, 2.4, 1.8, 1.2, 0.6])
    tr = trends(_table(e), by=soc)
    assert tr.by == "values"
    assert tr.turn_index[0] == 4
    assert tr.change_at_turn[0] == pytest.approx(3.0)
    assert tr.reversibility[0] == pytest.approx(0.8)
    np.testing.assert_allclose(tr.change[:, 0], e - e[0])
    summary = tr.summary()
    assert summary.loc["e_half", "reversibility"] == pytest.approx(0.8)


def test_slope_against_time_in_seconds():
    t0 = np.datetime64("2022-07-26T23:00:00")
    time = t0 + np.arange(6) * np.timedelta64(600, "s")
    values = 6550.0 + 0.002 * np.arange(6) * 600
    tr = trends(_table(values, time=time), by="time")
    np.testing.assert_allclose(tr.x, np.arange(6) * 600.0)
    assert tr.slope[0] == pytest.approx(0.002)
    assert tr.slope_stderr[0] == pytest.approx(0.0, abs=1e-9)
    assert tr.reversibility[0] == pytest.approx(0.0)  # monotonic: nothing recovered


def test_nan_leading_values_use_the_first_measured_spectrum():
    values = [np.nan, 1.0, 2.0, 1.5]
    tr = trends(_table(values, other=[np.nan] * 4), by="index")
    assert tr.reference_index.tolist() == [1, -1]
    np.testing.assert_allclose(tr.change[:, 0], [np.nan, 0.0, 1.0, 0.5])
    assert tr.reversibility[0] == pytest.approx(0.5)
    assert np.isnan(tr.reversibility[1]) and np.isnan(tr.slope[1])


@settings(max_examples=40, deadline=None)
@given(
    up=st.floats(0.1, 5.0),
    recovered=st.floats(0.0, 1.0),
    offset=st.floats(-10.0, 10.0),
)
def test_reversibility_is_the_fraction_recovered(up, recovered, offset):
    values = offset + np.array([0.0, up / 2, up, up * (1 - recovered / 2), up * (1 - recovered)])
    tr = trends(_table(values), by="index")
    assert tr.reversibility[0] == pytest.approx(recovered, abs=1e-6)


def test_trends_on_extracted_series_with_shifting_edges():
    energy = np.arange(6450.0, 6650.0, 0.25)
    shifts = np.array([0.0, 1.0, 2.0, 1.0, 0.5])
    wl = 0.4 * np.exp(-(((energy[None, :] - 6558.0 - shifts[:, None]) / 3.0) ** 2))
    mu = 0.5 + np.arctan((energy[None, :] - 6550.0 - shifts[:, None]) / 1.5) / np.pi + wl
    table = extract(Series(energy, mu))
    tr = trends(table, features=["e_half", "white_line_energy"])
    np.testing.assert_allclose(tr.change[:, 0], shifts, atol=0.02)
    np.testing.assert_allclose(tr.change[:, 1], shifts, atol=0.05)
    assert tr.reversibility[0] == pytest.approx(0.75, abs=0.02)


def test_trends_rejects_bad_axes():
    table = _table([1.0, 2.0, 3.0])
    with pytest.raises(ValidationError, match="by must"):
        trends(table, by="voltage")
    with pytest.raises(ValidationError, match="one value per spectrum"):
        trends(table, by=[0.0, 1.0])
    with pytest.raises(ValidationError, match="times"):
        trends(table, by="time")
    with pytest.raises(ValidationError, match="unknown feature"):
        trends(table, features=["gamma"])


def test_operando_valence_trend_and_reversibility_on_state_of_charge():
    # real standards mixed along one charge/discharge (known valence), foil-aligned onto
    # the calibration's energy scale, normalized, measured and followed against charge
    from speciate.datasets import synthetic_operando
    from speciate.features import default_mn_calibration
    from speciate.xanes import normalize
    from speciate.xanes.align import align

    series, truth = synthetic_operando()
    aligned = align(series, target=default_mn_calibration().energy_reference)
    table = extract(normalize(aligned.series))
    err = table["valence"] - truth["valence"]
    assert np.sqrt(np.mean(err**2)) < 0.1
    soc = np.sin(np.linspace(0.0, np.pi, series.n_spectra))  # the series' charge profile
    tr = trends(table, by=soc, features=["valence", "e_integral", "preedge_centroid"])
    assert tr.turn_index[0] == int(np.argmax(soc))
    true_rise = truth["valence"].max() - truth["valence"][0]
    # pyrolusite, the +4 end member here, lies 0.19 e below the calibration line (its
    # leave-one-out error is -0.25 e): the rise is read 0.1-0.15 e short
    assert tr.change_at_turn[0] == pytest.approx(true_rise, abs=0.15)
    assert tr.change_at_turn[0] < true_rise
    assert tr.reversibility[0] == pytest.approx(1.0, abs=0.1)  # the series returns fully
    assert tr.slope[1] > 0  # edge moves up with charge
    # a feature missing at the top of charge turns at the highest charge it was measured
    ok = np.isfinite(table["preedge_centroid"])
    assert ok[tr.turn_index[2]] and soc[tr.turn_index[2]] == soc[ok].max()
    assert np.isfinite(tr.reversibility[2])
