"""Readers: every supported file becomes a `speciate.Series`.

`read` returns one spectrum (or the Series stored in a NetCDF file), `read_groups`
every group of a multi-group file, `read_many` a folder or glob stacked into one
series. Formats are found by sniffing the file's content; `register` adds more.
"""

from __future__ import annotations

import functools
import glob as _glob
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import ReadError, SpeciateError, ValidationError
from speciate.io import athena, columns, netcdf, soleil, xdi
from speciate.io._table import ColumnChoiceError
from speciate.io.expressions import ExpressionError, evaluate, names_in
from speciate.io.registry import (
    Format,
    ReadOptions,
    formats,
    get_format,
    guess_format,
    read_head,
    register,
    run_reader,
    select_group,
)
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = [
    "ColumnChoiceError",
    "ExpressionError",
    "Format",
    "ReadOptions",
    "detect_format",
    "evaluate",
    "expand_paths",
    "formats",
    "get_format",
    "names_in",
    "natural_key",
    "read",
    "read_groups",
    "read_many",
    "register",
]

for _module in (netcdf, athena, xdi, soleil, columns):
    register(_module.FORMAT, replace=True)

PathLike = str | os.PathLike


@functools.cache
def _register_engine_formats() -> None:
    # FEFF and FDMNES outputs read like any other file, but their parsers live in
    # speciate.theory, whose import costs ~1 s: pay it only when a file is sniffed.
    import speciate.theory  # noqa: F401  (registers the engine formats on import)


def detect_format(path: PathLike) -> Format:
    """The registered format that recognises ``path`` by its content."""
    _register_engine_formats()
    path = Path(path)
    return guess_format(path, read_head(path))


def read_groups(
    path: PathLike,
    *,
    energy: str | None = None,
    mu: str | None = None,
    reference: str | None = None,
    duplicates: str = "error",
    sort: bool = False,
    format: str | None = None,
) -> list[Series]:
    """Read every group of a file, each as its own `Series` on its own energy grid.

    Parameters are as for `read`. Single-group formats return a list of one.
    """
    options = ReadOptions(energy, mu, reference, duplicates, sort)
    return _read_groups(path, options, format)[1]


def _read_groups(
    path: PathLike, options: ReadOptions, format: str | None
) -> tuple[Format, list[Series]]:
    _register_engine_formats()
    path = Path(path)
    head = read_head(path)
    fmt = get_format(format) if format else guess_format(path, head)
    if format and not head:
        raise ReadError("file is empty; expected a spectrum file", path)
    return fmt, run_reader(fmt, path, options)


@records_provenance
def read(
    path: PathLike,
    *,
    energy: str | None = None,
    mu: str | None = None,
    reference: str | None = None,
    group: str | int | None = None,
    duplicates: str = "error",
    sort: bool = False,
    format: str | None = None,
) -> Series:
    """Read a spectrum file into a `Series`.

    Parameters
    ----------
    path
        The file. Its format is sniffed from its content (see `formats`).
    energy
        Column holding the energy in eV (or an expression such as ``"energy*1000"`` for
        keV files). Default: the format's convention or the one column named energy.
    mu, reference
        Column name or expression of column names, e.g. ``"ln(i0/itrans)"``,
        ``"(fe_ka_mca1+fe_ka_mca2)/i0"``. Default: the format's convention or a column
        named ``mu``/``xmu``/``mutrans``... (reference: ``murefer``); otherwise an error
        lists the columns found.
    group
        For multi-group files (Athena projects): group label or 0-based index. Required
        when the file holds several groups.
    duplicates
        Repeated energies (quick scans): ``"error"`` (default), ``"mean"`` or ``"first"``.
        Recorded in ``meta["duplicates"]``.
    sort
        Sort rows whose energies are not increasing (recorded in ``meta["sorted"]``).
    format
        Force a registered format by name instead of sniffing.

    Returns
    -------
    Series
        One spectrum (n_spectra = 1), or the whole series stored in a NetCDF file;
        ``meta`` records the source file, format, columns and expressions used.

    Raises
    ------
    ReadError
        Naming the file (and line) on empty, corrupt or ambiguous input.
    """
    if isinstance(group, np.integer):
        group = int(group)
    options = ReadOptions(energy, mu, reference, duplicates, sort, group)
    fmt, groups = _read_groups(path, options, format)
    if group is not None and not fmt.multi_group:
        # single-group formats: group=0 or the spectrum's own label still select it
        return groups[select_group([s.labels[0] for s in groups], group, Path(path))]
    if len(groups) == 1:
        return groups[0]
    labels = [s.labels[0] for s in groups]
    listing = ", ".join(f"{i}: {lab!r}" for i, lab in enumerate(labels))
    raise ReadError(
        f"file holds {len(groups)} groups; pass group= (label or index): {listing}", Path(path)
    )


def _grid_text(grid: Any) -> Any:
    if grid is None or isinstance(grid, str):
        return grid
    arr = np.asarray(grid, dtype=float)
    return {"n": int(arr.size), "min": float(arr.min()), "max": float(arr.max())}


def natural_key(path: PathLike) -> list[Any]:
    """Sort key putting ``scan_2`` before ``scan_10``."""
    parts = re.split(r"(\d+)", Path(path).name)
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def expand_paths(paths_or_glob: PathLike | Sequence[PathLike]) -> list[Path]:
    """The files named by a folder, a glob pattern, a file or a list of any of these.

    Folders (every non-hidden file) and globs are expanded in natural order (`natural_key`);
    a list keeps its order.

    Raises
    ------
    ReadError
        If a folder or pattern matches no file, or a listed file does not exist.
    """
    if isinstance(paths_or_glob, (str, os.PathLike)):
        return _expand_one(paths_or_glob)
    items = list(paths_or_glob)
    if not items:
        raise ValidationError("expected at least one path; got an empty list")
    return [p for item in items for p in _expand_one(item)]


