"""XDI (XAS Data Interchange) files: ``# Family.member: value`` header, then columns.

Header fields go into ``meta["xdi"]``; ``Scan.start_time`` becomes the spectrum's
``time``; ``Column.N`` fields name the columns. mu is taken from a column named as XDI
recommends (``mutrans``, ``mufluor``...) unless ``mu=`` says otherwise; a ``murefer``
column becomes the reference channel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from speciate.edges import parse_edge
from speciate.errors import ReadError, ValidationError
from speciate.io._table import (
    Table,
    decode,
    numeric_block,
    source_record,
    table_to_series,
    unique_identifiers,
)
from speciate.io.registry import Format, ReadOptions
from speciate.series import Series

__all__ = ["FORMAT", "parse_xdi_header", "read_xdi"]

_VERSION = re.compile(r"^#\s*XDI/(\S+)")
_FIELD = re.compile(r"^#\s*([A-Za-z_][\w]*)\.([\w]+)\s*:\s*(.*)$")
_TIME_FIELDS = ("scan.start_time", "scan.start")


def parse_xdi_header(lines: list[str], path: Path) -> tuple[dict[str, str], list[str], int]:
    """Header fields (``"Family.member" -> value``), user comments and the first data line.

    Values keep only what precedes ``||`` (Epics PV names follow it in some writers).
    """
    match = _VERSION.match(lines[0]) if lines else None
    if match is None:
        raise ReadError("expected an XDI version line ('# XDI/1.0') as line 1", path, 1)
    fields: dict[str, str] = {"XDI.version": match.group(1)}
    comments: list[str] = []
    in_comments = False
    i = 1
    for i in range(1, len(lines)):
        text = lines[i].strip()
        if not text.startswith("#"):
            break
        body = text[1:].strip()
        if body.startswith("///"):
            in_comments = True
            continue
        if body.startswith("---"):
            in_comments = True
            continue
        field = _FIELD.match(text)
        if field and not in_comments:
            key = f"{field.group(1)}.{field.group(2)}"
            fields[key] = field.group(3).split("||")[0].strip()
        elif body:
            comments.append(body)
    else:
        i = len(lines)
    return fields, comments, i


def _column_names(fields: dict[str, str], n_cols: int) -> tuple[list[str], dict[str, str]]:
    raw = [f"col{k + 1}" for k in range(n_cols)]
    units: dict[str, str] = {}
    for key, value in fields.items():
        family, _, member = key.partition(".")
        if family.lower() != "column" or not member.isdigit():
            continue
        k = int(member) - 1
        words = value.split()
        if 0 <= k < n_cols and words:
            raw[k] = words[0]
            if len(words) > 1:
                units[words[0]] = words[1]
    return raw, units


def _start_time(fields: dict[str, str], path: Path, lines: list[str]) -> np.datetime64 | None:
    for key, value in fields.items():
        if key.lower() in _TIME_FIELDS:
            text = value.strip().replace(" ", "T", 1)
            try:
                return np.datetime64(text, "ns")
            except ValueError:
                line = next((n + 1 for n, s in enumerate(lines) if key in s), None)
                raise ReadError(
                    f"{key} is {value!r}; expected an ISO 8601 date and time such as "
                    "'2019-03-11 14:31:31'",
                    path,
                    line,
                ) from None
    return None


def _edge_meta(fields: dict[str, str], path: Path, lines: list[str]) -> dict[str, Any]:
    """``{"edge": ...}`` from ``Element.symbol`` and ``Element.edge`` when both are given."""
    symbol, level = fields.get("Element.symbol", "").strip(), fields.get("Element.edge", "")
    if not symbol or not level.strip():
        return {}
    try:
        edge = parse_edge(f"{symbol}-{level.strip()}", source="file")
    except ValidationError as exc:
        line = next((n + 1 for n, s in enumerate(lines) if "Element." in s), None)
        raise ReadError(f"Element.symbol/Element.edge: {exc}", path, line) from None
    return {"edge": edge.to_meta()}


def read_xdi(path: Path, options: ReadOptions) -> list[Series]:
    """Read an XDI file as one spectrum."""
    text, codec = decode(path)
    lines = text.splitlines()
    fields, comments, start = parse_xdi_header(lines, path)
    if start >= len(lines):
        raise ReadError("XDI header is not followed by any data", path, len(lines))
    block = numeric_block(lines, path, start=start)
    raw, units = _column_names(fields, block.data.shape[1])
    names = unique_identifiers(raw)
    energy_unit = units.get(raw[0], "eV")
    defaults = {}
    if names[0].lower() == "energy" or fields.get("Column.1", "").lower().startswith("energy"):
        defaults["energy"] = names[0]
    if energy_unit.lower() == "kev" and options.energy is None:
        raise ReadError(
            f"column {raw[0]!r} is in keV; speciate works in eV. Pass energy='{names[0]}*1000'",
            path,
        )
    table = Table(
        columns={n: block.data[:, k] for k, n in enumerate(names)},
        lines=block.lines,
        label=fields.get("Sample.name") or path.stem,
        raw_names=tuple(raw),
        defaults=defaults,
        time=_start_time(fields, path, lines),
        meta={"xdi": fields, "comments": comments[:100], "units": units,
              **_edge_meta(fields, path, lines)},
    )
    source = source_record(path, "xdi", codec)
    return [table_to_series(table, path, "xdi", options, source)]


def _guess(path: Path, head: bytes) -> bool:
    return re.match(rb"^#\s*XDI/", head) is not None


FORMAT = Format(
    name="xdi",
    description="XAS Data Interchange (XDI 1.0/1.1)",
    guess_can_open=_guess,
    read_groups=read_xdi,
    extensions=(".xdi",),
    priority=80,
)
