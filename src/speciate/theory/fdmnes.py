"""FDMNES: input writer, runner contract and parsers of its ``.txt``, ``_conv.txt``, ``_bav.txt``.

FDMNES is not in any package registry: the engine runs when an ``fdmnes`` executable is on
``PATH``, named by ``SPECIATE_FDMNES`` or passed as ``executable=``. It reads
``fdmfile.txt`` from its working directory and **exits 0 even when it rejects its input**
(it then writes ``fdmnes_error.txt`` and no spectrum), so a run only succeeds when the
expected spectrum files exist with the number of rows the ``Range`` asks for.

Energy scale: the first column of ``<name>.txt`` and ``<name>_conv.txt`` is the energy
relative to the edge (its zero is FDMNES's Fermi level); absolute photon energy =
relative energy + E_edge, and E_edge (tabulated) is only on line 1 of ``<name>.txt``.
Intensities are in Mbarn summed over the ``natomsym_f`` equivalent absorbers of the cell.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import EngineError, ReadError, SpeciateError, ValidationError
from speciate.theory.base import Recipe, TheorySpectrum, atomic_number, plan_each, write_files
from speciate.theory.runner import RunRecord, log_tail, run_command

__all__ = [
    "FdmnesEngine",
    "FdmnesLog",
    "FdmnesOptions",
    "fdmnes_input_text",
    "range_points",
    "read_fdmnes_bav",
    "read_fdmnes_conv",
    "read_fdmnes_txt",
]

_HEADER_NAMES = (
    "E_edge", "Z", "n_edge", "j_edge", "Abs_before_edge", "VO_interstitial", "E_cut",
    "ninit", "ninit1",
)  # fmt: skip
_MODES = ("green", "fdm")


@dataclass(frozen=True)
class FdmnesOptions:
    """FDMNES XANES settings.

    Attributes
    ----------
    mode
        ``"green"`` (multiple scattering on a muffin-tin potential) or ``"fdm"`` (finite
        difference method, no muffin-tin approximation; much slower).
    range
        ``Range`` values ``E0 dE1 E1 dE2 E2 ...`` in eV relative to the edge.
    scf
        Self-consistent potential (``SCF`` keyword).
    quadrupole
        Add E2 transitions (``Quadrupole``), needed for pre-edge intensities.
    convolution
        Also write the broadened ``_conv.txt`` (``Convolution``).
    margin
        Atoms are written out to radius + margin (Å): FDMNES builds its potential on a
        larger cluster than the absorption one.
    edge
        Absorption edge (``Edge``).
    """

    mode: str = "green"
    range: tuple[float, ...] = (-10.0, 0.2, 10.0, 0.5, 40.0, 1.0, 70.0)
    scf: bool = False
    quadrupole: bool = False
    convolution: bool = True
    margin: float = 2.5
    edge: str = "K"

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValidationError(f"mode must be one of {_MODES}; got {self.mode!r}")
        object.__setattr__(self, "range", tuple(float(x) for x in self.range))
        range_points(self.range)
        if not self.margin >= 0:
            raise ValidationError(f"margin must be >= 0 Å; got {self.margin!r}")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | FdmnesOptions | None) -> FdmnesOptions:
        """Options from a dict (unknown names raise, listing the valid ones)."""
        if isinstance(options, FdmnesOptions):
            return options
        options = dict(options or {})
        valid = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - valid)
        if unknown:
            raise ValidationError(f"unknown FDMNES option(s) {unknown}; valid: {sorted(valid)}")
        return cls(**options)


def range_points(values: Sequence[float]) -> int:
    """Number of energies FDMNES computes for a ``Range`` (``E0 dE1 E1 dE2 E2 ...``)."""
    values = [float(v) for v in values]
    if len(values) < 3 or len(values) % 2 == 0:
        raise ValidationError(
            f"Range needs E0 dE1 E1 [dE2 E2 ...] (an odd count >= 3); got {len(values)} values"
        )
    n = 1
    for i in range(1, len(values), 2):
        step, start, stop = values[i], values[i - 1], values[i + 1]
        if not step > 0 or not stop > start:
            raise ValidationError(
                f"Range segment {start:g} -> {stop:g} by {step:g} is not increasing"
            )
        n += round((stop - start) / step)
    return n


def fdmnes_input_text(cluster: Any, radius: float, options: FdmnesOptions, name: str) -> str:
    """The FDMNES input for one absorber cluster, as a ``Molecule`` in Cartesian Å.

    The absorber (first atom, at the origin) is ``Absorber 1``; atoms are written out to
    ``radius + options.margin`` so that FDMNES's potential cluster is complete.
    """
    radius = float(radius)
    if not radius > 0:
        raise ValidationError(f"radius must be > 0 Å; got {radius!r}")
    distances = np.asarray(cluster.distances, dtype=float)
    extent = float(getattr(cluster, "radius", distances.max()))
    needed = radius + options.margin
    if extent + 1e-6 < needed:
        raise ValidationError(
            f"FDMNES needs atoms out to {needed:g} Å (radius + margin) but the cluster only "
            f"extends to {extent:g} Å; build it with a larger radius"
        )
    keep = distances <= needed + 1e-6
    positions = np.asarray(cluster.positions, dtype=float)[keep]
    species = [s for s, k in zip(cluster.species, keep) if k]

    title = f"{getattr(cluster, 'phase', 'cluster')} site {getattr(cluster, 'site', '')}"
    lines = [
        f"! {title}: {species[0]} {options.edge}-edge XANES, radius {radius:g} A",
        "",
        " Filout",
        f"   {name}",
        "",
        " Range",
        "  " + " ".join(f"{v:g}" for v in options.range),
        "",
        " Radius",
        f"   {radius:g}",
        "",
    ]
    if options.mode == "green":
        lines += [" Green", ""]
    if options.scf:
        lines += [" SCF", ""]
    if options.quadrupole:
        lines += [" Quadrupole", ""]
    lines += [" Edge", f"   {options.edge}", "", " Absorber", "   1", "", " Molecule"]
    lines.append("   1.0  1.0  1.0   90.  90.  90.")
    for sym, xyz in zip(species, positions):
        lines.append(f"  {atomic_number(sym):3d} {xyz[0]:11.6f} {xyz[1]:11.6f} {xyz[2]:11.6f}")
    lines.append("")
    if options.convolution:
        lines += [" Convolution", ""]
    lines.append(" End")
    return "\n".join(lines) + "\n"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise ReadError(f"cannot read FDMNES output: {exc}", path) from exc


def _table(
    lines: Sequence[str], first: int, path: Path
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    header = lines[first - 1].split()
    column = header.index("<xanes>") if "<xanes>" in header else 1
    rows = []
    for lineno in range(first + 1, len(lines) + 1):
        text = lines[lineno - 1].strip()
        if not text:
            continue
        try:
            values = [float(x) for x in text.split()]
        except ValueError:
            raise ReadError(
                f"expected numbers (Energy <xanes>); got {text!r}", path, lineno
            ) from None
        if len(values) != len(header):
            raise ReadError(
                f"expected {len(header)} columns ({' '.join(header)}); got {len(values)}",
                path,
                lineno,
            )
        rows.append(values)
    if len(rows) < 2:
        raise ReadError(f"expected a table of energies; found {len(rows)} row(s)", path)
    data = np.asarray(rows)
    energy = data[:, 0]
    if (np.diff(energy) <= 0).any():
        i = int(np.nonzero(np.diff(energy) <= 0)[0][0])
        raise ReadError(
            f"energies must increase; they go from {energy[i]} to {energy[i + 1]} eV",
            path,
            first + 2 + i,
        )
    return energy, data[:, column], header


def _parse_header(line: str, path: Path) -> dict[str, float]:
    left = line.split("=", 1)[0]
    try:
        nums = [float(x) for x in left.split()]
    except ValueError:
        raise ReadError(
            f"line 1 should hold the numeric header (E_edge, Z, ...) before '='; got {line[:60]!r}",
            path,
            1,
        ) from None
    if "=" not in line or len(nums) < 15:
        raise ReadError(
            f"line 1 should hold at least 15 header numbers then '= E_edge, Z, ...'; "
            f"found {len(nums)} number(s)",
            path,
            1,
        )
    header = dict(zip(_HEADER_NAMES, nums))
    # Epsii has ninit values; the five values after it are counted from the end
    header["Epsii"] = nums[9]
    for name, value in zip(
        ("UnitCell_Volume", "Surface_ref", "f0_forward", "natomsym_f", "abs_u_iso"), nums[-5:]
    ):
        header[name] = value
    return header


def read_fdmnes_txt(path: str | os.PathLike, expected_rows: int | None = None) -> TheorySpectrum:
    """Read FDMNES's raw spectrum ``<name>.txt``.

    Parameters
    ----------
    path
        The file.
    expected_rows
        Number of energies the ``Range`` asked for; a file with fewer rows is an
        unfinished run (FDMNES rewrites this file as it goes) and raises.

    Returns
    -------
    TheorySpectrum
        ``energy`` absolute (relative + E_edge, or as written with ``Energphot``),
        ``mu`` in Mbarn summed over ``n_absorbers`` = natomsym_f, ``e_fermi`` =
        E_edge + E_cut (absolute eV: the Fermi cut FDMNES's convolution starts from;
        E_cut is on the relative scale, whose zero is E_edge). Header values are in
        ``meta["header"]``.
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 4:
        raise ReadError(
            f"expected a header line, a column line and data; got {len(lines)} lines", path
        )
    header = _parse_header(lines[0], path)
    energy, mu, _ = _table(lines, 2, path)
    if expected_rows is not None and energy.size != expected_rows:
        raise ReadError(
            f"expected {expected_rows} energies (from Range); found {energy.size}: "
            "the run did not finish",
            path,
        )
    e_edge = header["E_edge"]
    energphot = bool(np.min(np.abs(energy)) > 0.5 * e_edge)
    absolute = energy if energphot else energy + e_edge
    return TheorySpectrum(
        energy=absolute,
        mu=mu,
        e_fermi=e_edge + header["E_cut"],
        engine="fdmnes",
        n_absorbers=max(1, round(header["natomsym_f"])),
        meta={"file": path.name, "header": header, "energphot": energphot, "kind": "raw"},
    )


