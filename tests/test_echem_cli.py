"""`speciate echem` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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



def test_echem_missing_explicit_cycle_is_a_warning(real_data: Path, tmp_path: Path, capsys) -> None:
    src = real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
    out = tmp_path / "s.csv"
    code = main(["echem", str(src), "--cycles", "1,99", "-o", str(out), "--plot"])
    assert code == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "--cycles: cycle(s) [99] not in the record" in err
    assert out.exists() and out.with_suffix(".png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["missing.mpt"])
def test_echem_command_missing_file(tmp_path: Path, name: str) -> None:
    assert main(["echem", str(tmp_path / name), "-o", str(tmp_path / "s.csv")]) == 1


def test_echem_first_and_voltage_options_on_joined_operando_files(
    real_data: Path, tmp_path: Path, capsys
) -> None:
    files = sorted((real_data / "operando/perex_LNO_NiK/EC").glob("*.mpt"))
    out = tmp_path / "s.csv"
    argv = ["echem", *map(str, files), "--mass", "10", "--first", "discharge",
            "--voltage", "3.0:4.4", "-o", str(out), "--plot"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    by_discharge = pd.read_csv(out)
    assert main(["echem", *map(str, files), "-o", str(tmp_path / "c.csv")]) == 0
    by_charge = pd.read_csv(tmp_path / "c.csv")
    # the record opens with a charge: opening cycles with a discharge shifts the pairing
    assert len(by_discharge) == len(by_charge) + 1
    assert by_charge["discharge_capacity_mah"].iloc[0] == pytest.approx(
        by_discharge["discharge_capacity_mah"].iloc[1], rel=1e-9
    )


def test_echem_bad_first_and_voltage_are_reported_with_flags(
    real_data: Path, tmp_path: Path, capsys
) -> None:
    src = real_data / "echem/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
    assert main(["echem", str(src), "--first", "up", "-o", str(tmp_path / "s.csv")]) == 1
    assert "--first" in capsys.readouterr().err
    assert main(["echem", str(src), "--voltage", "4:3", "-o", str(tmp_path / "s.csv")]) == 1
    assert "--voltage" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_echem_columns_and_repair_read_a_plain_csv(tmp_path: Path, capsys) -> None:
    path = tmp_path / "cell.csv"
    t = np.array([0.0, 1, 3, 2, 4, 5])
    pd.DataFrame({"t [s]": t, "E [V]": 3.5 + 0.01 * t, "I [A]": np.full(6, 1e-3)}).to_csv(
        path, index=False
    )
    out = tmp_path / "s.csv"
    columns = "time_s=t [s],voltage_v=E [V],current_ma=I [A]*1000"
    assert main(["echem", str(path), "--columns", columns, "-o", str(out)]) == 1
    assert "--repair sort_time" in " ".join(capsys.readouterr().err.split())
    argv = ["echem", str(path), "--columns", columns, "--repair", "sort_time", "-o", str(out)]
    assert main(argv) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "repaired:" in err and "sorted" in err
    table = pd.read_csv(out)
    # 1 mA for 5 s
    assert table["charge_capacity_mah"].iloc[0] == pytest.approx(5 / 3600, rel=1e-6)
