"""Matplotlib figures shared by the CLI, the demo and reports (Agg backend, no screen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from speciate._atomic import atomic_path

__all__ = ["new_figure", "plot_normalized", "plot_shifts", "save_figure"]


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (6.0, 4.0)):
    """A figure and axes that do not need a display."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure to PNG atomically and return its path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def plot_normalized(
    ax: Any,
    energy: np.ndarray,
    spectra: np.ndarray,
    labels: tuple[str, ...] | list[str] = (),
    *,
    offset: float = 0.0,
    e_range: tuple[float, float] | None = None,
    cmap: str = "viridis",
    max_labels: int = 10,
) -> None:
    """Normalized spectra (n_spectra, n_energy) against energy (eV), optionally stacked.

    More than ``max_labels`` spectra are coloured along a colour map instead of labelled.
    """
    import matplotlib

    spectra = np.atleast_2d(spectra)
    n = spectra.shape[0]
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 0.9, max(n, 2)))
    for i, row in enumerate(spectra):
        label = labels[i] if (n <= max_labels and i < len(labels)) else None
        ax.plot(energy, row + i * offset, color=colours[i], lw=1.0, label=label)
    if e_range is not None:
        ax.set_xlim(*e_range)
    ax.set_xlabel("Energy (eV)")
    ax.set_ylabel("Normalized μ(E)" + (" (offset)" if offset else ""))
    if n <= max_labels and len(labels):
        ax.legend(fontsize=8, frameon=False)


def plot_shifts(ax: Any, shifts: np.ndarray, stderr: np.ndarray | None = None, **kw: Any) -> None:
    """Energy shifts (eV) per spectrum index, with error bars when given."""
    x = np.arange(len(shifts))
    ax.errorbar(x, shifts, yerr=stderr, fmt="o", ms=3, capsize=2, **kw)
    ax.set_xlabel("Spectrum index")
    ax.set_ylabel("Energy shift (eV)")
