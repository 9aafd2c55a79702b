"""One adapter per cycler format: file -> vendor table (pandas) + acquisition start.

Each adapter only reads; `speciate.echem.normalize` maps the vendor table onto the
`Cycling` columns with the column maps kept as data in ``columns.json``. Third-party
readers (galvani for BioLogic ``.mpr``, access-parser for Arbin ``.res``, NewareNDA for
``.nda``/``.ndax``) are imported inside the adapters, so the rest of speciate works
without them. PEC and Novonix CSV exports live in `speciate.echem.vendor_csv`, Arbin
``.res`` databases in `speciate.echem.arbin_res`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.echem._raw import RawTable, check_truncated, require
from speciate.echem.arbin_res import read_arbin_res
from speciate.echem.vendor_csv import read_novonix, read_pec
from speciate.errors import ReadError

__all__ = ["FORMATS", "RawTable", "sniff"]

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
    table, dropped = check_truncated(table, ["time/s", "Ewe/V"], path, n_header + 1, repair)
    meta["decimal_separator"] = decimal
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    return RawTable("biologic", table, start, n_header + 1, meta)


def _read_mpr(path: Path, repair: frozenset[str]) -> RawTable:
    require("galvani", path)
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
    newarenda = require("NewareNDA", path)
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
def _read_arbin_xlsx(path: Path, repair: frozenset[str]) -> RawTable:
    require("openpyxl", path)
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


def _refuse_maccor_non_data(text: str, path: Path) -> None:
    """Maccor procedures (XML test programs) and impedance exports hold no cycling record."""
    if text.lstrip().startswith("<?xml") and (
        "MaccorTestProcedure" in text or "maccor-application" in text
    ):
        raise ReadError(
            "this is a Maccor test procedure (XML program), not a data record; expected a "
            "Maccor text export with a 'Rec#' column header",
            path,
        )
    head = text[:4096]
    maccor_like = "Maccor" in head or "Rec#" in head or "Today" in head
    impedance = re.search(r"\bFreq(uency)?\b", head) and re.search(r"Z'|Zre|Z real|Phase", head)
    if maccor_like and impedance:
        raise ReadError(
            "this looks like a Maccor impedance (EIS) export (frequency and impedance "
            "columns); expected a cycling record with time, voltage and current columns",
            path,
        )


def _maccor_millivolts(table: pd.DataFrame, meta: dict[str, Any], path: Path) -> pd.DataFrame:
    """Milli-unit exports (mAmps, mAmp-hr) write the 'Volts' column in mV.

    The column's name says V, so reading it as mV is said: in ``meta`` and a warning.
    """
    if "mAmps" not in table.columns or "Volts" not in table.columns:
        return table
    volts = pd.to_numeric(table["Volts"], errors="coerce")
    if np.nanmax(np.abs(volts.to_numpy(dtype=float))) <= 20.0:
        return table
    said = f"mV (column 'Volts' reaches {np.nanmax(volts):.1f}, beside mAmps and mAmp-hr)"
    meta["voltage_unit_read"] = said
    warnings.warn(
        f"{path.name}: the 'Volts' column is read as {said}: no cell holds 20 V",
        UserWarning,
        stacklevel=4,
    )
    return table.assign(Volts=volts / 1000.0)


def _read_maccor(path: Path, repair: frozenset[str]) -> RawTable:
    with open(path, encoding="latin-1") as fh:
        lines = [fh.readline() for _ in range(40)]
    _refuse_maccor_non_data("".join(lines), path)
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
    table, dropped = check_truncated(
        table,
        [time_col, "Volts", "Voltage [V]", "Amps", "mAmps", "Current [A]"],
        path,
        first_line,
        repair,
    )
    if dropped:
        meta["repairs"] = [f"dropped {dropped} incomplete row(s) at the end"]
    table = _maccor_millivolts(table, meta, path)
    if not pd.api.types.is_numeric_dtype(table[time_col]):
        table[time_col] = _duration_seconds(table[time_col], path, first_line)
    elif time_col == "TestTime":
        # this export writes TestTime in minutes (its DPT Time advances 60 s per unit)
        table[time_col] = table[time_col].astype(float) * 60.0
        meta["time_unit_read"] = "min"
    start = None
    dcol = "DPt Time" if "DPt Time" in table.columns else "DPT Time"
    if dcol in table.columns:
        clock = (
            "%m/%d/%Y %I:%M:%S %p"
            if table[dcol].astype(str).str.endswith("M").iloc[0]
            else "%m/%d/%Y %H:%M:%S"
        )
        stamps = pd.to_datetime(table[dcol], format=clock, errors="coerce")
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
    "arbin_res": read_arbin_res,
    "arbin_xlsx": _read_arbin_xlsx,
    "maccor": _read_maccor,
    "pec": read_pec,
    "novonix": read_novonix,
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
    _refuse_maccor_non_data(text, path)
    if text.startswith("[Summary]") and "Novonix" in text[:200]:
        return "novonix"
    if "TestRegime Name:," in text or text.startswith("Request Year:,"):
        return "pec"
    if "Rec#\t" in text or "\nRec\t" in text or "\r\nRec\t" in text:
        return "maccor"
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return "csv"
    raise ReadError(
        f"unknown cycler format (first bytes {head[:24]!r}); supported: BioLogic .mpr/.mpt, "
        "Neware .nda/.ndax, Arbin .res/.csv/.xlsx, Maccor text exports, PEC and Novonix "
        "CSV exports, CSV/TSV with columns={...}",
        path,
    )
