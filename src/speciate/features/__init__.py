"""Fingerprint features of XANES spectra, vectorized over a whole series.

`extract` measures everything at once into a `FeatureTable`; each feature is also a
function of its own: `edge_positions`, `edge_shape` (β), `preedge_peaks` (A, B),
`white_line` (α), `derivative_triplet` (c/d/e, flatness, γ). `valence_calibration`
turns edge energies into oxidation states; `trends` follows features over a series.
"""

from speciate.features.edge import EdgeFeatures, EdgeShape, edge_positions, edge_shape
from speciate.features.extract import DEFAULT_WINDOWS, extract
from speciate.features.preedge import PreEdgePeaks, preedge_peaks
from speciate.features.table import FeatureTable
from speciate.features.trends import Trends, trends
from speciate.features.triplet import Triplet, derivative_triplet
from speciate.features.valence import (
    ValenceCalibration,
    ValencePrediction,
    default_mn_calibration,
    leave_one_out,
    valence_calibration,
)
from speciate.features.whiteline import WhiteLine, white_line

__all__ = [
    "DEFAULT_WINDOWS",
    "EdgeFeatures",
    "EdgeShape",
    "FeatureTable",
    "PreEdgePeaks",
    "Trends",
    "Triplet",
    "ValenceCalibration",
    "ValencePrediction",
    "WhiteLine",
    "default_mn_calibration",
    "derivative_triplet",
    "edge_positions",
    "edge_shape",
    "extract",
    "leave_one_out",
    "preedge_peaks",
    "trends",
    "valence_calibration",
    "white_line",
]