def read_fdmnes_conv(
    path: str | os.PathLike,
    e_edge: float | None = None,
    n_absorbers: int | None = None,
    expected_rows: int | None = None,
) -> TheorySpectrum:
    """Read FDMNES's convolved spectrum ``<name>_conv.txt``.

    The file has no E_edge nor absorber count: they come from the arguments, else from the
    raw ``<name>.txt`` beside it.

    Raises
    ------
    ReadError
        If E_edge is needed and neither given nor found in a sibling raw file.
    """
    path = Path(path)
    lines = _read_lines(path)
    if not lines or "<xanes>" not in lines[0]:
        raise ReadError(
            f"line 1 should be the column header 'Energy <xanes>'; got {lines[:1]!r}", path, 1
        )
    energy, mu, _ = _table(lines, 1, path)
    if expected_rows is not None and energy.size != expected_rows:
        raise ReadError(
            f"expected {expected_rows} energies (from Range); found {energy.size}", path
        )
    raw = path.with_name(path.name.replace("_conv.txt", ".txt"))
    e_cut = 0.0
    if raw != path and raw.is_file():
        header = _parse_header(_read_lines(raw)[0], raw)
        e_edge = header["E_edge"] if e_edge is None else e_edge
        n_absorbers = round(header["natomsym_f"]) if n_absorbers is None else n_absorbers
        e_cut = header["E_cut"]
    energphot = bool(np.min(np.abs(energy)) > 3000.0)
    if e_edge is None and not energphot:
        raise ReadError(
            "E_edge is only on line 1 of the raw <name>.txt, which is not beside this file; "
            "pass e_edge= (eV)",
            path,
        )
    e_edge = float(e_edge) if e_edge is not None else float("nan")
    absolute = energy if energphot else energy + e_edge
    return TheorySpectrum(
        energy=absolute,
        mu=mu,
        e_fermi=e_edge + e_cut if np.isfinite(e_edge) else float(energy[0]),
        engine="fdmnes",
        n_absorbers=int(n_absorbers or 1),
        meta={
            "file": path.name,
            "e_edge": e_edge,
            "e_cut": e_cut,
            "energphot": energphot,
            "kind": "convolved",
        },
    )


