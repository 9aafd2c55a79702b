"""Oxidation state from edge energy: calibration on standards of known valence.

Two calibration kinds:

``"linear"``
    Ordinary least squares ``valence = v0 + slope * (E - e_ref)``. `predict` returns the
    valence and its standard error *for a new sample*: the scatter of the standards
    about the line (ligands and structure move edges too) plus the line's own
    uncertainty, plus the propagated edge-energy error when given.
``"monotonic"``
    Isotonic (pool-adjacent-violators) regression of valence on energy, interpolated
    linearly between the pooled knots and continued beyond them with the slope of the
    linear fit. Its standard error is the RMS leave-one-out error of the standards.

Energies are on the scale of the standards; ``energy_reference`` records the edge of
the reference foil on that scale so data measured against another foil calibration
can be shifted (`ValenceCalibration.predict` ``foil_e0=``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate._atomic import atomic_write_text
from speciate.edges import edge_of, parse_edge
from speciate.errors import FitError, ValidationError
from speciate.features.edge import edge_positions
from speciate.features.reasons import frozen_reasons, reasons, set_reason
from speciate.provenance import records_provenance

__all__ = [
    "EDGE_DEFINITIONS",
    "ValenceCalibration",
    "ValencePrediction",
    "default_mn_calibration",
    "leave_one_out",
    "valence_calibration",
]

#: Edge definitions a calibration can be built on (columns of `EdgeFeatures`).
EDGE_DEFINITIONS = ("e0", "e_half", "e_integral")
_KINDS = ("linear", "monotonic")
_DEFAULT_FILE = "mn_k_valence_calibration.json"
_EXTRAPOLATED_BELOW = "extrapolated below the standards"
_EXTRAPOLATED_ABOVE = "extrapolated above the standards"


@dataclass(frozen=True, eq=False)
class ValencePrediction:
    """Valences predicted from edge energies.

    Attributes
    ----------
    valence : (n,) formal oxidation state, NaN when not predicted
    stderr : (n,) standard error of each valence
    reason : (n,) str: why a valence is NaN, or that it is extrapolated beyond the
        standards (``""`` for a plain interpolation)
    """

    valence: np.ndarray
    stderr: np.ndarray
    reason: np.ndarray


def _pav(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool adjacent violators: knots (mean x, mean y) of the isotonic fit, x sorted."""
    order = np.argsort(x, kind="stable")
    blocks = [[float(x[i]), float(y[i]), 1] for i in order]
    merged: list[list[float]] = []
    for bx, by, bn in blocks:
        merged.append([bx * bn, by * bn, bn])
        while len(merged) > 1 and merged[-2][1] / merged[-2][2] >= merged[-1][1] / merged[-1][2]:
            sx, sy, sn = merged.pop()
            merged[-1] = [merged[-1][0] + sx, merged[-1][1] + sy, merged[-1][2] + sn]
    kx = np.array([m[0] / m[2] for m in merged])
    ky = np.array([m[1] / m[2] for m in merged])
    return kx, ky


def _linear_fit(e: np.ndarray, v: np.ndarray, e_ref: float) -> tuple[np.ndarray, np.ndarray, float]:
    x = np.column_stack([np.ones_like(e), e - e_ref])
    coef, *_ = np.linalg.lstsq(x, v, rcond=None)
    dof = e.size - 2
    resid = v - x @ coef
    s2 = float(resid @ resid / dof) if dof > 0 else np.nan
    cov = s2 * np.linalg.inv(x.T @ x)
    return coef, cov, s2


def _fit_predict(e: np.ndarray, v: np.ndarray, kind: str, e_new: np.ndarray) -> np.ndarray:
    e_ref = float(np.mean(e))
    coef, _, _ = _linear_fit(e, v, e_ref)
    if kind == "linear":
        return coef[0] + coef[1] * (e_new - e_ref)
    kx, ky = _pav(e, v)
    return _monotonic_eval(kx, ky, coef[1], e_new)


def _monotonic_eval(kx: np.ndarray, ky: np.ndarray, slope: float, e: np.ndarray) -> np.ndarray:
    out = np.interp(e, kx, ky)
    out = np.where(e < kx[0], ky[0] + slope * (e - kx[0]), out)
    return np.where(e > kx[-1], ky[-1] + slope * (e - kx[-1]), out)


