"""`Cycling`: one cell's cycler record as a frozen table of named columns.

Sign convention (used everywhere in `speciate.echem`): a positive current charges the
working electrode, i.e. delithiates a positive electrode (oxidation at the working
electrode). Readers convert each vendor's convention to this one and record what they did in
``meta["sign_convention"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import frozen_copy
from speciate.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["COLUMNS", "STEP_TYPES", "Cycling"]

#: The columns every `Cycling` has, with their dtype kind and unit.
COLUMNS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "time_s": ("f", "s since start_time"),
        "voltage_v": ("f", "V"),
        "current_ma": ("f", "mA, > 0 charges the working electrode"),
        "charge_capacity_mah": ("f", "mAh, the cycler's own counter"),
        "discharge_capacity_mah": ("f", "mAh, the cycler's own counter"),
        "cycle": ("i", "cycle index (from the file, or speciate's segmentation)"),
        "half_cycle": ("i", "half-cycle index (from the file, or speciate's segmentation)"),
        "step": ("i", "the cycler's step index (-1 when the file has none)"),
        "step_type": ("U", "'charge', 'discharge', 'rest', 'cv_charge', 'cv_discharge', 'other'"),
    }
)

#: Values allowed in the ``step_type`` column.
STEP_TYPES = ("charge", "discharge", "rest", "cv_charge", "cv_discharge", "other")


def _check_columns(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise ValidationError(f"a Cycling needs the columns {list(COLUMNS)}; missing {missing}")
    n = None
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValidationError(f"column {name!r} must be 1-D (n_rows,); got shape {arr.shape}")
        if n is None:
            n = arr.size
        elif arr.size != n:
            raise ValidationError(
                f"all columns must have the same length; {name!r} has {arr.size}, expected {n}"
            )
        kind = COLUMNS[name][0] if name in COLUMNS else None
        if kind == "f":
            arr = arr.astype(float)
        elif kind == "i":
            arr = arr.astype(np.int64)
        elif kind == "U":
            arr = arr.astype(str)
        out[name] = frozen_copy(arr)
    if not n:
        raise ValidationError("a Cycling needs at least one row; got 0")
    for name in ("time_s", "voltage_v", "current_ma"):
        bad = ~np.isfinite(out[name])
        if bad.any():
            raise ValidationError(
                f"column {name!r} must be finite; found {int(bad.sum())} NaN/inf value(s), "
                f"first at row {int(np.argmax(bad))}"
            )
    back = np.diff(out["time_s"]) < 0
    if back.any():
        i = int(np.argmax(back))
        raise ValidationError(
            f"time_s must not decrease; it goes from {out['time_s'][i]:.6g} s back to "
            f"{out['time_s'][i + 1]:.6g} s at row {i + 1}"
        )
    unknown = set(np.unique(out["step_type"])) - set(STEP_TYPES)
    if unknown:
        raise ValidationError(f"step_type values must be in {STEP_TYPES}; got {sorted(unknown)}")
    return out


@dataclass(frozen=True, eq=False)
class Cycling:
    """A cycler record: one row per data point, columns as read-only numpy arrays.

    Parameters
    ----------
    columns
        Mapping of column name to a 1-D array of length n_rows. Must contain every name in
        `COLUMNS` (``time_s`` in s since ``start_time``, ``voltage_v`` in V, ``current_ma``
        in mA with > 0 charging the working electrode, cycler capacities in mAh, ``cycle``,
        ``half_cycle``, ``step``, ``step_type``); extra vendor columns are kept as they are.
    start_time
        Absolute time of ``time_s == 0`` (``numpy.datetime64``, ns), or None when the file
        has none.
    source
        The file(s) read, in time order.
    meta
        JSON-serializable facts about the record (vendor, sign convention, repairs...).

    Raises
    ------
    ValidationError
        On missing columns, unequal lengths, non-finite time/voltage/current or time going
        backwards.
    """

    columns: Mapping[str, np.ndarray]
    start_time: np.datetime64 | None = None
    source: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cols = _check_columns(self.columns)
        start = None
        if self.start_time is not None:
            try:
                start = np.datetime64(self.start_time, "ns")
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"start_time must be a datetime64 or ISO string; got {self.start_time!r}"
                ) from exc
        meta = dict(self.meta or {})
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"meta must be JSON-serializable: {exc}") from exc
        set_ = object.__setattr__
        set_(self, "columns", MappingProxyType(cols))
        set_(self, "start_time", start)
        set_(self, "source", tuple(str(s) for s in self.source))
        set_(self, "meta", MappingProxyType(meta))

    def __getattr__(self, name: str) -> np.ndarray:
        # columns read as attributes: cycling.voltage_v
        columns = self.__dict__.get("columns")
        if columns is not None and name in columns:
            return columns[name]
        raise AttributeError(f"Cycling has no attribute or column {name!r}")

    def __reduce__(self) -> tuple:
        # mapping proxies do not pickle: rebuild from plain dicts (validated again)
        return (Cycling, (dict(self.columns), self.start_time, self.source, dict(self.meta)))

    def __len__(self) -> int:
        return int(self.columns["time_s"].size)

    @property
    def n_rows(self) -> int:
        """Number of data points."""
        return len(self)

    @property
    def absolute_time(self) -> np.ndarray | None:
        """``start_time + time_s`` as datetime64[ns], shape (n_rows,), or None."""
        if self.start_time is None:
            return None
        ns = np.rint(self.columns["time_s"] * 1e9).astype(np.int64)
        return self.start_time + ns.astype("timedelta64[ns]")

    def __repr__(self) -> str:
        t = self.columns["time_s"]
        v = self.columns["voltage_v"]
        return (
            f"Cycling(n_rows={self.n_rows}, duration={t[-1] - t[0]:.0f} s, "
            f"voltage={v.min():.3f}..{v.max():.3f} V, "
            f"half_cycles={np.unique(self.columns['half_cycle']).size}, "
            f"start_time={self.start_time}, vendor={self.meta.get('vendor')})"
        )

    def replace(self, **changes: Any) -> Cycling:
        """A new Cycling with some fields (or, via ``columns``, some columns) replaced."""
        fields = {
            "columns": dict(self.columns),
            "start_time": self.start_time,
            "source": self.source,
            "meta": dict(self.meta),
        }
        fields.update(changes)
        return Cycling(**fields)

    def to_dataframe(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (a copy; the record itself stays frozen)."""
        import pandas as pd

        return pd.DataFrame({name: np.array(arr) for name, arr in self.columns.items()})