@dataclass(frozen=True)
class FdmnesLog:
    """What the verbose log ``<name>_bav.txt`` says about a run (all optional)."""

    version: str | None
    e_edge: float | None
    n_atom_uc: int | None
    absorption_radius: float | None
    absorption_atoms: int | None
    total_time_s: float | None
    finished: bool


def read_fdmnes_bav(path: str | os.PathLike) -> FdmnesLog:
    """Read the run summary from ``<name>_bav.txt`` (version, E_edge, cluster, CPU time)."""
    path = Path(path)
    lines = _read_lines(path)
    if not lines or "FDMNES" not in lines[0]:
        raise ReadError(f"line 1 should be the FDMNES version banner; got {lines[:1]!r}", path, 1)
    text = "\n".join(lines)

    def grab(pattern: str) -> str | None:
        found = re.search(pattern, text)
        return found.group(1) if found else None

    e_edge = grab(r"E_edge\s*=\s*([-0-9.]+)\s*eV")
    n_uc = grab(r"n_atom_uc\s*=\s*(\d+)")
    radius = grab(r"Absorption calculation\s*:\s*cluster radius\s*=\s*([0-9.]+)")
    n_abs = grab(r"Absorption calculation\s*:.*nb\. of atom\s*=\s*(\d+)")
    total = grab(r"Total time\s*=\s*([0-9.]+)\s*s")
    return FdmnesLog(
        version=lines[0].strip(),
        e_edge=None if e_edge is None else float(e_edge),
        n_atom_uc=None if n_uc is None else int(n_uc),
        absorption_radius=None if radius is None else float(radius),
        absorption_atoms=None if n_abs is None else int(n_abs),
        total_time_s=None if total is None else float(total),
        finished="Have a beautiful day" in text,
    )


