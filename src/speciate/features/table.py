"""`FeatureTable`: one row per spectrum, one column per feature, with units and reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate._atomic import atomic_path
from speciate.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FeatureTable"]


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Fingerprint features of a series: one row per spectrum.

    Attributes
    ----------
    labels : (n_spectra,) spectrum labels
    columns : name -> (n_spectra,) float array (read-only), NaN where not measured
    units : name -> unit string ("eV", "norm", "norm/eV", "deg", "e", "1")
    reasons : reason column -> (n_spectra,) str, ``""`` where the feature was measured
    reason_of : feature column -> the reason column that explains its NaNs
    time : (n_spectra,) or None, carried from the input
    coords : per-spectrum arrays carried from the input
    details : the per-feature result objects (EdgeFeatures, PreEdgePeaks, WhiteLine,
        EdgeShape, Triplet) keyed by name, for plots and further analysis
    meta : JSON-serializable facts of the series: ``"edge"`` (see `speciate.edges`) or
        ``"edge_reason"``, ``"windows"`` (eV) used
    provenance : JSON-serializable record of the call
    """

    labels: tuple[str, ...]
    columns: Mapping[str, np.ndarray]
    units: Mapping[str, str]
    reasons: Mapping[str, np.ndarray]
    reason_of: Mapping[str, str]
    time: np.ndarray | None = None
    coords: Mapping[str, np.ndarray] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        cols = {}
        for name, values in self.columns.items():
            arr = readonly(values)
            if arr.shape != (n,):
                raise ValidationError(f"column {name!r} must have shape ({n},); got {arr.shape}")
            if name not in self.units:
                raise ValidationError(f"column {name!r} has no unit")
            cols[name] = arr
        missing = sorted(set(self.reason_of.values()) - set(self.reasons))
        if missing:
            raise ValidationError(f"reason columns {missing} are referenced but absent")
        reasons = {k: readonly(v, dtype=str) for k, v in self.reasons.items()}
        set_ = object.__setattr__
        set_(self, "columns", MappingProxyType(cols))
        set_(self, "reasons", MappingProxyType(reasons))
        set_(self, "units", MappingProxyType(dict(self.units)))
        set_(self, "reason_of", MappingProxyType(dict(self.reason_of)))

    @property
    def n_spectra(self) -> int:
        """Number of spectra (rows)."""
        return len(self.labels)

    def __len__(self) -> int:
        return self.n_spectra

    def __repr__(self) -> str:
        found = {k: int(np.isfinite(v).sum()) for k, v in self.columns.items()}
        shown = ", ".join(f"{k}: {v}/{self.n_spectra}" for k, v in list(found.items())[:6])
        return f"FeatureTable(n_spectra={self.n_spectra}, {len(self.columns)} columns; {shown}...)"

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.columns:
            return self.columns[name]
        if name in self.reasons:
            return self.reasons[name]
        raise KeyError(
            f"no feature column {name!r}; columns are {list(self.columns)} and reason columns "
            f"{list(self.reasons)}"
        )

    def reason(self, name: str) -> np.ndarray:
        """Why column ``name`` is NaN, per spectrum (``""`` where it was measured)."""
        if name not in self.columns:
            raise KeyError(f"no feature column {name!r}")
        key = self.reason_of.get(name)
        if key is None:
            return np.full(self.n_spectra, "", dtype=str)
        return self.reasons[key]

    def to_dataframe(self, reasons: bool = True) -> pd.DataFrame:
        """A pandas DataFrame indexed by label: feature columns, then reason columns.

        Units are in ``df.attrs["units"]``.
        """
        import pandas as pd

        data: dict[str, Any] = {k: np.asarray(v) for k, v in self.columns.items()}
        if reasons:
            data.update({k: np.asarray(v, dtype=object) for k, v in self.reasons.items()})
        df = pd.DataFrame(data, index=pd.Index(list(self.labels), name="label"))
        if self.time is not None:
            df.insert(0, "time", np.asarray(self.time))
        df.attrs["units"] = dict(self.units)
        df.attrs["meta"] = dict(self.meta)
        return df

    def to_csv(self, path: str | Path) -> None:
        """Write `to_dataframe` as CSV, atomically (units: see docs/features.md)."""
        df = self.to_dataframe()
        with atomic_path(path) as tmp:
            df.to_csv(tmp)
