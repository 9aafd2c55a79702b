"""Several cells side by side (e.g. small vs large particles): capacity fade and dQ/dV."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from speciate.echem.capacity import CycleSummary, capacity_per_cycle
from speciate.echem.cycling import Cycling
from speciate.echem.dqdv import DQDV, dqdv
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Per-cell cycle summaries and dQ/dV curves, keyed by cell name (in the order given).

    Attributes
    ----------
    summaries
        Cell name -> `CycleSummary`.
    dqdv
        Cell name -> `DQDV` of the chosen cycles (cells lacking a cycle are left out and
        listed in ``meta["missing_dqdv_cycles"]``).
    masses_mg
        Cell name -> active mass (mg) or None.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    summaries: Mapping[str, CycleSummary]
    dqdv: Mapping[str, DQDV]
    masses_mg: Mapping[str, float | None]
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def cells(self) -> tuple[str, ...]:
        """Cell names in the order given."""
        return tuple(self.summaries)

    def to_dataframe(self) -> pd.DataFrame:
        """Long fade table: one row per (cell, cycle) with every `CycleSummary` column."""
        import pandas as pd

        frames = [s.to_dataframe().assign(cell=name) for name, s in self.summaries.items()]
        df = pd.concat(frames, ignore_index=True)
        return df[["cell", *[c for c in df.columns if c != "cell"]]]


@records_provenance
def compare(
    cells: Mapping[str, Cycling],
    *,
    masses_mg: Mapping[str, float] | None = None,
    dqdv_cycles: Iterable[int] = (1,),
    **dqdv_options: Any,
) -> Comparison:
    """Capacity fade and dQ/dV of several cells, on the same analysis settings.

    Parameters
    ----------
    cells
        Cell name -> its record.
    masses_mg
        Cell name -> active mass (mg); cells without one get absolute capacities only.
    dqdv_cycles
        Cycles whose dQ/dV is computed for every cell.
    **dqdv_options
        Passed to `speciate.echem.dqdv` (``voltage_step_v``, ``smoothing_v``...); with
        masses, the mass of each cell is used.
    """
    if not cells:
        raise ValidationError("compare needs at least one cell; got none")
    masses = dict(masses_mg or {})
    unknown = set(masses) - set(cells)
    if unknown:
        raise ValidationError(
            f"masses_mg names unknown cells {sorted(unknown)}; cells are {list(cells)}"
        )
    wanted = list(dqdv_cycles)
    summaries: dict[str, CycleSummary] = {}
    curves: dict[str, DQDV] = {}
    missing: dict[str, list[int]] = {}
    for name, cyc in cells.items():  # one cell each: a handful of records, not a hot path
        summaries[name] = capacity_per_cycle(cyc, mass_mg=masses.get(name))
        present = [c for c in wanted if c in set(summaries[name].cycle.tolist())]
        if len(present) < len(wanted):
            missing[name] = sorted(set(wanted) - set(present))
        if present:
            curves[name] = dqdv(cyc, present, mass_mg=masses.get(name), **dqdv_options)
    return Comparison(
        summaries=MappingProxyType(summaries),
        dqdv=MappingProxyType(curves),
        masses_mg=MappingProxyType({n: masses.get(n) for n in cells}),
        meta={"dqdv_cycles": wanted, "missing_dqdv_cycles": missing},
    )
