"""Regions of a spectrum image: masks, averaged spectra and per-region statistics.

Masks come from a threshold on a map (valence, thickness), from drawn boxes, from the
surface shell of a particle mask, or from particle size; every mask is a boolean (ny, nx)
array, so they combine with ``&``, ``|`` and ``~``. Region spectra are a `Series` (one mean
spectrum per region), ready for plotting, for `speciate.eels.maps` or as MLLS references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = [
    "RegionStats",
    "box_mask",
    "region_spectra",
    "region_statistics",
    "shell_mask",
    "size_masks",
    "threshold_mask",
]


def box_mask(shape: tuple[int, int], y: tuple[int, int], x: tuple[int, int]) -> np.ndarray:
    """Boolean (ny, nx) mask of the pixels with y0 <= row < y1 and x0 <= column < x1."""
    ny, nx = (int(v) for v in shape)
    (y0, y1), (x0, x1) = y, x
    if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
        raise ValidationError(
            f"box rows {y0}:{y1}, columns {x0}:{x1} must lie inside the {ny}x{nx} image and "
            "be non-empty"
        )
    mask = np.zeros((ny, nx), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def threshold_mask(
    values: Any, *, below: float | None = None, above: float | None = None
) -> np.ndarray:
    """Pixels whose value is < ``below`` and/or > ``above``; NaN pixels are never selected."""
    if below is None and above is None:
        raise ValidationError("give below=, above= or both")
    v = np.asarray(values, dtype=float)
    mask = np.isfinite(v)
    with np.errstate(invalid="ignore"):
        if below is not None:
            mask &= v < below
        if above is not None:
            mask &= v > above
    return mask


def _check_mask(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != tuple(shape):
        raise ValidationError(
            f"mask {name!r} must be boolean with shape {tuple(shape)}; got {m.dtype} {m.shape}"
        )
    return m


def shell_mask(mask: Any, width: float) -> np.ndarray:
    """Pixels of ``mask`` within ``width`` pixels (Euclidean) of a pixel outside it.

    The surface shell of each particle; pixels on the image border count as inside unless
    the particle itself ends there.
    """
    from scipy.ndimage import distance_transform_edt

    m = np.asarray(mask, dtype=bool)
    if not width >= 1:
        raise ValidationError(f"shell width must be >= 1 pixel; got {width}")
    return m & (distance_transform_edt(m) <= width)


def size_masks(mask: Any, split_pixels: int) -> dict[str, np.ndarray]:
    """Split particles (connected regions of ``mask``) into ``small`` and ``large``.

    Parameters
    ----------
    mask
        Boolean (ny, nx) particle mask.
    split_pixels
        Particles with fewer pixels than this are small.
    """
    from scipy.ndimage import label

    labels, n = label(np.asarray(mask, dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small_ids = np.nonzero(sizes < split_pixels)[0]
    small = np.isin(labels, small_ids[small_ids > 0])
    return {"small": small, "large": (labels > 0) & ~small}


@records_provenance
def region_spectra(si: SpectrumImage, masks: Mapping[str, Any]) -> Series:
    """Mean spectrum of each named region, as a Series with ``coords["n_pixels"]``."""
    if not masks:
        raise ValidationError("masks is empty: name at least one region")
    parts = []
    for name, mask in masks.items():
        parts.append(si.mean_spectrum(_check_mask(mask, si.nav_shape, name), label=name))
    return Series(
        si.energy,
        np.concatenate([p.mu for p in parts]),
        labels=tuple(masks),
        coords={"n_pixels": np.array([int(p.coords["n_pixels"][0]) for p in parts])},
        meta={"regions_of": dict(si.meta)},
    )


@dataclass(frozen=True, eq=False)
class RegionStats:
    """Statistics of one map over named regions (NaN pixels left out).

    Attributes
    ----------
    names
        Region names.
    n_pixels
        Finite pixels per region.
    mean, std, median
        Per region, shape (n_regions,).
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    names: tuple[str, ...]
    n_pixels: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    median: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("n_pixels", "mean", "std", "median"):
            arr = np.array(getattr(self, name))
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def report(self, quantity: str = "value") -> str:
        """One line per region: mean +- std (median, n)."""
        return "\n".join(
            f"{n}: {quantity} {m:.3f} +- {s:.3f} (median {d:.3f}, {int(k)} px)"
            for n, m, s, d, k in zip(self.names, self.mean, self.std, self.median, self.n_pixels)
        )


@records_provenance
def region_statistics(values: Any, masks: Mapping[str, Any]) -> RegionStats:
    """Mean, standard deviation and median of a (ny, nx) map inside each region."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValidationError(f"values must be a (ny, nx) map; got shape {v.shape}")
    rows = []
    for name, mask in masks.items():
        sel = v[_check_mask(mask, v.shape, name)]
        sel = sel[np.isfinite(sel)]
        if sel.size == 0:
            rows.append((0, np.nan, np.nan, np.nan))
        else:
            rows.append((sel.size, sel.mean(), sel.std(), np.median(sel)))
    n, mean, std, med = (np.array(c) for c in zip(*rows)) if rows else ([],) * 4
    return RegionStats(tuple(masks), n, mean, std, med)
