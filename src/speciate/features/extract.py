"""`extract`: every fingerprint feature of a normalized series in one `FeatureTable`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from speciate.errors import ValidationError
from speciate.features._common import as_normalized, reasons, set_reason
from speciate.features.edge import DEFAULT_EDGE_WINDOW, edge_positions, edge_shape
from speciate.features.preedge import DEFAULT_PREEDGE_WINDOW, preedge_peaks
from speciate.features.table import FeatureTable
from speciate.features.triplet import DEFAULT_TRIPLET_WINDOW, derivative_triplet
from speciate.features.valence import ValenceCalibration, default_mn_calibration
from speciate.features.whiteline import DEFAULT_WHITE_LINE_WINDOW, white_line
from speciate.provenance import make_provenance

__all__ = ["DEFAULT_WINDOWS", "extract"]

#: Mn K-edge windows (eV) used when ``windows`` does not override them.
DEFAULT_WINDOWS: Mapping[str, tuple[float, float]] = {
    "edge": DEFAULT_EDGE_WINDOW,
    "preedge": DEFAULT_PREEDGE_WINDOW,
    "white_line": DEFAULT_WHITE_LINE_WINDOW,
    "triplet": DEFAULT_TRIPLET_WINDOW,
}

_PEAK_UNITS = {"energy": "eV", "height": "norm", "area": "norm*eV"}


def _windows(windows: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    out = dict(DEFAULT_WINDOWS)
    unknown = sorted(set(windows or {}) - set(out))
    if unknown:
        raise ValidationError(f"unknown window name(s) {unknown}; expected some of {sorted(out)}")
    out.update({k: tuple(v) for k, v in (windows or {}).items()})
    return out


def _calibration(calibration: Any) -> ValenceCalibration | None:
    if calibration is None or isinstance(calibration, ValenceCalibration):
        return calibration
    if calibration == "mn":
        return default_mn_calibration()
    raise ValidationError(
        f"calibration must be 'mn', a ValenceCalibration or None; got {calibration!r}"
    )


def extract(
    norm: Any,
    windows: Mapping[str, tuple[float, float]] | None = None,
    calibration: Any = "mn",
    smooth_ev: float = 1.0,
    preedge_shape: str = "gaussian",
    min_prominence: float = 0.03,
) -> FeatureTable:
    """Measure every fingerprint feature of every spectrum.

    Parameters
    ----------
    norm
        A `NormResult` (from `speciate.xanes.normalize` or `speciate.theory.normalize`)
        or a normalized `Series`, n_spectra spectra.
    windows
        Energy windows (eV) overriding the Mn K defaults (`DEFAULT_WINDOWS`): keys
        ``"edge"``, ``"preedge"``, ``"white_line"``, ``"triplet"``.
    calibration
        ``"mn"`` (default: the shipped Mn oxide calibration), a `ValenceCalibration`,
        or ``None`` (no valence columns).
    smooth_ev
        Savitzky–Golay width (eV) of the derivatives and smoothing (edge, white line,
        triplet).
    preedge_shape
        ``"gaussian"``, ``"pseudo-voigt"`` or ``"lorentzian"`` (see `preedge_peaks`).
    min_prominence
        Triplet detection threshold (see `derivative_triplet`).

    Returns
    -------
    FeatureTable
        Columns (units in ``table.units``): ``e0``, ``e_half``, ``e_integral``,
        ``edge_step``, ``valence``, ``valence_stderr``, ``preedge_{a,b}_{energy,height,
        area}`` and their ``_stderr``, ``preedge_fwhm``, ``preedge_centroid``,
        ``preedge_centroid_stderr``, ``preedge_total_area``, ``white_line_energy``,
        ``white_line_height``, ``edge_shape``, ``triplet_n_maxima``,
        ``triplet_{c,d,e}_{energy,height}``, ``triplet_flatness``, ``gamma_deg``; and
        reason columns saying why a value is NaN.
    """
    data = as_normalized(norm)
    win = _windows(windows)
    cal = _calibration(calibration)
    n_s = data.n_spectra
    edge = edge_positions(data, window=win["edge"], smooth_ev=smooth_ev)
    shape = edge_shape(data, window=win["edge"])
    pre = preedge_peaks(data, window=win["preedge"], shape=preedge_shape)
    wl = white_line(data, window=win["white_line"], smooth_ev=smooth_ev)
    tri = derivative_triplet(
        data, window=win["triplet"], smooth_ev=smooth_ev, min_prominence=min_prominence
    )
    cols: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    reason_cols: dict[str, np.ndarray] = {}
    reason_of: dict[str, str] = {}

    def add(name: str, values: Any, unit: str, reason: str | None) -> None:
        cols[name] = np.asarray(values, dtype=float)
        units[name] = unit
        if reason is not None:
            reason_of[name] = reason

    for name in ("e0", "e_half", "e_integral"):
        add(name, getattr(edge, name), "eV", "edge_reason")
    reason_cols["edge_reason"] = edge.reason
    add("edge_step", edge.edge_step, "mu", "edge_step_reason")
    step_why = reasons(n_s)
    set_reason(step_why, ~np.isfinite(edge.edge_step), "no edge step in the input normalization")
    reason_cols["edge_step_reason"] = step_why
    if cal is not None:
        e_cal = getattr(edge, cal.edge)
        pred = cal.predict(e_cal)
        add("valence", pred.valence, "e", "valence_reason")
        add("valence_stderr", pred.stderr, "e", "valence_reason")
        v_why = reasons(n_s)
        set_reason(v_why, ~np.isfinite(e_cal), f"no {cal.edge} edge position")
        reason_cols["valence_reason"] = v_why
    for peak in ("a", "b"):
        for quantity, unit in _PEAK_UNITS.items():
            for suffix in ("", "_stderr"):
                values = getattr(pre, f"{peak}_{quantity}{suffix}")
                add(f"preedge_{peak}_{quantity}{suffix}", values, unit, f"preedge_{peak}_reason")
        reason_cols[f"preedge_{peak}_reason"] = getattr(pre, f"{peak}_reason")
    pre_why = np.where(pre.a_reason == "", pre.b_reason, pre.a_reason)
    both_missing = (pre.a_reason != "") & (pre.b_reason != "")
    reason_cols["preedge_reason"] = np.where(both_missing, pre_why, "")
    add("preedge_fwhm", pre.fwhm, "eV", "preedge_reason")
    add("preedge_centroid", pre.centroid, "eV", "preedge_reason")
    add("preedge_centroid_stderr", pre.centroid_stderr, "eV", "preedge_reason")
    add("preedge_total_area", pre.total_area, "norm*eV", "preedge_reason")
    add("white_line_energy", wl.energy, "eV", "white_line_reason")
    add("white_line_height", wl.height, "norm", "white_line_reason")
    reason_cols["white_line_reason"] = wl.reason
    add("edge_shape", shape.beta, "1", "edge_shape_reason")
    reason_cols["edge_shape_reason"] = shape.reason
    add("triplet_n_maxima", tri.n_maxima, "count", None)
    for member in ("c", "d", "e"):
        add(f"triplet_{member}_energy", getattr(tri, f"{member}_energy"), "eV", "triplet_reason")
        add(
            f"triplet_{member}_height",
            getattr(tri, f"{member}_height"),
            "norm/eV",
            "triplet_reason",
        )
    add("triplet_flatness", tri.flatness, "1", "triplet_reason")
    add("gamma_deg", tri.gamma_deg, "deg", "triplet_reason")
    reason_cols["triplet_reason"] = tri.reason
    provenance = make_provenance(
        "speciate.features.extract",
        {
            "windows": win,
            "calibration": None if cal is None else {"edge": cal.edge, "kind": cal.kind},
            "smooth_ev": smooth_ev,
            "preedge_shape": preedge_shape,
            "min_prominence": min_prominence,
        },
        n_spectra=n_s,
    )
    return FeatureTable(
        labels=data.labels,
        columns=cols,
        units=units,
        reasons=reason_cols,
        reason_of=reason_of,
        time=data.time,
        coords=dict(data.coords),
        details={"edge": edge, "edge_shape": shape, "preedge": pre, "white_line": wl,
                 "triplet": tri, "calibration": cal},
        provenance=provenance,
    )  # fmt: skip
