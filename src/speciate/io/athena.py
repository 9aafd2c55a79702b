"""Athena project files (``.prj``): gzipped or plain Perl-like text, one record per group.

Each group is written as ``$old_group = 'name';``, ``@args = (key, value, ...);`` and
arrays ``@x``, ``@y`` (and optionally ``@i0``, ``@signal``, ``@stddev``) of quoted
numbers, closed by ``[record]``. The text is tokenized and parsed here; nothing from
the file is ever evaluated. Athena's stored energy shift ``bkg_eshift`` is added to
``@x`` and recorded in ``meta["athena"]["energy_shift"]``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speciate.edges import parse_edge
from speciate.errors import ReadError, ValidationError
from speciate.io._table import Table, decode, source_record, table_to_series
from speciate.io.registry import Format, ReadOptions, select_group
from speciate.series import Series

__all__ = ["FORMAT", "AthenaGroup", "parse_project", "read_athena"]

_GZIP_MAGIC = b"\x1f\x8b"
_STATEMENT = re.compile(r"^([$@%])(\w+)\s*=\s*(.*);\s*$", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        '(?P<sq>(?:[^'\\]|\\.)*)'
      | "(?P<dq>(?:[^"\\]|\\.)*)"
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<word>[A-Za-z_]\w*)
      | (?P<punct>=>|[()\[\]{},])
    )""",
    re.X,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
# Data arrays are flat lists of quoted numbers: taken in one regex pass (fast path)
# when nothing but quoted items, commas and blanks sits between the parentheses.
_QUOTED = re.compile(r"'([^']*)'")
#: @args entries copied to ``meta["athena"]``.
_KEPT_ARGS = (
    "bkg_e0",
    "bkg_eshift",
    "bkg_pre1",
    "bkg_pre2",
    "bkg_nor1",
    "bkg_nor2",
    "bkg_nnorm",
    "bkg_step",
    "bkg_z",
    "fft_edge",
    "file",
    "is_nor",
    "is_kev",
    "importance",
)
#: @args flags marking groups that hold something other than mu(E).
_NOT_MU = ("is_chi", "is_rsp", "is_qsp", "is_bkg", "is_diff")


@dataclass(frozen=True)
class AthenaGroup:
    """One group of a project, as stored (energies not yet shifted)."""

    name: str
    line: int
    args: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Athena's label of the group (its name if none)."""
        label = self.args.get("label")
        return str(label) if isinstance(label, str) and label.strip() else self.name


