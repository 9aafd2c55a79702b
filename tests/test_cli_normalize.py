"""`speciate normalize INPUTS... -o out.nc [--plot out.png]`."""

from __future__ import annotations

import numpy as np
import pytest

import speciate.io as sio
from speciate.cli import main
from speciate.cli.normalize import parse_range
from speciate.errors import ValidationError


def test_normalize_operando_folder_writes_series_and_plot(capsys, real_data, tmp_path):
    folder = real_data / "operando" / "perex_LNO_NiK" / "XAS_normalized"
    out, png = tmp_path / "op2.nc", tmp_path / "op2.png"
    code = main(["normalize", str(folder), "-o", str(out), "--plot", str(png)])
    assert code == 0, capsys.readouterr().err
    s = sio.read(out)
    assert s.n_spectra == 21
    assert s.time is not None and np.all(np.diff(s.time) > np.timedelta64(0, "s"))
    # the edge moves up during charge, as the index of this series says (8349.6 -> 8353.2)
    assert s.coords["e0"][0] == pytest.approx(8349.6, abs=0.5)
    assert s.coords["e0"][-1] == pytest.approx(8353.2, abs=0.5)
    # already-normalized input keeps an edge step near 1 and a post-edge near 1
    np.testing.assert_allclose(s.coords["edge_step"], 1.0, atol=0.05)
    assert s.meta["normalization"]["kind"] == "norm"
    assert len(s.meta["sources"]) == 21
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote 21 norm spectra" in capsys.readouterr().out


def test_normalize_project_needs_grid_and_then_orders_mn_valences(capsys, real_data, tmp_path):
    prj = real_data / "xanes" / "xraylarch" / "Mn.prj"
    out = tmp_path / "mn.nc"
    code = main(["normalize", str(prj), "-o", str(out)])
    assert code == 1
    assert "different energy grid" in capsys.readouterr().err
    assert not out.exists()
    code = main(["normalize", str(prj), "--grid", "union", "-o", str(out), "--pre=-150,-30"])
    assert code == 0
    s = sio.read(out)
    e0 = dict(zip(s.labels, s.coords["e0"]))
    assert e0["Mn foil"] < e0["MnO"] < e0["Mn2O3x"] < e0["Li2MnO3"]


def test_normalize_with_expressions_on_raw_beamline_file(capsys, real_data, tmp_path):
    path = real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"
    out = tmp_path / "mno2.nc"
    args = ["normalize", str(path), "-o", str(out), "--mu", "ln(io/it)"]
    code = main([*args, "--duplicates", "mean", "--kind", "flat"])
    assert code == 0, capsys.readouterr().err
    s = sio.read(out)
    assert s.coords["e0"][0] == pytest.approx(6557.0, abs=1.0)
    assert s.meta["expressions"]["mu"] == "ln(io/it)"
    assert s.meta["normalization"]["kind"] == "flat"
    post = s.mu[0, s.energy > s.coords["e0"][0] + 150]
    assert np.mean(post) == pytest.approx(1.0, abs=0.05)


def test_parse_range_accepts_open_end_and_rejects_junk():
    assert parse_range("-200,-30", "--pre") == (-200.0, -30.0)
    assert parse_range("50,", "--post") == (50.0, None)
    with pytest.raises(ValidationError, match="--pre"):
        parse_range("-200", "--pre")
    with pytest.raises(ValidationError, match="--post"):
        parse_range("a,b", "--post")


def test_foil_alignment_moves_the_aps_reference_to_6539(capsys, real_data, tmp_path):
    path = real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"
    out = tmp_path / "aligned.nc"
    args = ["normalize", str(path), "-o", str(out), "--mu", "ln(io/it)"]
    args += ["--reference", "ln(it/iref)", "--duplicates", "mean", "--foil-e0", "6539.0"]
    assert main(args) == 0, capsys.readouterr().err
    s = sio.read(out)
    # the foil's derivative maximum sits ~1.4 eV below the tabulated 6539.0 eV
    assert s.coords["energy_shift"][0] == pytest.approx(1.39, abs=0.15)
    assert s.coords["e0"][0] == pytest.approx(6556.98 + 1.39, abs=0.5)
    assert "shift (eV)" in capsys.readouterr().out


def test_cli_defaults_are_the_adaptive_library_defaults(real_data, tmp_path, capsys):
    # published-style XANES: already normalized and cut to -25..+75 eV around the edge
    src = sorted((real_data / "operando" / "perex_LNO_NiK" / "XAS_normalized").glob("*.txt"))
    short = []
    for k, path in enumerate(src[:3]):
        rows = np.loadtxt(path, comments="#")
        keep = (rows[:, 0] >= 8325.0) & (rows[:, 0] <= 8425.0)
        out = tmp_path / f"short_{k}.dat"
        np.savetxt(out, rows[keep][:, :2], header="energy mu")
        short.append(str(out))
    nc = tmp_path / "short.nc"
    code = main(["normalize", *short, "-o", str(nc), "--shared-e0"])
    assert code == 0, capsys.readouterr().err
    s = sio.read(nc)
    np.testing.assert_allclose(s.coords["edge_step"], 1.0, atol=0.10)
    assert np.ptp(s.coords["e0"]) == 0.0
