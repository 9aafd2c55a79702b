"""Capacity, energy, coulombic efficiency and mean voltages per half-cycle and per cycle.

Everything is integrated by speciate itself (∫I dt and ∫I·V dt over its own segmentation,
`speciate.echem.cycles`), then reduced per half-cycle with ``np.bincount``: no loop over
rows or cycles. The cycler's own counters are reduced alongside for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import frozen_copy
from speciate.echem._common import check_mass
from speciate.echem.cycles import Segmentation, row_charge_mah, segment
from speciate.echem.cycling import Cycling
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CycleSummary",
    "HalfCycleSummary",
    "capacity_per_cycle",
    "counter_increments",
    "half_cycle_summary",
]


def counter_increments(counter: np.ndarray) -> np.ndarray:
    """Per-row increase of a cycler capacity counter that restarts from zero, shape (n_rows,).

    A drop means the counter was reset (per step, half-cycle or cycle): the new value is
    then the increase since the reset. NaN counters give NaN.
    """
    c = np.asarray(counter, dtype=float)
    inc = np.zeros_like(c)
    if c.size > 1:
        d = np.diff(c)
        inc[1:] = np.where(d < 0, c[1:], d)
    return inc


@dataclass(frozen=True, eq=False)
class HalfCycleSummary:
    """One row per half-cycle of speciate's segmentation; arrays of shape (n_half_cycles,).

    Attributes
    ----------
    half_cycle, cycle, direction
        Index, cycle index and direction (+1 charge, -1 discharge, 0 rest only).
    start_row, stop_row
        Row range ``[start_row, stop_row)`` in the record.
    start_s, end_s
        Time of the first and last row (s).
    capacity_mah
        |∫I dt| over the half-cycle (mAh), integrated by speciate.
    cycler_capacity_mah
        The cycler's own charge + discharge counters, summed increments over the same
        rows (mAh); NaN when the file has no counters.
    energy_mwh
        |∫I·V dt| (mWh).
    mean_voltage_v
        Energy / capacity (V); NaN for a half-cycle without charge.
    segmentation
        The `Segmentation` used.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    half_cycle: np.ndarray
    cycle: np.ndarray
    direction: np.ndarray
    start_row: np.ndarray
    stop_row: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    capacity_mah: np.ndarray
    cycler_capacity_mah: np.ndarray
    energy_mwh: np.ndarray
    mean_voltage_v: np.ndarray
    segmentation: Segmentation = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """The table as a pandas DataFrame."""
        import pandas as pd

        names = (
            "half_cycle",
            "cycle",
            "direction",
            "start_row",
            "stop_row",
            "start_s",
            "end_s",
            "capacity_mah",
            "cycler_capacity_mah",
            "energy_mwh",
            "mean_voltage_v",
        )
        return pd.DataFrame({n: np.array(getattr(self, n)) for n in names})


@records_provenance
def half_cycle_summary(
    cycling: Cycling,
    *,
    segmentation: Segmentation | None = None,
    method: str = "left",
) -> HalfCycleSummary:
    """Capacity, energy and mean voltage of every half-cycle.

    Parameters
    ----------
    cycling
        The record.
    segmentation
        Half-cycles to use; default `segment(cycling)`.
    method
        Integration rule of `row_charge_mah` (``"left"`` or ``"trapezoid"``).
    """
    seg = segmentation or segment(cycling)
    cols = cycling.columns
    t, v, i = cols["time_s"], cols["voltage_v"], cols["current_ma"]
    dq = row_charge_mah(t, i, method)
    v_mid = v.copy()
    v_mid[1:] = 0.5 * (v[1:] + v[:-1]) if method == "trapezoid" else v[1:]
    de = dq * v_mid
    idx = seg.half_cycle - 1
    n = seg.n_half_cycles
    q = np.bincount(idx, weights=dq, minlength=n)
    e = np.bincount(idx, weights=de, minlength=n)
    inc = counter_increments(cols["charge_capacity_mah"]) + counter_increments(
        cols["discharge_capacity_mah"]
    )
    q_cycler = np.bincount(idx, weights=inc, minlength=n)
    cap = np.abs(q)
    energy = np.abs(e)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_v = np.where(cap > 0, energy / cap, np.nan)
    stops = seg.stops
    return HalfCycleSummary(
        half_cycle=frozen_copy(np.arange(1, n + 1)),
        cycle=seg.half_cycle_cycle,
        direction=seg.direction,
        start_row=seg.starts,
        stop_row=frozen_copy(stops),
        start_s=frozen_copy(t[seg.starts]),
        end_s=frozen_copy(t[stops - 1]),
        capacity_mah=frozen_copy(cap),
        cycler_capacity_mah=frozen_copy(q_cycler),
        energy_mwh=frozen_copy(energy),
        mean_voltage_v=frozen_copy(mean_v),
        segmentation=seg,
        meta={"method": method, "rest_current_ma": seg.rest_current_ma},
    )


