"""The derivative-maxima example script: its table on real FDMNES output (no engine run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "derivative_maxima_sweep.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("derivative_maxima_sweep", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(path: Path) -> dict[tuple[str, float], list[str]]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 11 and cells[0] == "fdmnes":
            rows[(cells[2], float(cells[3]))] = cells
    return rows


@pytest.mark.parametrize("gaussian", ["0", "1"])
def test_example_tabulates_stored_fdmnes_runs_by_the_stated_rule(
    example, engine_outputs, tmp_path, gaussian
):
    fdm = engine_outputs / "fdmnes"
    out = tmp_path / "table.md"
    code = example.main(
        ["--modes", "", "--fdmnes-outputs", str(fdm), "--gaussian", gaussian,
         "--align-to", str(fdm / "limn2o4_r5" / "LiMn2O4_R5_conv.txt"), "--output", str(out)]
    )  # fmt: skip
    assert code == 0
    rows = _table(out)
    # every finished LiMn2O4 / Li2MnO3 run of the fixtures, nothing else (no convolution-only
    # or Energphot copies)
    assert sorted(rows) == [
        ("Li2MnO3", 3.0), ("Li2MnO3", 5.0), ("LiMn2O4", 3.0), ("LiMn2O4", 5.0), ("LiMn2O4", 6.0)
    ]  # fmt: skip
    assert rows[("LiMn2O4", 3.0)][4] == "13" and rows[("LiMn2O4", 5.0)][4] == "51"
    assert rows[("LiMn2O4", 3.0)][5] == "1"  # one maximum for the first shells alone
    assert {r[10] for r in rows.values()} == {"+0.00"}  # aligned on itself: no shift
    if gaussian == "0":
        # the documented triplet (~6544, ~6548, ~6552.5 eV), far from equal heights
        for radius in (5.0, 6.0):
            row = rows[("LiMn2O4", radius)]
            positions = [float(x) for x in row[6].split(",")]
            assert row[5] == "3" and positions[0] == pytest.approx(6544.0, abs=0.5)
            assert float(row[8]) < 0.35
    else:
        # a further 1 eV Gaussian removes the weak low member
        assert rows[("LiMn2O4", 5.0)][5] == "2" and rows[("LiMn2O4", 6.0)][5] == "2"
