"""EELS valence maps: spectrum images -> background -> MLLS -> valence and edge maps.

Read DM3/DM4/HyperSpy/MSA files (rosettasciio) or plain arrays into a `SpectrumImage`,
fit the pre-edge background of every pixel in closed form, fit reference spectra by
multiple linear least squares (`mlls`), and summarise regions of the image.
"""

from __future__ import annotations

from speciate.eels.background import (
    BackgroundFit,
    BackgroundModel,
    Exponential,
    PowerLaw,
    background_model,
    fit_background,
    subtract_background,
)
from speciate.eels.deconvolution import fourier_ratio
from speciate.eels.drift import DriftCorrection, correct_drift, edge_onset_positions, zlp_positions
from speciate.eels.maps import OnsetMap, RatioMap, l3_l2_ratio, l3_onset, valence_from_calibration
from speciate.eels.mlls import MLLSResult, mlls
from speciate.eels.read import MissingExtraError, read, sniff_format
from speciate.eels.references import (
    ReferenceGridWarning,
    collect_references,
    references_from_regions,
)
from speciate.eels.regions import (
    RegionStats,
    box_mask,
    region_spectra,
    region_statistics,
    shell_mask,
    size_masks,
    threshold_mask,
)
from speciate.eels.spectrum_image import SpectrumImage

__all__ = [
    "BackgroundFit",
    "BackgroundModel",
    "DriftCorrection",
    "Exponential",
    "MLLSResult",
    "MissingExtraError",
    "OnsetMap",
    "PowerLaw",
    "RatioMap",
    "ReferenceGridWarning",
    "RegionStats",
    "SpectrumImage",
    "background_model",
    "box_mask",
    "collect_references",
    "correct_drift",
    "edge_onset_positions",
    "fit_background",
    "fourier_ratio",
    "l3_l2_ratio",
    "l3_onset",
    "mlls",
    "read",
    "references_from_regions",
    "region_spectra",
    "region_statistics",
    "shell_mask",
    "size_masks",
    "sniff_format",
    "subtract_background",
    "threshold_mask",
    "valence_from_calibration",
    "zlp_positions",
]
