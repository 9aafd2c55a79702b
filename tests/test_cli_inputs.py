"""Command-line inputs and outputs: repeatable --group, FILE:GROUP, per-input columns,
outputs refused when they are not regular files or are inputs."""

from __future__ import annotations

import os

import pandas as pd
import pytest
import xarray as xr

from speciate.cli import main
from speciate.cli._common import cli_terms, parse_sources


@pytest.fixture()
def prj(real_data):
    return real_data / "xanes" / "xraylarch" / "Mn.prj"


def _labels(path):
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return [str(x) for x in ds["label"].values]


def test_repeated_group_keeps_every_group_in_order(prj, tmp_path, capsys):
    out = tmp_path / "two.nc"
    argv = ["normalize", str(prj), "--group", "Pyrolusite", "--group", "1", "--grid", "first",
            "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert _labels(out) == ["Pyrolusite", "MnO"]


def test_file_colon_groups_pick_groups_of_that_file(prj, mn_groups, tmp_path, capsys):
    out = tmp_path / "mixed.nc"
    argv = ["normalize", f"{prj}:MnO,Mn2O3x", f"{prj}:13", "--grid", "first", "-o", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert _labels(out) == ["MnO", "Mn2O3x", "Mn3O4"]


def test_parse_sources_keeps_existing_paths_whole(tmp_path):
    odd = tmp_path / "a:b.dat"
    odd.write_text("x")
    assert parse_sources([str(odd), "p.prj:MnO,3"]) == [str(odd), ("p.prj", ["MnO", 3])]


def test_standards_from_project_groups_with_their_own_columns(prj, mn_groups, tmp_path, capsys):
    out = tmp_path / "fit.csv"
    data = mn_groups / "14_Mn3O4.dat"
    argv = ["fit", str(data), "--energy", "energy_shifted_eV", "--mu", "mu", "--sort",
            "-s", f"{prj}:MnO,Mn2O3x", "-s", str(prj), "--std-group", "Pyrolusite",
            "--std-energy", "energy", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    row = pd.read_csv(out).iloc[0]
    weights = {n: row[f"weight_{n}"] for n in ("MnO", "Mn2O3x", "Pyrolusite")}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    # Mn3O4 is Mn2+ Mn3+2: mostly Mn2O3 with about a third of MnO
    assert 0.2 < weights["MnO"] < 0.45 and weights["Mn2O3x"] > 0.4


def test_standard_column_error_names_the_std_flags(prj, mn_groups, tmp_path, capsys):
    argv = ["fit", str(mn_groups / "14_Mn3O4.dat"), "--energy", "energy_shifted_eV",
            "--mu", "mu", "--sort", "-s", f"{prj}:MnO", "-o", str(tmp_path / "f.csv")]  # fmt: skip
    assert main(argv) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "--energy energy_shifted_eV" in err and "--std-energy" in err
    assert "energy=" not in err


def test_cli_terms_spells_keywords_as_flags():
    text = "pass duplicates='mean' to average or group= (label or index); outside='nan'"
    expected = "pass --duplicates mean to average or --group (label or index); --outside nan"
    assert cli_terms(text) == expected


@pytest.mark.parametrize("kind", ["fifo", "directory", "input"])
def test_output_onto_fifo_directory_or_input_is_refused_untouched(
    kind, mn_groups, tmp_path, capsys
):
    data = tmp_path / "MnO.dat"
    data.write_bytes((mn_groups / "02_MnO.dat").read_bytes())
    before = data.read_bytes()
    if kind == "fifo":
        target = tmp_path / "pipe.nc"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path / "out.nc"
        target.mkdir()
        (target / "keep.txt").write_text("keep")
    else:
        target = data
    argv = ["normalize", str(data), "--energy", "energy_shifted_eV", "--mu", "mu", "--sort",
            "-o", str(target)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--output" in err
    if kind == "fifo":
        assert target.is_fifo()
    elif kind == "directory":
        assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert data.read_bytes() == before
    assert not list(tmp_path.glob(".*.part"))


def test_atomic_path_never_renames_onto_a_fifo(tmp_path):
    from speciate._atomic import atomic_write_text
    from speciate.errors import ValidationError

    target = tmp_path / "pipe"
    os.mkfifo(target)
    with pytest.raises(ValidationError, match="FIFO"):
        atomic_write_text(target, "x")
    assert target.is_fifo()


def test_dev_null_is_refused_as_a_device():
    from speciate._atomic import check_output_path
    from speciate.errors import ValidationError

    with pytest.raises(ValidationError, match="character device"):
        check_output_path("/dev/null")
    assert not os.path.isfile("/dev/null")
