"""Why a feature is NaN: one string per spectrum, ``""`` where it was measured.

The first reason recorded for a spectrum wins, so write the most basic cause first
(no data) and the finer ones (no peak, too weak) after it.
"""

from __future__ import annotations

import numpy as np

__all__ = ['frozen_reasons', 'reasons', 'set_reason']


def reasons(n: int) -> np.ndarray:
    """An (n,) array of empty reasons (``""`` = the feature was measured)."""
    return np.full(n, "", dtype=object)


def set_reason(out: np.ndarray, where: np.ndarray, text: str) -> None:
    """Write ``text`` where ``where`` is true and no earlier reason was recorded."""
    fill = np.asarray(where, dtype=bool) & (out == "")
    out[fill] = text


def frozen_reasons(out: np.ndarray) -> np.ndarray:
    """Reasons as a read-only string array."""
    arr = np.asarray(out.astype(str))
    arr.setflags(write=False)
    return arr
