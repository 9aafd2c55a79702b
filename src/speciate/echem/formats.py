"""One adapter per cycler format: file -> vendor table (pandas) + acquisition start.

Each adapter only reads; `speciate.echem.normalize` maps the vendor table onto the
`Cycling` columns with the column maps kept as data in ``columns.json``. Third-party
readers (galvani for BioLogic ``.mpr`` and Arbin ``.res``, NewareNDA for ``.nda``/``.ndax``)
are imported inside the adapters, so the rest of speciate works without them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import re
import shutil
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.errors import ReadError, import_extra

__all__ = ["FORMATS", "RawTable", "sniff"]


@dataclass(frozen=True)
class RawTable:
    """A vendor table as read, before mapping onto `Cycling` columns.

    Attributes
    ----------
    format
        Key of the column map in ``columns.json`` (``"biologic"``, ``"arbin"``...).
    table
        The vendor columns, one row per data point.
    start_time
        Acquisition start (``datetime64[ns]``) or None.
    first_data_line
        1-based file line of the first table row (None for binary files), so that
        errors can name the line of a bad row.
    meta
        What the adapter learnt from the header (reader, version, active mass...).
    """

    format: str
    table: pd.DataFrame
    start_time: np.datetime64 | None
    first_data_line: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _require(module: str, path: Path) -> Any:
    return import_extra(module, "echem", f"reading {path.name}")


def _check_truncated(
    table: pd.DataFrame,
    required: list[str],
    path: Path,
    first_line: int | None,
    repair: frozenset[str],
) -> tuple[pd.DataFrame, int]:
    """Rows with missing required fields: an error, or dropped when asked (only at the end)."""
    present = [c for c in required if c in table.columns]
    bad = table[present].isna().any(axis=1).to_numpy()
    if not bad.any():
        return table, 0
    first_bad = int(np.argmax(bad))
    line = None if first_line is None else first_line + first_bad
    only_tail = bool(bad[first_bad:].all())
    if only_tail and "drop_incomplete_rows" in repair:
        return table.iloc[:first_bad].reset_index(drop=True), int(bad.sum())
    what = "the last row is incomplete (file truncated?)" if only_tail else "a row has empty fields"
    hint = "; pass repair=['drop_incomplete_rows'] to drop the incomplete tail" if only_tail else ""
    raise ReadError(
        f"{what}: expected values in {present}, found none in some of them{hint}", path, line
    )


# ----------------------------------------------------------------------------- BioLogic
_MPT_MAGIC = ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE")


def _read_mpt(path: Path, repair: frozenset[str]) -> RawTable:
    with open(path, encoding="latin-1") as fh:
        first = fh.readline().strip()
        second = fh.readline()
        if first not in _MPT_MAGIC:
            raise ReadError(
                f"expected the first line {_MPT_MAGIC[0]!r}; found {first[:40]!r}", path, 1
            )
        match = re.match(r"Nb header lines\s*:\s*(\d+)", second)
        if not match:
            raise ReadError(
                f"expected 'Nb header lines : N'; found {second.strip()[:40]!r}", path, 2
            )
        n_header = int(match.group(1))
        header = [fh.readline() for _ in range(n_header - 3)]
        columns_line = fh.readline()
        sample = fh.readline()
    start = None
    meta: dict[str, Any] = {"reader": "speciate .mpt text reader (pandas)"}
    for line in header:
        if line.startswith("Acquisition started on"):
            text = line.split(":", 1)[1].strip()
            for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f"):
                with contextlib.suppress(ValueError):
                    start = np.datetime64(_dt.datetime.strptime(text, fmt), "ns")
                    break
        elif line.startswith("Mass of active material"):
            meta["header_active_mass"] = line.split(":", 1)[1].strip()
    names = columns_line.rstrip("\r\n").rstrip("\t").split("\t")
    decimal = "," if re.search(r"\d,\d", sample) else "."
    try:
        table = pd.read_csv(
            path,
            sep="\t",
            skiprows=n_header,
            header=None,
            names=names,
            usecols=range(len(names)),
            decimal=decimal,
            encoding="latin-1",
            index_col=False,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReadError(
            f"the data table could not be parsed as tab-separated numbers: {exc}", path
        ) from exc
    non_numeric = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        col = non_numeric[0]
        bad = pd.to_numeric(table[col], errors="coerce").isna() & table[col].notna()
        row = int(np.argmax(bad.to_numpy()))
        raise ReadError(
            f"column {col!r} must hold numbers; found {table[col].iloc[row]!r}",
            path,
            n_header + 1 + row,
        )
    table, dropped = _check_truncated(table, ["time/s", "Ewe/V"], path, n_header + 1, repair)
    meta["decimal_separator"] = decimal
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    return RawTable("biologic", table, start, n_header + 1, meta)


def _read_mpr(path: Path, repair: frozenset[str]) -> RawTable:
    _require("galvani", path)
    from galvani import BioLogic

    try:
        mpr = BioLogic.MPRfile(str(path))
    except (ValueError, NotImplementedError, OSError, KeyError, IndexError) as exc:
        raise ReadError(
            f"galvani could not understand this .mpr ({type(exc).__name__}: {exc}); export it "
            "from EC-Lab as text (.mpt) and read that instead",
            path,
        ) from exc
    data = mpr.data
    table = pd.DataFrame(
        {name: np.asarray(data[name]) for name in data.dtype.names if name != "flags"}
    )
    start = getattr(mpr, "timestamp", None)
    start = None if start is None else np.datetime64(start, "ns")
    meta = {"reader": "galvani.BioLogic.MPRfile", "mpr_data_version": int(mpr.version)}
    return RawTable("biologic", table, start, None, meta)


# ----------------------------------------------------------------------------- Neware
def _read_neware(path: Path, repair: frozenset[str]) -> RawTable:
    newarenda = _require("NewareNDA", path)
    try:
        with warnings.catch_warnings():
            # NewareNDA's own pandas deprecation notices are not the user's concern
            warnings.filterwarnings("ignore", module="NewareNDA")
            table = newarenda.read(str(path))
    except Exception as exc:
        raise ReadError(
            f"NewareNDA could not read this file ({type(exc).__name__}: {exc}); "
            "is it a complete .nda/.ndax?",
            path,
        ) from exc
    if len(table) == 0:
        raise ReadError("NewareNDA found no data records (empty or truncated file)", path)
    table, note = _neware_test_time(table, path)
    start = None
    if "Timestamp" in table.columns:
        stamp = pd.to_datetime(table["Timestamp"].iloc[0])
        zone = "as written in the file (wall clock)"
        if stamp.tzinfo is not None:
            # an epoch instant: UTC, whatever the reading machine's time zone
            stamp = stamp.tz_convert("UTC").tz_localize(None)
            zone = "UTC"
        start_ts = stamp - pd.to_timedelta(float(table["Time"].iloc[0]), unit="s")
        start = np.datetime64(start_ts.to_datetime64(), "ns")
    table = table.assign(Status=table["Status"].astype(str)) if "Status" in table else table
    meta = {"reader": "NewareNDA.read"}
    if start is not None:
        meta["start_time_zone"] = zone
    if note:
        meta["time_note"] = note
    return RawTable("neware", table, start, None, meta)


def _neware_test_time(table: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, str | None]:
    """Some Neware files write the step time in ``Time``: accumulate it into test time."""
    time = table["Time"].to_numpy(dtype=float)
    reset = np.nonzero(np.diff(time) < 0)[0] + 1
    if reset.size == 0:
        return table, None
    step = table["Step_Index"] if "Step_Index" in table else table["Step"]
    step = step.to_numpy()
    same_step = step[reset] == step[reset - 1]
    if same_step.any():
        row = int(reset[np.argmax(same_step)])
        raise ReadError(
            f"Time goes backwards inside step {step[row]} ({time[row - 1]:.6g} s -> "
            f"{time[row]:.6g} s at record {row + 1})",
            path,
        )
    jump = np.zeros_like(time)
    jump[reset] = time[reset - 1]
    out = table.copy()
    out["Time"] = time + np.cumsum(jump)
    return out, "Time restarts at each step in this file (step time); test time accumulated"


# ----------------------------------------------------------------------------- Arbin
def _ole_to_datetime64(days: float) -> np.datetime64:
    return np.datetime64("1899-12-30T00:00:00", "ns") + np.timedelta64(round(days * 86400e6), "us")


def _read_arbin_res(path: Path, repair: frozenset[str]) -> RawTable:
    _require("galvani", path)
    if shutil.which("mdb-export") is None:
        raise ReadError(
            "Arbin .res files need the 'mdb-export' program from mdbtools "
            "(Debian/Ubuntu: apt-get install mdbtools)",
            path,
        )
    from galvani import res2sqlite

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            con = res2sqlite.convert_arbin_to_sqlite(str(path))
    except Exception as exc:
        raise ReadError(
            f"galvani/mdbtools could not convert this .res ({type(exc).__name__}: "
            f"{exc}); is it a complete Arbin results file?",
            path,
        ) from exc
    try:
        table = pd.read_sql("SELECT * FROM Channel_Normal_Table ORDER BY Data_Point", con)
        glob = pd.read_sql("SELECT * FROM Global_Table", con)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise ReadError(f"the converted .res has no readable data table: {exc}", path) from exc
    finally:
        con.close()
    if len(table) == 0:
        raise ReadError("the Arbin file has no data points (Channel_Normal_Table is empty)", path)
    start = None
    meta: dict[str, Any] = {"reader": "galvani.res2sqlite + mdbtools"}
    if len(glob):
        g = glob.iloc[0]
        if pd.notna(g.get("Start_DateTime")):
            start = _ole_to_datetime64(float(g["Start_DateTime"]))
        if pd.notna(g.get("MASS")) and g.get("MASS"):
            meta["header_active_mass"] = f"{float(g['MASS'])} g"
        meta["test_name"] = str(g.get("Test_Name"))
    if table["Test_ID"].nunique() > 1:
        raise ReadError(f"the .res holds {table['Test_ID'].nunique()} tests; expected one", path)
    return RawTable("arbin", table, start, None, meta)


def _read_arbin_xlsx(path: Path, repair: frozenset[str]) -> RawTable:
    _require("openpyxl", path)
    try:
        sheets = pd.read_excel(path, sheet_name=None)
    except (ValueError, OSError, KeyError) as exc:
        raise ReadError(f"could not open as an Excel workbook: {exc}", path) from exc
    # Arbin splits long records over Channel_<n>_1, Channel_<n>_2... sheets
    names = [n for n in sheets if n.startswith("Channel") and "Chart" not in n]
    if not names:
        raise ReadError(f"expected Arbin 'Channel_*' data sheets; found {list(sheets)}", path)
    table = pd.concat([sheets[n] for n in names], ignore_index=True)
    start = None
    if {"Date_Time", "Test_Time(s)"} <= set(table.columns):
        first = pd.Timestamp(table["Date_Time"].iloc[0])
        start_ts = first - pd.to_timedelta(float(table["Test_Time(s)"].iloc[0]), unit="s")
        start = np.datetime64(start_ts.to_datetime64(), "ns")
    meta = {"reader": "pandas.read_excel (openpyxl)", "sheets": names}
    return RawTable("arbin", table, start, None, meta)


# ----------------------------------------------------------------------------- Maccor
_DURATION = re.compile(r"^\s*(\d+)d\s+(\d+):(\d+):([\d.]+)\s*$")


def _duration_seconds(values: pd.Series, path: Path, first_line: int) -> np.ndarray:
    text = values.astype(str)
    parts = text.str.extract(_DURATION)
    bad = parts.isna().any(axis=1).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ReadError(
            f"expected a duration such as '0d 00:00:10.0000'; found {text.iloc[row]!r}",
            path,
            first_line + row,
        )
    p = parts.astype(float).to_numpy()
    return p[:, 0] * 86400 + p[:, 1] * 3600 + p[:, 2] * 60 + p[:, 3]


def _read_maccor(path: Path, repair: frozenset[str]) -> RawTable:
    with open(path, encoding="latin-1") as fh:
        lines = [fh.readline() for _ in range(40)]
    header_idx = next((i for i, ln in enumerate(lines) if ln.startswith(("Rec#\t", "Rec\t"))), None)
    if header_idx is None:
        raise ReadError(
            "expected a Maccor column header starting with 'Rec#' or 'Rec' in the "
            "first 40 lines; found none",
            path,
        )
    skip_blank = header_idx + 1 < len(lines) and not lines[header_idx + 1].strip()
    first_line = header_idx + 2 + int(skip_blank)
    sample = lines[first_line - 1] if first_line - 1 < len(lines) else ""
    decimal = "," if re.search(r"\t\d+,\d+\t", sample) else "."
    table = pd.read_csv(
        path,
        sep="\t",
        skiprows=header_idx,
        header=0,
        decimal=decimal,
        encoding="latin-1",
        index_col=False,
        skip_blank_lines=True,
    )
    table = table.loc[:, ~table.columns.str.startswith("Unnamed")]
    meta: dict[str, Any] = {
        "reader": "speciate Maccor text reader (pandas)",
        "decimal_separator": decimal,
    }
    if header_idx > 0:
        for ln in lines[:header_idx]:
            key, _, value = ln.partition("\t")
            if key.strip() in ("Started", "Date of Test:"):
                meta["header_start"] = value.strip()
    time_col = "Test (Sec)" if "Test (Sec)" in table.columns else "TestTime"
    if time_col not in table.columns:
        raise ReadError(
            f"expected a 'Test (Sec)' or 'TestTime' column; found {list(table)[:12]}",
            path,
            header_idx + 1,
        )
    table, dropped = _check_truncated(
        table, [time_col, "Volts", "Voltage [V]", "Amps", "Current [A]"], path, first_line, repair
    )
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    if not pd.api.types.is_numeric_dtype(table[time_col]):
        table[time_col] = _duration_seconds(table[time_col], path, first_line)
    elif time_col == "TestTime":
        # this export writes TestTime in minutes (its DPT Time advances 60 s per unit)
        table[time_col] = table[time_col].astype(float) * 60.0
        meta["time_unit_read"] = "min"
    start = None
    dcol = "DPt Time" if "DPt Time" in table.columns else "DPT Time"
    if dcol in table.columns:
        stamps = pd.to_datetime(table[dcol], format="%m/%d/%Y %H:%M:%S", errors="coerce")
        if stamps.notna().iloc[0]:
            start_ts = stamps.iloc[0] - pd.to_timedelta(float(table[time_col].iloc[0]), unit="s")
            start = np.datetime64(start_ts.to_datetime64(), "ns")
    return RawTable("maccor", table, start, first_line, meta)


# ----------------------------------------------------------------------------- CSV
def _read_csv(path: Path, repair: frozenset[str]) -> RawTable:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        head = fh.readline()
    sep = "\t" if head.count("\t") > head.count(",") else ","
    try:
        table = pd.read_csv(path, sep=sep, encoding="utf-8-sig", index_col=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReadError(f"could not parse as a delimited table: {exc}", path) from exc
    fmt = "arbin" if {"Data_Point", "Test_Time"} <= set(table.columns) else "csv"
    start = None
    if fmt == "arbin" and "DateTime" in table.columns:
        first = float(table["DateTime"].iloc[0]) - float(table["Test_Time"].iloc[0])
        start = np.datetime64(round(first * 1e9), "ns")
    return RawTable(fmt, table, start, 2, {"reader": "pandas.read_csv", "separator": sep})


# ----------------------------------------------------------------------------- registry
Reader = Callable[[Path, frozenset], RawTable]

FORMATS: dict[str, Reader] = {
    "biologic_mpr": _read_mpr,
    "biologic_mpt": _read_mpt,
    "neware": _read_neware,
    "arbin_res": _read_arbin_res,
    "arbin_xlsx": _read_arbin_xlsx,
    "maccor": _read_maccor,
    "csv": _read_csv,
}


def sniff(path: Path) -> str:
    """Name of the adapter for ``path``, from its first bytes (extension only as a tie-break)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ReadError(f"cannot open: {exc.strerror}", path) from exc
    if not head:
        raise ReadError("the file is empty", path)
    if head.startswith(b"BIO-LOGIC MODULAR FILE"):
        return "biologic_mpr"
    if head.startswith((b"EC-Lab ASCII FILE", b"BT-Lab ASCII FILE")):
        return "biologic_mpt"
    if head.startswith(b"NEWARE") or (
        head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".ndax"
    ):
        return "neware"
    if head[4:19] == b"Standard Jet DB":
        return "arbin_res"
    if head.startswith(b"PK\x03\x04") and path.suffix.lower() in (".xlsx", ".xlsm"):
        return "arbin_xlsx"
    text = head.decode("latin-1")
    if "Rec#\t" in text or "\nRec\t" in text or "\r\nRec\t" in text:
        return "maccor"
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return "csv"
    raise ReadError(
        f"unknown cycler format (first bytes {head[:24]!r}); supported: BioLogic .mpr/.mpt, "
        "Neware .nda/.ndax, Arbin .res/.csv/.xlsx, Maccor text exports, CSV/TSV with "
        "columns={...}",
        path,
    )
