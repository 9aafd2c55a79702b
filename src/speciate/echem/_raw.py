"""The vendor table every cycler adapter returns, and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from speciate.errors import ReadError, import_extra

EXTRA_HINT = "install speciate's echem extra: pip install 'speciate[echem]'"


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


def require(module: str, path: Path) -> Any:
    """Import the optional package a format needs, or raise `MissingExtraError`."""
    return import_extra(module, "echem", f"reading {path.name}")


def check_truncated(
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
