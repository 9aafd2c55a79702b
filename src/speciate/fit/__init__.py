"""Speciation fitting: batched LCF, combinatorics, domain-size scans, PCA / MCR-ALS."""

from speciate.fit.lcf import lcf
from speciate.fit.results import LCFResult

__all__ = ["LCFResult", "lcf"]
