"""Figures of the fingerprints: pre-edge inset stack and derivative stack with c/d/e and c–e lines.

All functions draw on a given `matplotlib.axes.Axes` (or a new `matplotlib.figure.Figure`,
without pyplot state) and return the axes or figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from speciate.errors import ValidationError
from speciate.features.table import FeatureTable
from speciate.xanes.derivative import smooth_on_grid
from speciate.xanes.normalized import as_normalized

__all__ = ["plot_derivative_stack", "plot_features", "plot_preedge_stack"]


def _check(table: Any, n: int) -> None:
    if not isinstance(table, FeatureTable):
        raise ValidationError(f"expected a FeatureTable from extract(); got {type(table).__name__}")
    if table.n_spectra != n:
        raise ValidationError(f"the table has {table.n_spectra} rows but the data {n} spectra")


def _stack(ax: Any, x: np.ndarray, y: np.ndarray, offsets: np.ndarray, **kwargs: Any) -> None:
    segs = np.stack([np.broadcast_to(x, y.shape), y + offsets[:, None]], axis=-1)
    colors = kwargs.pop("colors", None)
    ax.add_collection(LineCollection(list(segs), colors=colors, **kwargs))


def _colors(n: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["viridis"](np.linspace(0.0, 0.9, n))


def plot_preedge_stack(norm: Any, table: FeatureTable, ax: Any = None, offset: float = 0.03):
    """Baseline-subtracted pre-edge of every spectrum, stacked, with the fit and A/B marked.

    Parameters
    ----------
    norm
        The `NormResult` (or normalized `Series`) the table was extracted from.
    table
        `FeatureTable` from `extract`.
    ax
        Axes to draw on (default: a new figure).
    offset
        Vertical shift between consecutive spectra (normalized absorption).
    """
    data = as_normalized(norm)
    _check(table, data.n_spectra)
    pre = table.details["preedge"]
    ax = ax if ax is not None else Figure(figsize=(4, 6)).add_subplot()
    ax.set_title("Pre-edge A/B")
    if pre.energy.size < 2:
        return _missing(ax, f"no data in the pre-edge window {pre.window} eV")
    inside = (data.energy >= pre.energy[0]) & (data.energy <= pre.energy[-1])
    y = data.norm[:, inside] - pre.baseline
    offsets = offset * np.arange(data.n_spectra)
    colors = _colors(data.n_spectra)
    _stack(ax, pre.energy, y, offsets, colors=colors, linewidths=1.0)
    _stack(ax, pre.energy, pre.fit - pre.baseline, offsets, colors="k", linewidths=0.6,
           linestyles="--")  # fmt: skip
    for peak, marker in (("a", "v"), ("b", "^")):
        e = table[f"preedge_{peak}_energy"]
        h = table[f"preedge_{peak}_height"]
        ax.scatter(e, h + offsets, marker=marker, s=18, color="crimson", zorder=3,
                   label=f"{peak.upper()}")  # fmt: skip
    ax.autoscale_view()
    ax.set_xlabel("Energy (eV)")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.set_ylabel("Normalized absorption − baseline (offset)")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_derivative_stack(
    norm: Any, table: FeatureTable, ax: Any = None, offset: float | None = None
):
    """Smoothed dμ/dE of every spectrum, stacked, with c/d/e marked and the c–e line drawn.

    The derivative uses the triplet's window and smoothing, so the marks sit on the curves.

    Parameters
    ----------
    norm
        The `NormResult` (or normalized `Series`) the table was extracted from.
    table
        `FeatureTable` from `extract`.
    ax
        Axes to draw on (default: a new figure).
    offset
        Vertical shift between spectra (norm/eV); default a quarter of the largest derivative.
    """
    data = as_normalized(norm)
    _check(table, data.n_spectra)
    tri = table.details["triplet"]
    ax = ax if ax is not None else Figure(figsize=(4, 6)).add_subplot()
    ax.set_title("Derivative triplet c/d/e, c–e line (γ)")
    out = smooth_on_grid(data.energy, np.nan_to_num(data.norm), tri.smooth_ev, 1, tri.window)
    if out is None:
        return _missing(ax, f"no data in the triplet window {tri.window} eV")
    grid, d = out
    if offset is None:
        offset = 0.25 * float(np.nanmax(d))
    offsets = offset * np.arange(data.n_spectra)
    _stack(ax, grid, d, offsets, colors=_colors(data.n_spectra), linewidths=1.0)
    e = np.column_stack([table[f"triplet_{m}_energy"] for m in "cde"])
    h = np.column_stack([table[f"triplet_{m}_height"] for m in "cde"]) + offsets[:, None]
    for k, (marker, name) in enumerate(zip("o^s", "cde")):
        ax.scatter(e[:, k], h[:, k], marker=marker, s=20, color="crimson", zorder=3, label=name)
    ok = np.isfinite(e[:, [0, 2]]).all(axis=1)
    lines = np.stack([e[ok][:, [0, 2]], h[ok][:, [0, 2]]], axis=-1)
    ax.add_collection(LineCollection(list(lines), colors="crimson", linewidths=0.8))
    ax.autoscale_view()
    ax.set_xlabel("Energy (eV)")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.set_ylabel("dμ/dE (norm/eV, offset)")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def _missing(ax: Any, text: str) -> Any:
    """Say on the axes what could not be drawn (the figure still shows the rest)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()
    return ax


def plot_features(norm: Any, table: FeatureTable) -> Figure:
    """Both stacks side by side in one figure (pre-edge inset, derivative triplet)."""
    fig = Figure(figsize=(9, 6), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_preedge_stack(norm, table, ax=left)
    plot_derivative_stack(norm, table, ax=right)
    return fig
