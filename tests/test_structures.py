"""Tests for speciate.structures: loading CIFs and cutting absorber-centred clusters."""

from __future__ import annotations

import dataclasses
import itertools
import re
import warnings

import gemmi
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Lattice
from pymatgen.core import Structure as PmgStructure

from speciate.errors import StructureError
from speciate.structures import (
    BOUNDARY_TOL,
    Cluster,
    Structure,
    available,
    bundled_path,
    cluster,
    load,
)

ISSUE_NAMES = (
    "LiMn2O4",
    "Li2MnO3",
    "NMC111",
    "Mn3O4",
    "MnO",
    "Mn2O3",
    "MnO2",
    "Li4Mn5O12",
    "LiCoO2",
)


@pytest.fixture(scope="module")
def limn2o4() -> Structure:
    return load("LiMn2O4")


@pytest.fixture(scope="module")
def structures_dir(real_data):
    return real_data / "structures"


def _fdmnes_atom_counts(bav_path) -> dict[float, int]:
    """Absorption-cluster radius -> atom count, from an FDMNES `_bav.txt` log."""
    text = bav_path.read_text(errors="replace")
    pattern = (
        r"(?:Absorption calculation\s*:\s*cluster|^\s*Cluster) radius =\s*([\d.]+) A, "
        r"nb\. of atom =\s*(\d+)"
    )
    return {float(r): int(n) for r, n in re.findall(pattern, text, flags=re.M)}


def _natomsym(raw_txt) -> int:
    """Equivalent absorbers per cell, column 14 of the FDMNES raw-output header."""
    numbers = raw_txt.read_text().splitlines()[0].split("=")[0].split()
    return round(float(numbers[13]))


def _brute_force_count(pmg: PmgStructure, centre_index: int, radius: float) -> int:
    """Atoms within ``radius`` of one site, by enumerating lattice translations."""
    lat = pmg.lattice.matrix
    reach = [int(np.ceil(radius / np.linalg.norm(v) * 2)) + 1 for v in lat]
    shifts = np.array(list(itertools.product(*(range(-n, n + 1) for n in reach))), dtype=float)
    frac = pmg.frac_coords[None, :, :] + shifts[:, None, :]
    cart = frac.reshape(-1, 3) @ lat
    d = np.linalg.norm(cart - pmg[centre_index].coords, axis=1)
    return int((d <= radius + BOUNDARY_TOL).sum())


# ----------------------------------------------------------------------------- loading


def test_available_lists_every_phase_named_in_the_issue():
    names = available()
    assert set(ISSUE_NAMES) <= set(names)
    assert "Li4Mn5O12" not in available(ordered_only=True)
    assert "NMC111" in available(ordered_only=True)


@pytest.mark.parametrize("name", [n for n in ISSUE_NAMES if n != "Li4Mn5O12"])
def test_bundled_phase_has_the_space_group_its_cif_states(name):
    block = gemmi.cif.read(str(bundled_path(name))).sole_block()
    stated = gemmi.cif.as_int(block.find_value("_space_group_IT_number"))
    structure = load(name)
    assert structure.spacegroup_number == stated
    assert structure.phase == name


def test_bundled_cifs_are_the_shared_reference_files(structures_dir):
    for name in available():
        ours = bundled_path(name)
        assert ours.read_bytes() == (structures_dir / ours.name).read_bytes()


def test_load_gives_stoichiometry_and_cell_of_limn2o4(limn2o4):
    assert limn2o4.n_atoms == 56
    assert dict(limn2o4.composition) == {"Li": 1.0, "Mn": 2.0, "O": 4.0}
    assert limn2o4.lattice[0] == pytest.approx(8.2449)
    assert limn2o4.wyckoff["Mn1"] == "16d"


def test_structure_is_frozen_and_hands_out_copies(limn2o4):
    with pytest.raises(dataclasses.FrozenInstanceError):
        limn2o4.phase = "other"  # type: ignore[misc]
    copy = limn2o4.to_pymatgen()
    copy.remove_species(["Li"])
    assert limn2o4.to_pymatgen().composition["Li"] == 8


@pytest.mark.parametrize(
    ("name", "hint"),
    [("Li4Mn5O12", "no ordered Li4Mn5O12"), ("NMC111-disordered", "load('NMC111')")],
)
def test_partially_occupied_cell_is_refused_with_a_pointer(name, hint):
    with pytest.raises(StructureError, match="partially occupied") as info:
        load(name)
    assert hint in str(info.value)
    assert "OrderDisorderedStructureTransformation" in str(info.value)


