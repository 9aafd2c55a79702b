"""Figures of fits: data, fit, weighted components and residual per spectrum; weights
against spectrum index or time; the R-factor landscape of a candidate scan.

Every function builds a `matplotlib.figure.Figure` without pyplot state (no display
needed) and returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from speciate._figstyle import date_axis, legend_or_colorbar
from speciate.errors import ValidationError
from speciate.fit.results import LCFResult
from speciate.fit.scan import ScanResult

__all__ = ["plot_fit", "plot_fits", "plot_scan", "plot_weights"]


def _colours(n: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["tab10"](np.arange(n) % 10)


def _check_lcf(result: Any) -> LCFResult:
    if not isinstance(result, LCFResult):
        raise ValidationError(f"expected an LCFResult from lcf(); got {type(result).__name__}")
    return result


def _draw_fit(fig: Figure, cell: Any, result: LCFResult, index: int) -> None:
    inner = cell.subgridspec(2, 1, height_ratios=(3, 1), hspace=0.06)
    top = fig.add_subplot(inner[0])
    bottom = fig.add_subplot(inner[1], sharex=top)
    top.tick_params(labelbottom=False)
    e = result.energy
    top.plot(e, result.data[index], "o", ms=2.0, color="0.3", label="data")
    top.plot(e, result.fit[index], color="k", lw=1.2, label="fit")
    parts = result.components(index)
    for j, colour in zip(range(parts.shape[1]), _colours(parts.shape[1])):
        if result.weights[index, j] != 0:
            name = f"{result.standards[j]} ({result.weights[index, j]:.3f})"
            top.plot(e, parts[:, j], "--", lw=1.0, color=colour, label=name)
    top.set_ylabel("normalized μ(E)")
    top.set_title(f"{result.labels[index]}   R = {result.r_factor[index]:.3g}", fontsize=9)
    top.legend(fontsize=7, frameon=False)
    bottom.plot(e, result.residual[index], color="tab:red", lw=0.8)
    bottom.axhline(0.0, color="0.5", lw=0.5)
    bottom.set_ylabel("residual")
    bottom.set_xlabel("energy (eV)")


def plot_fit(result: LCFResult, index: int = 0) -> Figure:
    """Data, fit, weighted components (labelled with their weights) and residual of
    spectrum ``index`` of an `LCFResult`."""
    result = _check_lcf(result)
    if not -result.n_spectra <= index < result.n_spectra:
        raise ValidationError(f"index must be in 0..{result.n_spectra - 1}; got {index}")
    fig = Figure(figsize=(6.5, 5.0))
    _draw_fit(fig, fig.add_gridspec(1, 1, left=0.12, right=0.97, top=0.93)[0], result, index)
    return fig


def plot_fits(
    result: LCFResult, indices: Sequence[int] | None = None, max_spectra: int = 6
) -> Figure:
    """`plot_fit` panels of several spectra on one figure, two per row.

    ``indices`` default: up to ``max_spectra`` spectra spread evenly over the series
    (first and last included).
    """
    result = _check_lcf(result)
    n = result.n_spectra
    if indices is None:
        indices = np.unique(np.linspace(0, n - 1, min(max_spectra, n)).round().astype(int))
    indices = [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < n]
    if bad or not indices:
        raise ValidationError(f"indices must be a non-empty list in 0..{n - 1}; got {indices}")
    ncols = 1 if len(indices) == 1 else 2
    nrows = -(-len(indices) // ncols)
    fig = Figure(figsize=(6.0 * ncols, 4.2 * nrows))
    cells = fig.add_gridspec(
        nrows, ncols, left=0.08, right=0.98, bottom=0.06, top=0.96, wspace=0.22, hspace=0.3
    )
    for n, i in enumerate(indices):
        _draw_fit(fig, cells[n // ncols, n % ncols], result, i)
    return fig


def plot_weights(
    weights: Any,
    stderr: np.ndarray | None = None,
    standards: Sequence[str] | None = None,
    x: Any = None,
    xlabel: str | None = None,
) -> Figure:
    """Weights of every standard against spectrum index or time, with ±1σ bands.

    Parameters
    ----------
    weights
        An `LCFResult` (its weights, stderr, standards and time are used), or an array
        (n_spectra, k) of weights.
    stderr
        (n_spectra, k) 1-σ uncertainties, for an array of weights.
    standards
        (k,) names, for an array of weights.
    x
        ``None``: time when the result has it (seconds shown in hours; datetimes as
        they are), else the spectrum index. ``"index"``, or an array (n_spectra,).
    xlabel
        Axis label for an array ``x``.
    """
    time = None
    if isinstance(weights, LCFResult):
        stderr, standards, time = weights.stderr, weights.standards, weights.time
        weights = weights.weights
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    n, k = w.shape
    names = list(standards) if standards is not None else [f"standard {j}" for j in range(k)]
    if len(names) != k:
        raise ValidationError(f"standards must have {k} names; got {len(names)}")
    if isinstance(x, str) and x == "index":
        x = None
        time = None
    if x is None and time is not None:
        t = np.asarray(time)
        xs, label = (t, "time") if t.dtype.kind == "M" else (t / 3600.0, "time (h)")
    elif x is None:
        xs, label = np.arange(n), "spectrum index"
    else:
        xs = np.asarray(x)
        label = xlabel or ""
        if xs.shape != (n,):
            raise ValidationError(f"x must have shape ({n},); got {xs.shape}")
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for j, colour in zip(range(k), _colours(k)):
        ax.plot(xs, w[:, j], "-o", ms=2.5, lw=1.0, color=colour, label=names[j])
        if stderr is not None:
            err = np.asarray(stderr, dtype=float)[:, j]
            ax.fill_between(xs, w[:, j] - err, w[:, j] + err, color=colour, alpha=0.25, lw=0)
    ax.set_xlabel(label)
    ax.set_ylabel("weight (fraction of the edge step)")
    if np.asarray(xs).dtype.kind == "M":
        date_axis(ax)
    # outside the axes: weights span 0..1, an inside legend would hide curves
    legend_or_colorbar(ax, names, title="standard", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_scan(result: ScanResult, index: int = 0) -> Figure:
    """R-factor against radius for each phase of a `ScanResult` (spectrum ``index``),
    the best candidate marked and the candidates inside the band filled."""
    if not isinstance(result, ScanResult):
        raise ValidationError(f"expected a ScanResult from scan(); got {type(result).__name__}")
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    r = result.r_factor[:, index]
    band = result.in_band[:, index]
    phases = list(dict.fromkeys(result.phase.tolist()))
    no_radius = np.isnan(result.radius).all()
    for p, colour in zip(phases, _colours(len(phases))):
        sel = np.nonzero(result.phase == p)[0]
        xs = np.arange(sel.size) if no_radius else result.radius[sel]
        order = np.argsort(xs, kind="stable")
        sel, xs = sel[order], xs[order]
        ax.plot(xs, r[sel], "-o", mfc="none", ms=5, lw=1.0, color=colour, label=p)
        ax.plot(xs[band[sel]], r[sel][band[sel]], "o", ms=5, color=colour)
    best = int(result.best_index[index])
    bx = 0 if no_radius else result.radius[best]
    ax.plot([bx], [r[best]], "*", ms=14, color="k", label=f"best: {result.candidates[best]}")
    ax.set_yscale("log")
    ax.set_xlabel("candidate" if no_radius else "radius (Å)")
    ax.set_ylabel("R-factor")
    ax.set_title(
        f"{result.labels[index]}: filled = within Hamilton band (α = {result.alpha:g})",
        fontsize=9,
    )
    ax.legend(fontsize=8, frameon=False)
    return fig
