"""A study whose theory stage runs FEFF10 through the sweep: engine runs are counted,
and neither an edited fit option nor a forced theory stage starts the engine again."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from speciate.study import run_study

pytestmark = pytest.mark.engine

STANDARDS = Path(str(resources.files("speciate") / "data" / "mn_standards"))

STUDY = """\
[study]
title = "engine check"
output = "out"

[[spectra]]
name = "Li2MnO3"
files = "{li2mno3}"
edge = "Mn K"
reader = {{ energy = "energy_shifted_eV", mu = "mu" }}
state_of_charge = "none"

[[standards]]
name = "MnO"
file = "{mno}"
reader = {{ energy = "energy_shifted_eV", mu = "mu" }}

[theory]
phases = ["LiMn2O4"]
radii = [2.0]
engine = "feff"
cache_dir = "engine-cache"
normalize = {{ post = [40, 60] }}
broadening = {{ fwhm = 1.0 }}
shift = 10.65

[[fit]]
name = "scan"
spectra = "Li2MnO3"
components = ["MnO"]
scan = {{ candidates = ["LiMn2O4"] }}
e_range = [-12, 40]
"""


def test_engine_runs_once_and_never_again_for_downstream_edits(tmp_path: Path):
    pytest.importorskip("feff10", reason="FEFF10 (feff10-rs) not installed")
    path = tmp_path / "study.toml"
    path.write_text(
        STUDY.format(li2mno3=STANDARDS / "05_Li2MnO3.dat", mno=STANDARDS / "02_MnO.dat")
    )
    first = run_study(path)
    assert first.failed == ()
    theory = next(r for r in first.records if r.name == "theory")
    assert theory.status == "ran"
    assert first.engine_runs == theory.engine_runs >= 1  # the potential and R = 2 Å

    path.write_text(path.read_text().replace("e_range = [-12, 40]", "e_range = [-10, 35]"))
    edited = run_study(path)
    assert set(edited.ran) == {"fit:scan", "report"}
    assert edited.engine_runs == 0

    forced = run_study(path, force=("theory",))
    assert "theory" in forced.ran
    assert forced.engine_runs == 0  # the engine's own cache answers
