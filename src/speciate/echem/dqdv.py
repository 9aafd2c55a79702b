"""Differential capacity dQ/dV by binning charge on a uniform voltage grid.

Method (the same for every half-cycle, all half-cycles at once):

1. Charge per interval, ``dq = I·dt`` (mAh), placed at the voltage recorded at the end of
   the interval (with the current recorded there, as cyclers log them), so a voltage that
   drifts during a rest never moves charge.
2. ``dq`` summed into voltage bins of width ``voltage_step_v`` (one ``np.bincount`` over
   (half-cycle, bin) pairs) and divided by the width: mAh/V. Binning charge rather than
   differentiating Q(V) needs no monotonic voltage: a voltage that turns back (IR relaxation,
   GITT pulses) puts its charge in the bins it visits, and rests (I = 0) add nothing, so
   they make no spikes.
3. Constant-voltage holds would pile their charge in one bin: rows flagged ``cv_*`` by the
   reader, and rows within ``cv_tolerance_v`` of the half-cycle's voltage extreme whose
   |I| has fallen below ``cv_current_fraction`` of the half-cycle's peak |I|, are left out.
4. A Gaussian of standard deviation ``smoothing_v`` (V) along voltage
   (``scipy.ndimage.gaussian_filter1d``); the area (capacity) is kept.

Charge half-cycles give dQ/dV > 0, discharge half-cycles dQ/dV < 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from speciate._arrays import frozen_copy
from speciate.echem._common import check_mass
from speciate.echem.curves import select_half_cycles
from speciate.echem.cycles import Segmentation, row_charge_mah, segment
from speciate.echem.cycling import Cycling
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DQDV", "dqdv"]


@dataclass(frozen=True, eq=False)
class DQDV:
    """dQ/dV curves of chosen half-cycles on one voltage grid.

    Attributes
    ----------
    voltage_v
        Bin centres (V), shape (n_bins,).
    dqdv
        dQ/dV, shape (n_curves, n_bins): mAh/V, or mAh/(g·V) with an active mass. NaN
        outside the voltage range a half-cycle covered.
    half_cycle, cycle, direction
        Per curve, shape (n_curves,); direction +1 charge, -1 discharge.
    capacity_mah
        Charge binned per curve (mAh), shape (n_curves,): the area under each curve.
    units
        ``"mAh/V"`` or ``"mAh/g/V"``.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    voltage_v: np.ndarray
    dqdv: np.ndarray
    half_cycle: np.ndarray
    cycle: np.ndarray
    direction: np.ndarray
    capacity_mah: np.ndarray
    units: str
    meta: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n_curves(self) -> int:
        """Number of curves."""
        return int(self.half_cycle.size)

    @property
    def peak_voltage_v(self) -> np.ndarray:
        """Voltage of the largest |dQ/dV| of each curve (V), shape (n_curves,).

        Refined between bins by the vertex of the parabola through the top bin and its
        two neighbours.
        """
        mag = np.where(np.isfinite(self.dqdv), np.abs(self.dqdv), -np.inf)
        k = np.argmax(mag, axis=1)
        n_b = self.voltage_v.size
        rows = np.arange(k.size)
        lo, hi = np.clip(k - 1, 0, n_b - 1), np.clip(k + 1, 0, n_b - 1)
        y0, y1, y2 = mag[rows, lo], mag[rows, k], mag[rows, hi]
        denom = y0 - 2 * y1 + y2
        ok = (k > 0) & (k < n_b - 1) & np.isfinite(y0 + y2) & (denom < 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(ok, 0.5 * (y0 - y2) / denom, 0.0)
        step = self.voltage_v[1] - self.voltage_v[0] if n_b > 1 else 0.0
        return self.voltage_v[k] + shift * step

    def to_dataframe(self) -> pd.DataFrame:
        """Long table: cycle, half_cycle, direction, voltage_v, dqdv (finite points only)."""
        import pandas as pd

        n_c, n_b = self.dqdv.shape
        ok = np.isfinite(self.dqdv).ravel()
        return pd.DataFrame(
            {
                "cycle": np.repeat(self.cycle, n_b)[ok],
                "half_cycle": np.repeat(self.half_cycle, n_b)[ok],
                "direction": np.repeat(self.direction, n_b)[ok],
                "voltage_v": np.tile(self.voltage_v, n_c)[ok],
                "dqdv": self.dqdv.ravel()[ok],
            }
        )


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValidationError(f"{name} must be a positive number; got {value}")
    return value


def _cv_rows(cycling: Cycling, seg: Segmentation, tol: float, fraction: float) -> np.ndarray:
    cols = cycling.columns
    flagged = np.char.startswith(cols["step_type"].astype(str), "cv")
    v, i = cols["voltage_v"], np.abs(cols["current_ma"])
    starts = seg.starts
    v_max = np.maximum.reduceat(v, starts)[seg.half_cycle - 1]
    v_min = np.minimum.reduceat(v, starts)[seg.half_cycle - 1]
    i_max = np.maximum.reduceat(i, starts)[seg.half_cycle - 1]
    d = seg.direction[seg.half_cycle - 1]
    at_limit = np.where(d > 0, v_max - v, v - v_min) <= tol
    decayed = i < fraction * i_max
    return flagged | (at_limit & decayed & (i > seg.rest_current_ma))


@records_provenance
def dqdv(
    cycling: Cycling,
    cycles: Iterable[int] | None = None,
    *,
    direction: str | None = None,
    voltage_step_v: float = 0.005,
    smoothing_v: float = 0.01,
    mass_mg: float | None = None,
    exclude_cv: bool = True,
    cv_tolerance_v: float = 0.002,
    cv_current_fraction: float = 0.9,
    voltage_range_v: tuple[float, float] | None = None,
    segmentation: Segmentation | None = None,
) -> DQDV:
    """Differential capacity of chosen cycles (see the module notes for the method).

    Parameters
    ----------
    cycling
        The record.
    cycles
        Cycle numbers (speciate's segmentation); default all.
    direction
        ``"charge"``, ``"discharge"`` or None for both.
    voltage_step_v
        Bin width (V). Default 5 mV.
    smoothing_v
        Standard deviation of the Gaussian smoothing (V); 0 for none. Default 10 mV.
    mass_mg
        Active mass (mg): dQ/dV in mAh/(g·V). None: mAh/V.
    exclude_cv
        Leave constant-voltage holds out (see module notes).
    cv_tolerance_v, cv_current_fraction
        What counts as a CV hold when the file does not say so.
    voltage_range_v
        (low, high) grid limits (V); default the range of the selected data.
    segmentation
        Default `segment(cycling)`.

    Returns
    -------
    DQDV
    """
    step = _positive(voltage_step_v, "voltage_step_v")
    smooth = float(smoothing_v)
    if not np.isfinite(smooth) or smooth < 0:
        raise ValidationError(f"smoothing_v must be >= 0 (V); got {smoothing_v}")
    mass = check_mass(mass_mg)
    seg = segmentation or segment(cycling)
    chosen = select_half_cycles(seg, cycles, direction)
    if chosen.size == 0:
        raise ValidationError("no charge or discharge half-cycle matches the selection")
    cols = cycling.columns
    v = cols["voltage_v"]
    dq = row_charge_mah(cols["time_s"], cols["current_ma"])
    rows = np.isin(seg.half_cycle, chosen)
    if exclude_cv:
        rows &= ~_cv_rows(cycling, seg, cv_tolerance_v, cv_current_fraction)
    curve = np.searchsorted(chosen, seg.half_cycle[rows])
    v_sel, dq_sel = v[rows], dq[rows]
    if voltage_range_v is None:
        # margin of 4 sigma so that smoothing loses no charge at the grid ends
        lo, hi = float(v_sel.min()) - 4 * smooth, float(v_sel.max()) + 4 * smooth
    else:
        lo, hi = (float(x) for x in voltage_range_v)
        if not hi > lo:
            raise ValidationError(f"voltage_range_v must be (low, high); got {voltage_range_v}")
    v0 = np.floor(lo / step) * step
    n_bins = max(int(np.ceil((hi - v0) / step)), 1)
    b = np.floor((v_sel - v0) / step).astype(np.int64)
    inside = (b >= 0) & (b < n_bins)
    n_c = chosen.size
    key = curve[inside] * n_bins + b[inside]
    binned = np.bincount(key, weights=dq_sel[inside], minlength=n_c * n_bins).reshape(n_c, n_bins)
    out = binned / step
    if smooth > 0:
        out = gaussian_filter1d(out, smooth / step, axis=1, mode="constant")
    # bins beyond what each half-cycle covered are unknown, not zero
    carried = inside & (dq_sel != 0)
    first = np.full(n_c, n_bins)
    last = np.full(n_c, -1)
    np.minimum.at(first, curve[carried], b[carried])
    np.maximum.at(last, curve[carried], b[carried])
    grid = np.arange(n_bins)
    pad = int(np.ceil(4 * smooth / step)) if smooth > 0 else 0
    covered = (grid >= (first - pad)[:, None]) & (grid <= (last + pad)[:, None])
    out = np.where(covered, out, np.nan)
    if mass is not None:
        out = out / (mass * 1e-3)
    return DQDV(
        voltage_v=frozen_copy(v0 + (grid + 0.5) * step),
        dqdv=frozen_copy(out),
        half_cycle=frozen_copy(chosen),
        cycle=frozen_copy(seg.half_cycle_cycle[chosen - 1]),
        direction=frozen_copy(seg.direction[chosen - 1]),
        capacity_mah=frozen_copy(np.abs(binned.sum(axis=1))),
        units="mAh/V" if mass is None else "mAh/g/V",
        meta={
            "voltage_step_v": step,
            "smoothing_v": smooth,
            "exclude_cv": bool(exclude_cv),
            "cv_tolerance_v": float(cv_tolerance_v),
            "cv_current_fraction": float(cv_current_fraction),
            "mass_mg": mass,
        },
    )