def _is_flat_list(body: str) -> bool:
    if "\\" in body or not (body.startswith("(") and body.endswith(")")):
        return False
    residue = _QUOTED.sub("", body[1:-1])
    return set(residue) <= {",", " ", "\t"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _tokens(text: str, path: Path, line: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ReadError(
                f"unexpected text {text[pos : pos + 30].strip()!r} in an Athena statement; "
                "expected quoted strings, numbers, lists or '=>'",
                path,
                line,
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        out.append((kind, _unescape(value) if kind in ("sq", "dq") else value))
        pos = match.end()
    return out


def _parse_value(tokens: list[tuple[str, str]], path: Path, line: int) -> Any:
    # A small recursive-descent parser for Perl literals: scalars, ( ), [ ], { } lists.
    def item(pos: int) -> tuple[Any, int]:
        if pos >= len(tokens):
            raise ReadError("Athena statement ends too early (truncated file?)", path, line)
        kind, value = tokens[pos]
        if kind == "punct" and value in _OPEN:
            close, items, pos = _OPEN[value], [], pos + 1
            while True:
                if pos >= len(tokens):
                    raise ReadError(
                        f"unclosed {value!r} in an Athena statement (truncated file?)", path, line
                    )
                kind, value2 = tokens[pos]
                if kind == "punct" and value2 == close:
                    return items, pos + 1
                if kind == "punct" and value2 in (",", "=>"):
                    pos += 1
                    continue
                sub, pos = item(pos)
                items.append(sub)
        if kind == "punct":
            raise ReadError(f"unexpected {value!r} in an Athena statement", path, line)
        if kind == "word" and value == "undef":
            return None, pos + 1
        return value, pos + 1

    value, pos = item(0)
    if pos != len(tokens):
        raise ReadError("unexpected text after a value in an Athena statement", path, line)
    return value


def _as_array(values: Any, name: str, group: str, path: Path, line: int) -> np.ndarray:
    if not isinstance(values, list) or any(isinstance(v, list) or v is None for v in values):
        raise ReadError(f"@{name} of group {group!r} must be a flat list of numbers", path, line)
    return _floats(values, name, group, path, line)


def _floats(values: list[str], name: str, group: str, path: Path, line: int) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except ValueError as exc:
        raise ReadError(
            f"@{name} of group {group!r} holds a non-numeric value ({exc})", path, line
        ) from None


def _args_dict(values: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(values, list) or len(values) % 2:
        raise ReadError("@args must be a list of key, value pairs", path, line)
    return {str(k): v for k, v in zip(values[::2], values[1::2])}


def parse_project(text: str, path: Path) -> tuple[list[AthenaGroup], dict[str, Any]]:
    """Parse the text of a project into its groups and project-level facts (journal)."""
    groups: list[AthenaGroup] = []
    project: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    lines = text.splitlines()
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line == "1;":
            continue
        if line.startswith("[record]"):
            if current is None:
                raise ReadError("'[record]' without a preceding $old_group", path, n)
            groups.append(_finish(current, path))
            current = None
            continue
        match = _STATEMENT.match(line)
        if match is None:
            raise ReadError(
                f"expected a Perl assignment such as \"@x = ('6539.0', ...);\"; found "
                f"{line[:60]!r}" + (" (truncated file?)" if n == len(lines) else ""),
                path,
                n,
            )
        sigil, name, body = match.groups()
        body = body.rstrip()
        if sigil == "@" and name != "args" and current is not None and _is_flat_list(body):
            values = _QUOTED.findall(body)
            current["arrays"][name] = _floats(values, name, current["name"], path, n)
            current["where"][name] = n
            continue
        value = _parse_value(_tokens(body, path, n), path, n)
        if sigil == "$" and name == "old_group":
            if current is not None:
                raise ReadError(f"group {current['name']!r} has no '[record]' line", path, n)
            current = {"name": str(value), "line": n, "args": {}, "arrays": {}, "where": {}}
        elif current is None:
            if name == "journal" and isinstance(value, list):
                project["journal"] = [str(v) for v in value if v is not None][:200]
        elif sigil == "@" and name == "args":
            current["args"] = _args_dict(value, path, n)
        elif sigil == "@":
            current["arrays"][name] = _as_array(value, name, current["name"], path, n)
            current["where"][name] = n
    if current is not None:
        raise ReadError(
            f"group {current['name']!r} is not closed by '[record]' (truncated file?)",
            path,
            len(lines),
        )
    return groups, project


def _finish(group: dict[str, Any], path: Path) -> AthenaGroup:
    arrays = group["arrays"]
    for required in ("x", "y"):
        if required not in arrays:
            raise ReadError(
                f"group {group['name']!r} has no @{required} array; expected @x (energy) and "
                "@y (mu)",
                path,
                group["line"],
            )
    n = arrays["x"].size
    if arrays["y"].size != n:
        raise ReadError(
            f"group {group['name']!r}: @x has {n} values but @y has {arrays['y'].size}",
            path,
            group["where"]["y"],
        )
    return AthenaGroup(group["name"], group["line"], group["args"], arrays)


def _truthy(value: Any) -> bool:
    try:
        return float(value) != 0
    except (TypeError, ValueError):
        return False


def _float_arg(group: AthenaGroup, key: str, path: Path) -> float:
    value = group.args.get(key, 0)
    try:
        out = float(value if value is not None else 0)
    except (TypeError, ValueError):
        raise ReadError(
            f"group {group.label!r}: {key} is {value!r}; expected a number", path, group.line
        ) from None
    if not np.isfinite(out):
        raise ReadError(f"group {group.label!r}: {key} is not finite", path, group.line)
    return out


def group_table(
    group: AthenaGroup, index: int, path: Path, journal: list[str] | None = None
) -> Table:
    """A `Table` for one group: ``energy`` = @x + bkg_eshift, ``energy_raw``, ``mu`` = @y."""
    for flag in _NOT_MU:
        if _truthy(group.args.get(flag)):
            raise ReadError(
                f"group {group.label!r} holds {flag[3:]} data, not mu(E); expected mu(E) groups",
                path,
                group.line,
            )
    eshift = _float_arg(group, "bkg_eshift", path)
    x = group.arrays["x"]
    columns = {"energy": x + eshift, "energy_raw": x, "mu": group.arrays["y"]}
    ignored = []
    for name, values in group.arrays.items():
        if name in ("x", "y"):
            continue
        if values.size == x.size and name not in columns:
            columns[name] = values
        else:
            ignored.append(name)
    kept = {k: group.args[k] for k in _KEPT_ARGS if k in group.args}
    kept = {k: v if isinstance(v, (str, type(None))) else str(v) for k, v in kept.items()}
    meta = {
        "athena": {
            "group": group.name,
            "index": index,
            "label": group.label,
            "energy_shift": eshift,
            "energy_shift_applied": True,
            "args": kept,
            "ignored_arrays": ignored,
        }
    }
    if journal:
        meta["athena"]["journal"] = journal
    meta.update(_edge_meta(group, path))
    first_line = np.full(x.size, group.line, dtype=int)
    return Table(
        columns=columns,
        lines=first_line,
        label=group.label,
        defaults={"energy": "energy", "mu": "mu"},
        meta=meta,
    )


def _edge_meta(group: Any, path: Path) -> dict[str, Any]:
    """``{"edge": ...}`` from the group's ``bkg_z`` (element) and ``fft_edge`` (core level)."""
    symbol, level = group.args.get("bkg_z"), group.args.get("fft_edge")
    if not isinstance(symbol, str) or not isinstance(level, str) or not symbol or not level:
        return {}
    try:
        edge = parse_edge(f"{symbol}-{level}", source="file")
    except ValidationError as exc:
        raise ReadError(f"group {group.label!r}: bkg_z/fft_edge: {exc}", path, group.line) from None
    return {"edge": edge.to_meta()}


def load_project_text(path: Path) -> tuple[str, str]:
    """The project's text, decompressing gzip; (text, "gzip"|"plain")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot open file: {exc.strerror or exc}", path) from exc
    compression = "plain"
    if data[:2] == _GZIP_MAGIC:
        compression = "gzip"
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReadError(
                f"corrupt or truncated gzip data ({exc}); expected a gzipped Athena project",
                path,
            ) from None
    text, _ = decode(path, data)
    return text, compression


def read_athena(path: Path, options: ReadOptions) -> list[Series]:
    """Read every group of an Athena project, each on its own energy grid."""
    text, compression = load_project_text(path)
    groups, project = parse_project(text, path)
    if not groups:
        raise ReadError("no groups found; expected '$old_group = ...' records", path)
    source = source_record(path, "athena", compression=compression, n_groups=len(groups))
    chosen = select_group([g.label for g in groups], options.group, path)
    indices = range(len(groups)) if chosen is None else [chosen]
    out = []
    for index in indices:
        group = groups[index]
        table = group_table(group, index, path, project.get("journal"))
        out.append(table_to_series(table, path, "athena", options, source))
    return out


def _guess(path: Path, head: bytes) -> bool:
    if head[:2] == _GZIP_MAGIC:
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error:
            return False
    return b"Athena project file" in head[:400] or b"$old_group" in head


FORMAT = Format(
    name="athena",
    description="Athena/Demeter project (.prj, gzipped or plain)",
    guess_can_open=_guess,
    read_groups=read_athena,
    extensions=(".prj",),
    priority=90,
    multi_group=True,
)
