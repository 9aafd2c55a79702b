"""Reference spectra for MLLS: from Series, files, spectrum images or image regions.

Whatever their source, references end up as one matrix (k, n_window) on the image's own
energy channels. A reference recorded on another grid is interpolated linearly onto the
image grid, and this is said out loud (`ReferenceGridWarning` and a note in the result);
a reference that does not cover the fit window is an error, never an extrapolation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = [
    "ReferenceGridWarning",
    "ReferenceSet",
    "collect_references",
    "references_from_regions",
]


class ReferenceGridWarning(UserWarning):
    """A reference was interpolated onto the image's energy grid."""


@dataclass(frozen=True, eq=False)
class ReferenceSet:
    """References on the fit window's channels.

    Attributes
    ----------
    matrix
        Reference spectra, shape (k, n_window).
    labels
        One label per reference.
    valences
        Formal valence per reference, or None when not all are known.
    notes
        What was done to the references (interpolation onto the image grid).
    """

    matrix: np.ndarray
    labels: tuple[str, ...]
    valences: tuple[float, ...] | None
    notes: tuple[str, ...]


def _as_series_list(references: Any) -> list[Series]:
    if isinstance(references, Series):
        return [references.select(i) for i in range(references.n_spectra)]
    if isinstance(references, (str, PathLike, SpectrumImage)):
        references = [references]
    if isinstance(references, Mapping):
        items = [(str(k), v) for k, v in references.items()]
    elif isinstance(references, Sequence):
        items = [(None, v) for v in references]
    else:
        raise ValidationError(
            "references must be a Series, a file path, a SpectrumImage, or a list/dict of "
            f"those; got {type(references).__name__}"
        )
    if not items:
        raise ValidationError("references is empty: MLLS needs at least one reference spectrum")
    out: list[Series] = []
    for label, item in items:
        if isinstance(item, Series):
            parts = [item.select(i) for i in range(item.n_spectra)]
            if label is not None and len(parts) == 1:
                parts = [parts[0].replace(labels=(label,))]
            out.extend(parts)
        elif isinstance(item, (str, PathLike)):
            from speciate.eels.read import read

            out.append(read(item).mean_spectrum(label=label or Path(item).stem))
        elif isinstance(item, SpectrumImage):
            out.append(item.mean_spectrum(label=label or f"reference_{len(out)}"))
        else:
            raise ValidationError(
                "each reference must be a Series, a file path or a SpectrumImage; got "
                f"{type(item).__name__}"
            )
    return out


def _valences(series: list[Series], valences: Sequence[float] | None) -> tuple[float, ...] | None:
    if valences is not None:
        vals = tuple(float(v) for v in valences)
        if len(vals) != len(series):
            raise ValidationError(
                f"valences must have one value per reference ({len(series)}); got {len(vals)}"
            )
        return vals
    found = [s.coords.get("valence") for s in series]
    if any(v is None for v in found):
        return None
    return tuple(float(np.asarray(v, dtype=float)[0]) for v in found)


def _on_grid(s: Series, energy: np.ndarray, notes: list[str]) -> np.ndarray:
    label = s.labels[0]
    # same channels (possibly a wider range): take them as they are
    i0 = int(np.searchsorted(s.energy, energy[0] - 1e-6))
    part = s.energy[i0 : i0 + energy.size]
    if part.size == energy.size and np.allclose(part, energy, rtol=0, atol=1e-6):
        return np.asarray(s.mu[0, i0 : i0 + energy.size], dtype=float)
    half = 0.5 * (energy[1] - energy[0])
    if s.energy[0] > energy[0] + half or s.energy[-1] < energy[-1] - half:
        raise ValidationError(
            f"reference {label!r} covers {s.energy[0]:.2f}..{s.energy[-1]:.2f} eV but the fit "
            f"window needs {energy[0]:.2f}..{energy[-1]:.2f} eV; references are never "
            "extrapolated"
        )
    step = float(np.median(np.diff(s.energy)))
    note = (
        f"reference {label!r} ({s.energy[0]:.2f}..{s.energy[-1]:.2f} eV, {step:.4g} eV/step) "
        f"was interpolated linearly onto the image grid ({energy[1] - energy[0]:.4g} eV/channel)"
    )
    warnings.warn(note, ReferenceGridWarning, stacklevel=4)
    notes.append(note)
    # within half a channel of the edges: clamp rather than extrapolate (no new information)
    return np.interp(energy, s.energy, s.mu[0])


def collect_references(
    references: Any, energy: np.ndarray, valences: Sequence[float] | None = None
) -> ReferenceSet:
    """Bring references of any supported kind onto the fit-window channels ``energy`` (eV).

    Parameters
    ----------
    references
        A Series (one reference per spectrum; ``coords["valence"]`` is used when present),
        file paths, SpectrumImages (their mean spectrum), or a list/dict of those.
    energy
        Channel energies of the fit window in eV, shape (n_window,).
    valences
        Formal valence of each reference (overrides ``coords["valence"]``).

    Warns
    -----
    ReferenceGridWarning
        For each reference interpolated onto the image grid.
    """
    series = _as_series_list(references)
    notes: list[str] = []
    matrix = np.stack([_on_grid(s, energy, notes) for s in series])
    labels = tuple(s.labels[0] for s in series)
    if len(set(labels)) != len(labels):
        raise ValidationError(f"reference labels must be unique; got {list(labels)}")
    matrix.setflags(write=False)
    return ReferenceSet(matrix, labels, _valences(series, valences), tuple(notes))


@records_provenance
def references_from_regions(
    si: SpectrumImage,
    masks: Mapping[str, Any],
    valences: Mapping[str, float] | None = None,
) -> Series:
    """Average the image over named regions to use them as references.

    Parameters
    ----------
    si
        Spectrum image (ny, nx, n_energy), usually background-subtracted.
    masks
        Region name -> boolean mask (ny, nx).
    valences
        Optional region name -> formal valence, stored in ``coords["valence"]``.

    Returns
    -------
    Series
        One mean spectrum per region, ``coords["n_pixels"]`` (and ``"valence"``).
    """
    from speciate.eels.regions import region_spectra

    series = region_spectra(si, masks)
    if valences is None:
        return series
    missing = [k for k in masks if k not in valences]
    if missing:
        raise ValidationError(f"valences given but missing for regions {missing}")
    coords = dict(series.coords)
    coords["valence"] = np.array([float(valences[k]) for k in masks])
    return series.replace(coords=coords)
