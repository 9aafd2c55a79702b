"""EELS valence maps: spectrum images -> background -> MLLS -> valence and edge maps.

Read DM3/DM4/HyperSpy/MSA files (rosettasciio) or plain arrays into a `SpectrumImage`,
fit the pre-edge background of every pixel in closed form, fit reference spectra by
multiple linear least squares (`mlls`), and summarise regions of the image.
"""

from __future__ import annotations

from speciate.eels.background import BackgroundFit, fit_background, subtract_background
from speciate.eels.mlls import MLLSResult, mlls
from speciate.eels.read import MissingExtraError, read, sniff_format
from speciate.eels.references import (
    ReferenceGridWarning,
    collect_references,
    references_from_regions,
)
from speciate.eels.spectrum_image import SpectrumImage

__all__ = [
    "BackgroundFit",
    "MLLSResult",
    "MissingExtraError",
    "ReferenceGridWarning",
    "SpectrumImage",
    "collect_references",
    "fit_background",
    "mlls",
    "read",
    "references_from_regions",
    "sniff_format",
    "subtract_background",
]
