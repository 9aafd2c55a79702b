"""`sync`: the electrochemical state of the cell at each spectrum of an operando series.

Clock convention: ``cycler time = spectrum time + offset``; ``offset`` (s) is the cycler
clock minus the beamline clock. A spectrum's time is its acquisition start, or its mid-point
when ``duration`` is given. Between two cycler records voltage and charge are interpolated
linearly in time; the half-cycle is that of the earlier record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from speciate._arrays import frozen_copy
from speciate.echem._common import check_mass
from speciate.echem.capacity import half_cycle_summary
from speciate.echem.cycles import Segmentation, row_charge_mah, segment
from speciate.echem.cycling import Cycling
from speciate.errors import ValidationError, import_extra
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FARADAY_MAH_PER_MOL", "SyncTable", "formula_molar_mass", "sync"]

#: Faraday constant in mAh/mol (96485.33212 C/mol / 3.6 C/mAh).
FARADAY_MAH_PER_MOL = 96485.33212 / 3.6


class _HasTimes(Protocol):  # what sync needs from a Series
    time: Any
    labels: Sequence[str]
    n_spectra: int


@dataclass(frozen=True, eq=False)
class SyncTable:
    """Per-spectrum electrochemical state; arrays of shape (n_spectra,).

    Attributes
    ----------
    labels
        Spectrum labels.
    cycler_time_s
        Time on the cycler clock used for each spectrum (s since the cycling start).
    voltage
        Cell voltage (V).
    capacity
        Charge passed since the start of the current half-cycle (mAh).
    specific_capacity
        ``capacity`` per gram of active material (mAh/g), None without a mass.
    state_of_charge
        0–1 within the current half-cycle: q/Q on charge, 1 − q/Q on discharge, with Q
        the capacity of the whole half-cycle.
    x_li
        Lithium content per formula unit, None without a theoretical capacity.
    cycle, half_cycle, direction
        speciate's segmentation at each spectrum (direction +1 charge, -1 discharge).
    inside
        False where the spectrum falls outside the cycling record (then values are NaN
        and cycle/half_cycle are -1).
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    labels: tuple[str, ...]
    cycler_time_s: np.ndarray
    voltage: np.ndarray
    capacity: np.ndarray
    specific_capacity: np.ndarray | None
    state_of_charge: np.ndarray
    x_li: np.ndarray | None
    cycle: np.ndarray
    half_cycle: np.ndarray
    direction: np.ndarray
    inside: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    _NAMES = (
        "cycler_time_s",
        "voltage",
        "capacity",
        "specific_capacity",
        "state_of_charge",
        "x_li",
        "cycle",
        "half_cycle",
        "direction",
        "inside",
    )

    def to_dataframe(self) -> pd.DataFrame:
        """One row per spectrum, indexed by label."""
        import pandas as pd

        data = {n: np.array(getattr(self, n)) for n in self._NAMES if getattr(self, n) is not None}
        return pd.DataFrame(data, index=pd.Index(self.labels, name="label"))

    def as_coords(self) -> dict[str, np.ndarray]:
        """The columns as per-spectrum coordinates for ``Series.replace(coords=...)``."""
        return {n: np.array(getattr(self, n)) for n in self._NAMES if getattr(self, n) is not None}


def _spectrum_seconds(series: _HasTimes, cycling: Cycling, duration: Any) -> np.ndarray:
    n = int(series.n_spectra)
    if series.time is None:
        raise ValidationError("sync needs spectrum times: series.time is None")
    time = np.asarray(series.time)
    if time.shape != (n,):
        raise ValidationError(f"series.time must have shape ({n},); got {time.shape}")
    if time.dtype.kind == "M":
        if cycling.start_time is None:
            raise ValidationError(
                "spectra carry absolute times but the cycling record has no start time; "
                "give the spectra elapsed seconds on the cycler clock instead"
            )
        t = (time.astype("datetime64[ns]") - cycling.start_time) / np.timedelta64(1, "s")
    elif time.dtype.kind in "iuf":
        t = time.astype(float)
    else:
        raise ValidationError(f"series.time must be datetime64 or seconds; got {time.dtype}")
    if duration is not None:
        d = (
            np.broadcast_to(np.asarray(duration, dtype=float), (n,))
            if np.ndim(duration) == 0
            else np.asarray(duration, dtype=float)
        )
        if d.shape != (n,) or not np.all(np.isfinite(d)) or (d < 0).any():
            raise ValidationError(
                f"duration must be a number of seconds >= 0 or one per spectrum ({n},); "
                f"got {np.shape(duration)}"
            )
        t = t + 0.5 * d
    return t


