"""Electrochemistry: cycler files -> `Cycling` -> cycles, capacity, dQ/dV, per-spectrum sync.

Sign convention: a positive current charges the working electrode (delithiation of a
positive electrode); see `speciate.echem.cycling`.
"""

from speciate.echem.capacity import (
    CycleSummary,
    HalfCycleSummary,
    capacity_per_cycle,
    half_cycle_summary,
)
from speciate.echem.compare import Comparison, compare
from speciate.echem.curves import Curves, curves
from speciate.echem.cycles import Segmentation, segment
from speciate.echem.cycling import Cycling
from speciate.echem.dqdv import DQDV, dqdv
from speciate.echem.read import column_maps, read
from speciate.echem.sync import SyncTable, sync

__all__ = [
    "DQDV",
    "Comparison",
    "Curves",
    "CycleSummary",
    "Cycling",
    "HalfCycleSummary",
    "Segmentation",
    "SyncTable",
    "capacity_per_cycle",
    "column_maps",
    "compare",
    "curves",
    "dqdv",
    "half_cycle_summary",
    "read",
    "segment",
    "sync",
]
