"""Cycler CSV exports with a vendor header block: PEC and Novonix -> vendor table.

Both write a free-form header before the data table, so a plain ``pandas.read_csv``
fails on them; each adapter finds its table header, reads the rows below it and takes
the acquisition start from the first row's clock.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.echem._raw import RawTable, check_truncated
from speciate.errors import ReadError

__all__ = ["read_novonix", "read_pec"]

_HMS = re.compile(r"^\s*(\d+):(\d{2}):(\d{2}(?:\.\d*)?)\s*$")


def _hours_minutes_seconds(values: pd.Series, path: Path, first_line: int) -> np.ndarray:
    """``hhh:mm:ss.xxx`` (hours may exceed 24) -> seconds."""
    parts = values.astype(str).str.extract(_HMS)
    bad = parts.isna().any(axis=1).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ReadError(
            f"expected a duration such as '12:34:56.789'; found {values.iloc[row]!r}",
            path,
            first_line + row,
        )
    p = parts.astype(float).to_numpy()
    return p[:, 0] * 3600.0 + p[:, 1] * 60.0 + p[:, 2]


def _header_line(lines: list[str], starts: str, path: Path, what: str) -> int:
    idx = next((i for i, ln in enumerate(lines) if ln.startswith(starts)), None)
    if idx is None:
        raise ReadError(f"expected {what} (a line starting {starts!r}); found none", path)
    return idx


# ----------------------------------------------------------------------------- PEC
_PEC_TIME = "Total Time (Hours in hh:mm:ss.xxx)"


def read_pec(path: Path, repair: frozenset[str]) -> RawTable:
    """PEC tester CSV export: ``Key:,value`` header lines, then the ``Test,Cell,...`` table.

    Data rows carry more fields than the header names (trailing auxiliary channels
    without names); only the named columns are kept.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        lines = fh.read().splitlines()
    idx = _header_line(lines, "Test,Cell,", path, "the PEC data table header")
    names = [n for n in lines[idx].split(",") if n.strip()]
    first_line = idx + 2
    try:
        table = pd.read_csv(
            StringIO("\n".join(lines[idx + 1 :])),
            header=None,
            names=names,
            usecols=range(len(names)),
            index_col=False,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReadError(f"the PEC data table could not be parsed: {exc}", path) from exc
    required = [_PEC_TIME, "Voltage (V)", "Current (A)"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ReadError(
            f"expected PEC columns {required}; missing {missing} in {names}", path, idx + 1
        )
    table, dropped = check_truncated(table, required, path, first_line, repair)
    table = table.assign(
        **{"Total Time (s)": _hours_minutes_seconds(table[_PEC_TIME], path, first_line)}
    )
    meta: dict[str, Any] = {"reader": "speciate PEC CSV reader (pandas)"}
    header = dict(ln.split(":,", 1) for ln in lines[:idx] if ":," in ln)
    for key in ("Test", "TestRegime Name", "Chemistry", "Start Time"):
        if key in header:
            meta[f"header_{key.lower().replace(' ', '_')}"] = header[key].strip(",")
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    start = None
    if "Real Time" in table.columns:
        # PEC writes month/day/year clocks (the header's Manufacturing Week 1 has Date Made 01/09)
        first = pd.to_datetime(table["Real Time"].iloc[0], format="%m/%d/%Y %H:%M:%S")
        start_ts = first - pd.to_timedelta(float(table["Total Time (s)"].iloc[0]), unit="s")
        start = np.datetime64(start_ts.to_datetime64(), "ns")
        meta["date_order"] = "month/day/year, as PEC writes Real Time"
    return RawTable("pec", table, start, first_line, meta)


# ----------------------------------------------------------------------------- Novonix
def read_novonix(path: Path, repair: frozenset[str]) -> RawTable:
    """Novonix HPC CSV export: ``[Summary]``/``[Protocol]`` blocks, then ``[Data]``.

    Some exports quote each whole data line; the quotes are removed line by line before
    the comma-separated fields are read.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        lines = fh.read().splitlines()
    idx = _header_line(lines, "[Data]", path, "a Novonix [Data] section")
    body = [ln.strip() for ln in lines[idx + 1 :]]
    quoted = (
        bool(body) and body[0].startswith('"') and body[0].endswith('"') and body[0].count('"') == 2
    )
    if quoted:
        body = [ln[1:-1] if ln.startswith('"') and ln.endswith('"') else ln for ln in body]
    first_line = idx + 3
    try:
        table = pd.read_csv(StringIO("\n".join(body)), index_col=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReadError(f"the Novonix [Data] table could not be parsed: {exc}", path) from exc
    required = ["Run Time (h)", "Potential (V)", "Current (A)"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ReadError(
            f"expected Novonix columns {required}; missing {missing} in {list(table.columns)}",
            path,
            idx + 2,
        )
    table, dropped = check_truncated(table, required, path, first_line, repair)
    meta: dict[str, Any] = {"reader": "speciate Novonix CSV reader (pandas)"}
    for ln in lines[:idx]:
        key, sep, value = ln.partition(": ")
        if sep and key in ("Protocol", "Mass (g)", "Capacity (Ah)", "Started", "Version"):
            meta[f"header_{key.split(' ')[0].lower()}"] = value.strip()
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    start = None
    if "Date and Time" in table.columns:
        first = pd.to_datetime(table["Date and Time"].iloc[0], format="%Y-%m-%d %I:%M:%S %p")
        start_ts = first - pd.to_timedelta(float(table["Run Time (h)"].iloc[0]) * 3600.0, unit="s")
        start = np.datetime64(start_ts.to_datetime64(), "ns")
    return RawTable("novonix", table, start, first_line, meta)
