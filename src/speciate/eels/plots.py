"""Figures: valence map with its colour key, region spectra with an Mn L2,3 inset.

Matplotlib only, drawn on axes the caller may pass in; `valence_figure` puts both panels
side by side and writes the file atomically.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from speciate._atomic import atomic_path
from speciate.eels.mlls import MLLSResult
from speciate.errors import ValidationError
from speciate.series import Series

__all__ = ["plot_region_spectra", "plot_valence_map", "valence_figure"]

# Reduced (Mn2+/3+) green, oxidised (Mn4+) red, as in the usual valence maps of cathodes.
_CMAP = "RdYlGn_r"


def plot_valence_map(
    result: MLLSResult,
    ax: Any = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    pixel_size: float | None = None,
    pixel_units: str = "px",
    min_signal: float | None = None,
) -> Any:
    """Show ``result.valence`` (ny, nx) with a labelled colour bar.

    Parameters
    ----------
    result
        An MLLS result with valences.
    ax
        Matplotlib axes; a new figure when None.
    vmin, vmax
        Colour range; default: the references' lowest and highest valence.
    pixel_size, pixel_units
        Scale of one pixel, for the axis labels.
    min_signal
        Leave blank the pixels whose total reference weight is below this fraction of its
        99th percentile (vacuum, support film), where a valence means nothing.
    """
    import matplotlib.pyplot as plt

    if result.valence is None or result.valences is None:
        raise ValidationError("the result has no valence map: give the references' valences")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    lo = min(result.valences) if vmin is None else vmin
    hi = max(result.valences) if vmax is None else vmax
    valence = result.valence
    if min_signal is not None:
        total = result.coefficients.sum(axis=-1)
        valence = np.where(total > min_signal * np.nanpercentile(total, 99), valence, np.nan)
    ny, nx = valence.shape
    scale = 1.0 if pixel_size is None else float(pixel_size)
    image = ax.imshow(
        valence,
        cmap=_CMAP,
        vmin=lo,
        vmax=hi,
        origin="upper",
        extent=(0, nx * scale, ny * scale, 0),
        interpolation="nearest",
    )
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("Mn valence (MLLS)")
    ax.set_xlabel(f"x ({pixel_units})")
    ax.set_ylabel(f"y ({pixel_units})")
    ax.set_title(f"valence map, {result.window[0]:.0f}-{result.window[1]:.0f} eV")
    return ax


def plot_region_spectra(
    spectra: Series,
    ax: Any = None,
    *,
    inset: tuple[float, float] | None = (635.0, 665.0),
    colors: dict[str, str] | None = None,
) -> Any:
    """Region spectra (one line per region) with a zoomed, normalised inset window.

    Parameters
    ----------
    spectra
        Region spectra (`region_spectra`), shape (n_regions, n_energy), energy in eV.
    ax
        Matplotlib axes; a new figure when None.
    inset
        Energy window (eV) of the inset, e.g. the Mn L2,3 edge; None: no inset.
    colors
        Region label -> colour.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    colors = dict(colors or {})
    # one line per region (a few), each with its own legend entry and colour
    for i, label in enumerate(spectra.labels):
        n = int(spectra.coords["n_pixels"][i]) if "n_pixels" in spectra.coords else None
        text = label if n is None else f"{label} ({n} px)"
        ax.plot(spectra.energy, spectra.mu[i], lw=1.2, label=text, color=colors.get(label))
    ax.set_xlabel("energy loss (eV)")
    ax.set_ylabel("counts (background subtracted)")
    ax.legend(frameon=False, loc="upper left")
    if inset is not None:
        keep = (spectra.energy >= inset[0]) & (spectra.energy <= inset[1])
        if keep.sum() < 2:
            raise ValidationError(
                f"inset {inset[0]:.1f}-{inset[1]:.1f} eV is outside the spectra "
                f"{spectra.energy[0]:.1f}-{spectra.energy[-1]:.1f} eV"
            )
        sub = ax.inset_axes((0.52, 0.1, 0.45, 0.42))
        for i, label in enumerate(spectra.labels):
            y = spectra.mu[i, keep]
            peak = np.max(np.abs(y)) or 1.0
            sub.plot(spectra.energy[keep], y / peak, lw=1.0, color=colors.get(label))
        sub.set_title("Mn L$_{2,3}$ (normalised)", fontsize=8)
        sub.tick_params(labelsize=7)
    return ax


def valence_figure(
    result: MLLSResult,
    spectra: Series | None,
    path: str | PathLike | None = None,
    **map_kwargs: Any,
) -> Any:
    """Valence map beside region spectra; saved atomically to ``path`` when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = 1 if spectra is None else 2
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4.2), squeeze=False)
    plot_valence_map(result, axes[0, 0], **map_kwargs)
    if spectra is not None:
        inset = result.window
        if inset[0] < spectra.energy[0] or inset[1] > spectra.energy[-1]:
            inset = None
        plot_region_spectra(spectra, axes[0, 1], inset=inset)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=str(path).rsplit(".", 1)[-1])
    return fig
