"""`speciate echem` command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from speciate.cli import main


def test_echem_command_writes_summary_and_figure(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
    out = tmp_path / "summary.csv"
    code = main(["echem", str(src), "--mass", "10", "--cycles", "1,2", "-o", str(out), "--plot"])
    assert code == 0
    table = pd.read_csv(out)
    assert table["cycle"].tolist()[:2] == [1, 2]
    assert (table["specific_discharge_capacity_mah_g"].dropna() > 0).all()
    assert (
        (table["discharge_capacity_mah"].dropna() * 100)
        .round(3)
        .equals(table["specific_discharge_capacity_mah_g"].dropna().round(3))
    )
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_echem_command_reports_bad_cycles(real_data: Path, tmp_path: Path, capsys) -> None:
    src = real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
    code = main(["echem", str(src), "--cycles", "1,x", "-o", str(tmp_path / "s.csv")])
    assert code == 1
    assert "--cycles" in capsys.readouterr().err
    code = main(["echem", str(src), "--cycles", "1,99", "-o", str(tmp_path / "s.csv"), "--plot"])
    assert code == 1


@pytest.mark.parametrize("name", ["missing.mpt"])
def test_echem_command_missing_file(tmp_path: Path, name: str) -> None:
    assert main(["echem", str(tmp_path / name), "-o", str(tmp_path / "s.csv")]) == 1
