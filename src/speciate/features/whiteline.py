"""White line α: energy and height of the main absorption maximum above the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate.features.measured import measured_in
from speciate.features.peaks import highest_maximum
from speciate.features.reasons import frozen_reasons, reasons, set_reason
from speciate.features.windows import resolve_window
from speciate.provenance import records_provenance
from speciate.xanes.derivative import smooth_on_grid
from speciate.xanes.normalized import as_normalized

__all__ = ["DEFAULT_WHITE_LINE_WINDOW", "WhiteLine", "white_line"]

#: Mn K edge: the main maximum of Mn(II)-Mn(IV) oxides lies in 6550-6565 eV.
DEFAULT_WHITE_LINE_WINDOW = (6545.0, 6580.0)


@dataclass(frozen=True, eq=False)
class WhiteLine:
    """White line (α) of every spectrum.

    Attributes
    ----------
    energy : (n_spectra,) eV, position of the highest interior maximum in the window
    height : (n_spectra,) normalized absorption at that maximum (1 = edge step)
    reason : (n_spectra,) str, why a value is NaN
    window : (lo, hi) eV
    smooth_ev : float, Savitzky–Golay width used before locating the maximum
    provenance : record of the call
    """

    energy: np.ndarray
    height: np.ndarray
    reason: np.ndarray
    window: tuple[float, float]
    smooth_ev: float
    provenance: Mapping[str, Any] = field(default_factory=dict)


@records_provenance(name="speciate.features.white_line")
def white_line(
    data: Any, window: tuple[float, float] | None = None, smooth_ev: float = 1.0
) -> WhiteLine:
    """Energy and height of the main maximum above the edge (α).

    The spectrum is smoothed (Savitzky–Golay, quadratic, ``smooth_ev`` wide) on a
    uniform grid; the highest *interior* local maximum in the window is refined by a
    parabola through its three points. A window where the absorption only rises or
    only falls has no white line: NaN, with a reason.

    Parameters
    ----------
    data
        A `NormResult` (or a normalized `Series`).
    window
        (lo, hi) eV.
    smooth_ev
        Smoothing width in eV (0: none).

    Returns
    -------
    WhiteLine
    """
    norm = as_normalized(data)
    window = resolve_window(norm, window, "white_line")
    n_s = norm.n_spectra
    data = measured_in(norm, window, "white-line")
    why = reasons(n_s)
    set_reason(why, ~data.ok, data.reason)
    energy = np.full(n_s, np.nan)
    height = np.full(n_s, np.nan)
    smoothed = smooth_on_grid(norm.energy, data.values, smooth_ev, 0, window)
    if smoothed is None:
        set_reason(why, np.ones(n_s, bool), f"white-line window {window} eV is outside the data")
    else:
        grid, y = smoothed
        energy, height, idx = highest_maximum(grid, y)
        set_reason(why, idx < 0, "no maximum inside the white-line window")
        # a maximum lower than the window's end is a wiggle on a still-rising edge
        rising = y[:, -1] > np.where(idx >= 0, height, np.inf)
        set_reason(why, rising, "absorption still rising at the end of the white-line window")
        energy = np.where(why == "", energy, np.nan)
        height = np.where(why == "", height, np.nan)
    return WhiteLine(
        energy=readonly(energy),
        height=readonly(height),
        reason=frozen_reasons(why),
        window=window,
        smooth_ev=float(smooth_ev),
    )