def _find_executable(executable: str | os.PathLike | None) -> str:
    candidate = executable or os.environ.get("SPECIATE_FDMNES") or shutil.which("fdmnes")
    if not candidate:
        raise EngineError(
            "FDMNES executable not found: put 'fdmnes' on PATH, set SPECIATE_FDMNES or pass "
            "executable= (FDMNES is not in any package registry; see fdmnes.neel.cnrs.fr)"
        )
    path = Path(candidate)
    if not path.is_file() and shutil.which(str(candidate)):
        path = Path(shutil.which(str(candidate)) or candidate)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise EngineError(f"FDMNES executable {candidate} does not exist or is not executable")
    return str(path.resolve())


@dataclass(frozen=True)
class FdmnesEngine:
    """FDMNES XANES: implements `speciate.theory.Engine`.

    Parameters
    ----------
    executable
        Path to the FDMNES program; default ``$SPECIATE_FDMNES`` or ``fdmnes`` on PATH.
    """

    executable: str | None = None
    name: str = "fdmnes"

    def version(self) -> str:
        """``fdmnes sha256:<digest>`` of the executable (FDMNES prints no version on demand)."""
        exe = _find_executable(self.executable)
        h = hashlib.sha256(Path(exe).read_bytes()).hexdigest()
        return f"fdmnes sha256:{h[:16]}"

    def inputs(self, cluster: Any, radius: float, **options: Any) -> Recipe:
        """Recipe for the XANES of ``cluster`` with FDMNES cluster radius ``radius`` (Å)."""
        opts = FdmnesOptions.from_mapping(options.pop("options", None) or options)
        name = f"xanes_R{float(radius):g}".replace(".", "p")
        text = fdmnes_input_text(cluster, radius, opts, name)
        expected = [f"{name}.txt"] + ([f"{name}_conv.txt"] if opts.convolution else [])
        title = f"{getattr(cluster, 'phase', 'cluster')} site {getattr(cluster, 'site', '')}"
        return Recipe(
            "fdmnes",
            {"fdmfile.txt": f"1\n{name}_inp.txt\n", f"{name}_inp.txt": text},
            tuple(expected),
            (*expected, f"{name}_bav.txt", f"{name}_inp.txt", "engine.log"),
            options={**asdict(opts), "radius": float(radius), "name": name},
            label=f"{title} R={float(radius):g}",
        )

    def build_radius(self, radii: Sequence[float], options: Mapping[str, Any] | None) -> float:
        """Radius (Å) the cluster must be cut at to serve every radius of a sweep."""
        return max(radii) + FdmnesOptions.from_mapping(options).margin

    def plan(
        self, cluster: Any, radii: Sequence[float], options: Mapping[str, Any] | None
    ) -> dict[float, Recipe | SpeciateError]:
        """One independent recipe per radius (FDMNES shares nothing between radii)."""
        return plan_each(self, cluster, radii, options)

    def write(self, recipe: Recipe, work_dir: Path) -> tuple[Path, ...]:
        """Write ``fdmfile.txt`` and the input file."""
        return write_files(recipe, work_dir)

    def run(self, recipe: Recipe, work_dir: Path, timeout: float | None) -> RunRecord:
        """Run FDMNES in ``work_dir``; rejected input and unfinished outputs raise."""
        exe = _find_executable(self.executable)
        n_rows = range_points(recipe.options["range"])
        name = recipe.options["name"]

        def check(work: Path) -> None:
            error = work / "fdmnes_error.txt"
            if error.is_file():
                raise EngineError(
                    f"FDMNES rejected its input (exit code 0, fdmnes_error.txt written) in {work}",
                    log_tail(error, 30),
                )
            for out in recipe.expected:
                if (work / out).is_file():
                    reader = read_fdmnes_txt if out == f"{name}.txt" else read_fdmnes_conv
                    try:
                        reader(work / out, expected_rows=n_rows)
                    except ReadError as exc:
                        raise EngineError(
                            f"FDMNES output incomplete: {exc}", log_tail(work / "engine.log")
                        ) from exc

        return run_command(
            [exe], work_dir, timeout=timeout, expected=recipe.expected, check_output=check
        )

    def parse(self, recipe: Recipe, work_dir: Path) -> TheorySpectrum:
        """The convolved spectrum if it was asked for, else the raw one."""
        name = recipe.options["name"]
        raw = read_fdmnes_txt(Path(work_dir) / f"{name}.txt")
        if not recipe.options.get("convolution"):
            return raw
        conv = read_fdmnes_conv(Path(work_dir) / f"{name}_conv.txt")
        meta = {**conv.meta, "header": raw.meta["header"], "radius": recipe.options["radius"]}
        return TheorySpectrum(conv.energy, conv.mu, raw.e_fermi, "fdmnes", raw.n_absorbers, meta)
