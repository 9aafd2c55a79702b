"""Synthetic galvanostatic records with known capacities and redox plateaus (for tests,
benchmarks and examples).

The voltage follows a Nernst-like plateau, ``V = E + w·ln(x / (1 − x))`` with x the
fraction of the half-cycle passed, so dQ/dV peaks exactly at ``E`` (charge) and ``E −
hysteresis`` (discharge).
"""

from __future__ import annotations

import numpy as np

from speciate.echem.cycles import segment_current
from speciate.echem.cycling import Cycling
from speciate.errors import ValidationError

__all__ = ["galvanostatic"]


def galvanostatic(
    n_cycles: int = 3,
    *,
    charge_capacity_mah: float | np.ndarray = 1.0,
    discharge_capacity_mah: float | np.ndarray = 0.9,
    current_ma: float = 1.0,
    plateau_v: float = 3.9,
    hysteresis_v: float = 0.05,
    width_v: float = 0.03,
    dt_s: float = 10.0,
    rest_s: float = 600.0,
    start_time: str | None = "2024-01-01T00:00:00",
) -> Cycling:
    """A charge/rest/discharge/rest record with exact capacities.

    Parameters
    ----------
    n_cycles
        Number of cycles (each: charge, rest, discharge, rest).
    charge_capacity_mah, discharge_capacity_mah
        Capacity of each charge / discharge (mAh), scalar or shape (n_cycles,).
    current_ma
        |Current| (mA); half-cycle durations follow from the capacities.
    plateau_v, hysteresis_v, width_v
        Charge plateau E (V), discharge plateau E − hysteresis (V), plateau width w (V).
    dt_s
        Sampling interval (s).
    rest_s
        Rest after each half-cycle (s).
    start_time
        Absolute time of the first row, or None.

    Returns
    -------
    Cycling
        The current of each row is the current over the interval that ends at it, so
        ∫I dt by the ``"left"`` rule equals the stated capacities.
    """
    if n_cycles < 1:
        raise ValidationError(f"n_cycles must be >= 1; got {n_cycles}")
    q_c = np.broadcast_to(np.asarray(charge_capacity_mah, dtype=float), (n_cycles,))
    q_d = np.broadcast_to(np.asarray(discharge_capacity_mah, dtype=float), (n_cycles,))
    i_abs = float(current_ma)
    # rows per segment: charge, rest, discharge, rest (each (n,) of interval counts)
    n_c = np.rint(q_c * 3600.0 / i_abs / dt_s).astype(np.int64)
    n_d = np.rint(q_d * 3600.0 / i_abs / dt_s).astype(np.int64)
    n_r = round(rest_s / dt_s)
    lengths = np.column_stack([n_c, np.full(n_cycles, n_r), n_d, np.full(n_cycles, n_r)]).ravel()
    kinds = np.tile(np.array([1, 0, -1, 0]), n_cycles)
    seg_id = np.repeat(np.arange(lengths.size), lengths)
    pos = np.arange(seg_id.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    kind = kinds[seg_id]
    current = np.concatenate([[0.0], i_abs * kind.astype(float)])
    frac = (pos + 1) / lengths[seg_id]
    x = np.clip(frac, 1e-4, 1 - 1e-4)
    logit = width_v * np.log(x / (1 - x))
    # rests hold the voltage reached at the end of the previous half-cycle
    top, bottom = (
        plateau_v + width_v * np.log(1e4),
        plateau_v - hysteresis_v - width_v * np.log(1e4),
    )
    prev_kind = kinds[np.maximum(seg_id - 1, 0)]
    voltage = np.where(
        kind == 1,
        plateau_v + logit,
        np.where(
            kind == -1, plateau_v - hysteresis_v - logit, np.where(prev_kind == 1, top, bottom)
        ),
    )
    voltage = np.concatenate([[bottom], voltage])
    time = np.arange(voltage.size) * float(dt_s)
    seg = segment_current(current)
    step = np.concatenate([[0], seg_id + 1])
    step_type = np.where(current > 0, "charge", np.where(current < 0, "discharge", "rest"))
    q_row = np.abs(current) * dt_s / 3600.0
    q_row[0] = 0.0
    cum = np.cumsum(q_row)
    seg_start = np.concatenate([[0], np.cumsum(lengths) - lengths + 1])
    counter = cum - (cum - q_row)[seg_start[step]]
    charge_counter = np.where(np.concatenate([[0], kind]) == 1, counter, 0.0)
    discharge_counter = np.where(np.concatenate([[0], kind]) == -1, counter, 0.0)
    columns = {
        "time_s": time,
        "voltage_v": voltage,
        "current_ma": current,
        "charge_capacity_mah": charge_counter,
        "discharge_capacity_mah": discharge_counter,
        "cycle": seg.cycle,
        "half_cycle": seg.half_cycle,
        "step": step,
        "step_type": step_type,
    }
    meta = {
        "vendor": "synthetic",
        "sign_convention": "current > 0 charges the working electrode",
        "truth": {
            # capacities as realised on whole sampling intervals
            "charge_capacity_mah": (n_c * dt_s * i_abs / 3600.0).tolist(),
            "discharge_capacity_mah": (n_d * dt_s * i_abs / 3600.0).tolist(),
            "charge_peak_v": plateau_v,
            "discharge_peak_v": plateau_v - hysteresis_v,
        },
    }
    return Cycling(columns, start_time=start_time, source=("synthetic",), meta=meta)
