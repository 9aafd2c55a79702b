"""Readers: every supported file becomes a `speciate.Series`.

`read` returns one spectrum (or the Series stored in a NetCDF file), `read_groups`
every group of a multi-group file, `read_many` a folder or glob stacked into one
series. Formats are found by sniffing the file's content; `register` adds more.
"""

from __future__ import annotations

import glob as _glob
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import ReadError, SpeciateError, ValidationError
from speciate.io import athena, columns, netcdf, soleil, xdi
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
from speciate.series import Series

__all__ = [
    "ExpressionError",
    "Format",
    "ReadOptions",
    "detect_format",
    "evaluate",
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


def detect_format(path: PathLike) -> Format:
    """The registered format that recognises ``path`` by its content."""
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
    path = Path(path)
    head = read_head(path)
    fmt = get_format(format) if format else guess_format(path, head)
    if format and not head:
        raise ReadError("file is empty; expected a spectrum file", path)
    return fmt, run_reader(fmt, path, options)


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


def natural_key(path: PathLike) -> list[Any]:
    """Sort key putting ``scan_2`` before ``scan_10``."""
    parts = re.split(r"(\d+)", Path(path).name)
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def _expand(paths_or_glob: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(paths_or_glob, (str, os.PathLike)):
        target = Path(paths_or_glob)
        if target.is_dir():
            found = [p for p in target.iterdir() if p.is_file() and not p.name.startswith(".")]
        elif target.exists():
            found = [target]
        else:
            found = [Path(p) for p in _glob.glob(str(paths_or_glob)) if Path(p).is_file()]
        if not found:
            raise ReadError("no files match; expected a folder, a file or a glob pattern", target)
        return sorted(found, key=natural_key)
    paths = [Path(p) for p in paths_or_glob]
    if not paths:
        raise ValidationError("read_many needs at least one path; got an empty list")
    return paths


def read_many(
    paths_or_glob: PathLike | Sequence[PathLike],
    grid: Any = None,
    **kwargs: Any,
) -> Series:
    """Read several files and stack them into one `Series` (e.g. an operando folder).

    Parameters
    ----------
    paths_or_glob
        A folder (every non-hidden file in it), a glob pattern (``"scans/*.txt"``) or a
        list of paths. Folders and globs are taken in natural order (``_2`` before
        ``_10``); a list keeps its order.
    grid
        As in `Series.concat`: None requires one common energy grid; ``"first"``,
        ``"union"`` or an array (eV) interpolates (recorded in ``meta["concat"]``).
    **kwargs
        Passed to `read` for every file (``mu=``, ``duplicates=``, ``group=``...).

    Returns
    -------
    Series
        n_spectra = number of files (each must give one spectrum); time from the
        files' headers when they all carry one; coordinate ``source`` = file name.
    """
    paths = _expand(paths_or_glob)
    parts = [read(p, **kwargs) for p in paths]
    for p, s in zip(paths, parts):
        if s.n_spectra != 1:
            raise ReadError(f"read_many stacks single spectra; this file holds {s.n_spectra}", p)
    try:
        stacked = Series.concat(parts, grid=grid)
    except SpeciateError as exc:
        raise ValidationError(f"cannot stack {len(parts)} files: {exc}") from exc
    meta = dict(stacked.meta)
    meta["sources"] = [s.meta.get("source", {"path": str(p)}) for p, s in zip(paths, parts)]
    meta.pop("source", None)
    coords = dict(stacked.coords)
    coords["source"] = np.array([p.name for p in paths])
    return stacked.replace(coords=coords, meta=meta)
