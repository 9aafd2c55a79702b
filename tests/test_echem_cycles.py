"""speciate's own half-cycle / cycle segmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.echem import read, segment
from speciate.echem.cycles import row_charge_mah, segment_current
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError


def test_segmentation_of_synthetic_record_counts_cycles() -> None:
    seg = segment(galvanostatic(4))
    assert seg.n_half_cycles == 8
    np.testing.assert_array_equal(seg.direction, [1, -1] * 4)
    np.testing.assert_array_equal(seg.half_cycle_cycle, [1, 1, 2, 2, 3, 3, 4, 4])


def test_rests_stay_with_the_half_cycle_before_them() -> None:
    current = np.array([0, 0, 1, 1, 0, 0, -1, -1, 0, 1.0])
    seg = segment_current(current)
    # leading rests join the first half-cycle; the rest after a charge stays in that charge
    np.testing.assert_array_equal(seg.half_cycle, [1, 1, 1, 1, 1, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(seg.cycle, [1, 1, 1, 1, 1, 1, 1, 1, 1, 2])


def test_cycles_can_open_with_discharge() -> None:
    current = np.array([-1.0, -1, 1, 1, -1, 1])
    auto = segment_current(current)
    assert auto.half_cycle_cycle.tolist() == [1, 1, 2, 2]
    forced = segment_current(current, first="charge")
    assert forced.half_cycle_cycle.tolist() == [0, 1, 1, 2]
    with pytest.raises(ValidationError, match="first"):
        segment_current(current, first="oxidation")


def test_segmentation_ignores_file_counters_that_count_differently(real_data: Path) -> None:
    # EC-Lab counts half cycles from its own program loop; speciate counts current reversals
    cyc = read(real_data / "operando" / "perex_LNO_NiK" / "EC" / "220726cell4operandoxas_C06.mpt")
    seg = segment(cyc)
    assert seg.n_half_cycles == 5
    np.testing.assert_array_equal(seg.direction, [1, -1, 1, -1, 1])
    sign = np.sign(cyc.current_ma[np.abs(cyc.current_ma) > seg.rest_current_ma])
    hc = seg.half_cycle[np.abs(cyc.current_ma) > seg.rest_current_ma]
    np.testing.assert_array_equal(sign, seg.direction[hc - 1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0]), st.integers(1, 6)),
        min_size=1,
        max_size=20,
    )
)
def test_half_cycles_partition_the_charge(blocks: list[tuple[float, int]]) -> None:
    current = np.repeat([b[0] for b in blocks], [b[1] for b in blocks])
    time = np.arange(current.size, dtype=float) * 3.6
    seg = segment_current(current)
    dq = row_charge_mah(time, current)
    per_hc = np.bincount(seg.half_cycle - 1, weights=dq, minlength=seg.n_half_cycles)
    assert per_hc.sum() == pytest.approx(dq.sum())
    # every half-cycle carries charge of one sign only, and consecutive ones alternate
    active = seg.direction != 0
    assert np.all(per_hc[active] * seg.direction[active] >= -1e-12)
    assert np.all(seg.direction[1:] != seg.direction[:-1])
    assert np.all(np.diff(seg.half_cycle) >= 0)
    assert seg.starts[0] == 0 and seg.stops[-1] == current.size


def test_row_charge_rules() -> None:
    t = np.array([0.0, 3600.0, 7200.0])
    i = np.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(row_charge_mah(t, i, "left"), [0, 1, 1])
    np.testing.assert_allclose(row_charge_mah(t, i, "trapezoid"), [0, 0.5, 1])
    with pytest.raises(ValidationError):
        row_charge_mah(t, i, "simpson")
