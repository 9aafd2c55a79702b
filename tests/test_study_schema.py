"""The study file: schema validation with key and line, the template, `run --check`, `init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from speciate.cli import main
from speciate.study import StudyError, load_study, parse_study, template

MINIMAL = """\
[study]
title = "t"

[[spectra]]
name = "ops"
files = "spectra/*.txt"
edge = "Ni K"

[[standards]]
name = "first"
spectra = "ops"
index = 0

[[fit]]
spectra = "ops"
components = ["first"]
e_range = [-20, 60]
background = "linear"
"""


def _error(text: str) -> StudyError:
    with pytest.raises(StudyError) as info:
        parse_study(text, "study.toml")
    return info.value


def test_minimal_study_parses_and_forwards_unknown_fit_options():
    study = parse_study(MINIMAL, "study.toml")
    assert study.series_names() == ("ops",)
    assert study.fits[0]["components"] == ["first"]
    # an option the runner does not know (e.g. a new lcf keyword) is kept for forwarding
    assert study.fits[0]["background"] == "linear"
    assert study.output.name == "study-output"


def test_template_is_a_valid_study():
    study = parse_study(template("My cell"), "study.toml")
    assert study.title == "My cell"
    assert study.standards[0]["valence"] == 4


@pytest.mark.parametrize(
    ("edit", "key", "line", "words"),
    [
        (('edge = "Ni K"', 'edge = "Ni K"\ncolour = "red"'), "spectra[0].colour", 8,
         "unknown key 'colour'"),
        (('components = ["first"]', 'components = ["frist"]'), "fit[0].components", 16,
         "no standard named 'frist'"),
        (("e_range = [-20, 60]", "e_range = [-20]"), "fit[0].e_range", 17, "expected 2 numbers"),
        (("index = 0", "index = 0.5"), "standards[0].index", 12, "spectrum index"),
        (('spectra = "ops"\nindex', 'spectra = "opz"\nindex'), "standards[0].spectra", 11,
         "no series named 'opz'"),
        (('[study]\ntitle = "t"', '[study]\ntitle = "t"\n[cycler]\nfiles = "x"'), "cycler", 3,
         "unknown table 'cycler'"),
    ],
)  # fmt: skip
def test_errors_name_the_key_and_the_line(edit, key, line, words):
    err = _error(MINIMAL.replace(*edit))
    assert err.key == key
    assert err.line == line
    assert words in str(err)
    assert f"study.toml, line {line}: [{key}]" in str(err)


def test_toml_syntax_error_gives_the_line():
    err = _error(MINIMAL.replace('title = "t"', "title = "))
    assert err.line == 2
    assert "not valid TOML" in str(err)


def test_a_study_needs_spectra():
    err = _error('[study]\ntitle = "x"\n')
    assert err.key == "spectra"
    assert "at least one [[spectra]]" in str(err)


def test_second_array_entry_gets_its_own_line():
    text = MINIMAL + '\n[[spectra]]\nname = "two"\nfiles = 3\n'
    err = _error(text)
    assert err.key == "spectra[1].files"
    assert err.line == MINIMAL.count("\n") + 4


def test_run_check_validates_without_running(tmp_path: Path, capsys):
    path = tmp_path / "study.toml"
    path.write_text(MINIMAL)
    assert main(["run", "--check", str(path)]) == 0
    assert "valid" in capsys.readouterr().out
    assert not (tmp_path / "study-output").exists()
    path.write_text(MINIMAL.replace("index = 0", "index = 'a'"))
    assert main(["run", "--check", str(path)]) == 1
    assert "standards[0].index" in capsys.readouterr().err


def test_init_writes_a_template_and_refuses_to_overwrite(tmp_path: Path, capsys):
    path = tmp_path / "study.toml"
    assert main(["init", str(path), "--title", "Cell 7"]) == 0
    assert load_study(path).title == "Cell 7"
    assert main(["init", str(path)]) == 1
    assert "exists" in capsys.readouterr().err
