"""Load a crystal structure from a CIF file, a bundled phase name or a pymatgen `Structure`.

CIF parsing and symmetry expansion are pymatgen's (`CifParser`), the CIF's own tags are
read with gemmi, and symmetry analysis is spglib's (through pymatgen's
`SpacegroupAnalyzer`). This module only checks that what came out is a sensible,
fully ordered crystal and refuses anything else with a `StructureError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from speciate.errors import MissingExtraError, StructureError

try:
    import gemmi
    from pymatgen.core import Composition
    from pymatgen.core import Structure as PmgStructure
    from pymatgen.io.cif import CifParser
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError(
        exc.name or "pymatgen", "theory", "speciate.structures (CIF loading, clusters)"
    ) from exc

__all__ = ["BUNDLED", "MIN_DISTANCE", "SYMPREC", "Structure", "available", "load"]

#: Symmetry tolerance (Å) handed to spglib for space-group and equivalent-site analysis.
SYMPREC = 1e-3

#: Two atoms closer than this (Å) mean a wrong symmetry expansion or duplicated sites.
MIN_DISTANCE = 0.5

#: Bundled phase name -> (file in speciate/structures/data, ordered?, hint when disordered).
BUNDLED: Mapping[str, tuple[str, bool, str]] = MappingProxyType(
    {
        "LiMn2O4": ("LiMn2O4_spinel_Fd-3m.cif", True, ""),
        "Li2MnO3": ("Li2MnO3_C2m.cif", True, ""),
        "NMC111": ("Li3MnCoNiO6_NMC111_ordered_P3112.cif", True, ""),
        "Mn3O4": ("Mn3O4_hausmannite_I41amd.cif", True, ""),
        "MnO": ("MnO_rocksalt_Fm-3m.cif", True, ""),
        "Mn2O3": ("Mn2O3_bixbyite_Ia-3.cif", True, ""),
        "MnO2": ("MnO2_beta_pyrolusite_P42mnm.cif", True, ""),
        "Li4Mn5O12": (
            "Li4Mn5O12_spinel_Fd-3m.cif",
            False,
            "no ordered Li4Mn5O12 model is bundled",
        ),
        "LiCoO2": ("LiCoO2_R-3m.cif", True, ""),
        "NMC111-disordered": (
            "LiNi1-3Mn1-3Co1-3O2_NMC111_R-3m.cif",
            False,
            "load('NMC111') gives the bundled ordered Li3MnCoNiO6 model",
        ),
    }
)

_ORDER_HINT = (
    "order the structure first (for example pymatgen's OrderDisorderedStructureTransformation "
    "or an enumerated supercell) and pass the ordered pymatgen Structure to "
    "speciate.structures.load()"
)


@dataclass(frozen=True, eq=False)
class Structure:
    """A fully ordered crystal structure, ready to be cut into absorber-centred clusters.

    Attributes
    ----------
    phase
        Name of the phase: the bundled name given to `load`, or the reduced formula.
    source
        Where it came from: a file name or ``"pymatgen Structure"``.
    formula
        Reduced formula of the cell, e.g. ``"LiMn2O4"``.
    composition
        Reduced stoichiometry, element -> amount, e.g. ``{"Li": 1, "Mn": 2, "O": 4}``.
    spacegroup
        International (Hermann-Mauguin) symbol found by spglib on the expanded cell.
    spacegroup_number
        International Tables number found by spglib.
    lattice
        ``(a, b, c, alpha, beta, gamma)`` of the cell, Å and degrees.
    n_atoms
        Atoms in the cell as loaded.
    wyckoff
        CIF site label -> Wyckoff position with multiplicity (``"16d"``), from the CIF when it
        states them, otherwise from spglib.
    notes
        Messages raised while parsing (pymatgen warnings, missing symmetry operations...).
    """

    phase: str
    source: str
    formula: str
    composition: Mapping[str, float]
    spacegroup: str
    spacegroup_number: int
    lattice: tuple[float, float, float, float, float, float]
    n_atoms: int
    wyckoff: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    _pmg: Any = field(default=None, repr=False)

    def to_pymatgen(self) -> PmgStructure:
        """A copy of the underlying pymatgen `Structure` (safe to modify)."""
        return self._pmg.copy()

    def symmetry(self) -> SpacegroupAnalyzer:
        """spglib analysis of the cell at the tolerance `SYMPREC` (a fresh object)."""
        return SpacegroupAnalyzer(self.to_pymatgen(), symprec=SYMPREC)


def available(ordered_only: bool = False) -> tuple[str, ...]:
    """Names of the bundled phases accepted by `load`.

    Parameters
    ----------
    ordered_only
        If True, leave out the partially occupied (disordered) bundled cells, which `load`
        refuses until they are ordered.
    """
    return tuple(name for name, (_, ordered, _) in BUNDLED.items() if ordered or not ordered_only)


def bundled_path(name: str) -> Path:
    """Path of the bundled CIF for ``name`` (one of `available`)."""
    if name not in BUNDLED:
        raise StructureError(f"no bundled structure named {name!r}; available: {list(BUNDLED)}")
    return Path(str(resources.files("speciate.structures") / "data" / BUNDLED[name][0]))


def load(cif_or_name: str | Path | PmgStructure, *, phase: str | None = None) -> Structure:
    """Load a crystal structure.

    Parameters
    ----------
    cif_or_name
        A bundled phase name (see `available`: ``"LiMn2O4"``, ``"NMC111"``...), the path of a
        CIF file, or an ordered pymatgen `Structure`.
    phase
        Name to give the phase; default the bundled name or the reduced formula.

    Returns
    -------
    Structure
        The expanded, validated cell.

    Raises
    ------
    StructureError
        Unknown name or missing file, a CIF pymatgen cannot read or that holds several
        structures, partially occupied sites, atoms closer than `MIN_DISTANCE` (a wrong
        symmetry expansion, e.g. a CIF without symmetry operations read in the wrong
        origin setting), or an expanded cell whose composition or space group contradicts
        what the CIF states.
    """
    if isinstance(cif_or_name, PmgStructure):
        pmg = cif_or_name.copy()
        return _validated(pmg, phase=phase, source="pymatgen Structure", tags={}, notes=())
    name = str(cif_or_name)
    hint = ""
    if name in BUNDLED:
        path = bundled_path(name)
        phase = phase or name
        hint = BUNDLED[name][2]
    else:
        path = Path(name)
        if not path.is_file():
            raise StructureError(
                f"{name!r} is neither a bundled phase ({', '.join(BUNDLED)}) nor an existing "
                "CIF file"
            )
    pmg, notes = _parse_cif(path)
    tags = _cif_tags(path)
    if not tags.get("has_symops"):
        notes = (
            *notes,
            "the CIF has no symmetry operations: the cell was expanded from its space-group "
            "symbol (pymatgen's default setting) and checked for overlapping atoms"
            + (" and against its stated formula" if tags.get("formula_sum") else ""),
        )
    return _validated(pmg, phase=phase, source=path.name, tags=tags, notes=notes, hint=hint)


def _parse_cif(path: Path) -> tuple[PmgStructure, tuple[str, ...]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser(path)
            structures = parser.parse_structures(primitive=False, on_error="raise")
        except Exception as exc:  # pymatgen raises bare ValueError/KeyError/... on bad CIFs
            raise StructureError(
                f"{path.name}: pymatgen could not read a crystal structure from this CIF "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    messages = [str(w.message) for w in caught] + [str(m) for m in getattr(parser, "warnings", [])]
    notes = tuple(dict.fromkeys(m.strip() for m in messages if m.strip()))
    if len(structures) != 1:
        raise StructureError(
            f"{path.name}: expected one crystal structure (one data block), found "
            f"{len(structures)}; split the file and load each block separately"
        )
    return structures[0], notes


def _cif_tags(path: Path) -> dict[str, Any]:
    """The few CIF statements we check the expansion against, read with gemmi."""
    try:
        block = gemmi.cif.read(str(path)).sole_block()
    except (RuntimeError, ValueError) as exc:
        raise StructureError(f"{path.name}: not a single-block CIF ({exc})") from exc
    tags: dict[str, Any] = {}
    formula = block.find_value("_chemical_formula_sum")
    if formula:
        tags["formula_sum"] = gemmi.cif.as_string(formula)
    for key in ("_space_group_IT_number", "_symmetry_Int_Tables_number"):
        value = block.find_value(key)
        if value and gemmi.cif.as_string(value).strip("?. "):
            tags["it_number"] = gemmi.cif.as_int(value)
            break
    tags["has_symops"] = any(
        len(block.find_values(key)) > 0
        for key in ("_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz")
    )
    table = block.find("_atom_site_", ["label", "Wyckoff_symbol", "symmetry_multiplicity"])
    tags["wyckoff"] = {
        gemmi.cif.as_string(row[0]): f"{gemmi.cif.as_string(row[2])}{gemmi.cif.as_string(row[1])}"
        for row in table
    }
    return tags


def _validated(
    pmg: PmgStructure,
    *,
    phase: str | None,
    source: str,
    tags: Mapping[str, Any],
    notes: tuple[str, ...],
    hint: str = "",
) -> Structure:
    if len(pmg) == 0:
        raise StructureError(f"{source}: the structure holds no atoms")
    if not pmg.is_ordered:
        _raise_disordered(pmg, source, hint)
    _check_distances(pmg, source)
    composition = pmg.composition.reduced_composition
    stated = tags.get("formula_sum")
    if stated:
        try:
            expected = Composition(stated).reduced_composition
        except Exception as exc:  # pymatgen raises several types on unparsable formulas
            raise StructureError(f"{source}: cannot read _chemical_formula_sum {stated!r}") from exc
        if not expected.almost_equals(composition, rtol=1e-3):
            raise StructureError(
                f"{source}: the expanded cell has composition {composition.formula!r} but the "
                f"CIF states {stated!r}; the symmetry expansion is wrong (check the setting / "
                "origin choice and the symmetry operations)"
            )
    sga = SpacegroupAnalyzer(pmg, symprec=SYMPREC)
    number = int(sga.get_space_group_number())
    stated_number = tags.get("it_number")
    if stated_number and stated_number != 1 and stated_number != number:
        raise StructureError(
            f"{source}: the CIF states space group No. {stated_number} but spglib finds "
            f"No. {number} ({sga.get_space_group_symbol()}) in the expanded cell "
            f"(symprec {SYMPREC} Å); the symmetry expansion is wrong or the CIF is inconsistent"
        )
    wyckoff = dict(tags.get("wyckoff") or {})
    if not wyckoff:
        symmetrized = sga.get_symmetrized_structure()
        for group, symbol in zip(symmetrized.equivalent_indices, symmetrized.wyckoff_symbols):
            wyckoff[_label(symmetrized[group[0]])] = symbol
    lat = pmg.lattice
    return Structure(
        phase=phase or composition.reduced_formula,
        source=source,
        formula=composition.reduced_formula,
        composition=MappingProxyType(
            {el.symbol: float(amount) for el, amount in composition.items()}
        ),
        spacegroup=str(sga.get_space_group_symbol()),
        spacegroup_number=number,
        lattice=(
            float(lat.a),
            float(lat.b),
            float(lat.c),
            float(lat.alpha),
            float(lat.beta),
            float(lat.gamma),
        ),
        n_atoms=len(pmg),
        wyckoff=MappingProxyType(wyckoff),
        notes=notes,
        _pmg=pmg,
    )


def _label(site: Any) -> str:
    return str(getattr(site, "label", None) or site.specie.symbol)


def _raise_disordered(pmg: PmgStructure, source: str, hint: str) -> None:
    mixed = {}
    for site in pmg:
        if not site.is_ordered:
            occupancy = ", ".join(
                f"{sp.symbol} {amount:.3g}" for sp, amount in site.species.items()
            )
            mixed.setdefault(_label(site), occupancy)
    described = "; ".join(f"{label}: {occ}" for label, occ in list(mixed.items())[:4])
    advice = f"{hint}; otherwise " if hint else ""
    raise StructureError(
        f"{source}: partially occupied site(s) ({described}); absorber-centred clusters need "
        f"a fully ordered cell: {advice}{_ORDER_HINT}"
    )


def _check_distances(pmg: PmgStructure, source: str) -> None:
    dist = np.array(pmg.distance_matrix, dtype=float)
    np.fill_diagonal(dist, np.inf)
    if dist.size and dist.min() < MIN_DISTANCE:
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        raise StructureError(
            f"{source}: atoms {_label(pmg[i])} and {_label(pmg[j])} are {dist[i, j]:.3f} Å "
            f"apart (expected at least {MIN_DISTANCE} Å); the symmetry expansion put atoms on "
            "top of each other (a CIF without symmetry operations read in the wrong setting "
            "or origin choice?)"
        )
