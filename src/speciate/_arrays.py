"""Read-only arrays for frozen result objects."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["freeze", "frozen_copy", "readonly_copy", "readonly_view"]


def readonly_copy(a: Any, dtype: Any = float) -> np.ndarray:
    """A read-only copy of ``a`` (``dtype=None`` keeps its dtype)."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def frozen_copy(a: Any) -> np.ndarray:
    """A read-only copy of ``a`` keeping its dtype (integer, boolean and text columns stay so)."""
    return readonly_copy(a, dtype=None)


def freeze(a: np.ndarray) -> np.ndarray:
    """``a`` itself made read-only when it owns float data, else a read-only float copy.

    For arrays a function has just computed: the result object takes them over without
    paying for a copy, while views of the caller's data are still copied.
    """
    if not (a.flags.owndata and a.dtype == float):
        return readonly_copy(a)
    a.setflags(write=False)
    return a


def readonly_view(a: Any, dtype: Any = float) -> np.ndarray:
    """A read-only view of ``a``: no copy when ``a`` already has ``dtype`` (``None`` keeps it).

    The caller's array keeps its own flags (only the view is locked), so user data
    passed in stays writeable. For large inputs (spectrum images of hundreds of MB) that
    must not be copied.
    """
    out = np.asarray(a, dtype=dtype).view()
    out.setflags(write=False)
    return out
