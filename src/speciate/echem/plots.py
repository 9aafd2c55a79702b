"""Figures in the style of a cathode paper's first figure: capacity vs cycle, voltage vs
capacity for chosen cycles, dQ/dV. Built on `matplotlib.figure.Figure` (no pyplot state)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from speciate.echem.capacity import CycleSummary, capacity_per_cycle
from speciate.echem.compare import Comparison
from speciate.echem.curves import Curves, curves
from speciate.echem.cycles import Segmentation, segment
from speciate.echem.cycling import Cycling
from speciate.echem.dqdv import DQDV, dqdv

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["figure1", "plot_capacity", "plot_comparison", "plot_curves", "plot_dqdv"]


def _cycle_colors(cycles: np.ndarray) -> dict[int, tuple]:
    from matplotlib import colormaps

    uniq = np.unique(cycles)
    cmap = colormaps["viridis"]
    pos = np.linspace(0.0, 0.9, uniq.size) if uniq.size > 1 else np.zeros(1)
    return {int(c): cmap(p) for c, p in zip(uniq, pos)}


def plot_capacity(summary: CycleSummary, ax: Axes, label: str | None = None) -> Axes:
    """Charge (open) and discharge (filled) capacity against cycle; mAh/g with a mass."""
    specific = summary.specific_discharge_capacity_mah_g is not None
    q_c = summary.specific_charge_capacity_mah_g if specific else summary.charge_capacity_mah
    q_d = summary.specific_discharge_capacity_mah_g if specific else summary.discharge_capacity_mah
    prefix = f"{label} " if label else ""
    line = ax.plot(summary.cycle, q_d, "o", ms=4, label=f"{prefix}discharge")[0]
    ax.plot(
        summary.cycle, q_c, "o", ms=4, mfc="none", color=line.get_color(), label=f"{prefix}charge"
    )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("cycle")
    ax.set_ylabel("capacity (mAh/g)" if specific else "capacity (mAh)")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_curves(data: Curves, ax: Axes) -> Axes:
    """Voltage against capacity, one colour per cycle."""
    specific = data.specific_capacity_mah_g is not None
    q = data.specific_capacity_mah_g if specific else data.capacity_mah
    colors = _cycle_colors(data.cycle)
    starts = np.flatnonzero(np.diff(data.half_cycle, prepend=-1))
    stops = np.append(starts[1:], data.half_cycle.size)
    labelled: set[int] = set()
    for a, b in zip(starts, stops):  # one line per half-cycle: a handful of artists
        c = int(data.cycle[a])
        ax.plot(
            q[a:b],
            data.voltage_v[a:b],
            color=colors[c],
            label=None if c in labelled else f"cycle {c}",
        )
        labelled.add(c)
    ax.set_xlabel("capacity (mAh/g)" if specific else "capacity (mAh)")
    ax.set_ylabel("voltage (V)")
    _cycle_key(ax, colors)
    return ax


def _cycle_key(ax: Axes, colors: dict[int, tuple]) -> None:
    """Legend of the cycles, a colour bar when there are more than 12."""
    from speciate._figstyle import legend_or_colorbar

    cycles = sorted(colors)
    legend_or_colorbar(
        ax,
        [f"cycle {c}" for c in cycles],
        colours=[colors[c] for c in cycles] if len(cycles) > 12 else None,
        title="cycle" if len(cycles) > 12 else None,
    )


def plot_dqdv(data: DQDV, ax: Axes, label: str | None = None, color: str | None = None) -> Axes:
    """dQ/dV against voltage, charge above zero and discharge below.

    One colour per cycle; with ``color``, one colour for all and one line style per cycle
    (for overlaying cells).
    """
    colors = _cycle_colors(data.cycle)
    styles = dict(zip(np.unique(data.cycle).tolist(), ["-", "--", ":", "-."] * 8))
    seen: set[int] = set()
    for k in range(data.n_curves):  # one line per curve: a handful of artists
        c = int(data.cycle[k])
        name = f"{label + ' ' if label else ''}cycle {c}"
        ax.plot(
            data.voltage_v,
            data.dqdv[k],
            color=color or colors[c],
            ls=styles[c] if color else "-",
            label=None if c in seen else name,
        )
        seen.add(c)
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set_xlabel("voltage (V)")
    ax.set_ylabel(f"dQ/dV ({data.units})")
    if color is None:
        _cycle_key(ax, colors)
    else:
        ax.legend(frameon=False, fontsize="small")
    return ax


def figure1(
    cycling: Cycling,
    *,
    mass_mg: float | None = None,
    cycles: Sequence[int] = (1, 2, 50, 100, 200, 450),
    dqdv_cycles: Sequence[int] = (1, 450),
    strict: bool = False,
    strict_dqdv: bool | None = None,
    segmentation: Segmentation | None = None,
    voltage_range_v: tuple[float, float] | None = None,
) -> Figure:
    """Three panels: capacity vs cycle, voltage vs capacity of ``cycles``, dQ/dV.

    Cycles absent from the record are left out of panels (b) and (c) and named in the
    figure's suptitle, unless ``strict`` (``strict_dqdv`` for panel (c), default the same)
    asks for a `ValidationError` instead. ``segmentation`` (default `segment(cycling)`)
    sets which half-cycle opens a cycle; ``voltage_range_v`` (low, high) V limits the
    dQ/dV and the voltage axes.
    """
    from matplotlib.figure import Figure

    seg = segmentation or segment(cycling)
    summary = capacity_per_cycle(cycling, mass_mg=mass_mg, segmentation=seg)
    have = set(summary.cycle.tolist())
    use = [c for c in cycles if c in have] if not strict else list(cycles)
    strict_dqdv = strict if strict_dqdv is None else strict_dqdv
    use_dqdv = [c for c in dqdv_cycles if c in have] if not strict_dqdv else list(dqdv_cycles)
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    ax = fig.subplots(1, 3)
    plot_capacity(summary, ax[0])
    if use:
        plot_curves(curves(cycling, use, mass_mg=mass_mg, segmentation=seg), ax[1])
    if use_dqdv:
        data = dqdv(
            cycling, use_dqdv, mass_mg=mass_mg, segmentation=seg, voltage_range_v=voltage_range_v
        )
        plot_dqdv(data, ax[2])
    if voltage_range_v is not None:
        ax[1].set_ylim(*voltage_range_v)
        ax[2].set_xlim(*voltage_range_v)
    titles = ("capacity per cycle", f"voltage, cycles {_listed(use)}",
              f"dQ/dV, cycles {_listed(use_dqdv)}")  # fmt: skip
    for a, tag, title in zip(ax, "abc", titles):
        a.set_title(f"({tag}) {title}", loc="left", fontsize="medium")
    skipped = sorted(set(cycles) - set(use)) + sorted(set(dqdv_cycles) - set(use_dqdv))
    if skipped:
        fig.suptitle(f"cycles not in the record: {sorted(set(skipped))}", fontsize="small")
    return fig


def _listed(cycles: Sequence[int]) -> str:
    if not cycles:
        return "none in the record"
    shown = ", ".join(str(c) for c in cycles[:6])
    return shown + (", ..." if len(cycles) > 6 else "")


def plot_comparison(comparison: Comparison, cells: Iterable[str] | None = None) -> Figure:
    """Two panels: capacity fade of every cell, and their dQ/dV overlaid."""
    from matplotlib.figure import Figure

    names = list(cells) if cells is not None else list(comparison.cells)
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax = fig.subplots(1, 2)
    for k, name in enumerate(names):
        plot_capacity(comparison.summaries[name], ax[0], label=name)
        if name in comparison.dqdv:
            plot_dqdv(comparison.dqdv[name], ax[1], label=name, color=f"C{k % 10}")
    return fig
