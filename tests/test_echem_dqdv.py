"""dQ/dV: right peak positions, no spikes at rests or CV holds, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.echem import read
from speciate.echem.cycles import row_charge_mah
from speciate.echem.cycling import Cycling
from speciate.echem.dqdv import dqdv
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError


@settings(max_examples=25, deadline=None)
@given(st.floats(3.0, 4.6), st.floats(0.02, 0.3), st.floats(0.01, 0.05))
def test_peak_at_the_redox_plateau_within_10_mv(plateau: float, hyst: float, width: float) -> None:
    cyc = galvanostatic(2, plateau_v=plateau, hysteresis_v=hyst, width_v=width)
    d = dqdv(cyc)
    expected = np.where(d.direction > 0, plateau, plateau - hyst)
    np.testing.assert_allclose(d.peak_voltage_v, expected, atol=0.010)
    assert np.all(np.nanmax(d.dqdv, axis=1)[d.direction > 0] > 0)
    assert np.all(np.nanmin(d.dqdv, axis=1)[d.direction < 0] < 0)


def test_area_under_dqdv_is_the_capacity() -> None:
    cyc = galvanostatic(2, charge_capacity_mah=1.2, discharge_capacity_mah=1.0)
    d = dqdv(cyc, voltage_step_v=0.002, smoothing_v=0.004)
    area = np.nansum(np.abs(d.dqdv), axis=1) * 0.002
    np.testing.assert_allclose(area, [1.2, 1.0, 1.2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(d.capacity_mah, [1.2, 1.0, 1.2, 1.0], rtol=1e-9)


def test_peak_height_of_a_nernst_plateau() -> None:
    # dQ/dV at the plateau of V = E + w ln(x/(1-x)) is Q/(4w)
    cyc = galvanostatic(1, charge_capacity_mah=1.0, width_v=0.05, dt_s=1.0)
    d = dqdv(cyc, direction="charge", voltage_step_v=0.001, smoothing_v=0.0)
    assert np.nanmax(d.dqdv) == pytest.approx(1.0 / (4 * 0.05), rel=0.05)


def _with_cv_hold(cyc: Cycling) -> Cycling:
    """Append a constant-voltage hold with decaying current after the first charge."""
    cols = {k: np.array(v) for k, v in cyc.columns.items()}
    end = int(np.nonzero(cols["current_ma"] > 0)[0][-1])
    n = 400
    t_hold = cols["time_s"][end] + 10.0 * np.arange(1, n + 1)
    i_hold = 0.85 * np.exp(-np.arange(n) / 150.0)
    later = {k: v[end + 1 :] for k, v in cols.items()}
    later["time_s"] = later["time_s"] + 10.0 * n
    hold = {
        "time_s": t_hold,
        "voltage_v": np.full(n, cols["voltage_v"][end]),
        "current_ma": i_hold,
        "charge_capacity_mah": np.zeros(n),
        "discharge_capacity_mah": np.zeros(n),
        "cycle": np.ones(n, dtype=int),
        "half_cycle": np.ones(n, dtype=int),
        "step": np.full(n, 99),
        "step_type": np.full(n, "charge"),
    }
    new = {k: np.concatenate([v[: end + 1], hold[k], later[k]]) for k, v in cols.items()}
    return cyc.replace(columns=new)


def test_cv_hold_makes_no_spike_unless_asked() -> None:
    cyc = _with_cv_hold(galvanostatic(1))
    kept = dqdv(cyc, direction="charge", exclude_cv=False)
    clean = dqdv(cyc, direction="charge")
    # the hold's charge piles up at the top voltage when it is not excluded
    assert kept.peak_voltage_v[0] > 4.1
    assert clean.peak_voltage_v[0] == pytest.approx(3.9, abs=0.01)
    assert np.nanmax(clean.dqdv) < np.nanmax(kept.dqdv)


def test_rests_and_relaxation_add_no_charge() -> None:
    cyc = galvanostatic(1)
    cols = {k: np.array(v) for k, v in cyc.columns.items()}
    rest = cols["current_ma"] == 0
    # a rest voltage that wanders (relaxation) must not change dQ/dV
    cols["voltage_v"][rest] += np.linspace(-0.2, 0.2, rest.sum())
    a = dqdv(cyc, voltage_range_v=(3.4, 4.4))
    b = dqdv(cyc.replace(columns=cols), voltage_range_v=(3.4, 4.4))
    np.testing.assert_allclose(np.nan_to_num(a.dqdv), np.nan_to_num(b.dqdv), atol=1e-9)


def test_selection_by_cycle_and_mass_units() -> None:
    cyc = galvanostatic(3)
    d = dqdv(cyc, [1, 3], direction="discharge", mass_mg=2.0)
    assert d.cycle.tolist() == [1, 3]
    assert d.units == "mAh/g/V"
    assert d.to_dataframe()["direction"].eq(-1).all()
    with pytest.raises(ValidationError, match=r"cycle\(s\) \[7\]"):
        dqdv(cyc, [7])
    with pytest.raises(ValidationError):
        dqdv(cyc, voltage_step_v=0)


def test_real_cathode_dqdv_is_finite_and_peaks_inside_window(real_data: Path) -> None:
    cyc = read(real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")
    d = dqdv(cyc, [1, 2])
    assert d.n_curves == 4
    assert np.all((d.peak_voltage_v > 2.0) & (d.peak_voltage_v < 3.8))
    area = np.nansum(np.abs(d.dqdv), axis=1) * d.meta["voltage_step_v"]
    np.testing.assert_allclose(area, d.capacity_mah, rtol=1e-6)


def _local_maxima(y: np.ndarray) -> np.ndarray:
    return np.nonzero((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:]))[0] + 1


def test_real_neware_cv_steps_make_no_spike(real_data: Path) -> None:
    # TestFile.nda: CC charge to 4.2 V then a CV hold the reader flags as cv_charge
    cyc = read(real_data / "echem/NewareNDA/TestFile.nda")
    kept = dqdv(cyc, direction="charge", exclude_cv=False)
    clean = dqdv(cyc, direction="charge")
    cv = cyc.step_type == "cv_charge"
    removed = kept.capacity_mah.sum() - clean.capacity_mah.sum()
    assert removed == pytest.approx(row_charge_mah(cyc.time_s, cyc.current_ma)[cv].sum(), rel=1e-9)
    window = (kept.voltage_v > 4.16) & (kept.voltage_v < 4.22)
    hold = cyc.voltage_v[cv].mean()
    for k in range(kept.n_curves):
        # with the hold: a second maximum within 10 mV of the hold voltage
        bumps = kept.voltage_v[window][_local_maxima(kept.dqdv[k, window])]
        assert np.any(np.abs(bumps - hold) < 0.010)
        # without it: dQ/dV falls steadily from the 4.13 V peak to the end of the charge
        assert np.all(np.diff(clean.dqdv[k, window]) < 0)
    np.testing.assert_allclose(clean.peak_voltage_v, 4.135, atol=0.005)


def test_real_cv_hold_without_a_cv_state_is_left_out(real_data: Path) -> None:
    # cellpy's BTS 8.5 .ndax: a formation charge ending in a long 4.75 V hold that the file
    # labels as plain charge, so only the current-decay heuristic can find it
    cyc = read(real_data / "echem/cellpy/20260302_IFE_BTS85_2_9_8_1.ndax")
    kept = dqdv(cyc, exclude_cv=False)
    clean = dqdv(cyc)
    assert kept.peak_voltage_v[0] == pytest.approx(4.747, abs=0.005)
    assert clean.peak_voltage_v[0] == pytest.approx(4.373, abs=0.005)
    assert np.nanmax(kept.dqdv) > 2 * np.nanmax(clean.dqdv)
    # ~25 % of the charge passes in the hold
    assert kept.capacity_mah[0] - clean.capacity_mah[0] == pytest.approx(359.0, rel=0.01)
    top = clean.voltage_v > 4.70
    assert np.nanmax(clean.dqdv[0, top]) < 0.2 * np.nanmax(clean.dqdv)


def test_real_rest_relaxation_never_moves_charge(real_data: Path) -> None:
    # operando LiNiO2 record: every rest voltage replaced by noise, dQ/dV unchanged
    cyc = read(real_data / "operando/perex_LNO_NiK/EC/220726cell4operandoxas_C06.mpt")
    cols = {k: np.array(v) for k, v in cyc.columns.items()}
    rest = cols["current_ma"] == 0
    assert rest.sum() > 1000
    rng = np.random.default_rng(1)
    cols["voltage_v"][rest] = rng.uniform(3.0, 4.3, rest.sum())
    a = dqdv(cyc, voltage_range_v=(2.9, 4.4))
    b = dqdv(cyc.replace(columns=cols), voltage_range_v=(2.9, 4.4))
    np.testing.assert_allclose(np.nan_to_num(a.dqdv), np.nan_to_num(b.dqdv), atol=1e-12)
    np.testing.assert_allclose(a.peak_voltage_v[:2], [3.679, 4.158], atol=0.005)
