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
    colours: Any = None,
    title: str | None = None,
    cmap: str = "viridis",
    **legend: Any,
) -> None:
    """A legend when there are at most `MAX_LEGEND_ENTRIES` curves, else a colour bar.

    Parameters
    ----------
    ax
        The axes holding the curves.
    labels
        (n,) curve names, in drawing order.
    colours
        (n, 4) RGBA of the curves when they carry no labels themselves (line collections):
        the legend gets one proxy line per colour, the colour bar these exact colours.
        Default: the axes' labelled artists and ``cmap``.
    title
        Legend title, or the colour bar's label (default ``"spectrum"``).
    **legend
        Passed to `Axes.legend` (``loc``, ``ncols``...).
    """
    n = len(labels)
    if n == 0:
        return
    legend.setdefault("frameon", False)
    legend.setdefault("fontsize", "small")
    if n <= MAX_LEGEND_ENTRIES:
        if colours is None:
            ax.legend(title=title, **legend)
        else:
            from matplotlib.lines import Line2D

            handles = [Line2D([], [], color=c) for c in np.asarray(colours)]
            ax.legend(handles, list(labels), title=title, **legend)
        return
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    listed = ListedColormap(
        np.asarray(colours) if colours is not None else colormaps[cmap](np.linspace(0, 0.95, n))
    )
    sm = ScalarMappable(BoundaryNorm(np.arange(n + 1) - 0.5, n), listed)
    ticks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
    bar = ax.figure.colorbar(sm, ax=ax, ticks=ticks, pad=0.01, fraction=0.05)
    distinct = _distinct_parts([str(x) for x in labels])
    bar.ax.set_yticklabels([_short(distinct[i]) for i in ticks], fontsize="x-small")
    bar.set_label(f"{title or 'spectrum'} ({n})", fontsize="small")


_SEPARATORS = "_- ./"


def _distinct_parts(labels: list[str], width: int = 18) -> list[str]:
    """Long labels without the prefix and suffix they all share, cut at separators
    (norm_op2_0001_av240, norm_op2_0004_av240 -> 0001, 0004), so that a colour bar's few
    ticks say which spectrum they mark. Labels that fit ``width`` are kept whole."""
    if len(labels) < 2 or max(len(s) for s in labels) <= width:
        return labels
    head = _shared_start(labels)
    head = head[: max(head.rfind(c) for c in _SEPARATORS) + 1]
    tail = _shared_start([s[::-1] for s in labels])
    tail = tail[: max(tail.rfind(c) for c in _SEPARATORS) + 1][::-1]
    cut = [s[len(head) : len(s) - len(tail)] for s in labels]
    return cut if all(cut) else labels


def _shared_start(texts: list[str]) -> str:
    """The longest start every text shares, character by character."""
    first = texts[0]
    n = len(first)
    for other in texts[1:]:
        n = min(n, next((i for i, (a, b) in enumerate(zip(first, other)) if a != b), n))
        n = min(n, len(other))
    return first[:n]


def _short(label: str, width: int = 18) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


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
