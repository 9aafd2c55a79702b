"""The one entry point for normalized data: what fit, features and derivatives accept.

Every consumer of normalized spectra calls `as_normalized`, so "normalized data" and its
NaN policy are defined once:

- ``energy`` must be finite and strictly increasing;
- values may be NaN where a spectrum was not measured (a stack on a union grid holds NaN
  outside each spectrum's own range); consumers treat NaN as "no data here";
- ``inf`` is never accepted, and neither is a spectrum that is NaN everywhere (they are
  named in the error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from speciate._arrays import readonly_view
from speciate.errors import ValidationError
from speciate.series import Series

__all__ = ["NORMALIZED_ARRAYS", "Normalized", "as_normalized"]

#: The arrays of a `NormResult` that consumers may ask for.
NORMALIZED_ARRAYS = ("norm", "flat", "mu")


@dataclass(frozen=True, eq=False)
class Normalized:
    """What every consumer needs from a normalized series.

    Attributes
    ----------
    energy : (n_energy,) eV, strictly increasing
    norm : (n_spectra, n_energy) the chosen array (``norm`` by default); NaN = not measured
    e0 : (n_spectra,) eV, NaN where unknown
    edge_step : (n_spectra,) edge step in units of the raw absorption, NaN where unknown
    labels, time, coords, meta : carried from the input
    array : which array of the input ``norm`` holds ("norm", "flat" or "mu")
    """

    energy: np.ndarray
    norm: np.ndarray
    e0: np.ndarray
    edge_step: np.ndarray
    labels: tuple[str, ...]
    time: np.ndarray | None
    coords: Mapping[str, np.ndarray]
    meta: Mapping[str, Any]
    array: str = "norm"

    @property
    def n_spectra(self) -> int:
        """Number of spectra."""
        return int(self.norm.shape[0])

    @property
    def complete(self) -> bool:
        """True when no value is NaN (every spectrum measured on the whole grid)."""
        return bool(np.isfinite(self.norm.sum()))

    def measured(self) -> np.ndarray:
        """(n_spectra, n_energy) bool: where each spectrum holds data."""
        return np.isfinite(self.norm)


def _per_spectrum(value: Any, n: int, name: str) -> np.ndarray:
    if value is None:
        return np.full(n, np.nan)
    out = np.asarray(value, dtype=float)
    if out.ndim == 0:
        return np.full(n, float(out))
    if out.shape != (n,):
        raise ValidationError(f"{name} must have one value per spectrum ({n}); got {out.shape}")
    return out


def as_normalized(data: Any, array: str = "norm") -> Normalized:
    """Accept a `NormResult` (or any object with ``energy`` and ``norm``) or a `Series`.

    Parameters
    ----------
    data
        A `NormResult` from `speciate.xanes.normalize` or `speciate.theory.normalize`,
        an object with the same ``energy``/``norm`` attributes, or a `Series` taken as
        already normalized (its ``mu`` is used, its coords ``e0``/``edge_step`` if present).
    array
        Which array of a `NormResult` to use: "norm" (default), "flat" or "mu".

    Returns
    -------
    Normalized

    Raises
    ------
    ValidationError
        If ``data`` is neither, shapes disagree, energies are not finite and increasing,
        values hold ``inf``, or a spectrum is NaN everywhere.
    """
    if array not in NORMALIZED_ARRAYS:
        raise ValidationError(f"array must be one of {list(NORMALIZED_ARRAYS)}; got {array!r}")
    if isinstance(data, Normalized):
        if array != data.array:
            raise ValidationError(f"data already holds {data.array!r}; cannot give {array!r}")
        return data
    if isinstance(data, Series):
        energy, values = data.energy, data.mu
        e0, step = data.coords.get("e0"), data.coords.get("edge_step")
        labels, time, coords, meta = data.labels, data.time, data.coords, data.meta
    elif hasattr(data, "energy") and hasattr(data, "norm"):
        energy = np.asarray(data.energy, dtype=float)
        if not hasattr(data, array):
            raise ValidationError(f"{type(data).__name__} has no {array!r} array")
        values = np.atleast_2d(np.asarray(getattr(data, array), dtype=float))
        e0, step = getattr(data, "e0", None), getattr(data, "edge_step", None)
        n_s = values.shape[0]
        # labels are Python strings: made one by one, outside any numeric work
        labels = tuple(getattr(data, "labels", ()) or (f"spectrum_{i}" for i in range(n_s)))
        time = getattr(data, "time", None)
        coords = getattr(data, "coords", None) or {}
        meta = getattr(data, "meta", None) or {}
    else:
        raise ValidationError(
            "expected a NormResult (from speciate.xanes.normalize or speciate.theory.normalize) "
            f"or an already-normalized Series; got {type(data).__name__}"
        )
    energy = np.asarray(energy, dtype=float)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    _check(energy, values)
    n = values.shape[0]
    return Normalized(
        energy=readonly_view(energy),
        norm=readonly_view(values),
        e0=readonly_view(_per_spectrum(e0, n, "e0")),
        edge_step=readonly_view(_per_spectrum(step, n, "edge_step")),
        labels=tuple(labels),
        time=time,
        coords=coords,
        meta=meta,
        array=array,
    )


def _check(energy: np.ndarray, values: np.ndarray) -> None:
    if energy.ndim != 1 or values.ndim != 2 or values.shape[1] != energy.size:
        raise ValidationError(
            f"spectra must have shape (n_spectra, {energy.size}) to match energy; "
            f"got {values.shape}"
        )
    if not np.isfinite(energy).all():
        raise ValidationError("energy must be finite; found NaN or inf")
    if (np.diff(energy) <= 0).any():
        raise ValidationError("energy must be strictly increasing")
    total = values.sum()
    if np.isfinite(total):
        return
    if np.isinf(values).any():
        rows = np.nonzero(np.isinf(values).any(axis=1))[0]
        raise ValidationError(f"spectra {rows[:10].tolist()} hold inf values")
    empty = np.isnan(values).all(axis=1)
    if empty.any():
        rows = np.nonzero(empty)[0]
        raise ValidationError(
            f"spectra {rows[:10].tolist()} are NaN everywhere ({rows.size} of "
            f"{values.shape[0]}); drop them first"
        )
