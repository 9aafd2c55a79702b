"""FEFF10 (PyPI ``feff10-rs``, import ``feff10``): K-edge XANES by full multiple scattering.

FEFF10 itself is under its own licence: it is an optional dependency (``speciate[theory]``)
that the user installs, imported only when a calculation runs.

Potential modes
---------------
``"per_radius"``
    Every FMS radius R is a full run (RDINP ... FF2X) with the ATOMS list cut at
    R + ``atoms_margin``. The potential, screening and Fermi level follow the cluster.
``"shared"``
    One potential step (RDINP, ATOMIC, POT, SCREEN, XSPH, PATH, GENFMT) on a fixed ATOMS
    list out to ``pot_radius``, then per radius only RDINP, FMS, MKGTR, FF2X with the FMS
    radius changed. Identical to a full run on the same ATOMS list; it differs from the
    ``"per_radius"`` mode, most at small R (potential, screening and Fermi level stay
    those of the large list). LiMn2O4, fine EGRID, ATOMS 7.8 Å vs R + 1 Å: max |Δμ| =
    0.59 at R = 3 Å and 0.044 at R = 5 Å on a white line of 2.4. This is the cheaper
    mode and the one that holds everything but the FMS radius fixed.

Energies: ``omega`` in ``xmu.dat`` is the absolute photon energy (eV). The Fermi level is
the ``Mu=`` value of the header (where k = 0), put on the absolute scale with the constant
``omega - e`` offset; the ``e`` column itself is not zeroed on it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import (
    MissingExtraError,
    ReadError,
    SpeciateError,
    ValidationError,
)
from speciate.theory.base import Recipe, TheorySpectrum, atomic_number, write_files
from speciate.theory.runner import RunRecord, run_command

__all__ = [
    "FEFF_MAX_FMS_ATOMS",
    "ClusterTooLargeError",
    "FeffEngine",
    "FeffOptions",
    "feff_input_text",
    "read_xmu",
]

#: FEFF's hard ceiling on atoms in the FMS cluster (``nclusx`` may not exceed it).
FEFF_MAX_FMS_ATOMS = 3000

#: EGRID fine enough for derivatives near the edge: 223 points (e_grid relative to E_F).
FINE_EGRID = ("e_grid -20 -10 1.0", "e_grid last 30 0.2", "k_grid last 4 0.1")

FULL_STAGES = (
    "rdinp", "atomic", "pot", "screen", "xsph", "fms", "mkgtr", "path", "genfmt", "ff2x",
)  # fmt: skip
# FF2X needs feff.bin from PATH/GENFMT or it stops with "Emesh in feff.bin and xsect.bin different"
POTENTIAL_STAGES = ("rdinp", "atomic", "pot", "screen", "xsph", "path", "genfmt")
FMS_STAGES = ("rdinp", "fms", "mkgtr", "ff2x")

_COREHOLES = ("RPA", "FSR", "NONE")
_MODES = ("shared", "per_radius")


class ClusterTooLargeError(ValidationError):
    """The requested radius puts more atoms in the cluster than the engine accepts."""


@dataclass(frozen=True)
class FeffOptions:
    """FEFF10 XANES settings.

    Attributes
    ----------
    scf
        Self-consistent potential radius in Å (``SCF scf 0 30 0.2 1``), or None for the
        non-self-consistent overlapped-atom potential.
    corehole
        ``"RPA"`` (screened core hole, default), ``"FSR"`` (final-state rule) or ``"NONE"``.
    egrid
        ``EGRID`` lines (energies relative to the Fermi level), or () for FEFF's default
        65-point XANES grid. Default: 223 points, 0.2 eV steps from -10 to +30 eV.
    potential
        ``"shared"`` or ``"per_radius"`` (see the module docstring).
    atoms_margin
        ATOMS list extends this far (Å) beyond the FMS radius (``"per_radius"``), or beyond
        the largest FMS radius (``"shared"``, unless ``pot_radius`` is given).
    pot_radius
        ``"shared"`` mode: radius (Å) of the ATOMS list the potential is computed on.
    pot_fms_radius
        ``"shared"`` mode: the FMS radius written in the potential step (XSPH reads it),
        by default ``pot_radius - atoms_margin``.
    xanes
        The ``XANES`` card values (kmax in Å⁻¹, dk, ...).
    exchange
        The ``EXCHANGE`` card values (0 = Hedin-Lundqvist).
    s02
        Amplitude reduction factor.
    max_fms_atoms
        Refuse FMS clusters with more atoms than this (FEFF's own ceiling is 3000).
    stage_timeout
        Time limit per FEFF stage, seconds (None: only the run's overall timeout).
    """

    scf: float | None = None
    corehole: str = "RPA"
    egrid: tuple[str, ...] = FINE_EGRID
    potential: str = "shared"
    atoms_margin: float = 1.0
    pot_radius: float | None = None
    pot_fms_radius: float | None = None
    xanes: tuple[float, ...] = (4.0, 0.07, 0.0)
    exchange: tuple[float, ...] = (0, 0.0, 0.0)
    s02: float = 1.0
    max_fms_atoms: int = FEFF_MAX_FMS_ATOMS
    stage_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.corehole.upper() not in _COREHOLES:
            raise ValidationError(f"corehole must be one of {_COREHOLES}; got {self.corehole!r}")
        object.__setattr__(self, "corehole", self.corehole.upper())
        if self.potential not in _MODES:
            raise ValidationError(f"potential must be one of {_MODES}; got {self.potential!r}")
        if self.scf is not None and not self.scf > 0:
            raise ValidationError(f"scf is a radius in Å (> 0) or None; got {self.scf!r}")
        for name in ("pot_radius", "pot_fms_radius"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValidationError(f"{name} must be > 0 Å or None; got {value!r}")
        if not self.atoms_margin >= 0:
            raise ValidationError(f"atoms_margin must be >= 0 Å; got {self.atoms_margin!r}")
        if not 0 < self.max_fms_atoms <= FEFF_MAX_FMS_ATOMS:
            raise ValidationError(
                f"max_fms_atoms must be in 1..{FEFF_MAX_FMS_ATOMS}; got {self.max_fms_atoms}"
            )
        object.__setattr__(self, "egrid", tuple(self.egrid))
        object.__setattr__(self, "xanes", tuple(self.xanes))
        object.__setattr__(self, "exchange", tuple(self.exchange))

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | FeffOptions | None) -> FeffOptions:
        """Options from a dict (unknown names raise, listing the valid ones)."""
        if isinstance(options, FeffOptions):
            return options
        options = dict(options or {})
        valid = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - valid)
        if unknown:
            raise ValidationError(f"unknown FEFF option(s) {unknown}; valid: {sorted(valid)}")
        return cls(**options)


def _fmt(values: Sequence[float]) -> str:
    return " ".join(f"{v:g}" for v in values)


def _cluster_arrays(cluster: Any, radius: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    distances = np.asarray(cluster.distances, dtype=float)
    keep = distances <= radius + 1e-6
    positions = np.asarray(cluster.positions, dtype=float)[keep]
    species = [s for s, k in zip(cluster.species, keep) if k]
    return species, positions, distances[keep]


def _potentials(species: Sequence[str], composition: Mapping[str, float]) -> dict[str, int]:
    """ipot per element: absorber 0, its element 1 (if present elsewhere), then by first use."""
    ipots: dict[str, int] = {}
    for sym in species[1:]:
        if sym not in ipots:
            ipots[sym] = len(ipots) + 1
    missing = [s for s in ipots if s not in composition]
    if missing:
        raise ValidationError(
            f"cluster element(s) {missing} missing from the structure composition "
            f"{dict(composition)}; cannot write the POTENTIALS stoichiometry"
        )
    return ipots


def _check_size(n_fms: int, fms_radius: float, limit: int) -> None:
    if n_fms > limit:
        raise ClusterTooLargeError(
            f"an FMS radius of {fms_radius:g} Å puts {n_fms} atoms in the FEFF cluster; the "
            f"limit is {limit} atoms (FEFF's own ceiling is {FEFF_MAX_FMS_ATOMS})"
        )


def feff_input_text(
    cluster: Any,
    fms_radius: float,
    atoms_radius: float,
    options: FeffOptions,
    title: str = "",
) -> str:
    """The ``feff.inp`` text for one absorber cluster.

    Parameters
    ----------
    cluster
        A `speciate.structures.Cluster` (absorber first, at the origin).
    fms_radius
        FMS radius, Å (the ``FMS`` card).
    atoms_radius
        The ATOMS list keeps atoms within this distance of the absorber, Å.
    options
        `FeffOptions`.
    title
        ``TITLE`` text.

    Notes
    -----
    POTENTIALS carry the stoichiometry of the whole structure (``cluster.composition``),
    not of the cluster; the absorber is ipot 0 with stoichiometry 0.0001 as FEFF expects.
    """
    if not fms_radius > 0:
        raise ValidationError(f"the FMS radius must be > 0 Å; got {fms_radius!r}")
    if atoms_radius + 1e-9 < fms_radius:
        raise ValidationError(
            f"the FMS radius {fms_radius:g} Å exceeds the ATOMS list ({atoms_radius:g} Å); "
            "raise pot_radius or use potential='per_radius'"
        )
    species, positions, distances = _cluster_arrays(cluster, atoms_radius)
    n_fms = int((distances <= fms_radius + 1e-6).sum())
    _check_size(n_fms, fms_radius, options.max_fms_atoms)
    if n_fms < 2:
        raise ValidationError(
            f"an FMS radius of {fms_radius:g} Å holds only the absorber; the nearest neighbour "
            f"is at {distances[1] if distances.size > 1 else float('nan'):.3f} Å"
        )
    composition = {str(k): float(v) for k, v in cluster.composition.items()}
    ipots = _potentials(species, composition)
    absorber = species[0]
    lines = [
        f"TITLE {title or getattr(cluster, 'phase', 'cluster')} {absorber} K XANES "
        f"FMS {fms_radius:g}",
        "EDGE K",
        f"S02 {options.s02:g}",
        "CONTROL 1 1 1 1 1 1",
        "PRINT 0 0 0 0 0 0",
    ]
    if options.scf is not None:
        lines.append(f"SCF {options.scf:g} 0 30 0.2 1")
    lines += [
        f"FMS {fms_radius:g} 0",
        f"XANES {_fmt(options.xanes)}",
        f"EXCHANGE {_fmt(options.exchange)}",
        f"COREHOLE {options.corehole}",
    ]
    if options.egrid:
        lines += ["EGRID", *options.egrid]
    lines += ["POTENTIALS", f"0  {atomic_number(absorber)}  {absorber}  -1  -1  0.0001"]
    for sym, ipot in ipots.items():
        lines.append(f"{ipot}  {atomic_number(sym)}  {sym}  -1  -1  {composition[sym]:g}")
    lines.append("ATOMS")
    for i, (sym, xyz, d) in enumerate(zip(species, positions, distances)):
        ipot = 0 if i == 0 else ipots[sym]
        lines.append(f"{xyz[0]:10.5f} {xyz[1]:10.5f} {xyz[2]:10.5f}  {ipot}  {sym:<2s} {d:9.5f}")
    lines.append("END")
    return "\n".join(lines) + "\n"


def read_xmu(path: str | Path) -> TheorySpectrum:
    """Read a FEFF ``xmu.dat`` (columns omega, e, k, mu, mu0, chi).

    Returns
    -------
    TheorySpectrum
        ``energy`` = ``omega`` (absolute eV), ``mu`` = the ``mu`` column, ``e_fermi`` =
        the header's ``Mu=`` on the absolute scale (``omega - e + Mu``), ``n_absorbers`` 1.

    Raises
    ------
    ReadError
        If the header has no ``Mu=`` value, a data row does not have 6 numbers, the
        energies are not increasing or the ``omega - e`` offset is not constant.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ReadError(f"cannot read FEFF xmu.dat: {exc}", path) from exc
    header: list[str] = []
    rows: list[list[float]] = []
    mu_fermi = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            header.append(line)
            found = re.search(r"Mu=\s*([-+0-9.Ee]+)\s*eV", line)
            if found and mu_fermi is None:
                mu_fermi = float(found.group(1))
            continue
        parts = line.split()
        try:
            values = [float(x) for x in parts]
        except ValueError:
            raise ReadError(
                f"expected 6 numbers (omega e k mu mu0 chi); got {line.strip()!r}", path, lineno
            ) from None
        if len(values) != 6:
            raise ReadError(
                f"expected 6 columns (omega e k mu mu0 chi); got {len(values)}", path, lineno
            )
        rows.append(values)
    if mu_fermi is None:
        raise ReadError("no 'Mu=... eV' Fermi level in the header; is this a FEFF xmu.dat?", path)
    if len(rows) < 2:
        raise ReadError(f"expected a table of energies; found {len(rows)} data row(s)", path)
    data = np.asarray(rows)
    omega, e = data[:, 0], data[:, 1]
    if (np.diff(omega) <= 0).any():
        i = int(np.nonzero(np.diff(omega) <= 0)[0][0])
        raise ReadError(
            f"omega must increase; row {i + 2} of the table goes from {omega[i]} to "
            f"{omega[i + 1]} eV",
            path,
        )
    offset = omega - e
    if np.ptp(offset) > 1e-3:
        raise ReadError(f"omega - e is not constant (spread {np.ptp(offset):.4f} eV)", path)
    title = header[0].lstrip("# ").strip() if header else ""
    version = re.search(r"FEFF\s+([0-9.]+)", title)
    meta = {
        "file": path.name,
        "mu_header_eV": mu_fermi,
        "e_offset_eV": float(np.median(offset)),
        "feff_version": version.group(1) if version else None,
        "pot": next((h.lstrip("# ").strip() for h in header if "POT" in h), None),
        "n_points": len(rows),
    }
    return TheorySpectrum(
        energy=omega,
        mu=data[:, 3],
        e_fermi=float(np.median(offset)) + mu_fermi,
        engine="feff",
        n_absorbers=1,
        meta=meta,
    )


@dataclass(frozen=True)
class FeffEngine:
    """FEFF10 XANES through ``feff10-rs``: implements `speciate.theory.Engine`.

    Each run happens in a child Python process (``python -m speciate.theory._feff_main``)
    in its own work directory, so FEFF's console output and its per-stage worker
    processes stay out of the caller.
    """

    name: str = "feff"
    python: str = field(default=sys.executable)

    def version(self) -> str:
        """``feff10-rs <version>`` (the wheel carries FEFF 10.0.0)."""
        try:
            return f"feff10-rs {metadata.version('feff10-rs')}"
        except metadata.PackageNotFoundError:
            # FEFF10 is distributed under its own licence, through the theory extra
            raise MissingExtraError("feff10-rs", "theory", "running FEFF10") from None

    def inputs(self, cluster: Any, radius: float, **options: Any) -> Recipe:
        """Recipe for the XANES of ``cluster`` with FMS radius ``radius`` (Å).

        ``cluster`` must extend at least to the ATOMS radius needed (R + ``atoms_margin``
        or ``pot_radius``). In ``"shared"`` mode the recipe's parent is the potential
        step, identical for every radius so that it is computed once.
        """
        opts = FeffOptions.from_mapping(options.pop("options", None) or options)
        radius = float(radius)
        if not radius > 0:
            raise ValidationError(f"radius must be > 0 Å; got {radius!r}")
        title = f"{getattr(cluster, 'phase', 'cluster')} site {getattr(cluster, 'site', 0)}"
        recorded = {k: v for k, v in asdict(opts).items()}
        if opts.potential == "per_radius":
            atoms_r = radius + opts.atoms_margin
            self._check_extent(cluster, atoms_r)
            text = feff_input_text(cluster, radius, atoms_r, opts, title)
            return Recipe(
                "feff", {"feff.inp": text}, ("xmu.dat",), ("xmu.dat", "feff.inp", "engine.log"),
                run_args=FULL_STAGES, options={**recorded, "radius": radius},
                label=f"{title} R={radius:g}",
            )  # fmt: skip
        atoms_r = opts.pot_radius if opts.pot_radius is not None else radius + opts.atoms_margin
        pot_fms = (
            opts.pot_fms_radius if opts.pot_fms_radius is not None else atoms_r - opts.atoms_margin
        )
        self._check_extent(cluster, atoms_r)
        pot_text = feff_input_text(cluster, max(pot_fms, 1e-3), atoms_r, opts, title)
        parent = Recipe(
            "feff", {"feff.inp": pot_text}, ("pot.bin", "phase.bin"), ("*",),
            run_args=POTENTIAL_STAGES, options={**recorded, "radius": pot_fms},
            label=f"{title} potential (ATOMS {atoms_r:g} Å)",
        )  # fmt: skip
        text = feff_input_text(cluster, radius, atoms_r, opts, title)
        return Recipe(
            "feff", {"feff.inp": text}, ("xmu.dat",), ("xmu.dat", "feff.inp", "engine.log"),
            run_args=FMS_STAGES, parent=parent, options={**recorded, "radius": radius},
            label=f"{title} R={radius:g}",
        )  # fmt: skip

    def build_radius(self, radii: Sequence[float], options: Mapping[str, Any] | None) -> float:
        """Radius (Å) the cluster must be cut at to serve every radius of a sweep."""
        opts = FeffOptions.from_mapping(options)
        if opts.potential == "shared" and opts.pot_radius is not None:
            return opts.pot_radius
        return max(radii) + opts.atoms_margin

    def plan(
        self, cluster: Any, radii: Sequence[float], options: Mapping[str, Any] | None
    ) -> dict[float, Recipe | SpeciateError]:
        """Recipes for every radius of a sweep, or the error that rules a radius out.

        In ``"shared"`` mode without ``pot_radius``, the potential is computed once on the
        ATOMS list of the largest radius FEFF accepts (+ ``atoms_margin``).
        """
        opts = FeffOptions.from_mapping(options)
        distances = np.asarray(cluster.distances, dtype=float)
        out: dict[float, Recipe | SpeciateError] = {}
        feasible = []
        for r in radii:
            try:
                _check_size(int((distances <= r + 1e-6).sum()), r, opts.max_fms_atoms)
                feasible.append(r)
            except ClusterTooLargeError as exc:
                out[r] = exc
        if opts.potential == "shared" and opts.pot_radius is None and feasible:
            top = max(feasible)
            opts = replace(opts, pot_radius=top + opts.atoms_margin, pot_fms_radius=top)
        for r in feasible:
            try:
                out[r] = self.inputs(cluster, r, options=opts)
            except SpeciateError as exc:
                out[r] = exc
        return out

    @staticmethod
    def _check_extent(cluster: Any, atoms_radius: float) -> None:
        extent = float(getattr(cluster, "radius", np.max(cluster.distances)))
        if extent + 1e-6 < atoms_radius:
            raise ValidationError(
                f"the ATOMS list needs atoms out to {atoms_radius:g} Å but the cluster only "
                f"extends to {extent:g} Å; build it with a larger radius"
            )

    def write(self, recipe: Recipe, work_dir: Path) -> tuple[Path, ...]:
        """Write ``feff.inp``."""
        return write_files(recipe, work_dir)

    def run(self, recipe: Recipe, work_dir: Path, timeout: float | None) -> RunRecord:
        """Run the recipe's FEFF stages in ``work_dir`` in a child process."""
        self.version()
        argv = [
            self.python,
            "-m",
            "speciate.theory._feff_main",
            "--stages",
            ",".join(recipe.run_args or FULL_STAGES),
        ]
        stage_timeout = recipe.options.get("stage_timeout")
        if stage_timeout:
            argv += ["--stage-timeout", str(stage_timeout)]
        return run_command(
            argv, work_dir, timeout=timeout, expected=recipe.expected, log_name="engine.log"
        )

    def parse(self, recipe: Recipe, work_dir: Path) -> TheorySpectrum:
        """Read ``xmu.dat``; the options used go into meta.

        ``meta`` gains ``radius`` (FMS, Å), ``scf``, ``potential`` (mode), ``atoms_radius``
        (Å, the ATOMS list the potential was computed on: ``pot_radius`` in ``"shared"``
        mode, R + ``atoms_margin`` in ``"per_radius"`` mode) and ``corehole``.
        """
        spec = read_xmu(Path(work_dir) / "xmu.dat")
        opts = recipe.options
        radius = opts.get("radius")
        if opts.get("potential") == "shared" and opts.get("pot_radius") is not None:
            atoms_radius = float(opts["pot_radius"])
        elif radius is not None:
            atoms_radius = float(radius) + float(opts.get("atoms_margin", 0.0))
        else:  # a hand-made recipe that records no radius
            atoms_radius = None
        meta = dict(spec.meta)
        meta.update(
            radius=radius,
            scf=opts.get("scf"),
            potential=opts.get("potential"),
            atoms_radius=atoms_radius,
            corehole=opts.get("corehole"),
        )
        return TheorySpectrum(spec.energy, spec.mu, spec.e_fermi, "feff", 1, meta)
