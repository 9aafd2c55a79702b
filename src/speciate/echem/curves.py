"""Voltage–capacity curves of chosen cycles (speciate's own segmentation and integration)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import frozen_copy
from speciate.echem._common import check_mass
from speciate.echem.cycles import Segmentation, row_charge_mah, segment
from speciate.echem.cycling import Cycling
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Curves", "curves", "select_half_cycles"]

_DIRECTIONS = {None: (1, -1), "both": (1, -1), "charge": (1,), "discharge": (-1,)}


def select_half_cycles(
    seg: Segmentation, cycles: Iterable[int] | None, direction: str | None
) -> np.ndarray:
    """Half-cycle numbers (1-based) of the given cycles and direction, in time order.

    Raises `ValidationError` naming the available cycles when one is missing.
    """
    if direction not in _DIRECTIONS:
        raise ValidationError(f"direction must be 'charge', 'discharge' or None; got {direction!r}")
    keep = np.isin(seg.direction, _DIRECTIONS[direction])
    if cycles is not None:
        wanted = np.unique(np.asarray(list(cycles), dtype=np.int64))
        present = np.unique(seg.half_cycle_cycle[keep])
        missing = np.setdiff1d(wanted, present)
        if missing.size:
            raise ValidationError(
                f"cycle(s) {missing.tolist()} not in the record; it has cycles "
                f"{present.min()}..{present.max()}"
                if present.size
                else f"cycle(s) {missing.tolist()} not in the record; it has no cycles"
            )
        keep &= np.isin(seg.half_cycle_cycle, wanted)
    return np.nonzero(keep)[0] + 1


@dataclass(frozen=True, eq=False)
class Curves:
    """Rows of the chosen half-cycles, with capacity counted from each half-cycle's start.

    Arrays have shape (n_points,).

    Attributes
    ----------
    cycle, half_cycle, direction
        Cycle, half-cycle (+1 charge, -1 discharge) of each point.
    time_s, voltage_v
        Time (s) and voltage (V).
    capacity_mah
        Charge passed since the start of the half-cycle, |∫I dt| (mAh).
    specific_capacity_mah_g
        The same per gram of active material (mAh/g), or None without a mass.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    cycle: np.ndarray
    half_cycle: np.ndarray
    direction: np.ndarray
    time_s: np.ndarray
    voltage_v: np.ndarray
    capacity_mah: np.ndarray
    specific_capacity_mah_g: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """Long table: one row per point."""
        import pandas as pd

        names = (
            "cycle",
            "half_cycle",
            "direction",
            "time_s",
            "voltage_v",
            "capacity_mah",
            "specific_capacity_mah_g",
        )
        return pd.DataFrame(
            {n: np.array(getattr(self, n)) for n in names if getattr(self, n) is not None}
        )


@records_provenance
def curves(
    cycling: Cycling,
    cycles: Iterable[int] | None = None,
    *,
    direction: str | None = None,
    mass_mg: float | None = None,
    include_rests: bool = False,
    segmentation: Segmentation | None = None,
) -> Curves:
    """Voltage against capacity for chosen cycles.

    Parameters
    ----------
    cycling
        The record.
    cycles
        Cycle numbers (speciate's segmentation); default all.
    direction
        ``"charge"``, ``"discharge"`` or None for both.
    mass_mg
        Active mass (mg) for specific capacity (mAh/g); none by default.
    include_rests
        Keep rest rows (|I| below the segmentation's rest threshold), whose voltage relaxes
        at constant capacity; left out by default.
    segmentation
        Default `segment(cycling)`.
    """
    mass = check_mass(mass_mg)
    seg = segmentation or segment(cycling)
    chosen = select_half_cycles(seg, cycles, direction)
    cols = cycling.columns
    dq = row_charge_mah(cols["time_s"], cols["current_ma"]) * seg.direction[seg.half_cycle - 1]
    # the interval ending at a half-cycle's first row belongs to it (as in the summaries),
    # so the last point of each curve equals that half-cycle's capacity
    total = np.cumsum(dq)
    q = total - (total - dq)[seg.starts][seg.half_cycle - 1]
    rows = np.isin(seg.half_cycle, chosen)
    if not include_rests:
        rows &= np.abs(cols["current_ma"]) > seg.rest_current_ma
    cap = q[rows]
    return Curves(
        cycle=frozen_copy(seg.cycle[rows]),
        half_cycle=frozen_copy(seg.half_cycle[rows]),
        direction=frozen_copy(seg.direction[seg.half_cycle[rows] - 1]),
        time_s=frozen_copy(cols["time_s"][rows]),
        voltage_v=frozen_copy(cols["voltage_v"][rows]),
        capacity_mah=frozen_copy(cap),
        specific_capacity_mah_g=None if mass is None else frozen_copy(cap / (mass * 1e-3)),
        meta={"mass_mg": mass, "half_cycles": chosen.tolist(), "include_rests": include_rests},
    )
