"""Absorber-centred clusters cut from a crystal: one per inequivalent absorber site.

Equivalent sites come from spglib (through pymatgen's `SpacegroupAnalyzer`); the atoms
within the radius come from pymatgen's periodic neighbour search. A cluster holds every
atom at a distance ``d <= radius`` (plus `BOUNDARY_TOL`) from the absorber, which is the
count FEFF and FDMNES report for the same radius (LiMn2O4: 13 / 51 / 83 atoms at
3 / 5 / 6 Å).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from pymatgen.core import Structure as PmgStructure
from pymatgen.symmetry.structure import SymmetrizedStructure

from speciate._arrays import frozen_copy
from speciate.errors import StructureError
from speciate.structures.loading import SYMPREC, Structure, load

__all__ = ["BOUNDARY_TOL", "Cluster", "Shell", "cluster"]

#: Atoms up to ``radius + BOUNDARY_TOL`` (Å) are kept, so rounding in the CIF cannot drop
#: an atom that sits on the sphere.
BOUNDARY_TOL = 1e-4

# The sort key rounds distances so atoms of one shell order by species then position,
# whatever their last-digit noise.
_DISTANCE_DECIMALS = 6


@dataclass(frozen=True)
class Shell:
    """A coordination shell: ``count`` atoms of ``element`` at about ``distance`` Å."""

    element: str
    count: int
    distance: float


@dataclass(frozen=True, eq=False)
class Cluster:
    """Atoms around one absorber site, absorber at the origin, sorted by distance.

    Attributes
    ----------
    phase
        Name of the phase (the name given to `load`, or the reduced formula).
    site
        Absorber site label, e.g. ``"Mn1"`` (the CIF label; ``"Mn_16d"`` if labels clash).
    multiplicity
        Equivalent absorbers of this site per conventional cell.
    radius
        Requested radius, Å.
    species
        Element symbols, shape (n_atoms,), absorber first.
    positions
        Cartesian coordinates, shape (n_atoms, 3), Å, absorber at the origin; read-only.
    distances
        Distances from the absorber, shape (n_atoms,), Å, ascending; read-only.
    composition
        Reduced stoichiometry of the whole structure, e.g. ``{"Li": 1, "Mn": 2, "O": 4}``.
    wyckoff
        Wyckoff position of the absorber site with its multiplicity, e.g. ``"16d"``.
    spacegroup
        Space-group symbol of the structure (spglib).
    """

    phase: str
    site: str
    multiplicity: int
    radius: float
    species: tuple[str, ...]
    positions: np.ndarray
    distances: np.ndarray
    composition: Mapping[str, float]
    wyckoff: str = ""
    spacegroup: str = ""

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, dtype=float)
        distances = np.asarray(self.distances, dtype=float)
        n = len(self.species)
        if positions.shape != (n, 3) or distances.shape != (n,):
            raise StructureError(
                f"Cluster needs positions (n_atoms, 3) and distances (n_atoms,) for {n} species; "
                f"got {positions.shape} and {distances.shape}"
            )
        object.__setattr__(self, "species", tuple(self.species))
        object.__setattr__(self, "positions", frozen_copy(positions))
        object.__setattr__(self, "distances", frozen_copy(distances))
        object.__setattr__(self, "composition", MappingProxyType(dict(self.composition)))

    @property
    def n_atoms(self) -> int:
        """Number of atoms in the cluster, absorber included."""
        return len(self.species)

    @property
    def absorber(self) -> str:
        """Element symbol of the absorbing atom."""
        return self.species[0]

    def shells(self, tol: float = 0.05) -> list[Shell]:
        """Group the neighbours (absorber excluded) into shells by element and distance.

        Parameters
        ----------
        tol
            Neighbours of one element whose successive distances differ by at most ``tol``
            (Å) belong to the same shell.

        Returns
        -------
        list of Shell
            Sorted by mean distance (Å), then element.
        """
        if not (tol >= 0 and math.isfinite(tol)):
            raise StructureError(f"tol must be a finite distance >= 0 Å; got {tol}")
        species = np.array(self.species[1:])
        distances = self.distances[1:]
        shells = []
        for element in dict.fromkeys(species.tolist()):
            d = np.sort(distances[species == element])
            for group in np.split(d, np.nonzero(np.diff(d) > tol)[0] + 1):
                shells.append(Shell(element, int(group.size), float(group.mean())))
        return sorted(shells, key=lambda s: (s.distance, s.element))

    def __repr__(self) -> str:
        return (
            f"Cluster(phase={self.phase!r}, site={self.site!r}, multiplicity={self.multiplicity}, "
            f"radius={self.radius:g} Å, n_atoms={self.n_atoms})"
        )


def cluster(
    structure: Structure | str,
    absorber: str = "Mn",
    radius: float = 5.0,
    site: str | None = None,
) -> list[Cluster]:
    """Cut one cluster per inequivalent ``absorber`` site out of a crystal.

    Parameters
    ----------
    structure
        A loaded `Structure`, or anything `load` accepts (bundled name, CIF path).
    absorber
        Element symbol of the absorbing atom.
    radius
        Cluster radius, Å; every atom at ``d <= radius`` from the absorber is included.
    site
        Keep only this site: its label (``"Mn1"``) or Wyckoff position (``"16d"``).

    Returns
    -------
    list of Cluster
        One per inequivalent absorber site (in the order of the cell), each with its
        multiplicity per conventional cell.

    Raises
    ------
    StructureError
        ``radius`` not a positive finite number, no ``absorber`` atom in the structure, or
        ``site`` not one of the absorber sites.
    """
    if not isinstance(structure, Structure):
        structure = load(structure)
    radius = _check_radius(radius)
    pmg = structure.to_pymatgen()
    present = sorted({sp.symbol for sp in pmg.composition})
    if absorber not in present:
        raise StructureError(
            f"{structure.phase}: no {absorber!r} atom to absorb; the structure contains "
            f"{', '.join(present)}"
        )
    sga = structure.symmetry()
    symmetrized = sga.get_symmetrized_structure()
    # Multiplicities are quoted per conventional cell whatever cell the CIF used.
    per_cell = len(sga.get_conventional_standard_structure()) / len(pmg)
    groups = [g for g in symmetrized.equivalent_indices if pmg[g[0]].specie.symbol == absorber]
    names = _site_names(structure, symmetrized, groups)
    chosen = list(zip(names, groups))
    if site is not None:
        chosen = [(n, g) for n, g in chosen if site in (n[0], n[1])]
        if not chosen:
            options = ", ".join(f"{n[0]} ({n[1]})" for n in names)
            raise StructureError(
                f"{structure.phase}: no {absorber} site {site!r}; the {absorber} sites are "
                f"{options} (SYMPREC {SYMPREC} Å)"
            )
    return [
        _cut(structure, pmg, group[0], radius, name, wyckoff, round(len(group) * per_cell))
        for (name, wyckoff), group in chosen
    ]


def _check_radius(radius: float) -> float:
    try:
        value = float(radius)
    except (TypeError, ValueError) as exc:
        raise StructureError(f"radius must be a number of Å; got {radius!r}") from exc
    if not (math.isfinite(value) and value > 0):
        raise StructureError(f"radius must be a finite distance > 0 Å; got {radius!r}")
    return value


def _site_names(
    structure: Structure, symmetrized: SymmetrizedStructure, groups: list[list[int]]
) -> list[tuple[str, str]]:
    """(label, Wyckoff) per absorber site; labels made unique with the Wyckoff position."""
    spglib_wyckoff = dict(
        zip((tuple(g) for g in symmetrized.equivalent_indices), symmetrized.wyckoff_symbols)
    )
    out = []
    for group in groups:
        site = symmetrized[group[0]]
        label = str(getattr(site, "label", None) or site.specie.symbol)
        wyckoff = structure.wyckoff.get(label) or spglib_wyckoff[tuple(group)]
        out.append((label, wyckoff))
    labels = [label for label, _ in out]
    if len(set(labels)) < len(labels):
        out = [(f"{re.sub(r'[^A-Za-z]', '', lab)}_{w}", w) for lab, w in out]
    return out


def _cut(
    structure: Structure,
    pmg: PmgStructure,
    index: int,
    radius: float,
    name: str,
    wyckoff: str,
    multiplicity: int,
) -> Cluster:
    centre = pmg[index].coords
    found = pmg.get_sites_in_sphere(centre, radius + BOUNDARY_TOL)
    positions = np.array([s.coords for s in found], dtype=float).reshape(-1, 3) - centre
    species = np.array([s.specie.symbol for s in found])
    distances = np.linalg.norm(positions, axis=1)
    keep = distances <= radius + BOUNDARY_TOL
    positions, species, distances = positions[keep], species[keep], distances[keep]
    order = np.lexsort(
        (
            positions[:, 2],
            positions[:, 1],
            positions[:, 0],
            species,
            np.round(distances, _DISTANCE_DECIMALS),
        )
    )
    return Cluster(
        phase=structure.phase,
        site=name,
        multiplicity=int(multiplicity),
        radius=radius,
        species=tuple(species[order].tolist()),
        positions=positions[order],
        distances=distances[order],
        composition=structure.composition,
        wyckoff=wyckoff,
        spacegroup=structure.spacegroup,
    )
