"""`redox_table`: which element of a multi-edge study changes its oxidation state.

Each edge (Mn K, Co K, Ni K... of the same electrode, measured along the same cycle) is
measured with its own windows; its edge energy (default the integral position) is
regressed on the state of charge. Per edge the table gives:

``shift_per_unit``
    Slope of the edge energy against the abscissa (eV per unit of x, per mAh/g...), with
    its standard error from the regression.
``total_shift_ev``
    The slope times the range of the abscissa: how far the edge moved over the cycle.
``active``
    True when ``|total_shift_ev|`` exceeds both ``min_shift_ev`` and three standard errors.
``return_ev``
    Edge energy of the last spectrum minus that of the first: 0 for a cycle that brings
    the element back where it started.
``reversibility``
    ``(E_turn - E_end) / (E_turn - E_start)`` with ``E_turn`` the edge energy farthest
    from the start (as `speciate.features.trends`): 1 back to the start, 0 no recovery,
    > 1 overshoot; NaN for an inactive element (its excursion is noise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate.edges import Edge, edge_from_meta, parse_edge
from speciate.errors import ValidationError
from speciate.features.edge import edge_positions
from speciate.features.valence import EDGE_DEFINITIONS
from speciate.features.windows import feature_windows
from speciate.provenance import records_provenance
from speciate.xanes.normalized import as_normalized

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ABSCISSA_UNITS", "RedoxTable", "redox_table"]

#: Coordinates searched (in this order) when ``state_of_charge`` is not given, with units.
ABSCISSA_UNITS: Mapping[str, str] = {
    "x_li": "x",
    "state_of_charge": "1",
    "specific_capacity": "mAh/g",
    "capacity": "mAh",
    "voltage": "V",
}


@dataclass(frozen=True, eq=False)
class RedoxTable:
    """Edge shift against state of charge, one row per edge.

    Attributes
    ----------
    edges : (n_edges,) edge names ("Mn-K")
    abscissa : name of the state-of-charge variable ("x_li", "state_of_charge"...)
    unit : its unit ("x", "1", "mAh/g")
    definition : edge definition measured ("e_integral", "e_half" or "e0")
    shift_per_unit, shift_stderr : (n_edges,) eV per unit of the abscissa
    total_shift_ev : (n_edges,) eV over the abscissa's range
    return_ev : (n_edges,) eV, last minus first spectrum
    reversibility : (n_edges,) 1 = back to the start, NaN when inactive
    active : (n_edges,) bool
    x, edge_energy : edge name -> (n_spectra,) abscissa and edge energy (eV)
    min_shift_ev : the activity threshold (eV)
    provenance : record of the call
    """

    edges: tuple[str, ...]
    abscissa: str
    unit: str
    definition: str
    shift_per_unit: np.ndarray
    shift_stderr: np.ndarray
    total_shift_ev: np.ndarray
    return_ev: np.ndarray
    reversibility: np.ndarray
    active: np.ndarray
    x: Mapping[str, np.ndarray]
    edge_energy: Mapping[str, np.ndarray]
    min_shift_ev: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per edge; the slope column is named for the unit (``shift_ev_per_x``)."""
        import pandas as pd

        unit = "unit" if self.unit == "1" else self.unit.replace("/", "_")
        per = f"shift_ev_per_{unit}"  # shift_ev_per_x, shift_ev_per_mAh_g
        return pd.DataFrame(
            {
                per: self.shift_per_unit,
                f"{per}_stderr": self.shift_stderr,
                "total_shift_ev": self.total_shift_ev,
                "return_ev": self.return_ev,
                "reversibility": self.reversibility,
                "active": self.active,
            },
            index=pd.Index(list(self.edges), name="edge"),
        )

    def plot(self) -> Figure:
        """Edge energy against the abscissa, one panel per edge, with the fitted line."""
        from matplotlib.figure import Figure

        n = len(self.edges)
        fig = Figure(figsize=(3.2 * n, 3.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
        for k, (ax, name) in enumerate(zip(axes, self.edges)):
            x, e = self.x[name], self.edge_energy[name]
            ax.plot(x, e, "o-", ms=3, lw=0.6, color="C0")
            ok = np.isfinite(x) & np.isfinite(e)
            if ok.sum() >= 2:
                xs = np.array([x[ok].min(), x[ok].max()])
                mid_x, mid_e = x[ok].mean(), e[ok].mean()
                ax.plot(xs, mid_e + self.shift_per_unit[k] * (xs - mid_x), "k--", lw=0.8)
            state = "active" if self.active[k] else "inactive"
            ax.set_title(
                f"{name.replace('-', ' ')}: {self.shift_per_unit[k]:+.2f} eV/{self.unit} "
                f"({state})",
                fontsize="small",
            )
            ax.set_xlabel(f"{self.abscissa} ({self.unit})")
            ax.set_ylabel(f"{self.definition} (eV)")
        return fig


def _abscissa(
    norm: Any, name: str, state_of_charge: Any
) -> tuple[str, np.ndarray]:
    n = norm.n_spectra
    if isinstance(state_of_charge, Mapping):
        if name not in state_of_charge:
            raise ValidationError(
                f"state_of_charge has no entry for {name}; it has {sorted(state_of_charge)}"
            )
        return _abscissa(norm, name, state_of_charge[name])
    if state_of_charge is None:
        found = next((k for k in ABSCISSA_UNITS if k in norm.coords), None)
        if found is None:
            raise ValidationError(
                f"{name}: no state of charge given and no coordinate among "
                f"{list(ABSCISSA_UNITS)} (sync the series with speciate.echem.sync first)"
            )
        state_of_charge = found
    if isinstance(state_of_charge, str):
        if state_of_charge not in norm.coords:
            raise ValidationError(
                f"{name}: no coordinate {state_of_charge!r}; coordinates are {list(norm.coords)}"
            )
        return state_of_charge, np.asarray(norm.coords[state_of_charge], dtype=float)
    x = np.asarray(state_of_charge, dtype=float)
    if x.shape != (n,):
        raise ValidationError(f"{name}: state_of_charge must have shape ({n},); got {x.shape}")
    return "state_of_charge", x


def _edge_for(key: str, norm: Any) -> Edge:
    edge = parse_edge(key)
    recorded = edge_from_meta(norm.meta)
    if recorded is not None and recorded.source != "inferred" and recorded.name != edge.name:
        raise ValidationError(
            f"the series given as {edge.name} records the {recorded.name} edge "
            f"({recorded.source}); check which series is which"
        )
    return edge


def _fit(x: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(x) & np.isfinite(e)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return float("nan"), float("nan")
    xs, es = x[ok], e[ok]
    design = np.column_stack([np.ones_like(xs), xs - xs.mean()])
    coef, *_ = np.linalg.lstsq(design, es, rcond=None)
    resid = es - design @ coef
    dof = xs.size - 2
    s2 = float(resid @ resid) / dof if dof > 0 else np.nan
    return float(coef[1]), float(np.sqrt(s2 / np.sum((xs - xs.mean()) ** 2)))


@records_provenance(name="speciate.features.redox_table")
def redox_table(
    norms: Mapping[str, Any],
    state_of_charge: Any = None,
    definition: str = "e_integral",
    windows: Mapping[str, Mapping[str, Any]] | None = None,
    smooth_ev: float = 1.0,
    min_shift_ev: float = 0.1,
) -> RedoxTable:
    """Edge shift against state of charge for several edges of one study.

    Parameters
    ----------
    norms
        Edge name -> normalized series (`NormResult` or normalized `Series`) of that
        edge, e.g. ``{"Mn-K": mn_norm, "Ni-K": ni_norm}``; each may have its own number
        of spectra.
    state_of_charge
        The abscissa: a coordinate name present in every series (``"x_li"``,
        ``"state_of_charge"``, ``"specific_capacity"``...), one (n_spectra,) array
        shared by all series, or edge name -> array. Default: the first coordinate of
        `ABSCISSA_UNITS` found (as `speciate.echem.sync` writes them).
    definition
        Edge position measured: ``"e_integral"`` (default), ``"e_half"`` or ``"e0"``.
    windows
        Edge name -> window overrides passed to the features (eV).
    smooth_ev
        Derivative smoothing width (eV) for ``e0``.
    min_shift_ev
        Smallest total shift (eV) that counts as redox activity.

    Returns
    -------
    RedoxTable
    """
    if not norms:
        raise ValidationError("norms must hold at least one edge: {'Ni-K': norm, ...}")
    if definition not in EDGE_DEFINITIONS:
        raise ValidationError(f"definition must be one of {EDGE_DEFINITIONS}; got {definition!r}")
    names, xs, energies, abscissas = [], {}, {}, set()
    for key, data in norms.items():
        norm = as_normalized(data)
        edge = _edge_for(key, norm)
        win = feature_windows(norm, (windows or {}).get(key), edge=edge).windows
        feats = edge_positions(norm, window=win["edge"], smooth_ev=smooth_ev)
        label, x = _abscissa(norm, edge.name, state_of_charge)
        abscissas.add(label)
        names.append(edge.name)
        xs[edge.name], energies[edge.name] = x, np.asarray(getattr(feats, definition))
    if len(abscissas) > 1:
        raise ValidationError(f"the series use different abscissas {sorted(abscissas)}")
    abscissa = abscissas.pop()
    fits = np.array([_fit(xs[n], energies[n]) for n in names])  # a few edges, not spectra
    slope, stderr = fits[:, 0], fits[:, 1]
    span = np.array([np.nanmax(xs[n]) - np.nanmin(xs[n]) for n in names])
    total = slope * span
    active = (np.abs(total) > min_shift_ev) & (np.abs(total) > 3.0 * stderr * span)
    start_turn_end = np.array([_ends(energies[n]) for n in names])
    start, turn, end = start_turn_end.T
    ret = end - start
    with np.errstate(invalid="ignore", divide="ignore"):
        rev = np.where(active, (turn - end) / (turn - start), np.nan)
    return RedoxTable(
        edges=tuple(names),
        abscissa=abscissa,
        unit=ABSCISSA_UNITS.get(abscissa, "1"),
        definition=definition,
        shift_per_unit=slope,
        shift_stderr=stderr,
        total_shift_ev=total,
        return_ev=ret,
        reversibility=rev,
        active=active,
        x=xs,
        edge_energy=energies,
        min_shift_ev=float(min_shift_ev),
    )


def _ends(e: np.ndarray) -> tuple[float, float, float]:
    """First, farthest-from-the-first and last finite edge energy (eV)."""
    finite = e[np.isfinite(e)]
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    turn = finite[np.argmax(np.abs(finite - finite[0]))]
    return float(finite[0]), float(turn), float(finite[-1])