def test_caller_ordered_structure_is_accepted(structures_dir):
    disordered = PmgStructure.from_file(structures_dir / "LiNi1-3Mn1-3Co1-3O2_NMC111_R-3m.cif")
    ordered = disordered.copy()
    for i, site in enumerate(disordered):
        if not site.is_ordered:
            ordered.replace(i, "Mn")
    structure = load(ordered, phase="LiMnO2-model")
    assert structure.phase == "LiMnO2-model"
    (only,) = cluster(structure, radius=3.0)
    assert only.shells()[0].element == "O"
    assert only.shells()[0].count == 6


def test_cif_without_symmetry_operations_loads_to_the_full_spinel_cell(structures_dir):
    structure = load(structures_dir / "LiMn2O4_atomInfer.cif")
    assert structure.n_atoms == 56
    assert structure.spacegroup_number == 227
    assert any("no symmetry operations" in note for note in structure.notes)
    counts = [cluster(structure, radius=r)[0].n_atoms for r in (3.0, 5.0, 6.0)]
    assert counts == [13, 51, 83]


def test_cell_expanded_in_the_wrong_origin_is_rejected(structures_dir):
    # gemmi reads this CIF in origin choice 2 and expands it to 32 overlapping sites.
    small = gemmi.read_small_structure(str(structures_dir / "LiMn2O4_atomInfer.cif"))
    sites = small.get_all_unit_cell_sites()
    assert len(sites) == 32
    cell = small.cell
    wrong = PmgStructure(
        Lattice.from_parameters(cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma),
        [s.label for s in sites],
        [[s.fract.x, s.fract.y, s.fract.z] for s in sites],
    )
    with pytest.raises(StructureError, match="Å apart"):
        load(wrong)


