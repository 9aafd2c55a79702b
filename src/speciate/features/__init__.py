"""Fingerprint features of XANES spectra, vectorized over a whole series.

`extract` measures everything at once into a `FeatureTable`; each feature is also a
function of its own: `edge_positions`, `edge_shape` (β), `preedge_peaks` (A, B),
`white_line` (α), `derivative_triplet` (c/d/e, flatness, γ). `valence_calibration`
turns edge energies into oxidation states; `trends` follows features over a series;
`redox_table` compares the edge shifts of several elements of one study. Windows come
from the absorber's edge (`default_windows`, see `speciate.edges`).
"""

from speciate.features.edge import EdgeFeatures, EdgeShape, edge_positions, edge_shape
from speciate.features.extract import DEFAULT_WINDOWS, extract, load_calibration
from speciate.features.preedge import PreEdgePeaks, preedge_peaks
from speciate.features.redox import RedoxTable, redox_table
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
from speciate.features.windows import K_EDGE_OFFSETS, default_windows, feature_windows

__all__ = [
    "DEFAULT_WINDOWS",
    "K_EDGE_OFFSETS",
    "EdgeFeatures",
    "EdgeShape",
    "FeatureTable",
    "PreEdgePeaks",
    "RedoxTable",
    "Trends",
    "Triplet",
    "ValenceCalibration",
    "ValencePrediction",
    "WhiteLine",
    "default_mn_calibration",
    "default_windows",
    "derivative_triplet",
    "edge_positions",
    "edge_shape",
    "extract",
    "feature_windows",
    "leave_one_out",
    "load_calibration",
    "preedge_peaks",
    "redox_table",
    "trends",
    "valence_calibration",
    "white_line",
]
