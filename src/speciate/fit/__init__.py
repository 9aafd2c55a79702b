"""Speciation fitting: batched LCF, combinatorics, domain-size scans, PCA / MCR-ALS."""

from speciate.fit.background import BackgroundLCFResult
from speciate.fit.combinations import CombinationsResult, combinations
from speciate.fit.decomposition import (
    MCRResult,
    PCAResult,
    TargetResult,
    mcr_als,
    pca,
    target_transform,
)
from speciate.fit.lcf import lcf
from speciate.fit.results import LCFResult
from speciate.fit.scan import ScanResult, hamilton_threshold, scan

__all__ = [
    "BackgroundLCFResult",
    "CombinationsResult",
    "LCFResult",
    "MCRResult",
    "PCAResult",
    "ScanResult",
    "TargetResult",
    "combinations",
    "hamilton_threshold",
    "lcf",
    "mcr_als",
    "pca",
    "scan",
    "target_transform",
]
