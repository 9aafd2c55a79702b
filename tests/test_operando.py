"""`speciate.operando` and `speciate sync` on a real operando series: SOLEIL Ni K spectra
of a LiNiO2 cell and its EC-Lab records (perex example data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speciate.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def operando(real_data):
    return real_data / "operando" / "perex_LNO_NiK"


@pytest.fixture(scope="module")
def index(operando):
    return pd.read_csv(operando / "operando_index.csv")


@pytest.fixture(scope="module")
def result(operando):
    import speciate.io as sio
    from speciate.echem import read
    from speciate.operando import operando_table

    series = sio.read_many(operando / "XAS_normalized")
    cycling = read(sorted((operando / "EC").glob("*.mpt")))
    return operando_table(series, cycling, mass_mg=10.0, formula="LiNiO2")


def test_rows_match_the_cells_own_voltage_and_edge(result, index):
    table = result.to_dataframe()
    assert list(table["label"]) == [f.removesuffix(".txt") for f in index["file"]]
    # the index was built independently: cycler time from the header clock, voltage by
    # interpolation, edge at the maximum derivative on the 0.2 eV grid
    np.testing.assert_allclose(table["cycler_time_s"], index["ec_elapsed_s"], atol=1.0)
    np.testing.assert_allclose(table["voltage_v"], index["Ewe_V_interp"], atol=2e-3)
    np.testing.assert_allclose(table["e0_ev"], index["E_maxderiv_normalized_eV"], atol=0.25)


def test_edge_moves_up_with_charge_and_li_leaves(result):
    table = result.to_dataframe()
    charge = table[table["direction"] == 1]
    assert charge["voltage_v"].is_monotonic_increasing
    # Ni oxidises on delithiation: E0 rises by about 3.5 eV over the first charge
    assert 3.0 < charge["e0_ev"].iloc[-1] - charge["e0_ev"].iloc[0] < 4.0
    assert np.corrcoef(charge["voltage_v"], charge["e0_ev"])[0, 1] > 0.9
    assert charge["x_li"].is_monotonic_decreasing
    assert charge["x_li"].iloc[0] == pytest.approx(1.0, abs=0.01)
    assert (table["state_of_charge"].between(0, 1)).all()


def test_plot_labels_every_axis_with_units(result):
    from speciate.operando import plot_operando

    fig = plot_operando(result)
    axes = [ax for ax in fig.axes if ax.get_ylabel()]
    assert len(axes) >= 2
    for ax in axes:
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()
        assert ax.get_title(loc="left")


def test_sync_command_writes_table_and_figure(operando, index, tmp_path, capsys):
    out = tmp_path / "table.csv"
    mpt = sorted((operando / "EC").glob("*.mpt"))
    argv = ["sync", str(operando / "XAS_normalized"), "--cycler", str(mpt[0]),
            "--cycler", str(mpt[1]), "-o", str(out), "--plot"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert len(table) == len(index)
    for column in ("time", "voltage_v", "capacity_mah", "state_of_charge", "e0_ev", "e_half_ev"):
        assert column in table
    assert table["inside_record"].all()
    np.testing.assert_allclose(table["voltage_v"], index["Ewe_V_interp"], atol=2e-3)
    assert out.with_suffix(".png").read_bytes()[:8] == PNG
    assert "wrote 21 rows" in capsys.readouterr().out


def test_sync_with_standards_adds_weights(operando, tmp_path, capsys):
    out = tmp_path / "table.csv"
    files = sorted((operando / "XAS_normalized").glob("*.txt"))
    mpt = sorted((operando / "EC").glob("*.mpt"))
    # the first (pristine) and the most charged spectra as end-members
    argv = ["sync", *map(str, files), "-c", str(mpt[0]), "-c", str(mpt[1]),
            "-s", str(files[0]), "-s", str(files[-3]), "-o", str(out), "--plot"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    first, last = files[0].stem, files[-3].stem
    assert table[f"weight_{first}"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert table[f"weight_{last}"].iloc[-3] == pytest.approx(1.0, abs=1e-6)
    charge = table[table["direction"] == 1]
    assert np.corrcoef(charge["voltage_v"], charge[f"weight_{last}"])[0, 1] > 0.9


def test_sync_offset_outside_record_is_a_warning(operando, tmp_path, capsys):
    out = tmp_path / "table.csv"
    mpt = sorted((operando / "EC").glob("*.mpt"))
    argv = ["sync", str(operando / "XAS_normalized"), "-c", str(mpt[0]), "-c", str(mpt[1]),
            "--offset", "-3000", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "fall outside the cycling record" in err and "--offset" in err
    table = pd.read_csv(out)
    assert not table["inside_record"].iloc[0] and np.isnan(table["voltage_v"].iloc[0])


def test_sync_refuses_to_write_over_a_cycler_file(operando, tmp_path, capsys):
    mpt = tmp_path / "cell.mpt"
    mpt.write_bytes((operando / "EC" / "220726cell4operandoxas_C06.mpt").read_bytes())
    before = mpt.stat().st_mtime_ns, mpt.stat().st_size
    argv = ["sync", str(operando / "XAS_normalized"), "-c", str(mpt), "-o", str(mpt)]
    assert main(argv) == 2
    assert "is an input file" in capsys.readouterr().err
    assert (mpt.stat().st_mtime_ns, mpt.stat().st_size) == before
