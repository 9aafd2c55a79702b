"""Figures: panels, axis units and skipped cycles."""

from __future__ import annotations

import pytest

from speciate.echem.compare import compare
from speciate.echem.plots import figure1, plot_comparison
from speciate.echem.synthetic import galvanostatic
from speciate.errors import ValidationError


def test_figure1_panels_units_and_skipped_cycles() -> None:
    cyc = galvanostatic(3)
    fig = figure1(cyc, mass_mg=2.0, cycles=(1, 2, 50), dqdv_cycles=(1, 3))
    a, b, c = fig.axes[:3]
    assert a.get_ylabel() == "capacity (mAh/g)"
    assert b.get_xlabel() == "capacity (mAh/g)" and b.get_ylabel() == "voltage (V)"
    assert c.get_ylabel() == "dQ/dV (mAh/g/V)"
    assert len(b.get_lines()) == 4  # two half-cycles for each of cycles 1 and 2
    assert "50" in fig._suptitle.get_text()
    with pytest.raises(ValidationError, match="50"):
        figure1(cyc, cycles=(1, 50), strict=True)


def test_comparison_overlay_draws_each_cell() -> None:
    cells = {"small": galvanostatic(2), "large": galvanostatic(2, plateau_v=3.7)}
    fig = plot_comparison(compare(cells, dqdv_cycles=[1]))
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == ["small cycle 1", "large cycle 1"]
    assert fig.axes[0].get_ylabel() == "capacity (mAh)"
