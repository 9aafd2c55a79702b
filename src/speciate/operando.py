"""Operando tables: each spectrum's electrochemical state beside its edge, features and
LCF weights, one row per spectrum.

This composes the analyses (`speciate.echem.sync`, `speciate.features.edge_positions`,
`speciate.features.extract`, `speciate.fit.lcf`) and adds no science of its own: the
row order is the series' order, every column comes from one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from speciate.echem import Cycling, SyncTable
    from speciate.features.edge import EdgeFeatures
    from speciate.features.table import FeatureTable
    from speciate.fit import LCFResult
    from speciate.xanes import NormResult

__all__ = ["OperandoTable", "operando_table", "plot_operando"]

#: Default edge search window around the series' E0s (eV below the lowest, above the highest).
EDGE_MARGIN_EV = (15.0, 25.0)

# columns of the sync table, renamed with their units for the CSV
_STATE_COLUMNS = (
    ("cycler_time_s", "cycler_time_s"),
    ("voltage", "voltage_v"),
    ("capacity", "capacity_mah"),
    ("specific_capacity", "specific_capacity_mah_g"),
    ("state_of_charge", "state_of_charge"),
    ("x_li", "x_li"),
    ("cycle", "cycle"),
    ("half_cycle", "half_cycle"),
    ("direction", "direction"),
    ("inside", "inside_record"),
)
_EDGE_COLUMNS = (("e0", "e0_ev"), ("e_half", "e_half_ev"), ("e_integral", "e_integral_ev"),
                 ("edge_step", "edge_step"))  # fmt: skip


@dataclass(frozen=True, eq=False)
class OperandoTable:
    """One row per spectrum: time, electrochemical state, edge, features, LCF weights.

    Attributes
    ----------
    labels
        Spectrum labels, (n_spectra,).
    time
        Spectrum acquisition times as in the series (datetime64 or s), (n_spectra,).
    state
        The `SyncTable` (voltage V, capacity mAh, state of charge, x_Li, cycle...).
    edge
        `EdgeFeatures` of the normalized spectra in ``edge.window`` (eV).
    features
        The full `FeatureTable` when asked for, else None.
    fit
        The `LCFResult` against the standards when given, else None.
    provenance
        How the table was made.
    """

    labels: tuple[str, ...]
    time: np.ndarray | None
    state: SyncTable
    edge: EdgeFeatures
    features: FeatureTable | None = None
    fit: LCFResult | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_spectra(self) -> int:
        """Number of rows."""
        return len(self.labels)

    def to_dataframe(self) -> pd.DataFrame:
        """The table: ``label``, ``time``, state (``voltage_v``, ``capacity_mah``,
        ``state_of_charge``, ``x_li``...), edge (``e0_ev``, ``e_half_ev``,
        ``e_integral_ev``, ``edge_step``), feature columns, ``weight_<standard>``,
        ``stderr_<standard>``, ``r_factor``."""
        import pandas as pd

        cols: dict[str, Any] = {"label": list(self.labels)}
        if self.time is not None:
            cols["time"] = np.asarray(self.time)
        for name, column in _STATE_COLUMNS:
            value = getattr(self.state, name)
            if value is not None:
                cols[column] = np.asarray(value)
        for name, column in _EDGE_COLUMNS:
            cols[column] = np.asarray(getattr(self.edge, name))
        if self.features is not None:
            feats = self.features.to_dataframe(reasons=False)
            for name in feats.columns:
                if name not in ("label", "e0", "e_half", "e_integral", "edge_step"):
                    cols[f"feature_{name}"] = feats[name].to_numpy()
        if self.fit is not None:
            for j, name in enumerate(self.fit.standards):
                cols[f"weight_{name}"] = self.fit.weights[:, j]
                cols[f"stderr_{name}"] = self.fit.stderr[:, j]
            cols["r_factor"] = self.fit.r_factor
        return pd.DataFrame(cols)

    def to_csv(self, path: Any) -> None:
        """Write `to_dataframe` as CSV, atomically."""
        from speciate._atomic import atomic_write_text

        atomic_write_text(path, self.to_dataframe().to_csv(index=False, float_format="%.6g"))


def _edge_window(norm: NormResult, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is not None:
        lo, hi = (float(x) for x in window)
        if not lo < hi:
            raise ValidationError(f"edge_window must be (low, high) eV; got {window}")
        return lo, hi
    e0 = np.asarray(norm.e0, dtype=float)
    return float(np.nanmin(e0) - EDGE_MARGIN_EV[0]), float(np.nanmax(e0) + EDGE_MARGIN_EV[1])


@records_provenance
def operando_table(
    series: Series,
    cycling: Cycling,
    *,
    offset: float = 0.0,
    duration: float | Sequence[float] | None = None,
    norm: NormResult | None = None,
    edge_window: tuple[float, float] | None = None,
    features: bool | Mapping[str, Any] = False,
    standards: Any = None,
    lcf_options: Mapping[str, Any] | None = None,
    outside: str = "nan",
    **sync_options: Any,
) -> OperandoTable:
    """Electrochemical state, edge position, features and LCF weights of every spectrum.

    Parameters
    ----------
    series
        Operando spectra (n_spectra, n_energy) with times (datetime64 acquisition starts,
        or seconds on the cycler clock).
    cycling
        The cell's cycler record (`speciate.echem.read`).
    offset, duration
        Cycler clock minus beamline clock (s), spectrum duration (s): see
        `speciate.echem.sync`.
    norm
        The normalized spectra; default `speciate.xanes.normalize(series)`.
    edge_window
        (low, high) eV where the edge positions are searched; default from 15 eV below the
        lowest normalization E0 to 25 eV above the highest, so any K edge works.
    features
        True (or keyword arguments of `speciate.features.extract`): add every fingerprint
        feature as ``feature_<name>`` columns (Mn K windows unless ``windows`` is given).
    standards
        Standards for `speciate.fit.lcf` (a `NormResult`/`Series` or a list of them); adds
        ``weight_<standard>``, ``stderr_<standard>`` and ``r_factor``.
    lcf_options
        Keyword arguments of `speciate.fit.lcf` (``e_range``, ``shifts``...).
    outside
        Spectra outside the cycling record: ``"nan"`` (default; ``inside_record`` False)
        or ``"error"``.
    **sync_options
        ``mass_mg``, ``formula``, ``theoretical_capacity_mah_g``, ``x_li_initial``...
        of `speciate.echem.sync`.

    Returns
    -------
    OperandoTable
    """
    from speciate.echem import sync
    from speciate.features import edge_positions
    from speciate.xanes import normalize

    state = sync(series, cycling, offset, duration, outside=outside, **sync_options)
    norm = normalize(series) if norm is None else norm
    if norm.n_spectra != series.n_spectra:
        raise ValidationError(
            f"norm has {norm.n_spectra} spectra but the series has {series.n_spectra}"
        )
    window = _edge_window(norm, edge_window)
    edge = edge_positions(norm, window=window)
    table = None
    if features:
        from speciate.features import extract

        table = extract(norm, **(dict(features) if isinstance(features, Mapping) else {}))
    fit = None
    if standards is not None:
        from speciate.fit import lcf

        fit = lcf(norm, standards, **dict(lcf_options or {}))
    return OperandoTable(
        labels=tuple(series.labels),
        time=None if series.time is None else np.asarray(series.time),
        state=state,
        edge=edge,
        features=table,
        fit=fit,
        provenance={
            "edge_window": list(window),
            "inputs": [
                {"name": src.get("name"), "sha256": src.get("sha256")}
                for src in series.meta.get("sources", [])
                if isinstance(src, dict)
            ],
            "cycler_files": list(cycling.source),
        },
    )


def plot_operando(result: OperandoTable) -> Figure:
    """Voltage against time with the spectra marked; edge energy and LCF weights against
    voltage, charge and discharge told apart.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (three with LCF weights), every axis labelled with its unit.
    """
    from speciate._figstyle import date_axis, direction_markers

    state = result.state
    n_panels = 3 if result.fit is not None else 2
    fig = Figure(figsize=(4.4 * n_panels, 3.9), layout="constrained")
    ax = fig.subplots(1, n_panels)
    hours = state.cycler_time_s / 3600.0
    ax[0].plot(hours, state.voltage, "o", ms=3, color="k")
    ax[0].set_xlabel("cycler time (h)")
    ax[0].set_ylabel("voltage (V)")
    ax[0].set_title(f"(a) cell voltage at {result.n_spectra} spectra", loc="left",
                    fontsize="medium")  # fmt: skip
    if result.time is not None and np.asarray(result.time).dtype.kind == "M":
        top = ax[0].twiny()
        top.plot(np.asarray(result.time), state.voltage, alpha=0)
        date_axis(top)
    ax[1].plot(state.voltage, result.edge.e0, "-", lw=0.6, color="0.7")
    moving = np.where(state.inside, state.direction, 0)
    for marker, label, keep in direction_markers(moving):
        ax[1].plot(state.voltage[keep], result.edge.e0[keep], marker, ms=5, label=label,
                   color="tab:blue")  # fmt: skip
    ax[1].set_xlabel("voltage (V)")
    ax[1].set_ylabel("E0, max. of dμ/dE (eV)")
    ax[1].set_title("(b) edge energy vs voltage", loc="left",
                    fontsize="medium")  # fmt: skip
    ax[1].legend(frameon=False, fontsize="small")
    if result.fit is not None:
        from speciate._figstyle import legend_or_colorbar

        fit = result.fit
        for j, name in enumerate(fit.standards):
            ax[2].plot(state.voltage, fit.weights[:, j], "o", ms=4, label=name,
                       color=f"C{j % 10}")  # fmt: skip
        legend_or_colorbar(
            ax[2], list(fit.standards), title="standard", loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )  # fmt: skip
        ax[2].set_xlabel("voltage (V)")
        ax[2].set_ylabel("LCF weight (fraction)")
        worst = int(np.nanargmax(fit.r_factor))
        ax[2].set_title(
            f"(c) LCF weights vs voltage\nworst fit: {fit.labels[worst]}, "
            f"R = {fit.r_factor[worst]:.2g}",
            loc="left", fontsize="medium",
        )  # fmt: skip
    return fig
