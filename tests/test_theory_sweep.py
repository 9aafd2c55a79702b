"""Sweeps: site merging, failures, cache and resume (fake engine with known truth), real FEFF."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.cli import main as cli_main
from speciate.io import read
from speciate.structures import cluster, load
from speciate.theory import (
    Cache,
    Recipe,
    TheorySpectrum,
    default_cache_dir,
    normalize,
    recipe_key,
    sweep,
)
from speciate.theory.base import plan_each, write_files
from speciate.theory.runner import run_command

SCRIPT = """\
import json, os, pathlib, sys, time
import numpy as np
cfg = json.loads(pathlib.Path("input.json").read_text())
with open(cfg["counter"], "a") as fh:
    fh.write(f"{cfg['radius']} {cfg['site']}\\n")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))  # outside the inputs: same cache key
if cfg["fail"]:
    print("fake engine: SCF diverged at R =", cfg["radius"])
    sys.exit(3)
# site Mn2's grid is offset by 0.02 eV, as FEFF grids of two sites are (different E_F)
e = np.linspace(6530.0, 6620.0, 181) + (0.02 if cfg["site"] == "Mn2" else 0.0)
mu = cfg["n_atoms"] * 0.5 * (1.0 + np.tanh((e - 6545.0) / 2.0))
np.savetxt("out.dat", np.column_stack([e, mu]))
"""


@dataclass(frozen=True)
class FakeEngine:
    """An engine whose spectrum height is the number of atoms within the radius."""

    script: str
    counter: str
    fail_radii: tuple[float, ...] = ()
    name: str = "fake"

    def version(self) -> str:
        return "fake 1.0"

    def inputs(self, cluster: Any, radius: float, **options: Any) -> Recipe:
        n = int((np.asarray(cluster.distances) <= radius + 1e-6).sum())
        cfg = {
            "radius": radius,
            "site": cluster.site,
            "n_atoms": n,
            "counter": self.counter,
            "fail": radius in self.fail_radii,
        }
        return Recipe("fake", {"input.json": json.dumps(cfg)}, ("out.dat",), ("out.dat",))

    def write(self, recipe: Recipe, work_dir: Path) -> tuple[Path, ...]:
        return write_files(recipe, work_dir)

    def build_radius(self, radii, options) -> float:
        return max(radii) + 1.0

    def plan(self, cluster: Any, radii, options) -> dict:
        return plan_each(self, cluster, radii, options)

    def run(self, recipe: Recipe, work_dir: Path, timeout: float | None) -> Any:
        return run_command(
            [sys.executable, self.script], work_dir, timeout=timeout, expected=recipe.expected
        )

    def parse(self, recipe: Recipe, work_dir: Path) -> TheorySpectrum:
        data = np.loadtxt(Path(work_dir) / "out.dat")
        return TheorySpectrum(data[:, 0], data[:, 1], 6545.0, "fake")


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_engine.py"
    script.write_text(SCRIPT)
    return FakeEngine(str(script), str(tmp_path / "runs.txt"))


def _runs(engine: FakeEngine) -> list[str]:
    path = Path(engine.counter)
    return path.read_text().splitlines() if path.exists() else []


def test_sites_are_merged_by_multiplicity(fake, tmp_path):
    res = sweep("Mn3O4", [3.0, 4.0], engine=fake, cache_dir=tmp_path / "c", progress=False)
    truth = {c.site: c for c in cluster(load("Mn3O4"), radius=5.0)}
    assert res.failures == ()
    assert res.sites.n_spectra == 4 and res.series.n_spectra == 2
    for i, r in enumerate(res.series.coords["radius"]):
        n = {s: int((c.distances <= r + 1e-6).sum()) for s, c in truth.items()}
        m = {s: c.multiplicity for s, c in truth.items()}
        expected = sum(m[s] * n[s] for s in n) / sum(m.values())
        assert res.series.mu[i, -1] == pytest.approx(expected, rel=1e-6)
        assert res.series.coords["n_sites"][i] == 2
    assert sorted(set(res.sites.coords["site"])) == sorted(truth)
    assert list(res.series.coords["phase"]) == ["Mn3O4", "Mn3O4"]
    assert set(res.series.coords["engine"]) == {"fake"}
    assert "atoms_radius" not in res.series.coords  # only engines that record it
    # the two sites' grids differ by 0.02 eV: the common grid lies inside both
    assert res.series.energy[0] >= 6530.02 and res.series.energy[-1] <= 6620.0


def test_failures_are_recorded_and_the_others_go_on(fake, tmp_path):
    engine = FakeEngine(fake.script, fake.counter, fail_radii=(4.0,))
    res = sweep(
        ["LiMn2O4", "LiCoO2", "NoSuchPhase"],
        [3.0, 4.0, -1.0],
        engine=engine,
        cache_dir=tmp_path / "c",
        progress=False,
    )
    by_point = {(f.phase, f.radius): f for f in res.failures}
    assert "diverged at R = 4.0" in by_point[("LiMn2O4", 4.0)].log_tail
    assert "exited with code 3" in by_point[("LiMn2O4", 4.0)].error
    assert "radius must be > 0" in by_point[("LiMn2O4", -1.0)].error
    assert "Mn" in by_point[("LiCoO2", 3.0)].error  # no absorber in the structure
    assert "StructureError" in by_point[("NoSuchPhase", 3.0)].error
    assert list(res.series.labels) == ["LiMn2O4 R=3"]


def test_a_resumed_sweep_recomputes_nothing_finished(fake, tmp_path):
    cache_dir = tmp_path / "c"
    first = sweep("LiMn2O4", [2.0, 3.0, 4.0], engine=fake, cache_dir=cache_dir, progress=False)
    assert first.stats["computed"] == 3 and len(_runs(fake)) == 3
    again = sweep("LiMn2O4", [2.0, 3.0, 4.0], engine=fake, cache_dir=cache_dir, progress=False)
    assert again.stats["cached"] == 3 and len(_runs(fake)) == 3
    np.testing.assert_array_equal(again.series.mu, first.series.mu)
    # as if the sweep had been killed before its last job finished: a half-written
    # entry does not count, a missing one is the only job rerun
    cache = Cache.at(cache_dir)
    killed = cache.entry("fake", first.spectra[-1].key)
    shutil.rmtree(killed)
    (killed.parent / f".{first.spectra[-1].key}.dead.part").mkdir()
    resumed = sweep("LiMn2O4", [2.0, 3.0, 4.0], engine=fake, cache_dir=cache_dir, progress=False)
    assert resumed.stats["computed"] == 1 and len(_runs(fake)) == 4
    assert _runs(fake)[-1].startswith("4.0")


DRIVER = """\
import sys
sys.path.insert(0, {tests!r})
from test_theory_sweep import FakeEngine
from speciate.theory import sweep
sweep("LiMn2O4", {radii!r}, engine=FakeEngine({script!r}, {counter!r}), cache_dir={cache!r},
      scheduler="sync", progress=False)
