"""Feature windows relative to the absorption edge: one table for the 3d-metal K-edges.

Every window is an offset (eV) from the tabulated K-edge energy of the absorber
(`speciate.edges.tabulated_edge`, xraydb). The offsets are those of the Mn K windows the
features were developed on (Mn K = 6539.0 eV), so Mn gets exactly its windows back:

==============  ================  ======================  =============================
name            offsets (eV)      Mn K (eV)               holds
==============  ================  ======================  =============================
``preedge``     (-4.5, +6.5)      (6534.5, 6545.5)        the 1s→3d pre-edge peaks
``edge``        (-4.0, +31.0)     (6535.0, 6570.0)        rising edges, M(0) to M(VII)
``white_line``  (+6.0, +41.0)     (6545.0, 6580.0)        the first maximum above the edge
``triplet``     (+4.0, +21.0)     (6543.0, 6560.0)        the derivative maxima c/d/e
==============  ================  ======================  =============================

The chemical shifts and the pre-edge-to-edge distances of the 3d metals differ by a few eV
at most from Ti to Zn, well inside these widths, so one table serves them all; the windows
of every element are listed in docs/features.md. Other edges have no defaults: give
``windows=`` for every feature.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from speciate.edges import (
    Edge,
    EdgeGuess,
    edge_of,
    parse_edge,
    steepest_rise,
    tabulated_edge,
)
from speciate.errors import ValidationError

__all__ = [
    "K_EDGE_OFFSETS",
    "MN_K_WINDOWS",
    "THREE_D_METALS",
    "WINDOW_NAMES",
    "EdgeWindows",
    "check_window",
    "default_windows",
    "feature_windows",
    "resolve_window",
]

#: Absorbers whose K-edge has default windows.
THREE_D_METALS = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
#: Offsets (eV) of every window from the tabulated K-edge energy.
K_EDGE_OFFSETS: Mapping[str, tuple[float, float]] = {
    "edge": (-4.0, 31.0),
    "preedge": (-4.5, 6.5),
    "white_line": (6.0, 41.0),
    "triplet": (4.0, 21.0),
}
WINDOW_NAMES = tuple(K_EDGE_OFFSETS)
_MN_K = 6539.0
#: The Mn K windows (eV), used when the edge of the data is unknown.
MN_K_WINDOWS: Mapping[str, tuple[float, float]] = {
    name: (_MN_K + lo, _MN_K + hi) for name, (lo, hi) in K_EDGE_OFFSETS.items()
}


def check_window(window: Any, name: str) -> tuple[float, float]:
    """Validate an energy window ``(lo, hi)`` in eV."""
    try:
        lo, hi = (float(x) for x in window)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a pair (lo, hi) in eV; got {window!r}") from exc
    if not lo < hi:
        raise ValidationError(f"{name} must have lo < hi (eV); got ({lo}, {hi})")
    return lo, hi


def default_windows(edge: str | Edge) -> dict[str, tuple[float, float]]:
    """The default windows (eV) of a 3d-metal K-edge (``"Ni-K"``), from the offsets table.

    Raises
    ------
    ValidationError
        For an edge without defaults (not a K-edge of Ti-Zn).
    """
    e = parse_edge(edge)
    if e.edge != "K" or e.element not in THREE_D_METALS:
        raise ValidationError(
            f"no default feature windows for the {e.label} edge (defaults exist for the K-edges "
            f"of {', '.join(THREE_D_METALS)}); give windows= for {list(WINDOW_NAMES)}"
        )
    ref = tabulated_edge(e.element, "K")
    return {name: (ref + lo, ref + hi) for name, (lo, hi) in K_EDGE_OFFSETS.items()}


@dataclass(frozen=True)
class EdgeWindows:
    """The windows chosen for a series, with the edge they come from.

    Attributes
    ----------
    windows : name -> (lo, hi) eV
    edge : the `Edge` of the data, or None when unknown
    reason : why the edge is unknown (``""`` when known)
    source : name -> "user", "edge" or "mn-fallback"
    """

    windows: Mapping[str, tuple[float, float]]
    edge: Edge | None
    reason: str
    source: Mapping[str, str]

    def __getitem__(self, name: str) -> tuple[float, float]:
        return self.windows[name]


def _guess(data: Any, edge: Any) -> EdgeGuess:
    if edge is not None:
        known = parse_edge(edge)
        return EdgeGuess(known, "", ((known.name, known.energy),), float("nan"))
    e0 = np.asarray(getattr(data, "e0", np.nan), dtype=float)
    if not np.isfinite(e0).any() and hasattr(data, "energy"):
        e0 = steepest_rise(data.energy, data.norm)
    return edge_of(data, e0=e0)


def feature_windows(
    data: Any,
    windows: Mapping[str, Any] | None = None,
    edge: Any = None,
    warn: bool = True,
    stacklevel: int = 2,
) -> EdgeWindows:
    """Windows for every feature of ``data``: given ones, else from its edge.

    Parameters
    ----------
    data
        A `Normalized` (or anything with ``meta``, ``e0``, ``energy``, ``norm``).
    windows
        name -> (lo, hi) eV overriding the defaults; names from `WINDOW_NAMES`.
    edge
        ``"Ni-K"``: overrides the edge recorded in ``data.meta`` or inferred from E0.
    warn
        Warn (`UserWarning`) when the edge is unknown and the Mn K windows stand in.
    stacklevel
        Passed to `warnings.warn` (2: the caller of this function).

    Returns
    -------
    EdgeWindows
        For an unknown edge or one without defaults, the windows not given fall back to
        the Mn K ones and ``reason`` says why.
    """
    given = dict(windows or {})
    unknown = sorted(set(given) - set(WINDOW_NAMES))
    if unknown:
        raise ValidationError(
            f"unknown window name(s) {unknown}; expected some of {sorted(WINDOW_NAMES)}"
        )
    given = {k: check_window(v, f"window {k!r}") for k, v in given.items()}
    guess = _guess(data, edge) if len(given) < len(WINDOW_NAMES) or edge is not None else None
    found = None if guess is None else guess.edge
    reason = "" if guess is None else guess.reason
    base: dict[str, tuple[float, float]] = dict(MN_K_WINDOWS)
    from_edge = False
    if found is not None:
        try:
            base = default_windows(found)
            from_edge = True
        except ValidationError as exc:
            reason = str(exc)
    missing = [k for k in WINDOW_NAMES if k not in given]
    if missing and not from_edge and warn:
        warnings.warn(f"{reason}; using the Mn K windows for {missing}", stacklevel=stacklevel + 1)
    source = {
        k: "user" if k in given else ("edge" if from_edge else "mn-fallback") for k in WINDOW_NAMES
    }
    return EdgeWindows({**base, **given}, found, reason, source)


def resolve_window(data: Any, window: Any, name: str) -> tuple[float, float]:
    """``window`` checked, or (None) the default ``name`` window of the data's edge."""
    if window is None:
        # the warning points at the user's call: past this, the feature, its decorator
        return feature_windows(data, warn=True, stacklevel=4).windows[name]
    return check_window(window, "window")
