"""Arbin ``.res`` results files (MS Access / Jet databases) -> vendor table.

Two back-ends read the same two tables (``Channel_Normal_Table``, ``Global_Table``):
access-parser, pure Python from the package registry, first; the ``mdb-export`` program
of mdbtools when access-parser is not installed or reports trouble with the file. The
back-end used is recorded in ``meta["reader"]``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.echem._raw import EXTRA_HINT, RawTable
from speciate.errors import ReadError

__all__ = ["read_arbin_res", "res_tables"]

_TABLES = ("Channel_Normal_Table", "Global_Table")
# Jet 3 databases use 2 KiB pages, Jet 4 and later 4 KiB (version byte at offset 0x14)
_PAGE_SIZE = {0: 2048}
_JET4_PAGE = 4096


class _ParserTrouble(Exception):
    """access-parser logged warnings or errors while reading: its rows cannot be trusted."""


@contextmanager
def _collect_log(name: str) -> Iterator[list[str]]:
    """Collect, instead of print, what a library logs at WARNING or above."""
    messages: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger(name)
    handler = _Keep(logging.WARNING)
    old_propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def _check_whole_pages(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(0x15)
    if len(head) < 0x15 or head[4:19] != b"Standard Jet DB":
        raise ReadError(
            f"expected an MS Access (Jet) database ('Standard Jet DB' at byte 4); found "
            f"{head[:24]!r}",
            path,
        )
    page = _PAGE_SIZE.get(head[0x14], _JET4_PAGE)
    size = path.stat().st_size
    if size % page:
        raise ReadError(
            f"the file is {size} bytes, not a whole number of {page}-byte database pages: "
            "expected a complete Arbin results file (truncated copy?)",
            path,
        )


def _with_access_parser(path: Path) -> dict[str, pd.DataFrame]:
    from access_parser import AccessParser

    with _collect_log("access_parser") as complaints:
        try:
            db = AccessParser(str(path))
            tables = {name: pd.DataFrame(db.parse_table(name)) for name in _TABLES}
        except Exception as exc:
            raise _ParserTrouble(f"{type(exc).__name__}: {exc}") from exc
    if complaints:
        raise _ParserTrouble("; ".join(dict.fromkeys(complaints)))
    return tables


def _with_mdbtools(path: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in _TABLES:
        run = subprocess.run(
            ["mdb-export", str(path), name], capture_output=True, text=True, check=False
        )
        if run.returncode != 0 or not run.stdout.strip():
            raise ReadError(
                f"mdb-export could not export {name} ({run.stderr.strip()[:200] or 'no output'})"
                "; expected a complete Arbin results file",
                path,
            )
        tables[name] = pd.read_csv(StringIO(run.stdout))
    return tables


def res_tables(path: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """The data and global tables of an Arbin ``.res``, and the back-end that read them.

    Parameters
    ----------
    path
        An Arbin results file.

    Returns
    -------
    tables, reader
        ``{"Channel_Normal_Table": ..., "Global_Table": ...}`` as read (Arbin units: s, V,
        A, A.h), and ``"access-parser"`` or ``"mdbtools (mdb-export)"``.

    Raises
    ------
    ReadError
        If the file is not a whole Jet database, or neither back-end can read it.
    """
    _check_whole_pages(path)
    trouble = None
    try:
        return _with_access_parser(path), "access-parser"
    except ImportError:
        trouble = "access-parser is not installed"
    except _ParserTrouble as exc:
        trouble = f"access-parser reported: {exc}"
    if shutil.which("mdb-export") is None:
        raise ReadError(
            f"cannot read this Arbin .res: {trouble}, and the 'mdb-export' program of mdbtools "
            f"is not on PATH; {EXTRA_HINT}, or install mdbtools",
            path,
        )
    return _with_mdbtools(path), "mdbtools (mdb-export)"


def _ole_to_datetime64(days: float) -> np.datetime64:
    return np.datetime64("1899-12-30T00:00:00", "ns") + np.timedelta64(round(days * 86400e6), "us")


def read_arbin_res(path: Path, repair: frozenset[str]) -> RawTable:
    """``FORMATS["arbin_res"]``: rows in ``Data_Point`` order, start from ``Global_Table``.

    The back-end that read the file is in ``meta["reader"]``.
    """
    tables, reader = res_tables(path)
    table = tables["Channel_Normal_Table"]
    glob = tables["Global_Table"]
    if len(table) == 0 or "Data_Point" not in table.columns:
        raise ReadError(
            "expected data points in Channel_Normal_Table; found "
            f"{'no rows' if len(table) == 0 else 'no Data_Point column'}",
            path,
        )
    if table["Test_ID"].nunique() > 1:
        raise ReadError(f"the .res holds {table['Test_ID'].nunique()} tests; expected one", path)
    table = table.sort_values("Data_Point", kind="stable").reset_index(drop=True)
    start = None
    meta: dict[str, Any] = {"reader": reader}
    if len(glob):
        g = glob.iloc[0]
        if pd.notna(g.get("Start_DateTime")):
            start = _ole_to_datetime64(float(g["Start_DateTime"]))
        if pd.notna(g.get("MASS")) and g.get("MASS"):
            meta["header_active_mass"] = f"{float(g['MASS'])} g"
        meta["test_name"] = str(g.get("Test_Name"))
    return RawTable("arbin", table, start, None, meta)
