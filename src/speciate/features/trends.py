"""Feature trends over an operando series: change from the start and reversibility.

For each feature column ``f`` of a `FeatureTable`:

``change``
    ``f - f_ref`` per spectrum, where ``f_ref`` is the first spectrum with a finite value.
``slope``
    Least-squares slope of ``f`` against ``x`` (index, seconds, or the given per-spectrum
    values such as the state of charge) over the finite points, with its standard error.
``reversibility``
    Over a charge/discharge cycle, the fraction of the excursion recovered at the end:
    ``(f_turn - f_end) / (f_turn - f_ref)``. 1 = back to the start, 0 = no recovery,
    > 1 = overshoot. The turning point is ``turn`` if given; otherwise the maximum of
    ``by`` over the spectra where the feature is finite, when ``by`` is an array (top of
    charge for a state-of-charge axis); otherwise
    the spectrum where ``|f - f_ref|`` is largest (each feature's own excursion).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate.errors import ValidationError
from speciate.features.table import FeatureTable
from speciate.provenance import records_provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Trends", "trends"]


@dataclass(frozen=True, eq=False)
class Trends:
    """Trends of features over a series (see the module docstring).

    Attributes
    ----------
    by : "index", "time" or "values"
    x : (n_spectra,) the abscissa (index, seconds since the first spectrum, or the values)
    features : names of the feature columns analysed
    change : (n_spectra, n_features) ``f - f_ref``
    reference_index, turn_index : (n_features,) int, -1 where undefined
    change_at_turn, change_at_end : (n_features,)
    reversibility : (n_features,) fraction recovered at the end; NaN without an excursion
    slope, slope_stderr : (n_features,) per unit of ``x``
    provenance : record of the call
    """

    by: str
    x: np.ndarray
    labels: tuple[str, ...]
    features: tuple[str, ...]
    change: np.ndarray
    reference_index: np.ndarray
    turn_index: np.ndarray
    change_at_turn: np.ndarray
    change_at_end: np.ndarray
    reversibility: np.ndarray
    slope: np.ndarray
    slope_stderr: np.ndarray
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per feature: reference/turn indices, changes, reversibility, slope."""
        import pandas as pd

        return pd.DataFrame(
            {
                "reference_index": self.reference_index,
                "turn_index": self.turn_index,
                "change_at_turn": self.change_at_turn,
                "change_at_end": self.change_at_end,
                "reversibility": self.reversibility,
                "slope": self.slope,
                "slope_stderr": self.slope_stderr,
            },
            index=pd.Index(list(self.features), name="feature"),
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Per-spectrum change from the reference, one column per feature, plus ``x``."""
        import pandas as pd

        df = pd.DataFrame(self.change, columns=list(self.features))
        df.insert(0, "x", self.x)
        df.index = pd.Index(list(self.labels), name="label")
        return df


def _abscissa(table: FeatureTable, by: Any) -> tuple[str, np.ndarray]:
    n = table.n_spectra
    if isinstance(by, str):
        if by == "index":
            return "index", np.arange(n, dtype=float)
        if by == "time":
            if table.time is None:
                raise ValidationError("by='time' needs spectra with times; this table has none")
            t = np.asarray(table.time)
            if t.dtype.kind == "M":
                return "time", (t - t[0]) / np.timedelta64(1, "s")
            return "time", t.astype(float) - float(t[0])
        raise ValidationError(f"by must be 'index', 'time' or an array; got {by!r}")
    x = np.asarray(by, dtype=float)
    if x.shape != (n,):
        raise ValidationError(f"by must have one value per spectrum, shape ({n},); got {x.shape}")
    if not np.isfinite(x).all():
        raise ValidationError("by must be finite for every spectrum")
    return "values", x


@records_provenance(name="speciate.features.trends")
def trends(
    table: FeatureTable,
    by: Any = "index",
    features: Any = None,
    turn: int | None = None,
) -> Trends:
    """Change of every feature from the first spectrum, slope, and reversibility.

    Parameters
    ----------
    table
        A `FeatureTable` from `extract`.
    by
        ``"index"``, ``"time"`` (seconds since the first spectrum) or an array
        (n_spectra,), e.g. the ``state_of_charge`` column of an electrochemistry sync table.
    features
        Feature column names (default: every column).
    turn
        Index of the turning point of the cycle (default: see the module docstring).

    Returns
    -------
    Trends
    """
    if not isinstance(table, FeatureTable):
        raise ValidationError(f"trends expects a FeatureTable; got {type(table).__name__}")
    kind, x = _abscissa(table, by)
    names = tuple(table.columns) if features is None else tuple(features)
    missing = [f for f in names if f not in table.columns]
    if missing:
        raise ValidationError(f"unknown feature(s) {missing}; columns are {list(table.columns)}")
    n = table.n_spectra
    if turn is not None and not -n <= int(turn) < n:
        raise ValidationError(f"turn must index a spectrum (0..{n - 1}); got {turn}")
    f = np.column_stack([table.columns[k] for k in names])  # (n, n_f)
    finite = np.isfinite(f)
    has = finite.any(axis=0)
    ref_idx = np.where(has, np.argmax(finite, axis=0), -1)
    end_idx = np.where(has, n - 1 - np.argmax(finite[::-1], axis=0), -1)
    cols = np.arange(f.shape[1])
    ref = np.where(has, f[np.clip(ref_idx, 0, None), cols], np.nan)
    change = f - ref[None, :]
    if turn is not None:
        turn_idx = np.full(f.shape[1], int(turn) % n)
    elif kind == "values":
        # the top of `by` among the spectra where the feature was measured
        top = np.where(finite, x[:, None], -np.inf)
        turn_idx = np.where(has, np.argmax(top, axis=0), -1)
    else:
        excursion = np.where(finite, np.abs(change), -np.inf)
        turn_idx = np.where(has, np.argmax(excursion, axis=0), -1)
    at_turn = np.where(turn_idx >= 0, change[np.clip(turn_idx, 0, None), cols], np.nan)
    at_end = np.where(has, change[np.clip(end_idx, 0, None), cols], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rev = np.where(np.abs(at_turn) > 0, (at_turn - at_end) / at_turn, np.nan)
    slope, slope_sd = _slopes(x, f, finite)
    return Trends(
        by=kind,
        x=readonly(x),
        labels=table.labels,
        features=names,
        change=readonly(change),
        reference_index=readonly(ref_idx, dtype=int),
        turn_index=readonly(turn_idx, dtype=int),
        change_at_turn=readonly(at_turn),
        change_at_end=readonly(at_end),
        reversibility=readonly(rev),
        slope=readonly(slope),
        slope_stderr=readonly(slope_sd),
    )


def _slopes(x: np.ndarray, f: np.ndarray, finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope of every column of ``f`` against ``x`` over its finite rows."""
    w = finite.astype(float)
    n = w.sum(axis=0)
    fz = np.where(finite, f, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x[:, None]).sum(axis=0) / n
        fm = fz.sum(axis=0) / n
        dx = (x[:, None] - xm) * w
        sxx = (dx**2).sum(axis=0)
        slope = (dx * (fz - fm)).sum(axis=0) / sxx
        resid = np.where(finite, fz - fm - slope * (x[:, None] - xm), 0.0)
        s2 = (resid**2).sum(axis=0) / (n - 2)
        sd = np.sqrt(s2 / sxx)
    ok = (n >= 3) & (sxx > 0)
    return np.where(ok, slope, np.nan), np.where(ok, sd, np.nan)
