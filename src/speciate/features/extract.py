"""`extract`: every fingerprint feature of a normalized series in one `FeatureTable`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from speciate.errors import ValidationError
from speciate.features.edge import edge_positions, edge_shape
from speciate.features.preedge import preedge_peaks
from speciate.features.reasons import reasons, set_reason
from speciate.features.table import FeatureTable
from speciate.features.triplet import derivative_triplet
from speciate.features.valence import ValenceCalibration, default_mn_calibration
from speciate.features.whiteline import white_line
from speciate.features.windows import MN_K_WINDOWS, EdgeWindows, feature_windows
from speciate.provenance import records_provenance
from speciate.xanes.normalized import as_normalized

__all__ = ["DEFAULT_WINDOWS", "extract", "load_calibration"]

#: The Mn K-edge windows (eV); other 3d-metal K-edges get theirs from `default_windows`.
DEFAULT_WINDOWS: Mapping[str, tuple[float, float]] = MN_K_WINDOWS

_PEAK_UNITS = {"energy": "eV", "height": "norm", "area": "norm*eV"}


def load_calibration(calibration: Any) -> ValenceCalibration | None:
    """A calibration from ``"mn"`` (the shipped Mn K one), ``"none"``/None, a JSON path or itself.

    Raises
    ------
    ValidationError
        For anything else, or a path that does not exist.
    """
    if calibration is None or isinstance(calibration, ValenceCalibration):
        return calibration
    if isinstance(calibration, (str, Path)):
        text = str(calibration)
        if text.lower() == "mn":
            return default_mn_calibration()
        if text.lower() == "none":
            return None
        if Path(text).is_file():
            return ValenceCalibration.from_json(text)
        raise ValidationError(
            f"calibration must be 'mn', 'none' or a calibration JSON file; {text!r} is none "
            "of these (no such file)"
        )
    raise ValidationError(
        "calibration must be 'mn', 'none', a JSON file or a ValenceCalibration; got "
        f"{type(calibration).__name__}"
    )


@records_provenance(name="speciate.features.extract")
def extract(
    norm: Any,
    windows: Mapping[str, tuple[float, float]] | None = None,
    calibration: Any = "mn",
    smooth_ev: float = 1.0,
    preedge_shape: str = "gaussian",
    min_prominence: float = 0.03,
    edge: Any = None,
) -> FeatureTable:
    """Measure every fingerprint feature of every spectrum.

    Parameters
    ----------
    norm
        A `NormResult` (from `speciate.xanes.normalize` or `speciate.theory.normalize`)
        or a normalized `Series`, n_spectra spectra.
    windows
        Energy windows (eV) overriding the defaults of the data's edge
        (`speciate.features.windows.default_windows`): keys ``"edge"``, ``"preedge"``,
        ``"white_line"``, ``"triplet"``. An unknown edge falls back to the Mn K windows,
        with a warning.
    calibration
        ``"mn"`` (default: the shipped Mn oxide calibration), a `ValenceCalibration`, a
        calibration JSON file, or ``None`` (no valence columns). A calibration of another
        element gives NaN valences with the reason.
    smooth_ev
        Savitzky–Golay width (eV) of the derivatives and smoothing (edge, white line,
        triplet).
    preedge_shape
        ``"gaussian"``, ``"pseudo-voigt"`` or ``"lorentzian"`` (see `preedge_peaks`).
    min_prominence
        Triplet detection threshold (see `derivative_triplet`).
    edge
        ``"Ni-K"``: the absorber and edge, overriding ``meta["edge"]`` of the data and the
        inference from E0 (`speciate.edges`).

    Returns
    -------
    FeatureTable
        Columns (units in ``table.units``): ``e0``, ``e_half``, ``e_integral``,
        ``edge_step``, ``valence``, ``valence_stderr``, ``preedge_{a,b}_{energy,height,
        area}`` and their ``_stderr``, ``preedge_fwhm``, ``preedge_centroid``,
        ``preedge_centroid_stderr``, ``preedge_total_area``, ``white_line_energy``,
        ``white_line_height``, ``edge_shape``, ``triplet_n_maxima``,
        ``triplet_{c,d,e}_{energy,height}``, ``triplet_flatness``, ``gamma_deg``; and
        reason columns saying why a value is NaN. ``table.meta["edge"]`` records the edge
        (or ``table.meta["edge_reason"]`` why it is unknown) and ``meta["windows"]`` the
        windows used.
    """
    data = as_normalized(norm)
    chosen = feature_windows(data, windows, edge, stacklevel=3)
    win = chosen.windows
    cal = load_calibration(calibration)
    n_s = data.n_spectra
    edges = edge_positions(data, window=win["edge"], smooth_ev=smooth_ev)
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
        add(name, getattr(edges, name), "eV", "edge_reason")
    reason_cols["edge_reason"] = edges.reason
    add("edge_step", edges.edge_step, "mu", "edge_step_reason")
    step_why = reasons(n_s)
    set_reason(step_why, ~np.isfinite(edges.edge_step), "no edge step in the input normalization")
    reason_cols["edge_step_reason"] = step_why
    if cal is not None:
        pred = cal.predict(getattr(edges, cal.definition), edge=chosen.edge)
        add("valence", pred.valence, "e", "valence_reason")
        add("valence_stderr", pred.stderr, "e", "valence_reason")
        reason_cols["valence_reason"] = pred.reason
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
    provenance = {
        "windows_used": {k: list(v) for k, v in win.items()},
        "edge_used": None if chosen.edge is None else chosen.edge.to_meta(),
        "calibration_used": None if cal is None else {
            "element": cal.element, "edge": cal.edge,
            "definition": cal.definition, "kind": cal.kind,
        },
    }  # fmt: skip
    return FeatureTable(
        labels=data.labels,
        columns=cols,
        units=units,
        reasons=reason_cols,
        reason_of=reason_of,
        time=data.time,
        coords=dict(data.coords),
        meta=_table_meta(chosen),
        details={"edge": edges, "edge_shape": shape, "preedge": pre, "white_line": wl,
                 "triplet": tri, "calibration": cal},
        provenance=provenance,
    )  # fmt: skip


def _table_meta(chosen: EdgeWindows) -> dict[str, Any]:
    out: dict[str, Any] = {
        "windows": {k: list(v) for k, v in chosen.windows.items()},
        "window_source": dict(chosen.source),
    }
    if chosen.edge is not None:
        out["edge"] = chosen.edge.to_meta()
    if chosen.reason:
        out["edge_reason"] = chosen.reason
    return out
