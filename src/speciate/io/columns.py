"""Plain column files: a header, then columns of numbers.

Handles whitespace, comma or semicolon separators, comma decimal marks, ``#`` headers
whose last line names the columns (``# energy_raw_eV energy_shifted_eV mu``) and
free-text beamline headers without ``#`` followed by a column-label line (MRCAT/APS
10-BM ``energy Io It Iref If``).
"""

from __future__ import annotations

from pathlib import Path

from speciate.io._table import (
    Table,
    decode,
    header_lines,
    looks_like_text,
    numeric_block,
    numeric_cells,
    source_record,
    split_line,
    table_to_series,
    unique_identifiers,
)
from speciate.io.registry import Format, ReadOptions
from speciate.series import Series

__all__ = ["FORMAT", "column_labels", "read_columns"]

_COMMENTS = ("#", "!", "%", ";")


def column_labels(label_line: str | None, n_cols: int, delimiter: str | None) -> list[str] | None:
    """Column labels from the line just above the data, if it names ``n_cols`` columns.

    A leading comment mark is dropped. Tab-separated labels may contain spaces
    (``shifted energy<TAB>normalized``).
    """
    if label_line is None:
        return None
    text = label_line.strip().lstrip("".join(_COMMENTS)).strip()
    if not text or numeric_cells(text) is not None:
        return None
    candidates = [split_line(text, delimiter, False)]
    if "\t" in text:
        candidates.insert(0, [c.strip() for c in text.split("\t") if c.strip()])
    candidates.append(text.split())
    for cells in candidates:
        if len(cells) == n_cols:
            return cells
    return None


def parse_columns(path: Path, text: str) -> tuple[Table, list[str], int]:
    """Split a column file into a `Table`, its header lines and the first data line index."""
    lines = text.splitlines()
    block = numeric_block(lines, path)
    n_cols = block.data.shape[1]
    above = [line for line in lines[: block.start] if line.strip()]
    # A rule of dashes (or '#----') often separates the labels from the data: look past it.
    label_line = None
    for candidate in reversed(above[-2:]):
        stripped = candidate.strip().lstrip("#").strip()
        if stripped and set(stripped) <= set("-=_*~ "):
            continue
        label_line = candidate
        break
    raw = column_labels(label_line, n_cols, block.delimiter)
    if raw is None:
        raw = [f"col{i + 1}" for i in range(n_cols)]
    names = unique_identifiers(raw)
    table = Table(
        columns={n: block.data[:, i] for i, n in enumerate(names)},
        lines=block.lines,
        label=path.stem,
        raw_names=tuple(raw),
        meta={
            "header": header_lines(lines, block.start),
            "delimiter": {None: "whitespace", ",": "comma", ";": "semicolon"}[block.delimiter],
            "decimal": "," if block.comma_decimal else ".",
        },
    )
    return table, header_lines(lines, block.start), block.start


def read_columns(path: Path, options: ReadOptions) -> list[Series]:
    """Read a plain column file as one spectrum."""
    text, codec = decode(path)
    table, _, _ = parse_columns(path, text)
    source = source_record(path, "columns", codec)
    return [table_to_series(table, path, "columns", options, source)]


def _guess(path: Path, head: bytes) -> bool:
    return looks_like_text(head)


FORMAT = Format(
    name="columns",
    description="plain text columns (whitespace/comma/semicolon; '#' or free-text header)",
    guess_can_open=_guess,
    read_groups=read_columns,
    extensions=(".dat", ".txt", ".csv", ".xmu", ".nor"),
    priority=0,
)