"""


def test_a_killed_sweep_resumes_keeping_every_finished_job(fake, tmp_path):
    radii = [2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    cache_dir = tmp_path / "c"
    driver = tmp_path / "driver.py"
    driver.write_text(
        DRIVER.format(tests=str(Path(__file__).parent), radii=radii, script=fake.script,
                      counter=fake.counter, cache=str(cache_dir))
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, str(driver)], env={**os.environ, "FAKE_SLEEP": "0.5"},
        start_new_session=True,
    )  # fmt: skip
    cache = Cache.at(cache_dir)
    deadline = time.monotonic() + 120
    while len(cache.keys("fake")) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up: as when the machine or job dies
    proc.wait()
    finished = set(cache.keys("fake"))
    assert 2 <= len(finished) < len(radii)
    resumed = sweep("LiMn2O4", radii, engine=fake, cache_dir=cache_dir, progress=False)
    assert resumed.failures == () and resumed.series.n_spectra == len(radii)
    assert {s.key for s in resumed.spectra if s.cached} == finished  # none lost
    assert resumed.stats["computed"] == len(radii) - len(finished)
    # none recomputed: every finished radius ran exactly once (the run cut by the kill may
    # have started twice)
    runs = Counter(float(line.split()[0]) for line in _runs(fake))
    assert all(runs[s.radius] == 1 for s in resumed.spectra if s.cached)
    assert all(runs[s.radius] >= 1 for s in resumed.spectra if not s.cached)


def test_default_cache_dir_is_the_user_cache_dir_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("SPECIATE_CACHE", raising=False)
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("speciate"))
    monkeypatch.setenv("SPECIATE_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    # an explicit directory wins over the environment variable
    assert Cache.at(tmp_path / "given").root == tmp_path / "given"


def test_cache_dir_defaults_to_the_environment_variable(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SPECIATE_CACHE", str(tmp_path / "env-cache"))
    res = sweep("MnO", [3.0], engine=fake, progress=False)
    assert res.provenance["cache_dir"] == str(tmp_path / "env-cache")
    assert len(Cache.at().keys("fake")) == 1


def test_process_scheduler_and_distributed_client_give_the_same_series(fake, tmp_path):
    distributed = pytest.importorskip("distributed")
    threads = sweep("MnO", [2.5, 3.5], engine=fake, cache_dir=tmp_path / "a", progress=False)
    procs = sweep(
        "MnO", [2.5, 3.5], engine=fake, cache_dir=tmp_path / "b", scheduler="processes",
        n_workers=2, progress=False,
    )  # fmt: skip
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        dist = sweep(
            "MnO", [2.5, 3.5], engine=fake, cache_dir=tmp_path / "d", client=client, progress=False
        )
    for other in (procs, dist):
        assert other.stats["computed"] == 2
        np.testing.assert_array_equal(other.series.mu, threads.series.mu)


@settings(max_examples=30, deadline=None)
@given(
    a=st.text(alphabet="abcXYZ019 .\n", max_size=40),
    b=st.text(alphabet="abcXYZ019 .\n", max_size=40),
)
def test_recipe_key_changes_exactly_when_the_inputs_change(a, b):
    ra = Recipe("feff", {"feff.inp": a}, ("xmu.dat",), ("xmu.dat",))
    rb = Recipe("feff", {"feff.inp": b}, ("xmu.dat",), ("xmu.dat",))
    assert (recipe_key(ra, "1") == recipe_key(rb, "1")) == (a == b)
    assert recipe_key(ra, "1") != recipe_key(ra, "2")
    child = Recipe("feff", {"feff.inp": "x"}, ("xmu.dat",), ("xmu.dat",), parent=ra)
    assert recipe_key(child, "1") != recipe_key(
        Recipe("feff", {"feff.inp": "x"}, ("xmu.dat",), ("xmu.dat",), parent=rb), "1"
    ) or (a == b)


@pytest.fixture(scope="module")
def feff_sweep(tmp_path_factory):
    pytest.importorskip("feff10")
    cache_dir = tmp_path_factory.mktemp("feff-cache")
    return cache_dir, sweep(
        "LiMn2O4", [2.0, 3.0], engine="feff", cache_dir=cache_dir, progress=False
    )


@pytest.mark.engine
def test_real_feff_sweep_of_limn2o4_at_2_and_3_angstrom(feff_sweep):
    _, res = feff_sweep
    assert res.failures == ()
    assert list(res.series.coords["radius"]) == [2.0, 3.0]
    assert set(res.series.coords["potential"]) == {"shared"}
    # the shared potential's ATOMS list: largest radius + the 1 Å margin
    np.testing.assert_array_equal(res.series.coords["atoms_radius"], [4.0, 4.0])
    assert res.spectra[0].spectrum.meta["potential"] == "shared"
    # one shared potential: both radii share its Fermi level
    assert res.series.coords["e_fermi"][0] == pytest.approx(res.series.coords["e_fermi"][1])
    assert res.spectra[0].spectrum.energy.size == 223  # the fine EGRID
    norm = normalize(res.series)
    post = (norm.energy >= norm.e0[:, None] + 40) & (norm.energy <= norm.e0[:, None] + 70)
    np.testing.assert_allclose((norm.norm * post).sum(1) / post.sum(1), 1.0)
    # the first shell alone (R = 2 Å, MnO6) and with the Mn/O shells differ clearly
    assert np.abs(norm.norm[0] - norm.norm[1]).max() > 0.05


@pytest.mark.engine
def test_cli_theory_writes_netcdf_from_the_cache(feff_sweep, tmp_path, capsys):
    cache_dir, res = feff_sweep
    out = tmp_path / "theory.nc"
    code = cli_main(
        ["theory", "--phase", "LiMn2O4", "--radii", "2,3", "--engine", "feff", "-o", str(out),
         "--cache-dir", str(cache_dir), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert "2 from cache" in capsys.readouterr().out
    back = read(out)
    np.testing.assert_allclose(back.mu, res.series.mu)
    assert list(back.coords["phase"]) == ["LiMn2O4", "LiMn2O4"]


def test_cli_theory_reports_bad_input(capsys):
    assert cli_main(["theory", "--phase", "LiMn2O4", "--radii", "2,x", "-o", "x.nc"]) == 1
    assert "--radii expects comma-separated numbers" in capsys.readouterr().err
