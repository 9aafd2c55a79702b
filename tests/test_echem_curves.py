"""Voltage–capacity curves of chosen cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speciate.echem import curves, half_cycle_summary, read
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError


def test_curves_end_at_the_half_cycle_capacity() -> None:
    cyc = galvanostatic(3, charge_capacity_mah=[1.0, 0.9, 0.8], discharge_capacity_mah=0.7)
    c = curves(cyc, [1, 3], mass_mg=5.0)
    df = c.to_dataframe()
    assert sorted(df["cycle"].unique()) == [1, 3]
    last = df.groupby("half_cycle")["capacity_mah"].max()
    np.testing.assert_allclose(last.to_numpy(), [1.0, 0.7, 0.8, 0.7], rtol=1e-12)
    np.testing.assert_allclose(c.specific_capacity_mah_g, c.capacity_mah / 5e-3)
    # capacity never decreases inside a half-cycle
    for _, g in df.groupby("half_cycle"):
        assert np.all(np.diff(g["capacity_mah"].to_numpy()) >= 0)


def test_real_curve_matches_integrated_summary(real_data: Path) -> None:
    cyc = read(real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")
    hc = half_cycle_summary(cyc)
    c = curves(cyc, [2], direction="discharge")
    assert np.all(c.direction == -1)
    h = int(np.unique(c.half_cycle)[0])
    assert c.capacity_mah.max() == pytest.approx(hc.capacity_mah[h - 1], rel=1e-9)
    assert c.voltage_v[0] > c.voltage_v[-1]


def test_missing_cycle_is_named() -> None:
    with pytest.raises(ValidationError, match=r"cycle\(s\) \[9\]"):
        curves(galvanostatic(2), [1, 9])