def _expand_one(item: PathLike) -> list[Path]:
    target = Path(item)
    if target.is_dir():
        found = [p for p in target.iterdir() if p.is_file() and not p.name.startswith(".")]
    elif target.exists():
        return [target]
    else:
        found = [Path(p) for p in _glob.glob(str(item)) if Path(p).is_file()]
    if not found:
        raise ReadError("no files match; expected a folder, a file or a glob pattern", target)
    return sorted(found, key=natural_key)


GroupChoice = str | int | Sequence[str | int] | None


def _selection(group: GroupChoice) -> tuple[str | int, ...] | None:
    """None, or the groups to pick, each a label or an index."""
    if group is None:
        return None
    if isinstance(group, (str, int, np.integer)):
        group = [group]
    picked = tuple(int(g) if isinstance(g, np.integer) else g for g in group)
    for g in picked:
        if not isinstance(g, (str, int)) or isinstance(g, bool):
            raise ValidationError(f"group must be a label (str) or an index (int); got {g!r}")
    if not picked:
        raise ValidationError("group is an empty list; give at least one label or index")
    return picked


def _items(paths_or_glob: Any) -> list[tuple[PathLike, GroupChoice]]:
    """``paths_or_glob`` as (path-or-pattern, own groups or None) pairs."""
    if isinstance(paths_or_glob, (str, os.PathLike)):
        return [(paths_or_glob, None)]
    items = list(paths_or_glob)
    if not items:
        raise ValidationError("expected at least one path; got an empty list")
    out: list[tuple[PathLike, GroupChoice]] = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValidationError(
                    f"a (path, group) item must have 2 entries; got {len(item)}: {item!r}"
                )
            out.append((item[0], item[1]))
        else:
            out.append((item, None))
    return out


def _pick_groups(
    path: Path, options: ReadOptions, picked: tuple[str | int, ...] | None, format: str | None
) -> list[Series]:
    if picked is not None and len(picked) == 1:
        options = ReadOptions(**{**vars(options), "group": picked[0]})
    fmt, groups = _read_groups(path, options, format)
    if picked is None or (len(picked) == 1 and fmt.multi_group):
        return groups
    labels = [s.labels[0] for s in groups]
    return [groups[select_group(labels, g, path)] for g in picked]


@records_provenance
def read_many(
    paths_or_glob: PathLike | Sequence[PathLike | tuple[PathLike, GroupChoice]],
    grid: Any = None,
    *,
    energy: str | None = None,
    mu: str | None = None,
    reference: str | None = None,
    group: GroupChoice = None,
    duplicates: str = "error",
    sort: bool = False,
    format: str | None = None,
) -> Series:
    """Read several files and stack them into one `Series` (e.g. an operando folder).

    Parameters
    ----------
    paths_or_glob
        A folder (every non-hidden file in it), a glob pattern (``"scans/*.txt"``), a file
        or a list of these (see `expand_paths`): natural order (``_2`` before ``_10``).
        A list item may be a ``(path, group)`` pair: that file's own group choice, e.g.
        ``[("Mn.prj", ["MnO", "Mn2O3"]), "scan.dat"]``.
    grid
        As in `Series.concat`: None requires one common energy grid; ``"first"``,
        ``"union"`` or an array (eV) interpolates (recorded in ``meta["concat"]``).
    group
        For every file without its own choice: a group label or 0-based index, or a list
        of them (picked in that order). Multi-group files contribute all their groups
        when no group is chosen.
    energy, mu, reference, duplicates, sort, format
        As in `read`, for every file.

    Returns
    -------
    Series
        One spectrum per file (or group), in order; time from the files' headers when
        they all carry one; coordinate ``source`` = file name; ``meta["sources"]`` lists
        every input file.
    """
    default = _selection(group)
    options = ReadOptions(energy, mu, reference, duplicates, sort, None)
    parts: list[Series] = []
    names: list[str] = []
    for item, own in _items(paths_or_glob):
        picked = default if own is None else _selection(own)
        for path in expand_paths(item):
            groups = _pick_groups(path, options, picked, format)
            parts.extend(groups)
            names.extend([path.name] * sum(s.n_spectra for s in groups))
    try:
        stacked = Series.concat(parts, grid=grid)
    except SpeciateError as exc:
        raise ValidationError(
            f"cannot stack {len(parts)} spectra: {exc} (command line: --grid first|union)"
        ) from exc
    meta = dict(stacked.meta)
    sources: dict[str, Any] = {}
    for s in parts:
        src = s.meta.get("source")
        if isinstance(src, dict):
            sources.setdefault(str(src.get("sha256", len(sources))), src)
    meta["sources"] = list(sources.values())
    for key in ("source", "athena", "header", "xdi", "soleil", "comments"):
        meta.pop(key, None)  # per-file facts of the first file only; kept in "sources"
    meta["provenance"] = {
        "grid_used": _grid_text(grid),
        "inputs": [{"name": s.get("name"), "sha256": s.get("sha256")} for s in sources.values()],
    }
    coords = dict(stacked.coords)
    coords.setdefault("source", np.array(names))
    return stacked.replace(coords=coords, meta=meta)


