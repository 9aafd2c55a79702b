"""Which absorber and edge a series was measured at: from the file, the user or its E0.

An `Edge` names the absorbing element and the core level (``"Ni-K"``) with the tabulated
edge energy of `xraydb` (eV). It is stored in ``Series.meta["edge"]`` as a small dict
(`Edge.to_meta`) and so travels through normalization, NetCDF files and results.

Three sources, in order of trust:

``"file"``
    XDI ``Element.symbol`` / ``Element.edge``, Athena ``bkg_z`` / ``fft_edge``.
``"user"``
    ``edge="Ni-K"`` in Python, ``--edge Ni-K`` on the command line.
``"inferred"``
    `infer_edge` from the measured E0: the K or L3 edge whose tabulated energy lies in
    ``[E0 - 25, E0 + 5]`` eV. Measured E0 (derivative maximum) of compounds sits 0-20 eV
    above the tabulated metal edge, rarely below it, hence the asymmetric window. Two
    candidates (ambiguous) or none (far from every edge) give no guess and a reason.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from speciate.errors import ValidationError

__all__ = [
    "EDGE_SEARCH_EV",
    "Edge",
    "EdgeGuess",
    "edge_from_meta",
    "edge_of",
    "infer_edge",
    "parse_edge",
    "steepest_rise",
    "tabulated_edge",
    "with_edge",
]

#: Window (below, above) in eV around a measured E0 where a tabulated edge is accepted:
#: tabulated energy in ``[E0 - below, E0 + above]``.
EDGE_SEARCH_EV = (25.0, 5.0)
#: Core levels considered by `infer_edge` (hard X-ray XANES of battery materials).
_INFERRED_LEVELS = ("K", "L3")
_LEVELS = ("K", "L1", "L2", "L3", "M1", "M2", "M3", "M4", "M5")
_SOURCES = ("file", "user", "inferred")
_SPLIT = re.compile(r"^\s*([A-Za-z]{1,2})\s*[-_ ]?\s*(K|L1|L2|L3|M[1-5])\s*(?:-?edge)?\s*$", re.I)


@dataclass(frozen=True)
class Edge:
    """An absorption edge.

    Attributes
    ----------
    element : chemical symbol ("Ni")
    edge : core level ("K", "L3")
    energy : tabulated edge energy (eV, xraydb)
    source : "file", "user" or "inferred"
    distance_ev : for an inferred edge, measured E0 minus tabulated energy (eV); else NaN
    """

    element: str
    edge: str
    energy: float
    source: str = "user"
    distance_ev: float = float("nan")

    @property
    def name(self) -> str:
        """``"Ni-K"``."""
        return f"{self.element}-{self.edge}"

    @property
    def label(self) -> str:
        """``"Ni K"``, for messages and axes."""
        return f"{self.element} {self.edge}"

    def to_meta(self) -> dict[str, Any]:
        """The JSON-serializable record stored in ``Series.meta["edge"]``."""
        out: dict[str, Any] = {
            "element": self.element,
            "edge": self.edge,
            "energy": self.energy,
            "source": self.source,
        }
        if np.isfinite(self.distance_ev):
            out["distance_ev"] = round(float(self.distance_ev), 3)
        return out

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class EdgeGuess:
    """What `infer_edge` found.

    Attributes
    ----------
    edge : the guessed `Edge`, or None
    reason : why there is no guess (``""`` when there is one)
    candidates : every (name, tabulated eV) inside the search window
    e0 : the measured E0 used (eV)
    """

    edge: Edge | None
    reason: str
    candidates: tuple[tuple[str, float], ...]
    e0: float


def _check_element(symbol: str) -> str:
    import xraydb

    sym = symbol.strip().capitalize()
    try:
        xraydb.atomic_number(sym)
    except Exception:  # xraydb raises bare ValueError/KeyError variants for unknown symbols
        raise ValidationError(f"unknown element symbol {symbol!r}") from None
    return sym


def tabulated_edge(element: str, edge: str = "K") -> float:
    """Tabulated energy (eV) of ``element``'s ``edge`` (xraydb, Elam tables).

    Raises
    ------
    ValidationError
        Unknown element, or an edge the tables do not hold for it.
    """
    import xraydb

    sym = _check_element(element)
    level = edge.strip().upper()
    edges = xraydb.xray_edges(sym)
    if level not in edges:
        raise ValidationError(f"{sym} has no tabulated {edge!r} edge; it has {sorted(edges)}")
    return float(edges[level].energy)


def parse_edge(text: str | Edge, source: str = "user") -> Edge:
    """An `Edge` from ``"Ni-K"``, ``"Ni K"``, ``"ni_k"`` or ``"Mn-L3"`` (case-insensitive).

    Raises
    ------
    ValidationError
        If ``text`` is not ELEMENT-EDGE or names an unknown element or edge.
    """
    if isinstance(text, Edge):
        return text
    if source not in _SOURCES:
        raise ValidationError(f"source must be one of {_SOURCES}; got {source!r}")
    match = _SPLIT.match(str(text))
    if match is None:
        raise ValidationError(
            f"an edge is written ELEMENT-EDGE, such as 'Ni-K' or 'Mn-L3'; got {text!r}"
        )
    element, level = _check_element(match.group(1)), match.group(2).upper()
    return Edge(element, level, tabulated_edge(element, level), source)


def edge_from_meta(meta: Mapping[str, Any] | None) -> Edge | None:
    """The `Edge` recorded in a ``meta`` mapping (``meta["edge"]``), or None."""
    record = (meta or {}).get("edge")
    if not record:
        return None
    if isinstance(record, str):
        return parse_edge(record)
    try:
        element, level = record["element"], record["edge"]
    except (KeyError, TypeError):
        raise ValidationError(
            f"meta['edge'] must hold 'element' and 'edge'; found {record!r}"
        ) from None
    edge = parse_edge(f"{element}-{level}", source=record.get("source", "user"))
    distance = record.get("distance_ev")
    return Edge(edge.element, edge.edge, edge.energy, edge.source,
                float("nan") if distance is None else float(distance))  # fmt: skip


@functools.lru_cache(maxsize=1)
def _edge_table() -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    import xraydb

    energies, elements, levels = [], [], []
    for z in range(3, 99):
        sym = xraydb.atomic_symbol(z)
        edges = xraydb.xray_edges(sym)
        for level in _INFERRED_LEVELS:
            if level in edges and edges[level].energy > 0:
                energies.append(float(edges[level].energy))
                elements.append(sym)
                levels.append(level)
    return np.asarray(energies), tuple(elements), tuple(levels)


def infer_edge(e0: float, search_ev: tuple[float, float] = EDGE_SEARCH_EV) -> EdgeGuess:
    """Guess the edge from a measured E0 (eV) with xraydb's table of K and L3 edges.

    Parameters
    ----------
    e0
        Measured edge energy (eV), e.g. the median E0 of a series.
    search_ev
        (below, above): tabulated energies in ``[e0 - below, e0 + above]`` are candidates.

    Returns
    -------
    EdgeGuess
        ``edge`` when exactly one K or L3 edge is a candidate (``source="inferred"``,
        ``distance_ev = e0 - tabulated``); otherwise None with the reason.
    """
    e0 = float(e0)
    if not np.isfinite(e0):
        return EdgeGuess(None, "no finite E0 to infer the edge from", (), e0)
    energies, elements, levels = _edge_table()
    below, above = search_ev
    inside = np.nonzero((energies >= e0 - below) & (energies <= e0 + above))[0]
    candidates = tuple((f"{elements[i]}-{levels[i]}", float(energies[i])) for i in inside)
    if inside.size == 0:
        nearest = int(np.argmin(np.abs(energies - e0)))
        reason = (
            f"E0 {e0:.1f} eV is far from every K and L3 edge (nearest "
            f"{elements[nearest]}-{levels[nearest]} at {energies[nearest]:.1f} eV); "
            "give the edge (edge='Ni-K', --edge Ni-K)"
        )
        return EdgeGuess(None, reason, candidates, e0)
    if inside.size > 1:
        listed = ", ".join(f"{n} ({e:.0f} eV)" for n, e in candidates)
        reason = (
            f"E0 {e0:.1f} eV is ambiguous: {listed} are all within reach; "
            "give the edge (edge='Ni-K', --edge Ni-K)"
        )
        return EdgeGuess(None, reason, candidates, e0)
    i = int(inside[0])
    edge = Edge(elements[i], levels[i], float(energies[i]), "inferred", e0 - float(energies[i]))
    return EdgeGuess(edge, "", candidates, e0)


def edge_of(data: Any, e0: Any = None) -> EdgeGuess:
    """The edge of a series: recorded in its ``meta``, else inferred from its E0.

    Parameters
    ----------
    data
        Anything with ``meta`` (a `Series`, `NormResult`, `Normalized`).
    e0
        (n_spectra,) or scalar measured E0 (eV) used when ``meta`` has no edge; default
        ``data.e0``. Their median is matched against the table.

    Returns
    -------
    EdgeGuess
    """
    known = edge_from_meta(getattr(data, "meta", None))
    if known is not None:
        return EdgeGuess(known, "", ((known.name, known.energy),), float("nan"))
    if e0 is None:
        e0 = getattr(data, "e0", None)
    if e0 is None:
        e0 = _measured_e0(data)
    values = np.asarray(e0, dtype=float)
    finite = values[np.isfinite(values)] if values.ndim else values[None]
    if finite.size == 0:
        return EdgeGuess(None, "no edge in the metadata and no finite E0 to infer it", (), np.nan)
    return infer_edge(float(np.median(finite)))


def _measured_e0(data: Any) -> Any:
    """E0 of data that carry none: a ``coords["e0"]``, else the steepest rise.

    Only a table look-up follows (tolerance tens of eV), so the plain maximum of the
    finite-difference slope is enough; normalization finds the real E0.
    """
    coords = getattr(data, "coords", None) or {}
    if "e0" in coords:
        return coords["e0"]
    if not (hasattr(data, "energy") and hasattr(data, "mu")):
        return None
    return steepest_rise(data.energy, data.mu)


def steepest_rise(energy: Any, values: Any) -> np.ndarray:
    """Energy (eV) of the steepest rise of every spectrum: a rough E0 for the table look-up.

    Parameters
    ----------
    energy
        (n_energy,) eV, increasing.
    values
        (n_spectra, n_energy); NaN counts as flat.

    Returns
    -------
    numpy.ndarray
        (n_spectra,) eV, NaN for a spectrum that never rises.
    """
    energy = np.asarray(energy, dtype=float)
    mu = np.atleast_2d(np.nan_to_num(np.asarray(values, dtype=float)))
    if energy.size < 3:
        return np.full(mu.shape[0], np.nan)
    slope = np.gradient(mu, energy, axis=1)
    rising = slope.max(axis=1) > 0
    return np.where(rising, energy[np.argmax(slope, axis=1)], np.nan)


def with_edge(series: Any, edge: str | Edge | None = None, e0: Any = None) -> Any:
    """``series`` with ``meta["edge"]`` set: given, kept from the file, or inferred.

    Parameters
    ----------
    series
        A `Series` or a `NormResult` (a dataclass with ``meta``).
    edge
        ``"Ni-K"`` or an `Edge` (the user's word overrides the file's); None keeps the
        recorded edge or infers one from ``e0`` (default ``series.e0`` when it has one).

    Returns
    -------
    The same kind of object; unchanged when no edge could be given or guessed (then
    ``meta["edge_reason"]`` says why).
    """
    meta = dict(series.meta)
    if edge is not None:
        meta["edge"] = parse_edge(edge).to_meta()
        meta.pop("edge_reason", None)
    else:
        guess = edge_of(series, e0=e0)
        if guess.edge is None:
            meta["edge_reason"] = guess.reason
        else:
            meta["edge"] = guess.edge.to_meta()
    if hasattr(series, "replace"):
        return series.replace(meta=meta)
    return dataclasses.replace(series, meta=meta)
