"""Conventions shared by every figure: legends up to 12 curves (a colour bar beyond),
readable date axes, charge/discharge markers.

Core helper: imports only numpy and matplotlib, so analysis modules' plot functions and
the command line can use it alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_LEGEND_ENTRIES",
    "curve_colours",
    "date_axis",
    "direction_markers",
    "legend_or_colorbar",
]

#: More curves than this get a colour bar instead of a legend.
MAX_LEGEND_ENTRIES = 12


def curve_colours(n: int, cmap: str = "viridis") -> np.ndarray:
    """(n, 4) RGBA: distinct qualitative colours up to `MAX_LEGEND_ENTRIES` curves, a
    sequential colour map beyond (the order then carries the meaning)."""
    from matplotlib import colormaps

    if n <= 10:
        return colormaps["tab10"](np.arange(n))
    if n <= MAX_LEGEND_ENTRIES:
        return colormaps["tab20"](np.arange(n))
    return colormaps[cmap](np.linspace(0.0, 0.95, n))


def legend_or_colorbar(
    ax: Any,
    labels: Sequence[str],
    *,
    values: Sequence[float] | None = None,
    value_label: str = "spectrum index",
    cmap: str = "viridis",
    **legend: Any,
) -> None:
    """A legend when there are at most `MAX_LEGEND_ENTRIES` curves, else a colour bar
    mapping `curve_colours` to ``values`` (default the curve index) with first and last
    labels named on it."""
    n = len(labels)
    if n == 0:
        return
    if n <= MAX_LEGEND_ENTRIES:
        ax.legend(frameon=False, fontsize=legend.pop("fontsize", "small"), **legend)
        return
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    vals = np.arange(n, dtype=float) if values is None else np.asarray(values, dtype=float)
    sm = ScalarMappable(Normalize(float(np.nanmin(vals)), float(np.nanmax(vals))), cmap)
    bar = ax.figure.colorbar(sm, ax=ax, pad=0.01)
    bar.set_label(f"{value_label} ({labels[0]} … {labels[-1]})", fontsize="small")


def date_axis(ax: Any, axis: str = "x") -> None:
    """Concise, non-overlapping date ticks (e.g. ``Jul 27 04:00``) on a datetime axis."""
    import matplotlib.dates as mdates

    target = ax.xaxis if axis == "x" else ax.yaxis
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    target.set_major_locator(locator)
    target.set_major_formatter(mdates.ConciseDateFormatter(locator))


def direction_markers(direction: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(marker, label, mask) for charge (▲), discharge (▼) and rest/outside (○) points,
    only those present."""
    d = np.asarray(direction)
    groups = (("^", "charge", d > 0), ("v", "discharge", d < 0), ("o", "rest / outside", d == 0))
    return [(m, label, keep) for m, label, keep in groups if keep.any()]
