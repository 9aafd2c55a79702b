"""Half-cycles and cycles from the current alone, whatever the file's own counters say.

A half-cycle is a maximal run of rows with one current direction; rests (|I| below a
threshold) belong to the half-cycle before them, so a GITT relaxation or the rest after a
charge stays inside that charge. A cycle starts at each half-cycle whose direction is the
direction of the first half-cycle (``first="auto"``: charge for a cathode that starts with
delithiation), or the direction named by ``first``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate._arrays import frozen_copy
from speciate.echem.cycling import Cycling
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

__all__ = ["Segmentation", "row_charge_mah", "segment", "segment_current"]

_FIRST = {"auto": 0, "charge": 1, "discharge": -1}


@dataclass(frozen=True, eq=False)
class Segmentation:
    """speciate's own half-cycle and cycle numbering of a record.

    Attributes
    ----------
    half_cycle
        1-based half-cycle index per row, shape (n_rows,).
    cycle
        Cycle index per row, shape (n_rows,); 0 for half-cycles before the first cycle start.
    direction
        Direction per half-cycle, shape (n_half_cycles,): +1 charge, -1 discharge, 0 rest only.
    starts
        First row of each half-cycle, shape (n_half_cycles,).
    half_cycle_cycle
        Cycle index of each half-cycle, shape (n_half_cycles,).
    rest_current_ma
        The |current| threshold (mA) below which a row counted as rest.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    half_cycle: np.ndarray
    cycle: np.ndarray
    direction: np.ndarray
    starts: np.ndarray
    half_cycle_cycle: np.ndarray
    rest_current_ma: float
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n_half_cycles(self) -> int:
        """Number of half-cycles."""
        return int(self.direction.size)

    @property
    def stops(self) -> np.ndarray:
        """One past the last row of each half-cycle, shape (n_half_cycles,)."""
        return np.append(self.starts[1:], self.half_cycle.size)


def segment_current(
    current_ma: np.ndarray,
    time_s: np.ndarray | None = None,
    *,
    rest_current_ma: float | None = None,
    min_capacity_fraction: float = 1e-3,
    first: str = "auto",
) -> Segmentation:
    """Segment a current trace into half-cycles and cycles.

    Parameters
    ----------
    current_ma
        Current in mA, shape (n_rows,), > 0 charging the working electrode.
    time_s
        Time (s), shape (n_rows,). When given, runs of one direction that pass less than
        ``min_capacity_fraction`` of the median half-cycle charge (a pulse, a tiny
        pre-step) count as rests instead of half-cycles.
    rest_current_ma
        Rows with |I| at or below this (mA) are rests. Default: 0.1 % of max |I|.
    min_capacity_fraction
        See ``time_s``.
    first
        Direction that opens a cycle: ``"auto"`` (that of the first half-cycle),
        ``"charge"`` or ``"discharge"``.

    Returns
    -------
    Segmentation
    """
    current = np.asarray(current_ma, dtype=float)
    if current.ndim != 1 or current.size == 0:
        raise ValidationError(f"current_ma must be a non-empty 1-D array; got {current.shape}")
    if first not in _FIRST:
        raise ValidationError(f"first must be one of {list(_FIRST)}; got {first!r}")
    peak = float(np.abs(current).max())
    thr = 1e-3 * peak if rest_current_ma is None else float(rest_current_ma)
    if thr < 0:
        raise ValidationError(f"rest_current_ma must be >= 0; got {thr}")
    state = np.where(current > thr, 1, np.where(current < -thr, -1, 0)).astype(np.int8)
    if time_s is not None:
        state = _drop_tiny_runs(
            state, np.asarray(time_s, dtype=float), current, float(min_capacity_fraction)
        )
    filled, starts = _fill_rests(state)
    half_cycle = np.zeros(state.size, dtype=np.int64)
    half_cycle[starts] = 1
    half_cycle = np.cumsum(half_cycle)
    direction = filled[starts].astype(np.int8)
    opener = _FIRST[first] or (int(direction[0]) if direction.size else 0)
    if opener == 0:
        hc_cycle = np.zeros(direction.size, dtype=np.int64)
    else:
        hc_cycle = np.cumsum(direction == opener).astype(np.int64)
    cycle = hc_cycle[half_cycle - 1]
    return Segmentation(
        half_cycle=frozen_copy(half_cycle.astype(np.int64)),
        cycle=frozen_copy(cycle),
        direction=frozen_copy(direction),
        starts=frozen_copy(starts.astype(np.int64)),
        half_cycle_cycle=frozen_copy(hc_cycle),
        rest_current_ma=thr,
    )


def _fill_rests(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill the last direction over rests (leading rests take the first one)."""
    n = state.size
    active = np.nonzero(state)[0]
    if active.size == 0:
        filled = state
    else:
        idx = np.where(state != 0, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        idx[: active[0]] = active[0]
        filled = state[idx]
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = filled[1:] != filled[:-1]
    return filled, np.nonzero(change)[0]


def _drop_tiny_runs(
    state: np.ndarray, time_s: np.ndarray, current: np.ndarray, fraction: float
) -> np.ndarray:
    _, starts = _fill_rests(state)
    if starts.size < 2:
        return state
    marker = np.zeros(state.size, dtype=np.int64)
    marker[starts] = 1
    run = np.cumsum(marker) - 1
    q = np.abs(np.bincount(run, weights=row_charge_mah(time_s, current), minlength=starts.size))
    tiny = q < fraction * np.median(q)
    if not tiny.any():
        return state
    out = state.copy()
    out[tiny[run]] = 0
    return out


@records_provenance
def segment(
    cycling: Cycling,
    *,
    rest_current_ma: float | None = None,
    min_capacity_fraction: float = 1e-3,
    first: str = "auto",
) -> Segmentation:
    """speciate's own half-cycles and cycles of a `Cycling` (see `segment_current`)."""
    return segment_current(
        cycling.columns["current_ma"],
        cycling.columns["time_s"],
        rest_current_ma=rest_current_ma,
        min_capacity_fraction=min_capacity_fraction,
        first=first,
    )


def row_charge_mah(time_s: np.ndarray, current_ma: np.ndarray, method: str = "left") -> np.ndarray:
    """Charge passed in the interval ending at each row, mAh, shape (n_rows,).

    Parameters
    ----------
    time_s, current_ma
        Time (s) and current (mA), shape (n_rows,).
    method
        ``"left"``: the row's current held over the interval before it (cyclers such as
        EC-Lab record the interval's mean current with each point); ``"trapezoid"``:
        the mean of the two ends. The first row carries no charge.
    """
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_ma, dtype=float)
    dq = np.zeros_like(i)
    dt = np.diff(t)
    if method == "left":
        dq[1:] = i[1:] * dt
    elif method == "trapezoid":
        dq[1:] = 0.5 * (i[1:] + i[:-1]) * dt
    else:
        raise ValidationError(f"method must be 'left' or 'trapezoid'; got {method!r}")
    return dq / 3600.0
