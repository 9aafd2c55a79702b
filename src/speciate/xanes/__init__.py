"""XANES core: normalization, derivatives and energy alignment, vectorized over a series."""

from speciate.xanes.derivative import derivative
from speciate.xanes.normalize import NormResult, find_e0, normalize

__all__ = ["NormResult", "derivative", "find_e0", "normalize"]
