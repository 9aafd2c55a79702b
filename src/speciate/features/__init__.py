"""Fingerprint features of XANES spectra, vectorized over a whole series."""

from speciate.features.edge import EdgeFeatures, EdgeShape, edge_positions, edge_shape
from speciate.features.valence import (
    ValenceCalibration,
    ValencePrediction,
    default_mn_calibration,
    leave_one_out,
    valence_calibration,
)

__all__ = [
    "EdgeFeatures",
    "EdgeShape",
    "ValenceCalibration",
    "ValencePrediction",
    "default_mn_calibration",
    "edge_positions",
    "edge_shape",
    "leave_one_out",
    "valence_calibration",
]
