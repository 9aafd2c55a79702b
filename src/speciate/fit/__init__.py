"""Speciation fitting: batched LCF, combinatorics, domain-size scans, PCA / MCR-ALS."""

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

__all__ = [
    "CombinationsResult",
    "LCFResult",
    "MCRResult",
    "PCAResult",
    "TargetResult",
    "combinations",
    "lcf",
    "mcr_als",
    "pca",
    "target_transform",
]
