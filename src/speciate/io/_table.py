"""Shared machinery of the text readers: decode, split a numeric table, pick columns.

A `Table` is what every text format reduces to (named columns plus the file line of
each row); `table_to_series` turns one into a `Series`, choosing the energy, mu and
reference columns from the caller's options, the format's convention or the names.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import ReadError, SpeciateError
from speciate.io.expressions import ExpressionError, evaluate, names_in, resolve_name
from speciate.io.registry import ReadOptions
from speciate.provenance import file_sha256, make_provenance
from speciate.series import Series, merge_duplicates

__all__ = [
    "ColumnChoiceError",
    "Table",
    "decode",
    "identifier",
    "looks_like_text",
    "numeric_block",
    "table_to_series",
]

#: Column names (lower case) taken as the energy without being asked.
ENERGY_NAMES = ("energy", "e", "energy_ev", "ev", "energy_e")
#: Column names (lower case) taken as mu(E) without being asked, as in XDI and Larch.
MU_NAMES = (
    "mu",
    "xmu",
    "mutrans",
    "mu_trans",
    "xmu_trans",
    "mufluor",
    "mu_fluor",
    "xmu_fluor",
    "normtrans",
    "normfluor",
    "norm",
    "normalized",
)
#: Column names (lower case) taken as the reference-foil channel without being asked.
REFERENCE_NAMES = ("murefer", "mu_refer", "mu_ref", "muref")
_MAX_HEADER_LINES = 300


class ColumnChoiceError(ReadError):
    """The file does not say which column holds energy or mu, and none was given.

    ``columns`` lists the columns found, so callers (``speciate info``) can show them.
    """

    def __init__(self, message: str, path: Path, columns: Sequence[str]) -> None:
        super().__init__(message, path)
        self.columns = list(columns)


@dataclass(frozen=True)
class Table:
    """Named numeric columns read from one file (or one group of it).

    Attributes
    ----------
    columns
        Column name (a Python identifier) -> float array (n_rows,), in file order.
    lines
        1-based file line of each row, shape (n_rows,), for error messages.
    label
        Name of the spectrum.
    raw_names
        Column names as written in the file, same order as ``columns``.
    defaults
        The format's own choice of ``energy``/``mu``/``reference`` expressions, if any.
    time
        Acquisition start (``numpy.datetime64``) or None.
    meta
        Format-specific facts kept in ``Series.meta`` (header fields...).
    """

    columns: Mapping[str, np.ndarray]
    lines: np.ndarray
    label: str
    raw_names: tuple[str, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    time: np.datetime64 | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


def looks_like_text(head: bytes) -> bool:
    """Whether ``head`` looks like a text file (no NUL bytes, mostly printable)."""
    if not head or b"\x00" in head:
        return False
    printable = sum(1 for b in head if b >= 32 or b in (9, 10, 13))
    return printable / len(head) > 0.97


def decode(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """Read a text file: UTF-8, else Latin-1 (beamline files often are). Returns (text, codec)."""
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReadError(f"cannot open file: {exc.strerror or exc}", path) from exc
    if not data.strip():
        raise ReadError("file is empty; expected a header and columns of numbers", path)
    if b"\x00" in data:
        pos = data.index(b"\x00")
        line = data.count(b"\n", 0, pos) + 1
        raise ReadError("found a NUL byte; expected a text file", path, line)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def identifier(name: str, index: int) -> str:
    """A Python identifier for a column label (``"xmu(trans)"`` -> ``"xmu_trans"``)."""
    ident = re.sub(r"\W+", "_", name.strip()).strip("_")
    if not ident:
        return f"col{index + 1}"
    if ident[0].isdigit():
        ident = f"c{ident}"
    return ident


def unique_identifiers(raw: Sequence[str]) -> list[str]:
    """`identifier` for every label, with ``_2``, ``_3``... added to repeats."""
    out: list[str] = []
    for i, name in enumerate(raw):
        base = identifier(name, i)
        ident, k = base, 2
        while ident in out:
            ident, k = f"{base}_{k}", k + 1
        out.append(ident)
    return out


_COMMA_DECIMAL = re.compile(r"^[-+]?\d*,\d+(?:[eE][-+]?\d+)?$")


def split_style(line: str) -> tuple[str | None, bool]:
    """Delimiter (None = whitespace) and whether commas are decimal marks, from a data line."""
    if ";" in line:
        return ";", "," in line
    if "," in line:
        tokens = line.split()
        if len(tokens) >= 2 and all(_COMMA_DECIMAL.match(t) or _is_float(t) for t in tokens):
            return None, True
        return ",", False
    return None, False


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def split_line(line: str, delimiter: str | None, comma_decimal: bool) -> list[str]:
    """Cells of one line under a given style."""
    cells = line.split(delimiter) if delimiter else line.split()
    cells = [c.strip() for c in cells]
    if delimiter and cells and cells[-1] == "":
        cells = cells[:-1]  # a trailing delimiter is common in spreadsheet exports
    if comma_decimal:
        cells = [c.replace(",", ".") for c in cells]
    return cells


def numeric_cells(line: str) -> list[float] | None:
    """The numbers of ``line`` under its own style, or None if any cell is not a number."""
    delimiter, comma = split_style(line)
    cells = split_line(line, delimiter, comma)
    try:
        return [float(c) for c in cells]
    except ValueError:
        return None


@dataclass(frozen=True)
class Block:
    """The numeric part of a text file."""

    data: np.ndarray  # (n_rows, n_cols)
    lines: np.ndarray  # (n_rows,) 1-based line numbers
    start: int  # 0-based index of the first data line in ``all_lines``
    delimiter: str | None
    comma_decimal: bool


def numeric_block(
    all_lines: Sequence[str], path: Path, comment: str = "#", start: int | None = None
) -> Block:
    """Parse the table of numbers that ends a text file.

    The data start at ``start`` (0-based line index) or, if None, at the first line
    holding at least two numbers. From there on every non-blank, non-comment line must
    hold the same number of numeric cells.

    Raises
    ------
    ReadError
        Naming the line and the cell when a row is not numeric or has the wrong length.
    """
    if start is None:
        start = _first_data_line(all_lines, comment)
        if start is None:
            raise ReadError(
                "found no line with at least two numbers; expected columns of numbers "
                "(energy in eV, then mu or detector counts)",
                path,
            )
    else:
        start = next(
            (
                i
                for i in range(start, len(all_lines))
                if all_lines[i].strip() and not all_lines[i].strip().startswith(comment)
            ),
            None,
        )
        if start is None:
            raise ReadError("the header is not followed by any data rows", path, len(all_lines))
    first = all_lines[start].strip()
    delimiter, comma = split_style(first)
    n_cols = len(split_line(first, delimiter, comma))
    body = all_lines[start:]
    text = "\n".join(body)
    if comma:
        text = text.replace(",", ".")
    if delimiter and first.endswith(delimiter):
        # spreadsheet exports end every row with the separator
        text = re.sub(rf"{re.escape(delimiter)}[ \t]*$", "", text, flags=re.M)
    try:
        # numpy's C parser skips blank and comment lines itself; rows are located in
        # Python only when something must be reported or lines were skipped
        data = np.loadtxt(
            io.StringIO(text), delimiter=delimiter, ndmin=2, dtype=float, comments=comment
        )
    except ValueError:
        rows, numbers = _data_rows(all_lines, start, comment, comma)
        _raise_bad_row(rows, numbers, delimiter, n_cols, path)
        raise  # pragma: no cover - _raise_bad_row always raises
    if data.shape[0] == len(body):
        numbers = list(range(start + 1, start + 1 + len(body)))
    else:
        numbers = _data_rows(all_lines, start, comment, comma)[1]
    if data.shape[1] != n_cols:
        raise ReadError(f"expected {n_cols} columns; found {data.shape[1]}", path, numbers[0])
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = (int(k[0]) for k in np.nonzero(bad))
        raise ReadError(
            f"non-finite value ({data[row, col]}) in column {col + 1}; expected a finite number",
            path,
            numbers[row],
        )
    return Block(data, np.asarray(numbers), start, delimiter, comma)


def _data_rows(
    all_lines: Sequence[str], start: int, comment: str, comma: bool
) -> tuple[list[str], list[int]]:
    rows: list[str] = []
    numbers: list[int] = []
    for i in range(start, len(all_lines)):
        text = all_lines[i].strip()
        if text and not text.startswith(comment):
            rows.append(text.replace(",", ".") if comma else text)
            numbers.append(i + 1)
    return rows, numbers


def _first_data_line(all_lines: Sequence[str], comment: str) -> int | None:
    for i, line in enumerate(all_lines):
        text = line.strip()
        if not text or text.startswith(comment):
            continue
        cells = numeric_cells(text)
        if cells is not None and len(cells) >= 2:
            return i
    return None


def _raise_bad_row(
    rows: Sequence[str], numbers: Sequence[int], delimiter: str | None, n_cols: int, path: Path
) -> None:
    # Only reached on failure: find the offending row to name its line and cell.
    for text, line in zip(rows, numbers):
        cells = split_line(text, delimiter, False)
        if len(cells) != n_cols:
            raise ReadError(
                f"expected {n_cols} columns (as on the first data line); found {len(cells)}: "
                f"{text[:80]!r}",
                path,
                line,
            )
        for j, cell in enumerate(cells):
            try:
                value = float(cell)
            except ValueError:
                raise ReadError(
                    f"non-numeric cell {cell[:40]!r} in column {j + 1}; expected a number",
                    path,
                    line,
                ) from None
            if not np.isfinite(value):
                raise ReadError(
                    f"non-finite value {cell!r} in column {j + 1}; expected a finite number",
                    path,
                    line,
                )
    raise ReadError("could not parse the numeric table", path, numbers[0] if numbers else None)


def header_lines(all_lines: Sequence[str], stop: int) -> list[str]:
    """Non-blank lines before the data, at most a few hundred, for ``meta``."""
    out = [line.rstrip() for line in all_lines[:stop] if line.strip()]
    return out[:_MAX_HEADER_LINES]


# ---------------------------------------------------------------------- choosing columns
def _guess(table: Table, path: Path, role: str) -> str | None:
    names = list(table.columns)
    lower = {n.lower(): n for n in names}
    if role == "energy":
        exact = [lower[n] for n in ENERGY_NAMES if n in lower]
        if len(exact) == 1:
            return exact[0]
        prefixed = [n for n in names if n.lower().startswith("energy")]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(names) == 2 and not prefixed and not exact:
            return names[0]
        what = f"several candidates {prefixed}" if prefixed else "no column named energy"
        raise ColumnChoiceError(
            f"cannot tell which column holds the energy ({what}); columns found: {names}. "
            "Pass energy='<column>'",
            path,
            names,
        )
    if role == "mu":
        exact = [lower[n] for n in MU_NAMES if n in lower]
        if len(exact) == 1:
            return exact[0]
        if len(names) == 2 and not exact:
            return names[1]
        what = f"several candidates {exact}" if exact else "no column named mu, xmu, mutrans..."
        raise ColumnChoiceError(
            f"cannot tell which column holds mu(E) ({what}); columns found: {names}. Pass "
            "mu='<column>' or an expression such as mu='ln(i0/it)' or mu='if/i0'",
            path,
            names,
        )
    found = [lower[n] for n in REFERENCE_NAMES if n in lower]
    return found[0] if len(found) == 1 else None


def _column(table: Table, expression: str, role: str, path: Path) -> np.ndarray:
    try:
        return evaluate(expression, table.columns)
    except ExpressionError as exc:
        raise ReadError(f"{role}={expression!r}: {exc}", path) from exc


def _check_kev(energy: np.ndarray, expression: str, path: Path) -> None:
    lo, hi = float(energy.min()), float(energy.max())
    if 0.1 <= lo and hi < 100.0:
        raise ReadError(
            f"energies run from {lo:g} to {hi:g}: these look like keV, but speciate works in "
            f"eV. Convert explicitly with energy='{expression}*1000'",
            path,
        )


def _order_rows(
    energy: np.ndarray, table: Table, options: ReadOptions, path: Path
) -> tuple[np.ndarray, bool]:
    step = np.diff(energy)
    if (step >= 0).all():
        return np.arange(energy.size), False
    i = int(np.nonzero(step < 0)[0][0])
    if not options.sort:
        raise ReadError(
            f"energy decreases from {energy[i]:.4f} to {energy[i + 1]:.4f} eV; expected "
            "increasing energies. Pass sort=True to sort the rows explicitly",
            path,
            int(table.lines[i + 1]),
        )
    return np.argsort(energy, kind="stable"), True


def table_to_series(
    table: Table, path: Path, fmt: str, options: ReadOptions, source: Mapping[str, Any]
) -> Series:
    """Build a one-spectrum `Series` from ``table`` as ``options`` ask.

    ``source`` (file name, hash...) and the choices made (columns, expressions, duplicate
    handling, sorting) are recorded in ``meta``.
    """
    if not table.columns or len(table.lines) < 2:
        raise ReadError(f"found {len(table.lines)} data row(s); a spectrum needs at least 2", path)
    chosen: dict[str, str | None] = {}
    for role in ("energy", "mu", "reference"):
        given = getattr(options, role)
        default = table.defaults.get(role)
        chosen[role] = given or default or _guess(table, path, role)
    energy_expr, mu_expr, ref_expr = chosen["energy"], chosen["mu"], chosen["reference"]
    assert energy_expr is not None and mu_expr is not None
    energy = _column(table, energy_expr, "energy", path)
    _check_kev(energy, energy_expr, path)
    mu = _column(table, mu_expr, "mu", path)
    ref = None if ref_expr is None else _column(table, ref_expr, "reference", path)
    order, sorted_ = _order_rows(energy, table, options, path)
    energy, mu = energy[order], mu[np.newaxis, order]
    ref = None if ref is None else ref[np.newaxis, order]
    try:
        energy, mu, ref, n_dup = merge_duplicates(energy, mu, ref, options.duplicates)
    except SpeciateError as exc:
        dup = np.nonzero(np.diff(energy) == 0)[0]
        line = int(table.lines[order[dup[0] + 1]]) if dup.size else None
        raise ReadError(str(exc), path, line) from exc
    meta = dict(table.meta)
    used = sorted(
        {resolve_name(n, table.columns) for e in chosen.values() if e for n in names_in(e)}
    )
    meta.update(
        source=dict(source),
        format=fmt,
        columns_found=list(table.columns),
        columns_used=used,
        expressions={k: v for k, v in chosen.items() if v is not None},
        duplicates={"choice": options.duplicates, "n_removed": int(n_dup)},
        sorted=sorted_,
        provenance=make_provenance(
            "speciate.io.read",
            {
                "format": fmt,
                "energy": energy_expr,
                "mu": mu_expr,
                "reference": ref_expr,
                "duplicates": options.duplicates,
                "sort": options.sort,
            },
            input=dict(source),
        ),
    )
    if table.raw_names and list(table.raw_names) != list(table.columns):
        meta["column_labels"] = list(table.raw_names)
    try:
        return Series(
            energy,
            mu,
            labels=(table.label,),
            time=None if table.time is None else np.array([table.time]),
            reference=ref,
            meta=meta,
        )
    except SpeciateError as exc:
        raise ReadError(str(exc), path) from exc


def source_record(path: Path, fmt: str, codec: str | None = None, **extra: Any) -> dict[str, Any]:
    """What identifies the input: file name, size, SHA-256, format (and text encoding)."""
    record: dict[str, Any] = {
        "path": str(path),
        "name": path.name,
        "sha256": file_sha256(path),
        "format": fmt,
    }
    if codec:
        record["encoding"] = codec
    record.update(extra)
    return record
