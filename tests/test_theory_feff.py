"""FEFF10 engine: xmu.dat parser on real FEFF output, feff.inp writer, real runs (engine mark)."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from speciate.errors import EngineError, ReadError, ValidationError
from speciate.structures import cluster, load
from speciate.theory import Cache, EngineTimeout, Recipe, compute, recipe_key
from speciate.theory.feff import (
    FULL_STAGES,
    ClusterTooLargeError,
    FeffEngine,
    FeffOptions,
    feff_input_text,
    read_xmu,
)

feff10 = pytest.importorskip("feff10")


@pytest.fixture(scope="module")
def limn2o4_cluster():
    return cluster(load("LiMn2O4"), radius=7.0)[0]


@pytest.mark.parametrize("radius", ["3.0", "4.0", "5.0", "6.0"])
def test_read_xmu_places_fermi_level_where_k_is_zero(engine_outputs, radius):
    path = engine_outputs / "feff10" / f"LiMn2O4_R{radius}" / "xmu_noscf.dat"
    spec = read_xmu(path)
    table = np.loadtxt(path)
    # the row where FEFF's k column is 0 is the Fermi level; the e column is not zero there
    k0 = np.argmin(np.abs(table[:, 2]))
    assert abs(table[k0, 2]) < 1e-6
    assert spec.e_fermi == pytest.approx(table[k0, 0], abs=1e-3)
    assert abs(table[k0, 1]) > 0.05 or radius == "6.0"
    np.testing.assert_array_equal(spec.energy, table[:, 0])
    np.testing.assert_array_equal(spec.mu, table[:, 3])
    assert spec.n_absorbers == 1
    assert spec.meta["feff_version"] == "10.0.0"


def test_read_xmu_scf_moves_the_edge_not_the_fermi_level_on_the_omega_scale(engine_outputs):
    base = engine_outputs / "feff10" / "LiMn2O4_R5.0"
    scf, nscf = read_xmu(base / "xmu.dat"), read_xmu(base / "xmu_noscf.dat")
    # FEFF anchors omega on the k = 0 point, so both Fermi levels land on one energy ...
    assert scf.e_fermi == pytest.approx(nscf.e_fermi, abs=0.01)
    # ... while the zero of the e column (the edge) moves up by about 11 eV with SCF
    shift = scf.meta["e_offset_eV"] - nscf.meta["e_offset_eV"]
    assert 8.0 < shift < 14.0


def test_read_xmu_rejects_a_file_without_fermi_header(tmp_path, engine_outputs):
    text = (engine_outputs / "feff10" / "LiMn2O4_R3.0" / "xmu_noscf.dat").read_text()
    bad = tmp_path / "xmu.dat"
    bad.write_text("\n".join(line for line in text.splitlines() if "Mu=" not in line))
    with pytest.raises(ReadError, match="Mu="):
        read_xmu(bad)
    bad.write_text(text + "  6700.0  1.0  2.0\n")
    with pytest.raises(ReadError, match="line") as info:
        read_xmu(bad)
    assert info.value.line == len(text.splitlines()) + 1


def test_feff_input_has_true_stoichiometry_and_feff_cluster_counts(limn2o4_cluster):
    text = feff_input_text(limn2o4_cluster, 3.0, 4.0, FeffOptions())
    inp = feff10.FeffInput.parse(text)
    feff10.validate(inp)
    stoich = {p.tag: p.stoich for p in inp.potentials if p.ipot > 0}
    assert stoich == {"O": 4.0, "Mn": 2.0, "Li": 1.0}
    assert inp.potentials[0].ipot == 0 and inp.potentials[0].z == 25
    dist = np.array([a.distance for a in inp.atoms])
    assert dist.max() <= 4.0 + 1e-6
    # FEFF reports 13 atoms in the FMS cluster at R = 3 Å (6 O, 6 Mn + absorber)
    assert int((dist <= 3.0).sum()) == 13
    assert [c for c in inp.other_cards if c.startswith("FMS")] == ["FMS 3 0"]
    assert "EGRID" in inp.other_cards and not any(c.startswith("SCF") for c in inp.other_cards)
    scf = feff10.FeffInput.parse(feff_input_text(limn2o4_cluster, 3.0, 4.0, FeffOptions(scf=4.5)))
    assert "SCF 4.5 0 30 0.2 1" in scf.other_cards


def test_feff_rejects_bad_radii_with_clear_messages(limn2o4_cluster):
    engine = FeffEngine()
    with pytest.raises(ValidationError, match="> 0"):
        engine.inputs(limn2o4_cluster, 0.0)
    with pytest.raises(ValidationError, match="only extends to 7"):
        engine.inputs(limn2o4_cluster, 6.8, potential="per_radius", atoms_margin=1.0)
    with pytest.raises(ClusterTooLargeError, match=r"puts 51 atoms .* limit is 20"):
        engine.inputs(limn2o4_cluster, 5.0, max_fms_atoms=20)
    with pytest.raises(ValidationError, match="exceeds the ATOMS list"):
        engine.inputs(limn2o4_cluster, 6.0, pot_radius=5.0)
    with pytest.raises(ValidationError, match="unknown FEFF option"):
        engine.inputs(limn2o4_cluster, 3.0, scff=4.5)


def test_shared_mode_recipes_share_one_potential(limn2o4_cluster):
    plan = FeffEngine().plan(limn2o4_cluster, [2.0, 3.0, 5.0, 6.0], {"max_fms_atoms": 60})
    assert isinstance(plan[6.0], ClusterTooLargeError)
    assert "83 atoms" in str(plan[6.0])
    assert len({recipe_key(plan[r].parent, "v") for r in (2.0, 3.0, 5.0)}) == 1
    parent = plan[2.0].parent
    # potential on the ATOMS list of the largest feasible radius + 1 Å margin; the FMS runs
    # change nothing but the FMS card
    assert "FMS 5 0" in parent.files["feff.inp"]
    diff = set(parent.files["feff.inp"].splitlines()) ^ set(
        plan[2.0].files["feff.inp"].splitlines()
    )
    assert {line.split()[0] for line in diff} == {"FMS", "TITLE"}
    assert plan[2.0].run_args == ("rdinp", "fms", "mkgtr", "ff2x")
    per = FeffEngine().plan(limn2o4_cluster, [2.0, 3.0], {"potential": "per_radius"})
    assert per[2.0].parent is None and per[2.0].run_args == FULL_STAGES


def test_parsed_spectrum_records_the_potential_mode_and_atoms_radius(
    limn2o4_cluster, engine_outputs, tmp_path
):
    shutil.copy(engine_outputs / "feff10" / "LiMn2O4_R3.0" / "xmu.dat", tmp_path / "xmu.dat")
    engine = FeffEngine()
    shared = engine.plan(limn2o4_cluster, [2.0, 3.0, 5.0], None)[3.0]
    per = engine.plan(limn2o4_cluster, [3.0], {"potential": "per_radius"})[3.0]
    a, b = engine.parse(shared, tmp_path).meta, engine.parse(per, tmp_path).meta
    assert (a["potential"], a["atoms_radius"], a["radius"]) == ("shared", 6.0, 3.0)
    assert (b["potential"], b["atoms_radius"], b["radius"]) == ("per_radius", 4.0, 3.0)
    assert a["corehole"] == b["corehole"] == "RPA"


@pytest.mark.engine
def test_real_feff_run_reproduces_the_stored_fixture(tmp_path, engine_outputs):
    base = engine_outputs / "feff10" / "LiMn2O4_R3.0"
    recipe = Recipe(
        "feff",
        {"feff.inp": (base / "feff_noscf.inp").read_text()},
        ("xmu.dat",),
        ("xmu.dat",),
        run_args=FULL_STAGES,
    )
    res = compute(FeffEngine(), recipe, cache=Cache.at(tmp_path))
    ref = read_xmu(base / "xmu_noscf.dat")
    assert not res.cached
    np.testing.assert_allclose(res.spectrum.energy, ref.energy, atol=1e-6)
    np.testing.assert_allclose(res.spectrum.mu, ref.mu, rtol=1e-4, atol=1e-9)
    again = compute(FeffEngine(), recipe, cache=Cache.at(tmp_path))
    assert again.cached and again.key == res.key


@pytest.mark.engine
def test_real_feff_crash_shows_the_log_tail(tmp_path):
    text = (
        "TITLE bad\nEDGE K\nS02 1.0\nCONTROL 1 1 1 1 1 1\nPRINT 0 0 0 0 0 0\nFMS 3.0 0\n"
        "XANES 4.0 0.07 0.0\nPOTENTIALS\n0 25 Mn -1 -1 0.0001\n1 8 O -1 -1 1\nATOMS\n"
        "0 0 0 0 Mn 0\n0.3 0 0 1 O 0.3\nEND\n"
    )
    recipe = Recipe("feff", {"feff.inp": text}, ("xmu.dat",), ("xmu.dat",), run_args=FULL_STAGES)
    with pytest.raises(EngineError) as info:
        compute(FeffEngine(), recipe, cache=Cache.at(tmp_path))
    assert "exited with code 1" in str(info.value)
    assert info.value.log_tail and "FEFF failed" in info.value.log_tail


@pytest.mark.engine
def test_real_feff_timeout_stops_the_run(tmp_path, limn2o4_cluster):
    recipe = FeffEngine().inputs(limn2o4_cluster, 5.0, potential="per_radius")
    start = time.perf_counter()
    with pytest.raises(EngineTimeout, match="did not finish within 1 s"):
        compute(FeffEngine(), recipe, cache=Cache.at(tmp_path), timeout=1.0)
    assert time.perf_counter() - start < 15
    assert Cache.at(tmp_path).keys("feff") == []
