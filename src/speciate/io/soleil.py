"""SOLEIL (ROCK) normalized operando spectra written by the ``extranormal`` program.

A ``#`` header with ``Time at start=YYYY-mm-dd HH:MM:SS.fff`` and the normalization
parameters, then five columns: shifted energy (eV), normalized mu, reference,
reference derivative and I0. Column 2 is mu and column 3 the reference channel unless
``mu=``/``reference=`` say otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from speciate.errors import ReadError
from speciate.io._table import (
    Table,
    decode,
    header_lines,
    numeric_block,
    source_record,
    table_to_series,
)
from speciate.io.registry import Format, ReadOptions
from speciate.series import Series

__all__ = ["FORMAT", "read_soleil"]

_NAMES = ("energy", "mu", "reference", "ref_derivative", "i0")
_TIME = re.compile(r"^#\s*Time at start\s*=\s*(.+?)\s*$")
_KEY_VALUE = re.compile(r"^#\s*([^=:]+?)\s*=\s*(.+?)\s*$")


def _header(lines: list[str], stop: int, path: Path) -> tuple[np.datetime64 | None, dict]:
    time = None
    fields: dict[str, str] = {}
    for n, line in enumerate(lines[:stop], start=1):
        match = _TIME.match(line)
        if match:
            try:
                time = np.datetime64(match.group(1).replace(" ", "T", 1), "ns")
            except ValueError:
                raise ReadError(
                    f"'Time at start' is {match.group(1)!r}; expected 'YYYY-mm-dd HH:MM:SS.fff'",
                    path,
                    n,
                ) from None
        kv = _KEY_VALUE.match(line)
        if kv:
            fields[kv.group(1)] = kv.group(2)
    return time, fields


def read_soleil(path: Path, options: ReadOptions) -> list[Series]:
    """Read one SOLEIL extranormal file as one spectrum (time from its header)."""
    text, codec = decode(path)
    lines = text.splitlines()
    block = numeric_block(lines, path)
    n_cols = block.data.shape[1]
    if n_cols < 3:
        raise ReadError(
            f"expected at least 3 columns (energy, normalized mu, reference); found {n_cols}",
            path,
            int(block.lines[0]),
        )
    names = [*_NAMES[: min(n_cols, len(_NAMES))], *(f"col{k + 1}" for k in range(5, n_cols))]
    time, fields = _header(lines, block.start, path)
    table = Table(
        columns={n: block.data[:, k] for k, n in enumerate(names)},
        lines=block.lines,
        label=path.stem,
        defaults={"energy": "energy", "mu": "mu", "reference": "reference"},
        time=time,
        meta={"soleil": fields, "header": header_lines(lines, block.start), "normalized": True},
    )
    source = source_record(path, "soleil", codec)
    return [table_to_series(table, path, "soleil", options, source)]


def _guess(path: Path, head: bytes) -> bool:
    return b"extranormal" in head or re.search(rb"(?m)^#\s*Time at start\s*=", head) is not None


FORMAT = Format(
    name="soleil",
    description="SOLEIL ROCK normalized operando text (extranormal)",
    guess_can_open=_guess,
    read_groups=read_soleil,
    extensions=(".txt",),
    priority=70,
)