def test_origin_two_coordinates_without_symmetry_operations_are_rejected(structures_dir, tmp_path):
    text = (structures_dir / "LiMn2O4_atomInfer.cif").read_text()
    for old, new in (
        ("Li 0.00000 0.00000 0.00000", "Li 0.125 0.125 0.125"),
        ("Mn 0.62500 0.62500 0.62500", "Mn 0.5 0.5 0.5"),
        ("O 0.38600 0.38600 0.38600", "O 0.2624 0.2624 0.2624"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "origin2_no_ops.cif"
    path.write_text(text)
    with pytest.raises(StructureError, match="wrong setting or origin"):
        load(path)


def test_stated_formula_that_contradicts_the_cell_is_rejected(tmp_path):
    text = bundled_path("MnO").read_text()
    assert "_chemical_formula_sum" in text
    text = re.sub(r"(_chemical_formula_sum\s+)'[^']*'", r"\1'Mn2 O'", text)
    path = tmp_path / "mno_bad_formula.cif"
    path.write_text(text)
    with pytest.raises(StructureError, match="states 'Mn2 O'"):
        load(path)


def test_p1_cif_from_pymatgen_loads_and_has_no_manganese(structures_dir):
    structure = load(structures_dir / "LiCoO2_pymatgen_chgden.cif")
    assert structure.spacegroup_number == 166
    with pytest.raises(StructureError, match=r"no 'Mn' atom.*Co, Li, O"):
        cluster(structure)


def test_unknown_name_and_unreadable_file_raise_clearly(tmp_path):
    with pytest.raises(StructureError, match="neither a bundled phase"):
        load("LiMn2O5")
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a CIF\n")
    with pytest.raises(StructureError, match=r"bad\.cif"):
        load(bad)


# ---------------------------------------------------------------------------- clusters


def test_limn2o4_first_shells_are_six_oxygen_then_six_manganese(limn2o4):
    (c,) = cluster(limn2o4, radius=3.0)
    a = limn2o4.lattice[0]
    first, second = c.shells()[:2]
    assert (first.element, first.count) == ("O", 6)
    assert first.distance == pytest.approx(1.96, abs=0.01)
    assert (second.element, second.count) == ("Mn", 6)
    # Edge-sharing octahedra on 16d: Mn-Mn = a * sqrt(2) / 4.
    assert second.distance == pytest.approx(a * np.sqrt(2) / 4, abs=1e-6)


@pytest.mark.parametrize(
    ("phase", "folder", "stem"),
    [
        ("LiMn2O4", "limn2o4_r3", "LiMn2O4_R3"),
        ("LiMn2O4", "limn2o4_r5", "LiMn2O4_R5"),
        ("LiMn2O4", "limn2o4_r6", "LiMn2O4_R6"),
        ("Li2MnO3", "li2mno3_r3", "Li2MnO3_R3"),
        ("Li2MnO3", "li2mno3_r5", "Li2MnO3_R5"),
    ],
)
def test_atom_count_and_multiplicity_match_fdmnes(engine_outputs, phase, folder, stem):
    run = engine_outputs / "fdmnes" / folder
    counts = _fdmnes_atom_counts(run / f"{stem}_bav.txt")
    assert len(counts) == 1
    ((radius, n_fdmnes),) = counts.items()
    (c,) = cluster(phase, radius=radius)
    assert c.n_atoms == n_fdmnes
    assert c.multiplicity == _natomsym(run / f"{stem}.txt")


def test_two_manganese_sites_in_mn3o4_and_mn2o3():
    mn3o4 = cluster("Mn3O4", radius=4.0)
    assert [(c.wyckoff, c.multiplicity) for c in mn3o4] == [("4a", 4), ("8d", 8)]
    assert [c.shells()[0].count for c in mn3o4] == [4, 4]  # tetrahedral; 4 short + 2 long
    mn2o3 = cluster("Mn2O3", radius=4.0)
    assert sorted(c.multiplicity for c in mn2o3) == [8, 24]
    n_mn = load("Mn2O3").to_pymatgen().composition["Mn"]
    assert sum(c.multiplicity for c in mn2o3) == n_mn


def test_site_picks_one_cluster_by_label_or_wyckoff():
    by_label = cluster("Mn3O4", radius=3.0, site="Mn2")
    by_wyckoff = cluster("Mn3O4", radius=3.0, site="8d")
    assert len(by_label) == len(by_wyckoff) == 1
    assert by_label[0].site == by_wyckoff[0].site == "Mn2"
    with pytest.raises(StructureError, match=r"Mn1 \(4a\), Mn2 \(8d\)"):
        cluster("Mn3O4", radius=3.0, site="Mn7")


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan"), float("inf"), "five"])
def test_non_positive_or_non_finite_radius_is_refused(limn2o4, radius):
    with pytest.raises(StructureError, match="radius"):
        cluster(limn2o4, radius=radius)


def test_cluster_of_primitive_cell_reports_conventional_multiplicity(limn2o4):
    primitive = load(limn2o4.to_pymatgen().get_primitive_structure())
    assert primitive.n_atoms == 14
    (c,) = cluster(primitive, radius=5.0)
    assert c.multiplicity == 16
    assert c.n_atoms == 51


def test_cluster_arrays_are_read_only(limn2o4):
    (c,) = cluster(limn2o4, radius=3.0)
    assert isinstance(c, Cluster)
    with pytest.raises(ValueError):
        c.positions[0, 0] = 1.0
    with pytest.raises(ValueError):
        c.distances[0] = 1.0
    with pytest.raises(TypeError):
        c.composition["Li"] = 2.0  # type: ignore[index]


@settings(max_examples=25, deadline=None)
@given(
    phase=st.sampled_from(["LiMn2O4", "Li2MnO3", "MnO2", "NMC111"]),
    radius=st.floats(min_value=1.5, max_value=6.5),
)
def test_cluster_geometry_is_consistent(phase, radius):
    structure = _cached(phase)
    for c in cluster(structure, radius=radius):
        assert c.species[0] == "Mn"
        np.testing.assert_array_equal(c.positions[0], 0.0)
        assert np.all(np.diff(c.distances) >= -1e-9)
        np.testing.assert_allclose(np.linalg.norm(c.positions, axis=1), c.distances, atol=1e-9)
        assert c.distances[-1] <= radius + BOUNDARY_TOL
        assert sum(s.count for s in c.shells()) == c.n_atoms - 1
        pmg = structure.to_pymatgen()
        centre = next(i for i, s in enumerate(pmg) if getattr(s, "label", "") == c.site)
        assert c.n_atoms == _brute_force_count(pmg, centre, radius)


_CACHE: dict[str, Structure] = {}


def _cached(name: str) -> Structure:
    if name not in _CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CACHE[name] = load(name)
    return _CACHE[name]


def test_atoms_on_the_sphere_are_included(limn2o4):
    mn_mn = limn2o4.lattice[0] * np.sqrt(2) / 4
    assert cluster(limn2o4, radius=mn_mn)[0].n_atoms == 13
    assert cluster(limn2o4, radius=mn_mn - 1e-3)[0].n_atoms == 7


def test_other_absorbers_work(structures_dir):
    (co,) = cluster(load("LiCoO2"), absorber="Co", radius=3.0)
    assert co.species[0] == "Co"
    assert (co.shells()[0].element, co.shells()[0].count) == ("O", 6)
    assert co.multiplicity == 3


def test_cif_with_two_data_blocks_is_refused(tmp_path):
    path = tmp_path / "two_blocks.cif"
    path.write_text(bundled_path("MnO").read_text() + "\n" + bundled_path("MnO2").read_text())
    with pytest.raises(StructureError, match="found 2"):
        load(path)