def leave_one_out(energies: Any, valences: Any, kind: str = "linear") -> np.ndarray:
    """Leave-one-out errors of a calibration: each standard predicted from the others.

    Parameters
    ----------
    energies
        (n,) edge energies of the standards, eV.
    valences
        (n,) known oxidation states.
    kind
        ``"linear"`` or ``"monotonic"``.

    Returns
    -------
    numpy.ndarray
        (n,) predicted minus known valence for each standard left out.
    """
    e, v = _check_standards(energies, valences, min_n=4)
    if kind not in _KINDS:
        raise ValidationError(f"kind must be one of {_KINDS}; got {kind!r}")
    errs = np.empty(e.size)
    for i in range(e.size):  # n standards (a handful), not a hot path
        keep = np.arange(e.size) != i
        errs[i] = _fit_predict(e[keep], v[keep], kind, e[i : i + 1])[0] - v[i]
    return errs


def _check_standards(energies: Any, valences: Any, min_n: int = 3) -> tuple:
    e = np.asarray(energies, dtype=float).ravel()
    v = np.asarray(valences, dtype=float).ravel()
    if e.shape != v.shape:
        raise ValidationError(
            f"need one valence per standard: {e.size} edge energies but {v.size} valences"
        )
    if e.size < min_n:
        raise ValidationError(f"need at least {min_n} standards; got {e.size}")
    bad = ~(np.isfinite(e) & np.isfinite(v))
    if bad.any():
        raise ValidationError(
            f"edge energies and valences must be finite; standard(s) {np.nonzero(bad)[0].tolist()}"
            " are NaN (was an edge not found?)"
        )
    if np.unique(v).size < 2:
        raise ValidationError("standards must span at least two different valences")
    return e, v


