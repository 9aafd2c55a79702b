"""Comparing cells: fade tables and dQ/dV overlays on the same settings."""

from __future__ import annotations

import numpy as np
import pytest

from speciate.echem.compare import compare
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError


def _cells():
    fade = np.linspace(1.0, 0.8, 5)
    small = galvanostatic(5, charge_capacity_mah=fade, discharge_capacity_mah=0.95 * fade)
    large = galvanostatic(5, charge_capacity_mah=1.0, discharge_capacity_mah=0.9, plateau_v=3.8)
    return {"small": small, "large": large}


def test_fade_table_has_every_cell_and_specific_capacity_per_mass() -> None:
    cmp = compare(_cells(), masses_mg={"small": 5.0, "large": 4.0}, dqdv_cycles=[1, 5])
    df = cmp.to_dataframe()
    assert cmp.cells == ("small", "large")
    assert df.groupby("cell").size().to_dict() == {"small": 5, "large": 5}
    small = df[df.cell == "small"]
    np.testing.assert_allclose(small["capacity_retention"].iloc[-1], 0.8, rtol=2e-2)
    large = df[df.cell == "large"]
    np.testing.assert_allclose(large["specific_discharge_capacity_mah_g"], 0.9 / 4e-3)
    np.testing.assert_allclose(cmp.dqdv["large"].peak_voltage_v[::2], 3.8, atol=0.01)
    np.testing.assert_allclose(cmp.dqdv["small"].peak_voltage_v[::2], 3.9, atol=0.01)


def test_missing_cycles_are_reported_not_hidden() -> None:
    cells = _cells()
    cells["short"] = galvanostatic(2)
    cmp = compare(cells, dqdv_cycles=[1, 5])
    assert cmp.meta["missing_dqdv_cycles"] == {"short": [5]}
    assert cmp.dqdv["short"].cycle.tolist() == [1, 1]


def test_bad_cell_names_raise() -> None:
    with pytest.raises(ValidationError, match="unknown cells"):
        compare(_cells(), masses_mg={"medium": 1.0})
    with pytest.raises(ValidationError):
        compare({})


def test_real_cells_get_the_single_cell_numbers(real_data) -> None:
    from speciate.echem import capacity_per_cycle, dqdv, read
    from speciate.echem.plots import plot_comparison

    ec = real_data / "operando/perex_LNO_NiK/EC"
    cells = {
        "LiNiO2 operando": read(sorted(ec.glob("*.mpt"))),
        "jdb11 GCPL": read(
            real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
        ),
    }
    masses = {"LiNiO2 operando": 7.0}
    cmp = compare(cells, masses_mg=masses, dqdv_cycles=[1, 2])
    df = cmp.to_dataframe()
    for name, cyc in cells.items():
        alone = capacity_per_cycle(cyc, mass_mg=masses.get(name))
        mine = df[df.cell == name]
        np.testing.assert_allclose(mine["discharge_capacity_mah"], alone.discharge_capacity_mah)
        curves = dqdv(cyc, [1, 2], mass_mg=masses.get(name))
        np.testing.assert_allclose(cmp.dqdv[name].peak_voltage_v, curves.peak_voltage_v)
    lno = df[df.cell == "LiNiO2 operando"]
    # first charge of the operando LiNiO2 cell: 1.614 mAh (EC-Lab's counter), 7 mg
    assert lno["specific_charge_capacity_mah_g"].iloc[0] == pytest.approx(1.6145 / 7e-3, rel=1e-3)
    assert df[df.cell == "jdb11 GCPL"]["specific_charge_capacity_mah_g"].isna().all()
    fig = plot_comparison(cmp)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels[0] == "LiNiO2 operando cycle 1" and len(labels) == 4
