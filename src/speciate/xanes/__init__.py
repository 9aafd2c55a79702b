"""XANES core: normalization, derivatives and energy alignment, vectorized over a series."""

from speciate.xanes.align import AlignResult, align
from speciate.xanes.derivative import derivative
from speciate.xanes.normalize import NormResult, find_e0, normalize
from speciate.xanes.normalized import Normalized, as_normalized

__all__ = [
    "AlignResult",
    "NormResult",
    "Normalized",
    "align",
    "as_normalized",
    "derivative",
    "find_e0",
    "normalize",
]
