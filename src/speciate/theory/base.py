"""The theory-engine protocol: a typed recipe, its input files, a run, a parsed spectrum.

Every engine (FEFF10, FDMNES, or a user's own) is split the same way:

``inputs``
    cluster + options -> a frozen `Recipe` (the exact input files as text, the files a
    finished run must leave behind, and an optional parent run whose work directory is
    reused, e.g. a FEFF potential shared by several cluster radii).
``write``
    recipe -> files in a fresh work directory.
``run``
    work directory -> the engine's outputs (through the shared runner, never ``os.chdir``).
``parse``
    work directory -> a `TheorySpectrum` on the engine's own energy grid.

`speciate.theory.compute` strings them together with the content-hash cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from speciate._arrays import readonly_copy
from speciate.errors import SpeciateError, ValidationError
from speciate.series import Series

__all__ = [
    "Engine",
    "Recipe",
    "TheorySpectrum",
    "atomic_number",
    "plan_each",
    "recipe_key",
    "write_files",
]


@dataclass(frozen=True)
class Recipe:
    """Everything an engine needs for one calculation, as text: hashable and reproducible.

    Attributes
    ----------
    engine
        Engine name (``"feff"``, ``"fdmnes"``...).
    files
        Input file name -> exact text written into the work directory.
    expected
        Output files a successful run must leave behind (checked by the runner).
    keep
        Output files stored in the cache and read by ``parse``; ``("*",)`` keeps the whole
        work directory (needed when a later run reuses it as its parent).
    run_args
        Engine-specific run arguments (e.g. the FEFF stages to run); part of the cache key.
    parent
        A recipe whose finished work directory is copied in before this one runs, or None.
    options
        The engine options this recipe was built with (JSON-serializable; recorded, and
        part of the cache key only through ``files``).
    label
        Short human-readable description used in logs and progress bars.
    """

    engine: str
    files: Mapping[str, str]
    expected: tuple[str, ...]
    keep: tuple[str, ...]
    run_args: tuple[str, ...] = ()
    parent: Recipe | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        if not self.files:
            raise ValidationError(f"a {self.engine} recipe needs at least one input file; got none")
        for name in self.files:
            if Path(name).name != name:
                raise ValidationError(f"input file names must be bare names; got {name!r}")
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "expected", tuple(self.expected))
        object.__setattr__(self, "keep", tuple(self.keep))
        object.__setattr__(self, "run_args", tuple(str(a) for a in self.run_args))

    def __reduce__(self) -> tuple[Any, ...]:
        # read-only mappings do not pickle; rebuild from plain dicts (Dask ships recipes)
        return (
            Recipe,
            (
                self.engine, dict(self.files), self.expected, self.keep, self.run_args,
                self.parent, dict(self.options), self.label,
            ),
        )  # fmt: skip


def recipe_key(recipe: Recipe, engine_version: str) -> str:
    """Content hash of a recipe: engine, version, input files, run arguments, parent's key.

    Two recipes with byte-identical inputs for the same engine version share a key, so a
    finished calculation is never run twice.
    """
    h = hashlib.sha256()
    parent = "" if recipe.parent is None else recipe_key(recipe.parent, engine_version)
    head = {
        "engine": recipe.engine,
        "version": engine_version,
        "parent": parent,
        "run_args": list(recipe.run_args),
        "keep": sorted(recipe.keep),
    }
    h.update(json.dumps(head, sort_keys=True).encode())
    for name in sorted(recipe.files):
        h.update(b"\0file\0" + name.encode() + b"\0")
        h.update(recipe.files[name].encode())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class TheorySpectrum:
    """One computed absorption spectrum on its engine's own energy grid.

    Attributes
    ----------
    energy
        Absolute photon energy, eV, shape (n_energy,), increasing.
    mu
        Absorption on the engine's own scale, shape (n_energy,): FEFF's μ (normalized by
        FEFF at +50 eV), FDMNES's cross-section in Mbarn summed over ``n_absorbers``.
    e_fermi
        Fermi level / edge zero of the calculation on the same absolute scale, eV.
    engine
        Engine name.
    n_absorbers
        Number of equivalent absorbing atoms summed in ``mu`` (1 for FEFF).
    meta
        What the parser found (header values, version, grid kind...), JSON-serializable.
    """

    energy: np.ndarray
    mu: np.ndarray
    e_fermi: float
    engine: str
    n_absorbers: int = 1
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        energy = readonly_copy(self.energy)
        mu = readonly_copy(self.mu)
        if energy.ndim != 1 or mu.shape != energy.shape:
            raise ValidationError(
                f"energy and mu must be 1-D of equal length; got {energy.shape} and {mu.shape}"
            )
        if self.n_absorbers < 1:
            raise ValidationError(f"n_absorbers must be >= 1; got {self.n_absorbers}")
        object.__setattr__(self, "energy", energy)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "e_fermi", float(self.e_fermi))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.energy, self.mu, self.e_fermi, self.engine, self.n_absorbers, dict(self.meta))
        return (TheorySpectrum, args)

    def to_series(self, label: str = "", coords: Mapping[str, Any] | None = None) -> Series:
        """This spectrum as a one-row `Series` (coords ``engine``, ``e_fermi``, ``n_absorbers``)."""
        all_coords = {
            "engine": self.engine,
            "e_fermi": self.e_fermi,
            "n_absorbers": self.n_absorbers,
        }
        all_coords.update(coords or {})
        return Series(
            self.energy,
            self.mu,
            labels=(label or self.engine,),
            coords=all_coords,
            meta={"engine_output": dict(self.meta)},
        )


@runtime_checkable
class Engine(Protocol):
    """What every theory engine provides. Engines hold no mutable state."""

    name: str

    def version(self) -> str:
        """Version string of the engine program (part of every cache key)."""
        ...

    def inputs(self, cluster: Any, radius: float, **options: Any) -> Recipe:
        """Build the recipe for one absorber cluster at one calculation radius (Å)."""
        ...

    def write(self, recipe: Recipe, work_dir: Path) -> tuple[Path, ...]:
        """Write the recipe's input files into ``work_dir``; return their paths."""
        ...

    def run(self, recipe: Recipe, work_dir: Path, timeout: float | None) -> Any:
        """Run the engine in ``work_dir`` (through `speciate.theory.runner`)."""
        ...

    def parse(self, recipe: Recipe, work_dir: Path) -> TheorySpectrum:
        """Read the finished outputs in ``work_dir``."""
        ...

    def build_radius(self, radii: Sequence[float], options: Mapping[str, Any] | None) -> float:
        """Radius (Å) the cluster must be cut at to serve every radius of a sweep."""
        ...

    def plan(
        self, cluster: Any, radii: Sequence[float], options: Mapping[str, Any] | None
    ) -> dict[float, Recipe | SpeciateError]:
        """Recipes for every radius of a sweep, or the error that rules a radius out.

        Engines whose radii share nothing return `plan_each`; FEFF shares one potential.
        """
        ...