@dataclass(frozen=True, eq=False)
class CycleSummary:
    """One row per cycle; arrays of shape (n_cycles,).

    Attributes
    ----------
    cycle
        Cycle index (1-based; cycle 0 holds half-cycles before the first cycle start).
    charge_capacity_mah, discharge_capacity_mah
        Capacity of the charge and discharge half-cycles of the cycle (mAh; NaN if absent).
    specific_charge_capacity_mah_g, specific_discharge_capacity_mah_g
        The same per gram of active material (mAh/g), or None without an active mass.
    coulombic_efficiency
        Capacity given back / capacity stored in the cycle: discharge / charge when cycles
        open with a charge (cathode), charge / discharge when they open with a discharge.
    charge_energy_mwh, discharge_energy_mwh
        |∫I·V dt| of each half (mWh).
    mean_charge_voltage_v, mean_discharge_voltage_v
        Energy / capacity of each half (V).
    voltage_hysteresis_v
        Mean charge minus mean discharge voltage (V).
    capacity_retention
        Discharge capacity relative to the first cycle with a discharge.
    mean_discharge_voltage_fade_v
        Mean discharge voltage minus that of the first cycle with a discharge (V).
    mass_mg
        Active mass used (mg), or None.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    cycle: np.ndarray
    charge_capacity_mah: np.ndarray
    discharge_capacity_mah: np.ndarray
    specific_charge_capacity_mah_g: np.ndarray | None
    specific_discharge_capacity_mah_g: np.ndarray | None
    coulombic_efficiency: np.ndarray
    charge_energy_mwh: np.ndarray
    discharge_energy_mwh: np.ndarray
    mean_charge_voltage_v: np.ndarray
    mean_discharge_voltage_v: np.ndarray
    voltage_hysteresis_v: np.ndarray
    capacity_retention: np.ndarray
    mean_discharge_voltage_fade_v: np.ndarray
    mass_mg: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    _NAMES = (
        "cycle",
        "charge_capacity_mah",
        "discharge_capacity_mah",
        "specific_charge_capacity_mah_g",
        "specific_discharge_capacity_mah_g",
        "coulombic_efficiency",
        "charge_energy_mwh",
        "discharge_energy_mwh",
        "mean_charge_voltage_v",
        "mean_discharge_voltage_v",
        "voltage_hysteresis_v",
        "capacity_retention",
        "mean_discharge_voltage_fade_v",
    )

    def to_dataframe(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (specific columns only with a mass)."""
        import pandas as pd

        data = {n: np.array(getattr(self, n)) for n in self._NAMES if getattr(self, n) is not None}
        return pd.DataFrame(data)


def _first_valid(a: np.ndarray) -> float:
    ok = np.isfinite(a) & (a != 0)
    return float(a[np.argmax(ok)]) if ok.any() else np.nan


@records_provenance
def capacity_per_cycle(
    cycling: Cycling,
    *,
    mass_mg: float | None = None,
    segmentation: Segmentation | None = None,
    method: str = "left",
) -> CycleSummary:
    """Capacity, energy, efficiency and mean voltages per cycle, integrated by speciate.

    Parameters
    ----------
    cycling
        The record.
    mass_mg
        Active mass (mg). Specific capacities (mAh/g) are given only with a mass; there is
        no default mass.
    segmentation
        Half-cycles and cycles to use; default `segment(cycling)` (cycles open with the
        direction of the first half-cycle).
    method
        Integration rule (see `row_charge_mah`).

    Returns
    -------
    CycleSummary
    """
    mass = check_mass(mass_mg)
    hc = half_cycle_summary(cycling, segmentation=segmentation, method=method)
    cycles = np.unique(hc.cycle)
    pos = np.searchsorted(cycles, hc.cycle)
    n = cycles.size

    def per_cycle(values: np.ndarray, direction: int) -> np.ndarray:
        out = np.full(n, np.nan)
        sel = hc.direction == direction
        sums = np.bincount(pos[sel], weights=values[sel], minlength=n)
        has = np.bincount(pos[sel], minlength=n) > 0
        out[has] = sums[has]
        return out

    q_c, q_d = per_cycle(hc.capacity_mah, 1), per_cycle(hc.capacity_mah, -1)
    opening = hc.direction[(hc.cycle >= 1) & (hc.direction != 0)]
    opener = int(opening[0]) if opening.size else 1
    e_c, e_d = per_cycle(hc.energy_mwh, 1), per_cycle(hc.energy_mwh, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v_c = np.where(q_c > 0, e_c / q_c, np.nan)
        v_d = np.where(q_d > 0, e_d / q_d, np.nan)
        # efficiency = what the cycle gives back / what it stored: discharge/charge for a
        # cycle that opens with charge (cathode), charge/discharge when it opens with discharge
        ce = (
            np.where(q_c > 0, q_d / q_c, np.nan)
            if opener >= 0
            else np.where(q_d > 0, q_c / q_d, np.nan)
        )
        retention = q_d / _first_valid(q_d)
    fade = v_d - _first_valid(v_d)
    spec_c = None if mass is None else frozen_copy(q_c / (mass * 1e-3))
    spec_d = None if mass is None else frozen_copy(q_d / (mass * 1e-3))
    return CycleSummary(
        cycle=frozen_copy(cycles),
        charge_capacity_mah=frozen_copy(q_c),
        discharge_capacity_mah=frozen_copy(q_d),
        specific_charge_capacity_mah_g=spec_c,
        specific_discharge_capacity_mah_g=spec_d,
        coulombic_efficiency=frozen_copy(ce),
        charge_energy_mwh=frozen_copy(e_c),
        discharge_energy_mwh=frozen_copy(e_d),
        mean_charge_voltage_v=frozen_copy(v_c),
        mean_discharge_voltage_v=frozen_copy(v_d),
        voltage_hysteresis_v=frozen_copy(v_c - v_d),
        capacity_retention=frozen_copy(retention),
        mean_discharge_voltage_fade_v=frozen_copy(fade),
        mass_mg=mass,
        meta={
            "method": method,
            "sign_convention": cycling.meta.get("sign_convention"),
            "cycles_open_with": "charge" if opener >= 0 else "discharge",
        },
    )