@dataclass(frozen=True, eq=False)
class ValenceCalibration:
    """A valence-vs-edge-energy calibration (build with `valence_calibration`).

    Attributes
    ----------
    kind : "linear" or "monotonic"
    definition : which edge position it uses ("e0", "e_half" or "e_integral")
    element : absorber of the standards ("Mn"), or None when not recorded
    edge : core level of the standards ("K"), or None when not recorded
    energies : (n,) eV, edge energies of the standards
    valences : (n,) their oxidation states
    labels : (n,) names of the standards
    e_ref : eV, the energy at which ``coef[0]`` is the valence (mean of the standards)
    coef : (2,) linear fit: valence at ``e_ref``, slope (valence per eV)
    cov : (2, 2) covariance of ``coef``
    residual_std : valence, scatter of the standards about the linear fit
    knots : (k, 2) (eV, valence) knots of the monotonic fit
    loo_errors : (n,) leave-one-out errors of this kind of calibration on its standards
    energy_reference : eV, edge (``e0``) of the reference foil on the standards' scale, or NaN
    meta : JSON-serializable notes (sources, normalization, edge window)
    provenance : record of the call that built it
    """

    kind: str
    definition: str
    energies: np.ndarray
    valences: np.ndarray
    labels: tuple[str, ...]
    e_ref: float
    coef: np.ndarray
    cov: np.ndarray
    residual_std: float
    knots: np.ndarray
    loo_errors: np.ndarray
    energy_reference: float = float("nan")
    meta: dict = field(default_factory=dict)
    element: str | None = None
    edge: str | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def energy_range(self) -> tuple[float, float]:
        """(lowest, highest) edge energy of the standards (eV): the calibrated range."""
        return float(np.min(self.energies)), float(np.max(self.energies))

    @property
    def edge_label(self) -> str:
        """``"Mn K"``, or ``"an unknown edge"`` when not recorded."""
        return f"{self.element} {self.edge}" if self.element else "an unknown edge"

    @property
    def loo_rms(self) -> float:
        """RMS leave-one-out error (valence units)."""
        return float(np.sqrt(np.mean(self.loo_errors**2)))

    def __repr__(self) -> str:
        return (
            f"ValenceCalibration({self.edge_label}, kind={self.kind!r}, "
            f"definition={self.definition!r}, n={self.energies.size}, "
            f"slope={self.coef[1]:.3f}/eV, residual_std={self.residual_std:.3f}, "
            f"loo_rms={self.loo_rms:.3f})"
        )

    def predict(
        self,
        edge_energies: Any,
        energy_stderr: Any = None,
        foil_e0: float | None = None,
        edge: Any = None,
    ) -> ValencePrediction:
        """Valence and standard error for edge energies measured with ``self.definition``.

        Parameters
        ----------
        edge_energies
            (n,) eV (or scalar). NaN gives NaN.
        energy_stderr
            Optional (n,) eV uncertainty of the energies, propagated through the slope.
        foil_e0
            E0 of the reference foil measured with the samples; energies are shifted by
            ``energy_reference - foil_e0`` before prediction.
        edge
            The edge of the data (``"Ni-K"`` or an `Edge`). When it is not the
            calibration's own, every valence is NaN with the reason "calibration is for
            Mn K, data are Ni K".

        Returns
        -------
        ValencePrediction
            Energies outside `energy_range` keep their (extrapolated) valence and say so
            in ``reason``.
        """
        e = np.atleast_1d(np.asarray(edge_energies, dtype=float))
        if foil_e0 is not None:
            if not np.isfinite(self.energy_reference):
                raise ValidationError("this calibration has no energy_reference to align foil_e0")
            e = e + (self.energy_reference - float(foil_e0))
        slope = self.coef[1]
        if self.kind == "linear":
            v = self.coef[0] + slope * (e - self.e_ref)
            x = np.stack([np.ones_like(e), e - self.e_ref], axis=-1)
            var_line = np.einsum("ni,ij,nj->n", x, self.cov, x)
            var = self.residual_std**2 + var_line
        else:
            v = _monotonic_eval(self.knots[:, 0], self.knots[:, 1], slope, e)
            var = np.full(e.shape, self.loo_rms**2)
        if energy_stderr is not None:
            var = var + (slope * np.asarray(energy_stderr, dtype=float)) ** 2
        why = self._reasons(e, edge)
        off = why != _EXTRAPOLATED_BELOW
        off &= why != _EXTRAPOLATED_ABOVE
        off &= why != ""
        v, sd = np.where(off, np.nan, v), np.where(off, np.nan, np.sqrt(var))
        return ValencePrediction(
            valence=readonly(v), stderr=readonly(sd), reason=frozen_reasons(why)
        )

    def _reasons(self, e: np.ndarray, edge: Any) -> np.ndarray:
        why = reasons(e.size)
        mismatch = self.mismatch(edge)
        if mismatch:
            set_reason(why, np.ones(e.size, bool), mismatch)
        set_reason(why, np.isnan(e), f"no {self.definition} edge position")
        lo, hi = self.energy_range
        set_reason(why, e < lo, _EXTRAPOLATED_BELOW)
        set_reason(why, e > hi, _EXTRAPOLATED_ABOVE)
        return why

    def mismatch(self, edge: Any) -> str:
        """Why this calibration does not apply to data at ``edge`` (``""`` when it does).

        An unknown element on either side is no mismatch (nothing to compare).
        """
        if edge is None or self.element is None:
            return ""
        data = parse_edge(edge)
        if (data.element, data.edge) == (self.element, self.edge):
            return ""
        return f"calibration is for {self.edge_label}, data are {data.label}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable content (`from_dict` reads it back)."""
        return {
            "kind": self.kind,
            "element": self.element,
            "edge": self.edge,
            "definition": self.definition,
            "energy_range": [round(x, 9) for x in self.energy_range],
            "labels": list(self.labels),
            "energies": [round(float(x), 9) for x in self.energies],
            "valences": [round(float(x), 10) for x in self.valences],
            "energy_reference": None
            if not np.isfinite(self.energy_reference)
            else round(float(self.energy_reference), 9),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValenceCalibration:
        """Rebuild a calibration from `to_dict` output (the fit is redone exactly).

        Files written before calibrations knew their element hold the edge definition
        under ``"edge"`` and no ``"element"``; they load with an unknown element.
        """
        ref = d.get("energy_reference")
        definition, element = d.get("definition"), d.get("element")
        if definition is None and d.get("edge") in EDGE_DEFINITIONS:
            definition, element = d["edge"], None
        return valence_calibration(
            np.array(d["energies"], dtype=float),
            np.array(d["valences"], dtype=float),
            kind=d["kind"],
            definition=definition or "e_integral",
            edge=None if element is None else f"{element}-{d['edge']}",
            labels=d.get("labels"),
            energy_reference=np.nan if ref is None else float(ref),
            meta=d.get("meta", {}),
        )

    def to_json(self, path: str | Path) -> None:
        """Write the calibration as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> ValenceCalibration:
        """Read a calibration written by `to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@records_provenance(name="speciate.features.valence_calibration")
def valence_calibration(
    standards: Any,
    valences: Any,
    kind: str = "linear",
    definition: str = "e_integral",
    edge: Any = None,
    labels: Any = None,
    energy_reference: float = float("nan"),
    meta: dict | None = None,
    **edge_options: Any,
) -> ValenceCalibration:
    """Fit valence against edge energy on standards of known oxidation state.

    Parameters
    ----------
    standards
        Either a `NormResult` of the standards (their ``edge`` position is measured with
        `edge_positions`, passing ``edge_options``) or an array (n,) of edge energies (eV).
    valences
        (n,) known oxidation states.
    kind
        ``"linear"`` (default) or ``"monotonic"`` (see the module docstring).
    definition
        Edge definition: ``"e_integral"`` (default, lowest leave-one-out error on the Mn
        oxides), ``"e_half"`` or ``"e0"``.
    edge
        Absorption edge of the standards (``"Mn-K"``); default the edge recorded in the
        standards' ``meta`` (or inferred from their E0) when they are a `NormResult`,
        else unknown (the calibration then applies to any data, unchecked).
    labels
        (n,) names of the standards (default: the NormResult labels).
    energy_reference
        E0 of the reference foil on the standards' energy scale (eV), if known.
    meta
        JSON-serializable notes stored with the calibration.

    Returns
    -------
    ValenceCalibration

    Raises
    ------
    ValidationError
        Mismatched lengths, NaN energies, fewer than 3 standards, one valence only.
    FitError
        If valence does not increase with edge energy.
    """
    if kind not in _KINDS:
        raise ValidationError(f"kind must be one of {_KINDS}; got {kind!r}")
    if definition not in EDGE_DEFINITIONS:
        raise ValidationError(
            f"definition must be one of {EDGE_DEFINITIONS}; got {definition!r}"
        )
    if isinstance(edge, str) and edge in EDGE_DEFINITIONS:
        raise ValidationError(
            f"edge is the absorption edge of the standards ('Mn-K'); {edge!r} is an edge "
            f"definition: pass definition={edge!r}"
        )
    absorber = None if edge is None else parse_edge(edge)
    if hasattr(standards, "norm") or hasattr(standards, "mu"):
        feats = edge_positions(standards, **edge_options)
        energies = getattr(feats, definition)
        labels = labels if labels is not None else getattr(standards, "labels", None)
        if absorber is None:
            absorber = edge_of(standards).edge
    else:
        energies = standards
    e, v = _check_standards(energies, valences)
    labels = (
        tuple(str(x) for x in labels)
        if labels is not None
        else tuple(f"standard_{i}" for i in range(e.size))
    )
    if len(labels) != e.size:
        raise ValidationError(f"labels must have {e.size} entries; got {len(labels)}")
    e_ref = float(np.mean(e))
    coef, cov, s2 = _linear_fit(e, v, e_ref)
    if not coef[1] > 0:
        raise FitError(
            f"valence must increase with edge energy; the fitted slope is {coef[1]:.4g} per eV "
            "(check the valences and the edge definition)"
        )
    kx, ky = _pav(e, v)
    loo = leave_one_out(e, v, kind) if e.size >= 4 else np.full(e.size, np.nan)
    return ValenceCalibration(
        kind=kind,
        definition=definition,
        energies=readonly(e),
        valences=readonly(v),
        labels=labels,
        e_ref=e_ref,
        coef=readonly(coef),
        cov=readonly(cov),
        residual_std=float(np.sqrt(s2)),
        knots=readonly(np.column_stack([kx, ky])),
        loo_errors=readonly(loo),
        energy_reference=float(energy_reference),
        meta=dict(meta or {}),
        element=None if absorber is None else absorber.element,
        edge=None if absorber is None else absorber.edge,
    )


@records_provenance(name="speciate.features.default_mn_calibration")
def default_mn_calibration() -> ValenceCalibration:
    """The Mn K-edge calibration shipped with speciate (oxide standards, see docs/features.md).

    Built by ``python -m speciate.features.mn_standards`` from the Mn oxide standards
    MnO, Mn3O4, Mn2O3, γ-MnOOH, pyrolusite and ramsdellite MnO2 and Li2MnO3.
    """
    text = resources.files("speciate.features").joinpath("data", _DEFAULT_FILE).read_text("utf-8")
    return ValenceCalibration.from_dict(json.loads(text))
