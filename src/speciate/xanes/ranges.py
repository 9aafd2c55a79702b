"""The ranges and polynomial degrees `speciate.xanes.normalize` chooses by default.

Each rule looks only at the extent of a spectrum's data around its own E0, so one call
works on long raw EXAFS scans, short XANES scans and already-normalized spectra; the
rules and their reasons are in `normalize` and docs/xanes.md.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NORMALIZED_POST",
    "NORMALIZED_PRE",
    "NORMALIZED_REACH",
    "POST_ORDER_SPANS",
    "POST_START",
    "PRE_GAP",
    "PRE_LINE_SPAN",
    "PRE_REACH",
    "adaptive_post_order",
    "adaptive_post_range",
    "adaptive_pre_range",
    "looks_normalized",
]

# Adaptive rules (see `normalize`). Larch's `pre_edge` (xraylarch ≥ 0.9) chooses, when its
# arguments are None: pre1 = second point − E0 rounded to 5 eV, pre2 ≈ pre1/3 (newer
# versions pre1/2), norm2 = last point − E0, norm1 = min(150, norm2/3), nnorm = 0 below
# 50 eV of post-edge span, 1 below 350 eV, else 2. Athena (Demeter) starts from fixed
# ranges −150..−30 and +150..+400 eV (nnorm 3), clipped to the data.
PRE_REACH = 200.0  # eV, farthest pre-edge start below E0
PRE_GAP = (10.0, 30.0)  # eV, pre-edge end below E0: 0.4 x the room, within these
PRE_LINE_SPAN = 20.0  # eV, below this pre-edge span a line is not fitted (a constant is)
POST_START = (15.0, 150.0)  # eV above E0: a third of the room above, within these
POST_ORDER_SPANS = (30.0, 300.0)  # eV of post-edge span where the degree steps to 1, 2
NORMALIZED_PRE = (0.05, 0.1)  # first pre-edge point and pre-edge mean of normalized input
NORMALIZED_POST = 0.25  # post-edge mean of normalized input: within this of 1
NORMALIZED_REACH = 120.0  # eV above E0: longer spectra are never taken as normalized


def adaptive_pre_range(energy: np.ndarray, e0: np.ndarray) -> np.ndarray:
    """The pre-edge range chosen for ``pre=None``: (n_spectra, 2) eV relative to E0.

    From the first point (at most `PRE_REACH` eV below E0) to ``-clip(0.4·below,
    PRE_GAP)`` where ``below`` is the extent of the data below E0: 30 eV before the edge
    when there is room (the pre-edge peaks of 3d oxides lie within ~20 eV of E0), closer
    on short data: never closer than 10 eV, or than half the room when under 20 eV.
    """
    below = e0 - energy[0]
    # with under 20 eV below E0 the range keeps the lower half of what there is
    end = -np.minimum(np.clip(0.4 * below, *PRE_GAP), 0.5 * below)
    return np.stack([-np.minimum(below, PRE_REACH), end], axis=1)


def adaptive_post_range(energy: np.ndarray, e0: np.ndarray) -> np.ndarray:
    """The post-edge range chosen for ``post=None``: (n_spectra, 2) eV relative to E0.

    From ``clip(above/3, POST_START)`` to the last point, ``above`` being the extent of
    the data above E0: the first third (at most 150 eV) holds the white line and the
    strongest near-edge oscillations, which a low-order polynomial cannot follow.
    """
    above = energy[-1] - e0
    return np.stack([np.clip(above / 3.0, *POST_START), above], axis=1)


def adaptive_post_order(span: np.ndarray) -> np.ndarray:
    """Post-edge polynomial degree for ``post_order=None`` from the fitted span (eV):
    0 below `POST_ORDER_SPANS[0]`, 1 below `POST_ORDER_SPANS[1]`, else 2."""
    return np.searchsorted(np.asarray(POST_ORDER_SPANS), span, side="right").astype(int)


def looks_normalized(
    first_pre: np.ndarray, pre_mean: np.ndarray, post_mean: np.ndarray, above: np.ndarray
) -> np.ndarray:
    """(n_spectra,) bool: a short spectrum, near 0 before the edge and near 1 after it.

    Parameters
    ----------
    first_pre
        (n_spectra,) μ at the first point of the pre-edge range.
    pre_mean, post_mean
        (n_spectra,) mean μ over the pre-edge and post-edge ranges.
    above
        (n_spectra,) eV of data above E0.

    Only spectra ending less than `NORMALIZED_REACH` eV above E0 are candidates: on
    longer ones the fitted step is reliable and nothing needs recognizing. The first
    point of the pre-edge range must be within `NORMALIZED_PRE[0]` of 0, the mean over
    the range within `NORMALIZED_PRE[1]` (short pre-edge ranges reach into the foot of
    the edge: 0.035-0.06 on the real Ni K operando spectra cut to −25..+75 eV), and the
    mean over the post-edge range within `NORMALIZED_POST` of 1 (short post-edge ranges
    of normalized spectra average 0.87-0.92 over their oscillations). Raw μ has a
    pre-edge offset and a step of arbitrary size, so it meets all of them only by
    coincidence.
    """
    return (
        (above < NORMALIZED_REACH)
        & (np.abs(first_pre) < NORMALIZED_PRE[0])
        & (np.abs(pre_mean) < NORMALIZED_PRE[1])
        & (np.abs(post_mean - 1.0) < NORMALIZED_POST)
    )
