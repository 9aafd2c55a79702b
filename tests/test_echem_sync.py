"""sync: electrochemical state per operando spectrum, on the real SOLEIL + EC-Lab series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate import Series
from speciate.echem import read
from speciate.echem.capacity import half_cycle_summary
from speciate.echem.sync import FARADAY_MAH_PER_MOL, sync
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError

io = pytest.importorskip("speciate.io")


@pytest.fixture(scope="module")
def operando(real_data: Path) -> Path:
    return real_data / "operando" / "perex_LNO_NiK"


@pytest.fixture(scope="module")
def series(operando: Path) -> Series:
    return io.read_many(str(operando / "XAS_normalized" / "*.txt"))


@pytest.fixture(scope="module")
def cycling(operando: Path):
    return read(operando / "EC" / "220726cell4operandoxas_C06.mpt")


@pytest.fixture(scope="module")
def ec_table(operando: Path) -> pd.DataFrame:
    return pd.read_csv(
        operando / "EC" / "220726cell4operandoxas_C06.mpt",
        sep="\t",
        skiprows=81,
        decimal=",",
        encoding="latin-1",
        index_col=False,
    )


def test_voltages_match_the_operando_index(series: Series, cycling, operando: Path) -> None:
    index = pd.read_csv(operando / "operando_index.csv")
    table = sync(series, cycling).to_dataframe()
    by_file = index.set_index(index["file"].str.replace(".txt", "", regex=False))
    expected = by_file.loc[list(table.index), "Ewe_V_interp"].to_numpy()
    np.testing.assert_allclose(table["voltage"].to_numpy(), expected, atol=0.002)
    np.testing.assert_allclose(
        table["cycler_time_s"].to_numpy(), by_file.loc[list(table.index), "ec_elapsed_s"], atol=1.0
    )


def test_state_of_charge_rises_on_charge_and_falls_on_discharge(series: Series, cycling) -> None:
    st = sync(series, cycling)
    # op2 is the first charge; its last spectra (57 and 58 of 58) already belong to the discharge
    assert st.half_cycle.tolist() == [1] * 19 + [2] * 2
    on = st.half_cycle == 1
    assert np.all(np.diff(st.state_of_charge[on]) > 0)
    assert np.all(np.diff(st.state_of_charge[~on]) < 0)
    assert np.all((st.state_of_charge >= 0) & (st.state_of_charge <= 1))
    hc = half_cycle_summary(cycling)
    np.testing.assert_allclose(st.state_of_charge[on], st.capacity[on] / hc.capacity_mah[0])
    np.testing.assert_allclose(st.state_of_charge[~on], 1 - st.capacity[~on] / hc.capacity_mah[1])


def test_capacity_and_x_li_match_eclab_columns(series: Series, cycling, ec_table) -> None:
    # EC-Lab header: mass 7000 mg at x = 1, M(x=0) 90.93 g/mol + Li 6.94 g/mol, x0 = 0.9
    st = sync(series, cycling, mass_mg=7000.0, molar_mass_g_mol=90.93 + 6.94, x_li_initial=0.9)
    t = ec_table["time/s"].to_numpy()
    np.testing.assert_allclose(st.x_li, np.interp(st.cycler_time_s, t, ec_table["x"]), atol=2e-6)
    q = np.interp(st.cycler_time_s, t, ec_table["Q charge/discharge/mA.h"])
    # EC-Lab signs its counter (< 0 on discharge); speciate's is a magnitude per half-cycle
    np.testing.assert_allclose(st.capacity, np.abs(q), rtol=5e-3, atol=2e-3)
    np.testing.assert_allclose(st.specific_capacity, st.capacity / 7.0)
    same = sync(
        series,
        cycling,
        mass_mg=7000.0,
        theoretical_capacity_mah_g=FARADAY_MAH_PER_MOL / (90.93 + 6.94),
        x_li_initial=0.9,
    )
    np.testing.assert_allclose(same.x_li, st.x_li)


def test_offset_duration_and_elapsed_seconds_agree(series: Series, cycling) -> None:
    base = sync(series, cycling, offset=120.0)
    mid = sync(series, cycling, duration=240.0)
    np.testing.assert_allclose(base.voltage, mid.voltage)
    per_spectrum = sync(series, cycling, duration=np.full(series.n_spectra, 240.0))
    np.testing.assert_allclose(per_spectrum.capacity, mid.capacity)
    elapsed = (series.time - cycling.start_time) / np.timedelta64(1, "s")
    as_seconds = sync(series.replace(time=elapsed), cycling, offset=120.0)
    np.testing.assert_allclose(as_seconds.voltage, base.voltage)
    with pytest.raises(ValidationError, match="duration"):
        sync(series, cycling, duration=[1.0, 2.0])


def test_spectra_outside_the_record_are_reported(series: Series, cycling) -> None:
    with pytest.raises(ValidationError, match="outside the cycling record") as info:
        sync(series, cycling, offset=-1500.0)
    assert series.labels[0] in str(info.value)
    st = sync(series, cycling, offset=-1500.0, outside="nan")
    assert not st.inside[0] and st.inside[-1]
    assert np.isnan(st.voltage[0]) and st.half_cycle[0] == -1
    assert np.isfinite(st.voltage[1:]).all()


def test_joined_files_sync_and_absolute_times_need_a_start(series: Series, operando) -> None:
    files = sorted((operando / "EC").glob("*.mpt"))
    joined = read(files)
    a = sync(series, joined)
    b = sync(series, read(files[0]))
    np.testing.assert_allclose(a.voltage, b.voltage)
    no_start = joined.replace(start_time=None)
    with pytest.raises(ValidationError, match="start time"):
        sync(series, no_start)


def test_synthetic_discharge_soc_falls_and_x_li_counts_charge() -> None:
    cyc = galvanostatic(
        1, charge_capacity_mah=1.0, discharge_capacity_mah=1.0, rest_s=0.0, start_time=None
    )
    times = np.array([900.0, 1800.0, 2700.0, 3600.0 + 1800.0])
    s = Series(np.array([1.0, 2.0]), np.zeros((4, 2)), time=times)
    st = sync(s, cyc, mass_mg=10.0, theoretical_capacity_mah_g=200.0)
    np.testing.assert_allclose(st.state_of_charge, [0.25, 0.5, 0.75, 0.5])
    np.testing.assert_allclose(st.capacity, [0.25, 0.5, 0.75, 0.5])
    # 2 mAh per Li: after 0.75 mAh of charge x = 1 - 0.375
    np.testing.assert_allclose(st.x_li[:3], [0.875, 0.75, 0.625])
    assert st.direction.tolist() == [1, 1, 1, -1]
    with pytest.raises(ValidationError, match="mass"):
        sync(s, cyc, theoretical_capacity_mah_g=200.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12), st.floats(-50.0, 50.0))
def test_sync_stays_within_bounds_and_matches_offset_shift(fracs, offset) -> None:
    cyc = galvanostatic(2, start_time=None)
    span = cyc.time_s[-1] - 100.0
    times = 50.0 + np.array(fracs) * (span - 100.0)
    s = Series(np.array([1.0, 2.0]), np.zeros((times.size, 2)), time=times)
    st_ = sync(s, cyc, offset=offset)
    assert np.all((st_.state_of_charge >= 0) & (st_.state_of_charge <= 1))
    assert np.all(st_.capacity >= 0) and np.all(st_.capacity <= 1.0 + 1e-12)
    assert np.all((st_.voltage >= cyc.voltage_v.min()) & (st_.voltage <= cyc.voltage_v.max()))
    shifted = sync(s.replace(time=times + offset), cyc)
    np.testing.assert_allclose(st_.voltage, shifted.voltage)


def test_x_li_from_a_formula(series: Series, cycling, ec_table) -> None:
    pytest.importorskip("pymatgen")
    from speciate.echem.sync import formula_molar_mass

    # Li 6.94 + Ni 58.693 + 2 O 15.999 (IUPAC standard atomic weights)
    assert formula_molar_mass("LiNiO2") == pytest.approx(97.633, abs=2e-3)
    assert formula_molar_mass("Li(Ni0.8Mn0.1Co0.1)O2") == pytest.approx(97.28, abs=0.01)
    by_formula = sync(series, cycling, mass_mg=7000.0, formula="LiNiO2", x_li_initial=0.9)
    by_mass = sync(series, cycling, mass_mg=7000.0, molar_mass_g_mol=97.6332, x_li_initial=0.9)
    np.testing.assert_allclose(by_formula.x_li, by_mass.x_li, rtol=1e-6)
    assert by_formula.meta["formula"] == "LiNiO2"
    # EC-Lab used M = 97.87 g/mol: Δx scales by 97.63/97.87 (Δx reaches 8e-4 with this
    # cell's 7000 mg header mass, so the 0.24 % scale is 2e-6, well above the tolerance)
    t = ec_table["time/s"].to_numpy()
    dx_eclab = 0.9 - np.interp(by_formula.cycler_time_s, t, ec_table["x"])
    np.testing.assert_allclose(0.9 - by_formula.x_li, dx_eclab * 97.6332 / 97.87, atol=5e-8)
    with pytest.raises(ValidationError, match="formula"):
        sync(series, cycling, mass_mg=7000.0, formula="LiNiO2)")
    with pytest.raises(ValidationError, match="one of"):
        sync(series, cycling, mass_mg=7000.0, formula="LiNiO2", molar_mass_g_mol=97.6)