def formula_molar_mass(formula: str) -> float:
    """Molar mass (g/mol) of a chemical formula such as ``"Li(Ni0.8Mn0.1Co0.1)O2"``.

    Parsed by pymatgen's `Composition` (IUPAC standard atomic weights); pymatgen comes with
    the ``speciate[theory]`` extra.
    """
    composition = import_extra(
        "pymatgen.core", "theory", "formula= (or pass molar_mass_g_mol)"
    ).Composition
    try:
        weight = float(composition(str(formula)).weight)
    except (ValueError, AttributeError, KeyError) as exc:
        raise ValidationError(
            f"formula must be a chemical formula such as 'LiNiO2'; got {formula!r}"
        ) from exc
    if not np.isfinite(weight) or weight <= 0:
        raise ValidationError(f"formula must name at least one element; got {formula!r}")
    return weight


def _x_li_scale(
    mass: float | None,
    theoretical_capacity_mah_g: float | None,
    molar_mass_g_mol: float | None,
    electrons: float,
    formula: str | None = None,
) -> float | None:
    """Charge (mAh) that removes one Li per formula unit, or None."""
    given = [
        name
        for name, value in (
            ("theoretical_capacity_mah_g", theoretical_capacity_mah_g),
            ("molar_mass_g_mol", molar_mass_g_mol),
            ("formula", formula),
        )
        if value is not None
    ]
    if not given:
        return None
    if mass is None:
        raise ValidationError("x_li needs the active mass: pass mass_mg")
    if len(given) > 1:
        raise ValidationError(
            "give one of theoretical_capacity_mah_g, molar_mass_g_mol or formula; "
            f"got {', '.join(given)}"
        )
    if formula is not None:
        molar_mass_g_mol = formula_molar_mass(formula)
    if theoretical_capacity_mah_g is not None:
        q = float(theoretical_capacity_mah_g)
    else:
        q = FARADAY_MAH_PER_MOL * float(electrons) / float(molar_mass_g_mol)
    if not np.isfinite(q) or q <= 0:
        raise ValidationError(f"the theoretical capacity must be > 0 mAh/g; got {q}")
    return q * mass * 1e-3