def plan_each(
    engine: Engine, cluster: Any, radii: Sequence[float], options: Mapping[str, Any] | None
) -> dict[float, Recipe | SpeciateError]:
    """One `Engine.inputs` recipe per radius, or the `SpeciateError` that rules it out."""
    out: dict[float, Recipe | SpeciateError] = {}
    for r in radii:
        try:
            out[r] = engine.inputs(cluster, r, **dict(options or {}))
        except SpeciateError as exc:
            out[r] = exc
    return out


def atomic_number(symbol: str) -> int:
    """Atomic number Z of an element symbol (``"Mn"`` -> 25).

    Raises
    ------
    ValidationError
        If ``symbol`` names no element.
    """
    import xraydb

    try:
        return int(xraydb.atomic_number(symbol))
    except Exception as exc:  # xraydb raises a bare ValueError/KeyError on unknown symbols
        raise ValidationError(f"unknown element symbol {symbol!r} in the cluster") from exc


def write_files(recipe: Recipe, work_dir: Path) -> tuple[Path, ...]:
    """Write every input file of ``recipe`` into ``work_dir`` (the usual `Engine.write`)."""
    work_dir = Path(work_dir)
    out = []
    for name, text in recipe.files.items():
        path = work_dir / name
        path.write_text(text, encoding="ascii", errors="strict")
        out.append(path)
    return tuple(out)
