"""Capacity per half-cycle and per cycle, checked against the cyclers' own counters."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from speciate.echem import capacity_per_cycle, half_cycle_summary, read
from speciate.echem.capacity import counter_increments
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError

_REAL = [
    "operando/perex_LNO_NiK/EC/220726cell4operandoxas_C06.mpt",
    "operando/perex_LNO_NiK/EC/220726cell4operandoxascontinuation_C06.mpt",

    "echem/navani/arbin_example.res",
    "echem/beep/PredictionDiagnostics_000151_test.052",
    "echem/NewareNDA/TestFile.nda",
    "echem/navani/test.ndax",
    # a recent EC-Lab .mpr whose I/mA column is independent of its Q counter
    "echem/navani/00_test_04_MB_C01.mpr",
]


@pytest.mark.parametrize("name", _REAL)
def test_integrated_capacity_matches_cycler_counters_within_half_percent(
    real_data: Path, name: str
) -> None:
    if name.endswith(".res") and shutil.which("mdb-export") is None:
        pytest.skip("mdbtools not installed")
    hc = half_cycle_summary(read(real_data / name))
    big = hc.capacity_mah > 0.01 * hc.capacity_mah.max()
    assert big.sum() >= 1
    rel = np.abs(hc.capacity_mah[big] / hc.cycler_capacity_mah[big] - 1)
    assert rel.max() < 0.005, rel


def test_eclab_first_charge_equals_q_charge_column(real_data: Path) -> None:
    path = real_data / "operando/perex_LNO_NiK/EC/220726cell4operandoxas_C06.mpt"
    cyc = read(path)
    hc = half_cycle_summary(cyc)
    # the cycler's Q charge/discharge at the last row of speciate's first half-cycle
    end = hc.stop_row[0] - 1
    assert hc.capacity_mah[0] == pytest.approx(cyc.charge_capacity_mah[end], rel=5e-3)


def test_synthetic_capacities_are_exact_and_specific_needs_a_mass() -> None:
    cyc = galvanostatic(3, charge_capacity_mah=[1.0, 0.95, 0.9], discharge_capacity_mah=0.8)
    s = capacity_per_cycle(cyc)
    np.testing.assert_allclose(
        s.charge_capacity_mah, cyc.meta["truth"]["charge_capacity_mah"], rtol=1e-12
    )
    np.testing.assert_allclose(s.discharge_capacity_mah, 0.8, rtol=1e-12)
    np.testing.assert_allclose(s.coulombic_efficiency, 0.8 / np.array([1.0, 0.95, 0.9]))
    assert s.specific_charge_capacity_mah_g is None
    assert "specific_charge_capacity_mah_g" not in s.to_dataframe()
    m = capacity_per_cycle(cyc, mass_mg=4.0)
    np.testing.assert_allclose(m.specific_discharge_capacity_mah_g, 200.0)
    with pytest.raises(ValidationError, match="mass"):
        capacity_per_cycle(cyc, mass_mg=0)


def test_mean_voltages_energy_and_fade_follow_the_plateaus() -> None:
    cyc = galvanostatic(2, plateau_v=4.0, hysteresis_v=0.1)
    s = capacity_per_cycle(cyc)
    # symmetric logit plateau: mean voltage is the plateau to within the clipped tails
    np.testing.assert_allclose(s.mean_charge_voltage_v, 4.0, atol=2e-3)
    np.testing.assert_allclose(s.mean_discharge_voltage_v, 3.9, atol=2e-3)
    np.testing.assert_allclose(s.charge_energy_mwh, s.mean_charge_voltage_v * 1.0)
    np.testing.assert_allclose(s.voltage_hysteresis_v, 0.1, atol=4e-3)
    assert s.capacity_retention[0] == 1.0
    assert s.mean_discharge_voltage_fade_v[0] == 0.0


def test_arbin_cycle_summary_matches_cycler_per_cycle(real_data: Path) -> None:
    if shutil.which("mdb-export") is None:
        pytest.skip("mdbtools not installed")
    cyc = read(real_data / "echem/navani/arbin_example.res")
    s = capacity_per_cycle(cyc)
    df = cyc.to_dataframe()
    # Arbin's counters are cumulative within its cycle: the last value of each cycle
    last = df.groupby("cycle")[["charge_capacity_mah", "discharge_capacity_mah"]].max()
    full = np.isfinite(s.charge_capacity_mah) & np.isfinite(s.discharge_capacity_mah)
    np.testing.assert_allclose(
        s.charge_capacity_mah[full], last["charge_capacity_mah"].to_numpy()[: full.sum()], rtol=5e-3
    )


def test_counter_increments_handle_resets() -> None:
    c = np.array([0.0, 1.0, 2.0, 0.5, 1.5, 0.0, 0.0])
    np.testing.assert_allclose(counter_increments(c), [0, 1, 1, 0.5, 1, 0, 0])
