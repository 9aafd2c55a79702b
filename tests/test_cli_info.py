"""`speciate info FILE` on real files."""

from __future__ import annotations

import pytest

from speciate.cli import main


def _run(capsys, *args):
    code = main(["info", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_on_athena_project_lists_groups_and_e0(capsys, real_data):
    code, out, _ = _run(capsys, real_data / "xanes" / "xraylarch" / "Mn.prj")
    assert code == 0
    assert "format: athena" in out
    assert "groups: 14, spectra: 14" in out
    assert "Li2MnO3" in out and "Mn3O4" in out
    # the foil's maximum derivative sits at its calibrated 6539.0 eV
    assert "6539.00" in out


def test_info_shows_columns_when_mu_is_not_determined(capsys, real_data):
    path = real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"
    code, out, err = _run(capsys, path)
    assert code == 0
    assert "columns: energy, Io, It, Iref, If" in out
    assert "mu" in err and "ln(i0/it)" in err


def test_info_with_expressions_reports_edge(capsys, real_data):
    path = real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"
    code, out, _ = _run(capsys, path, "--mu", "ln(io/it)", "--duplicates", "mean")
    assert code == 0
    assert "used: energy=energy, mu=ln(io/it)" in out
    assert "6556.98" in out  # MnO2 edge, as listed for this file


def test_info_on_xdi_shows_time(capsys, real_data):
    code, out, _ = _run(capsys, real_data / "xanes" / "xdi" / "fe3c_rt.xdi")
    assert code == 0
    assert "format: xdi" in out
    assert "2002-03-16" in out


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary"])
def test_info_on_bad_file_is_a_clear_error(capsys, tmp_path, content):
    path = tmp_path / "bad.dat"
    path.write_bytes(content)
    code, _, err = _run(capsys, path)
    assert code == 1
    assert "error:" in err and "bad.dat" in err