@records_provenance
def sync(
    series: _HasTimes,
    cycling: Cycling,
    offset: float = 0.0,
    duration: float | Sequence[float] | np.ndarray | None = None,
    *,
    mass_mg: float | None = None,
    theoretical_capacity_mah_g: float | None = None,
    molar_mass_g_mol: float | None = None,
    formula: str | None = None,
    electrons_per_formula: float = 1.0,
    x_li_initial: float = 1.0,
    outside: str = "error",
    segmentation: Segmentation | None = None,
) -> SyncTable:
    """Voltage, capacity, state of charge and Li content at each spectrum.

    Parameters
    ----------
    series
        Anything with ``time`` (datetime64 acquisition starts, or seconds on the cycler
        clock), ``labels`` and ``n_spectra`` — a `speciate.Series`.
    cycling
        The cell's cycler record.
    offset
        Cycler clock minus beamline clock (s).
    duration
        Spectrum duration (s), scalar or shape (n_spectra,): times become mid-points.
    mass_mg
        Active mass (mg), for ``specific_capacity`` and ``x_li``.
    theoretical_capacity_mah_g, molar_mass_g_mol, formula, electrons_per_formula
        For ``x_li`` (give one of the first three): the capacity of one Li per formula
        unit (mAh/g); or the molar mass of the active material as weighed (g/mol), or its
        formula (e.g. ``"LiNiO2"``, molar mass by `formula_molar_mass`), with electrons per
        Li n (capacity F·n/M).
    x_li_initial
        Li per formula unit at the start of the record.
    outside
        Spectra outside the record: ``"error"`` (default) or ``"nan"`` (marked in
        ``inside``).
    segmentation
        Default `segment(cycling)`.

    Returns
    -------
    SyncTable
    """
    if outside not in ("error", "nan"):
        raise ValidationError(f"outside must be 'error' or 'nan'; got {outside!r}")
    mass = check_mass(mass_mg)
    li_charge = _x_li_scale(
        mass, theoretical_capacity_mah_g, molar_mass_g_mol, electrons_per_formula, formula
    )
    t = _spectrum_seconds(series, cycling, duration) + float(offset)
    cols = cycling.columns
    ts = cols["time_s"]
    inside = (t >= ts[0]) & (t <= ts[-1])
    labels = tuple(str(x) for x in series.labels)
    if not inside.all() and outside == "error":
        bad = np.nonzero(~inside)[0]
        shown = ", ".join(f"{labels[i]} at {t[i]:.0f} s" for i in bad[:5]) + (
            " ..." if bad.size > 5 else ""
        )
        raise ValidationError(
            f"{bad.size} of {t.size} spectra fall outside the cycling record "
            f"({ts[0]:.0f}..{ts[-1]:.0f} s on the cycler clock, offset {offset} s): {shown}; "
            "check offset/duration or pass outside='nan'"
        )
    seg = segmentation or segment(cycling)
    hc = half_cycle_summary(cycling, segmentation=seg)
    d_row = seg.direction[seg.half_cycle - 1]
    dq = row_charge_mah(ts, cols["current_ma"])
    total = np.cumsum(dq * d_row)
    q_row = total - (total - dq * d_row)[seg.starts][seg.half_cycle - 1]
    net = np.cumsum(dq)
    tc = np.clip(t, ts[0], ts[-1])
    idx = np.clip(np.searchsorted(ts, tc, side="right") - 1, 0, ts.size - 1)
    nxt = np.minimum(idx + 1, ts.size - 1)
    span = ts[nxt] - ts[idx]
    frac = np.divide(tc - ts[idx], span, out=np.zeros_like(tc), where=span > 0)
    same = seg.half_cycle[nxt] == seg.half_cycle[idx]
    voltage = np.interp(tc, ts, cols["voltage_v"])
    capacity = q_row[idx] + np.where(same, frac * dq[nxt] * d_row[nxt], 0.0)
    q_net = net[idx] + frac * dq[nxt]
    h = seg.half_cycle[idx]
    direction = seg.direction[h - 1]
    q_total = hc.capacity_mah[h - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        progress = np.clip(np.where(q_total > 0, capacity / q_total, np.nan), 0.0, 1.0)
    soc = np.where(direction > 0, progress, np.where(direction < 0, 1.0 - progress, np.nan))
    x_li = None if li_charge is None else float(x_li_initial) - q_net / li_charge

    def masked(a: np.ndarray) -> np.ndarray:
        return frozen_copy(np.where(inside, a, np.nan))

    def masked_int(a: np.ndarray) -> np.ndarray:
        return frozen_copy(np.where(inside, a, -1).astype(np.int64))

    return SyncTable(
        labels=labels,
        cycler_time_s=frozen_copy(t),
        voltage=masked(voltage),
        capacity=masked(capacity),
        specific_capacity=None if mass is None else masked(capacity / (mass * 1e-3)),
        state_of_charge=masked(soc),
        x_li=None if x_li is None else masked(x_li),
        cycle=masked_int(seg.cycle[idx]),
        half_cycle=masked_int(h),
        direction=masked_int(direction),
        inside=frozen_copy(inside),
        meta={
            "offset_s": float(offset),
            "duration": None if duration is None else np.asarray(duration, dtype=float).tolist(),
            "mass_mg": mass,
            "formula": formula,
            "li_charge_mah": li_charge,
            "sources": list(cycling.source),
        },
    )
