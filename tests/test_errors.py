"""One MissingExtraError for every optional dependency, printed by the CLI like any error."""

from __future__ import annotations

import sys

import pytest

from speciate.cli import main
from speciate.errors import MissingExtraError, SpeciateError, import_extra


def test_missing_extra_names_package_and_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "galvani", None)
    with pytest.raises(MissingExtraError) as info:
        import_extra("galvani", "echem", "reading cell.mpr")
    err = info.value
    assert isinstance(err, SpeciateError) and isinstance(err, ImportError)
    assert (err.package, err.extra) == ("galvani", "echem")
    assert str(err).startswith("reading cell.mpr needs the 'galvani' package")
    assert "pip install 'speciate[echem]'" in str(err)


def test_echem_reader_reports_a_missing_extra_not_a_read_error(tmp_path, monkeypatch):
    from speciate.echem._raw import require

    monkeypatch.setitem(sys.modules, "NewareNDA", None)
    with pytest.raises(MissingExtraError, match=r"speciate\[echem\]"):
        require("NewareNDA", tmp_path / "cell.ndax")


def test_cli_prints_a_missing_extra_as_one_line_and_exits_1(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.msa"
    path.write_text("#FORMAT : EMSA/MAS Spectral Data File\n")
    refs = tmp_path / "r.msa"
    refs.write_text("#FORMAT : EMSA/MAS Spectral Data File\n")
    monkeypatch.setitem(sys.modules, "rsciio.msa", None)
    code = main(["eels", str(path), "--refs", str(refs), "-o", str(tmp_path / "m.nc")])
    err = capsys.readouterr().err
    assert code == 1
    assert "speciate[eels]" in err
    assert "Traceback" not in err
