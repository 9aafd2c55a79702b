"""`Series`: a stack of spectra on one energy grid, with everything that travels with them.

A single spectrum is a series of one. Every numeric routine in speciate takes a
`Series` (or a result built from one) and works on the whole stack at once.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import frozen_copy
from speciate.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["GridTrimWarning", "Series", "union_grid"]


def _as_float_2d(mu: Any, name: str) -> np.ndarray:
    arr = np.asarray(mu, dtype=float)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValidationError(
            f"{name} must have shape (n_spectra, n_energy) or (n_energy,); got {arr.ndim}-D "
            f"array of shape {arr.shape}"
        )
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise ValidationError(
            f"{name} must be finite; found {int(bad.sum())} NaN/inf value(s), first at "
            f"spectrum {int(rows[0])}, energy index {int(cols[0])}"
        )


def _edge_key(record: Any) -> tuple[str, str] | None:
    if isinstance(record, Mapping) and "element" in record and "edge" in record:
        return (str(record["element"]), str(record["edge"]))
    if isinstance(record, str) and "-" in record:
        element, _, level = record.partition("-")
        return (element.strip(), level.strip())
    return None


def _common_edge(series: Sequence[Series]) -> Any:
    """The edge the stacked series share (the first record that names it), or None.

    Series of different absorbers or edges are never stacked under one edge.
    """
    found: dict[tuple[str, str], Any] = {}
    for s in series:
        record = s.meta.get("edge")
        key = _edge_key(record)
        if key is not None:
            found.setdefault(key, record)
    if len(found) > 1:
        names = ", ".join(f"{el} {lvl}" for el, lvl in found)
        raise ValidationError(
            f"concat: the series are at different edges ({names}); stack one edge at a time"
        )
    return next(iter(found.values()), None)


def _check_energy(energy: np.ndarray) -> None:
    if energy.ndim != 1:
        raise ValidationError(f"energy must be 1-D (n_energy,); got shape {energy.shape}")
    if energy.size < 2:
        raise ValidationError(f"energy needs at least 2 points; got {energy.size}")
    _check_finite(energy[np.newaxis, :], "energy")
    step = np.diff(energy)
    if (step == 0).any():
        i = int(np.nonzero(step == 0)[0][0])
        raise ValidationError(
            f"energy has duplicate values (first {energy[i]:.4f} eV at indices {i} and {i + 1}); "
            "average or drop repeated points explicitly (speciate.io.read(..., "
            "duplicates='mean'|'first'))"
        )
    if (step < 0).any():
        i = int(np.nonzero(step < 0)[0][0])
        raise ValidationError(
            f"energy must be strictly increasing; it decreases at index {i + 1} "
            f"({energy[i]:.4f} -> {energy[i + 1]:.4f} eV). Use Series.from_unsorted(...) to sort "
            "explicitly"
        )


def _normalize_time(time: Any, n_s: int) -> np.ndarray | None:
    if time is None:
        return None
    arr = np.asarray(time)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]")
    elif arr.dtype.kind in "iuf":
        arr = arr.astype(float)
        _check_finite(arr[np.newaxis, :] if arr.ndim == 1 else arr, "time")
    else:
        try:
            arr = arr.astype("datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"time must be datetime64 or seconds (float); got dtype {arr.dtype}"
            ) from exc
    if arr.shape != (n_s,):
        raise ValidationError(f"time must have shape ({n_s},) (one per spectrum); got {arr.shape}")
    return arr


def _normalize_coords(coords: Mapping[str, Any] | None, n_s: int) -> Mapping[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, values in (coords or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError(f"coordinate names must be identifiers; got {name!r}")
        if name in _RESERVED:
            raise ValidationError(f"coordinate name {name!r} is reserved for a Series field")
        arr = np.asarray(values)
        if arr.ndim == 0:
            arr = np.full(n_s, arr.item() if arr.dtype.kind != "U" else str(arr))
        if arr.shape != (n_s,):
            raise ValidationError(
                f"coordinate {name!r} must have shape ({n_s},) (one value per spectrum); "
                f"got {arr.shape}"
            )
        if arr.dtype.kind == "O":
            arr = arr.astype(str)
        out[name] = frozen_copy(arr)
    return MappingProxyType(out)


_RESERVED = {"energy", "mu", "labels", "time", "reference", "meta", "spectrum"}


def _check_meta(meta: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = dict(meta or {})
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"meta must be JSON-serializable: {exc}") from exc
    return MappingProxyType(meta)


@dataclass(frozen=True, eq=False)
class Series:
    """A stack of spectra sharing one energy grid.

    Parameters
    ----------
    energy
        Energy grid in eV, shape (n_energy,), strictly increasing.
    mu
        Absorption, shape (n_spectra, n_energy); a 1-D array is one spectrum.
    labels
        One label per spectrum, shape (n_spectra,). Default ``spectrum_0...``.
    time
        Acquisition time per spectrum, shape (n_spectra,): ``datetime64`` or seconds.
    reference
        Reference-foil channel measured with each spectrum, shape (n_spectra, n_energy).
    coords
        Named per-spectrum 1-D arrays of length n_spectra (``phase``, ``radius``,
        ``valence``, ``voltage``...).
    meta
        JSON-serializable metadata for the whole series (source files, provenance...).

    Raises
    ------
    ValidationError
        On shape mismatch, non-finite values, unsorted or duplicate energies.
    """

    energy: np.ndarray
    mu: np.ndarray
    labels: tuple[str, ...] = ()
    time: np.ndarray | None = None
    reference: np.ndarray | None = None
    coords: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        energy = np.asarray(self.energy, dtype=float)
        _check_energy(energy)
        mu = _as_float_2d(self.mu, "mu")
        n_s, n_e = mu.shape
        if n_e != energy.size:
            raise ValidationError(
                f"mu has {n_e} energy points per spectrum but energy has {energy.size}"
            )
        if n_s == 0:
            raise ValidationError("a Series needs at least one spectrum; got 0")
        _check_finite(mu, "mu")
        labels = tuple(str(x) for x in self.labels) or tuple(f"spectrum_{i}" for i in range(n_s))
        if len(labels) != n_s:
            raise ValidationError(f"labels must have {n_s} entries; got {len(labels)}")
        reference = None
        if self.reference is not None:
            reference = _as_float_2d(self.reference, "reference")
            if reference.shape != mu.shape:
                raise ValidationError(
                    f"reference must have the shape of mu {mu.shape}; got {reference.shape}"
                )
            _check_finite(reference, "reference")
            reference = frozen_copy(reference)
        time = _normalize_time(self.time, n_s)
        set_ = object.__setattr__
        set_(self, "energy", frozen_copy(energy))
        set_(self, "mu", frozen_copy(mu))
        set_(self, "labels", labels)
        set_(self, "time", None if time is None else frozen_copy(time))
        set_(self, "reference", reference)
        set_(self, "coords", _normalize_coords(self.coords, n_s))
        set_(self, "meta", _check_meta(self.meta))

    # ------------------------------------------------------------------ basics
    @property
    def n_spectra(self) -> int:
        """Number of spectra."""
        return int(self.mu.shape[0])

    @property
    def n_energy(self) -> int:
        """Number of energy points."""
        return int(self.energy.size)

    def __len__(self) -> int:
        return self.n_spectra

    def __repr__(self) -> str:
        coords = ", ".join(self.coords) or "none"
        return (
            f"Series(n_spectra={self.n_spectra}, n_energy={self.n_energy}, "
            f"energy={self.energy[0]:.2f}..{self.energy[-1]:.2f} eV, "
            f"time={'yes' if self.time is not None else 'no'}, "
            f"reference={'yes' if self.reference is not None else 'no'}, coords: {coords})"
        )

    def replace(self, **changes: Any) -> Series:
        """Return a new Series with some fields replaced (validated again)."""
        fields = {
            "energy": self.energy,
            "mu": self.mu,
            "labels": self.labels,
            "time": self.time,
            "reference": self.reference,
            "coords": dict(self.coords),
            "meta": dict(self.meta),
        }
        fields.update(changes)
        return Series(**fields)

    @classmethod
    def from_unsorted(
        cls,
        energy: Any,
        mu: Any,
        *,
        reference: Any | None = None,
        duplicates: str = "error",
        **kwargs: Any,
    ) -> Series:
        """Build a Series from energies in any order, sorting them explicitly.

        Parameters
        ----------
        energy
            Energies in eV, shape (n_energy,), any order.
        mu, reference
            Arrays of shape (n_spectra, n_energy) or (n_energy,), in the order of ``energy``.
        duplicates
            What to do with repeated energies: ``"error"`` (default), ``"mean"`` (average
            the repeated points) or ``"first"`` (keep the first occurrence in sorted order).
        **kwargs
            Passed to `Series` (labels, time, coords, meta). The sort and any duplicate
            handling are recorded in ``meta["sorting"]``.
        """
        energy = np.asarray(energy, dtype=float)
        mu = _as_float_2d(mu, "mu")
        ref = None if reference is None else _as_float_2d(reference, "reference")
        order = np.argsort(energy, kind="stable")
        e_sorted = energy[order]
        mu_sorted = mu[:, order]
        ref_sorted = None if ref is None else ref[:, order]
        e_sorted, mu_sorted, ref_sorted, n_dup = merge_duplicates(
            e_sorted, mu_sorted, ref_sorted, duplicates
        )
        meta = dict(kwargs.pop("meta", {}) or {})
        meta["sorting"] = {
            "sorted": bool((order != np.arange(order.size)).any()),
            "duplicates": duplicates,
            "n_duplicate_points": int(n_dup),
        }
        return cls(e_sorted, mu_sorted, reference=ref_sorted, meta=meta, **kwargs)

    # --------------------------------------------------------------- selection
    def indices(self, key: Any) -> np.ndarray:
        """Positions (n_selected,) int of the spectra ``key`` selects, as `select` reads it.

        ``key`` is a label, labels, an index or indices (negative count from the end), a
        slice or a boolean mask of shape (n_spectra,).

        Raises
        ------
        ValidationError
            Unknown labels, indices out of range, a mask of the wrong shape, or an empty
            selection.
        """
        if isinstance(key, str):
            key = [key]
        if isinstance(key, (int, np.integer)):
            key = [int(key)]
        if isinstance(key, slice):
            return np.arange(self.n_spectra)[key]
        arr = np.asarray(list(key) if not isinstance(key, np.ndarray) else key)
        if arr.dtype == bool:
            if arr.shape != (self.n_spectra,):
                raise ValidationError(
                    f"boolean mask must have shape ({self.n_spectra},); got {arr.shape}"
                )
            idx = np.nonzero(arr)[0]
        elif arr.dtype.kind in "iu":
            idx = arr.astype(int)
            if ((idx < -self.n_spectra) | (idx >= self.n_spectra)).any():
                raise ValidationError(
                    f"spectrum index out of range for a series of {self.n_spectra}: {idx.tolist()}"
                )
            idx = idx % self.n_spectra
        elif arr.dtype.kind in "US":
            lookup = {lab: i for i, lab in reversed(list(enumerate(self.labels)))}
            missing = [str(k) for k in arr if str(k) not in lookup]
            if missing:
                raise ValidationError(
                    f"no spectrum labelled {missing}; labels are {list(self.labels)[:10]}"
                    + ("..." if self.n_spectra > 10 else "")
                )
            idx = np.array([lookup[str(k)] for k in arr], dtype=int)
        elif arr.size == 0:
            idx = np.array([], dtype=int)
        else:
            raise ValidationError(
                f"select() takes labels, indices or a boolean mask; got dtype {arr.dtype}"
            )
        if idx.size == 0:
            raise ValidationError("selection is empty: a Series needs at least one spectrum")
        return idx


    def select(self, key: Any) -> Series:
        """Select spectra by label(s), index/indices, slice or boolean mask.

        Coords, time and reference are carried along.
        """
        idx = self.indices(key)
        return Series(
            self.energy,
            self.mu[idx],
            labels=tuple(self.labels[i] for i in idx),
            time=None if self.time is None else self.time[idx],
            reference=None if self.reference is None else self.reference[idx],
            coords={k: v[idx] for k, v in self.coords.items()},
            meta=dict(self.meta),
        )

    def window(self, e_min: float | None = None, e_max: float | None = None) -> Series:
        """Keep the energies in ``[e_min, e_max]`` (eV, inclusive)."""
        lo = -np.inf if e_min is None else float(e_min)
        hi = np.inf if e_max is None else float(e_max)
        keep = (self.energy >= lo) & (self.energy <= hi)
        if keep.sum() < 2:
            raise ValidationError(
                f"window [{lo}, {hi}] eV keeps {int(keep.sum())} point(s) of the grid "
                f"{self.energy[0]:.2f}..{self.energy[-1]:.2f} eV; need at least 2"
            )
        return Series(
            self.energy[keep],
            self.mu[:, keep],
            labels=self.labels,
            time=self.time,
            reference=None if self.reference is None else self.reference[:, keep],
            coords=dict(self.coords),
            meta=dict(self.meta),
        )

    def interpolate(self, grid: Any) -> Series:
        """Linearly interpolate every spectrum (and reference) onto ``grid`` (eV).

        Raises if ``grid`` extends beyond the data: extrapolation is never silent.
        """
        grid = np.asarray(grid, dtype=float)
        _check_energy(grid)
        if grid[0] < self.energy[0] - 1e-9 or grid[-1] > self.energy[-1] + 1e-9:
            raise ValidationError(
                f"grid {grid[0]:.2f}..{grid[-1]:.2f} eV extends beyond the data "
                f"{self.energy[0]:.2f}..{self.energy[-1]:.2f} eV; interpolation would extrapolate"
            )
        meta = dict(self.meta)
        meta["interpolation"] = {
            "method": "linear",
            "from": [float(self.energy[0]), float(self.energy[-1]), int(self.n_energy)],
            "to": [float(grid[0]), float(grid[-1]), int(grid.size)],
        }
        return Series(
            grid,
            interp_rows(grid, self.energy, self.mu),
            labels=self.labels,
            time=self.time,
            reference=None
            if self.reference is None
            else interp_rows(grid, self.energy, self.reference),
            coords=dict(self.coords),
            meta=meta,
        )

    @staticmethod
    def concat(series: Sequence[Series], grid: Any = None) -> Series:
        """Stack several series into one.

        Parameters
        ----------
        series
            The series to join, in order.
        grid
            ``None`` (default): all must share the same energy grid. An array (eV):
            every series is interpolated onto it. ``"first"``: onto the first series' grid.
            ``"union"``: onto the union of all grids over their common range, no step
            finer than the finest input's median step (`union_grid`). Every spectrum is
            clipped to the common range: the clipped ones are listed in
            ``meta["concat"]["trimmed"]`` and, for ``"first"`` and ``"union"``, announced
            by a `GridTrimWarning`.
        """
        series = list(series)
        if not series:
            raise ValidationError("concat needs at least one Series")
        target = _concat_grid(series, grid)
        parts = [s if target is None else s.interpolate(target) for s in series]
        has_time = [s.time is not None for s in series]
        if any(has_time) and not all(has_time):
            raise ValidationError("concat: either all series carry time or none does")
        has_ref = [s.reference is not None for s in series]
        if any(has_ref) and not all(has_ref):
            raise ValidationError("concat: either all series carry a reference or none does")
        names = set().union(*(s.coords for s in series))
        coords = {}
        for name in sorted(names):
            vals = [
                s.coords[name] if name in s.coords else np.full(s.n_spectra, np.nan) for s in parts
            ]
            kinds = {v.dtype.kind for v in vals}
            if kinds & {"U", "S"}:
                vals = [v.astype(str) for v in vals]
            coords[name] = np.concatenate(vals)
        time = None
        if all(has_time):
            kinds = {s.time.dtype.kind for s in series}
            if len(kinds) > 1:
                raise ValidationError(
                    "concat: cannot mix absolute (datetime64) and elapsed-seconds time"
                )
            time = np.concatenate([s.time for s in parts])
        meta = dict(series[0].meta)
        edge = _common_edge(series)
        if edge is not None:
            meta["edge"] = edge
        trimmed = [] if target is None else trimmed_ranges(series, target)
        meta["concat"] = {
            "n_series": len(series),
            "grid": "same" if target is None else (grid if isinstance(grid, str) else "array"),
            "interpolation": None if target is None else "linear",
            "trimmed": trimmed,
        }
        if trimmed and isinstance(grid, str):  # an explicit grid's range is the caller's choice
            warnings.warn(_trim_note(trimmed, target), GridTrimWarning, stacklevel=2)
        return Series(
            parts[0].energy,
            np.concatenate([s.mu for s in parts]),
            labels=tuple(lab for s in parts for lab in s.labels),
            time=time,
            reference=np.concatenate([s.reference for s in parts]) if all(has_ref) else None,
            coords=coords,
            meta=meta,
        )

    # ----------------------------------------------------------------- xarray
    def to_xarray(self) -> xr.Dataset:
        """Return an ``xarray.Dataset`` with dims ``(spectrum, energy)``.

        ``mu`` (and ``reference``) are data variables; labels, time and coords are
        non-dimension coordinates on the ``spectrum`` axis; ``meta`` is stored as JSON
        in ``attrs["speciate_meta"]``.
        """
        import xarray as xr

        coords: dict[str, Any] = {
            "energy": ("energy", np.array(self.energy), {"units": "eV"}),
            "label": ("spectrum", np.array(self.labels, dtype=str)),
        }
        if self.time is not None:
            attrs = {"units": "s"} if self.time.dtype.kind == "f" else {}
            coords["time"] = ("spectrum", np.array(self.time), attrs)
        for name, values in self.coords.items():
            coords[name] = ("spectrum", np.array(values))
        data_vars = {"mu": (("spectrum", "energy"), np.array(self.mu))}
        if self.reference is not None:
            data_vars["reference"] = (("spectrum", "energy"), np.array(self.reference))
        attrs = {
            "speciate_meta": json.dumps(dict(self.meta)),
            "speciate_coords": json.dumps(list(self.coords)),
            "speciate_type": "Series",
        }
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    @classmethod
    def from_xarray(cls, ds: xr.Dataset) -> Series:
        """Inverse of `to_xarray`."""
        if "mu" not in ds or "energy" not in ds.coords:
            raise ValidationError(
                "expected a Dataset with a 'mu' variable (spectrum, energy) and an 'energy' "
                f"coordinate; found variables {list(ds.data_vars)} and coords {list(ds.coords)}"
            )
        mu = ds["mu"].transpose("spectrum", "energy").values
        names = json.loads(ds.attrs.get("speciate_coords", "null") or "null")
        if names is None:
            skip = {"energy", "label", "time"}
            names = [c for c in ds.coords if c not in skip and ds[c].dims == ("spectrum",)]
        coords = {}
        for name in names:
            vals = ds[name].values
            if vals.dtype.kind in "OS":
                vals = vals.astype(str)
            coords[name] = vals
        labels = tuple(str(x) for x in ds["label"].values) if "label" in ds.coords else ()
        time = ds["time"].values if "time" in ds.coords else None
        ref = None
        if "reference" in ds:
            ref = ds["reference"].transpose("spectrum", "energy").values
        meta = json.loads(ds.attrs.get("speciate_meta", "{}") or "{}")
        return cls(
            ds["energy"].values,
            mu,
            labels=labels,
            time=time,
            reference=ref,
            coords=coords,
            meta=meta,
        )

    def to_netcdf(self, path: Any) -> None:
        """Write the series to NetCDF (read back with `speciate.io.read`), atomically."""
        from speciate._atomic import atomic_path

        with atomic_path(path) as tmp:
            self.to_xarray().to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False)


class GridTrimWarning(UserWarning):
    """Stacking onto a common grid cut some spectra's energy range."""


def _trim_note(trimmed: list[dict[str, Any]], grid: np.ndarray) -> str:
    worst = max(trimmed, key=lambda t: t["cut_low_ev"] + t["cut_high_ev"])
    return (
        f"{len(trimmed)} spectra trimmed to the common range {grid[0]:.2f}..{grid[-1]:.2f} eV "
        f"({grid.size} points); most cut: {worst['label']!r} "
        f"({worst['own'][0]:.2f}..{worst['own'][1]:.2f} eV, {worst['cut_low_ev']:.1f} eV "
        f"below and {worst['cut_high_ev']:.1f} eV above)"
    )


def interp_rows(grid: np.ndarray, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row of ``rows`` (n, len(x)) onto ``grid``, vectorized.

    Returns an array of shape (n, len(grid)). ``x`` must be increasing and cover ``grid``.
    """
    grid = np.asarray(grid, dtype=float)
    idx = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, x.size - 2)
    x0 = x[idx]
    t = (grid - x0) / (x[idx + 1] - x0)
    rows = np.asarray(rows, dtype=float)
    return rows[..., idx] * (1.0 - t) + rows[..., idx + 1] * t


def merge_duplicates(
    energy: np.ndarray, mu: np.ndarray, reference: np.ndarray | None, duplicates: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Handle repeated energies of a sorted grid: ``"error"``, ``"mean"`` or ``"first"``.

    Returns the new energy, mu, reference and the number of points removed.
    """
    if duplicates not in ("error", "mean", "first"):
        raise ValidationError(f"duplicates must be 'error', 'mean' or 'first'; got {duplicates!r}")
    uniq, start, counts = np.unique(energy, return_index=True, return_counts=True)
    n_dup = int(energy.size - uniq.size)
    if n_dup == 0:
        return energy, mu, reference, 0
    if duplicates == "error":
        first = float(uniq[counts > 1][0])
        raise ValidationError(
            f"energy has {n_dup} repeated point(s) (first at {first:.4f} eV); pass "
            "duplicates='mean' to average them or duplicates='first' to keep the first"
        )
    if duplicates == "first":
        ref = None if reference is None else reference[:, start]
        return uniq, mu[:, start], ref, n_dup

    def _mean(a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a, start, axis=1) / counts

    ref = None if reference is None else _mean(reference)
    return uniq, _mean(mu), ref, n_dup


def _local_step(energy: np.ndarray, at: np.ndarray, width: int = 5) -> np.ndarray:
    """Typical spacing (eV) of ``energy`` around each of ``at``: the median of the
    ``width`` steps centred on the interval holding it (a single odd step is ignored)."""
    steps = np.diff(energy)
    if steps.size >= width:
        window = np.lib.stride_tricks.sliding_window_view(steps, width)
        smooth = np.median(window, axis=-1)
        smooth = np.concatenate([np.full(width // 2, smooth[0]), smooth,
                                 np.full(width - 1 - width // 2, smooth[-1])])  # fmt: skip
    else:
        smooth = np.full(steps.size, np.median(steps))
    idx = np.clip(np.searchsorted(energy, at, side="right") - 1, 0, steps.size - 1)
    return smooth[idx]


def union_grid(energies: Sequence[np.ndarray]) -> np.ndarray:
    """The union of several energy grids over their common range, thinned so that no step
    is finer than the finest input's typical step at that energy.

    Grids that almost coincide (the same scan recorded a few meV apart) would otherwise
    interleave into steps of 1e-4 eV, where a derivative is noise. Each point is kept only
    if it lies at least ``h(E)`` from the previous kept point, with ``h(E)`` the smallest
    local step (median of five neighbouring steps) of the inputs at ``E``: a fine edge
    region of one scan survives beside coarse ones. The common range's ends are kept.

    Parameters
    ----------
    energies
        Increasing grids (eV), any lengths.

    Returns
    -------
    numpy.ndarray
        Increasing grid (eV) inside the common range.
    """
    grids = [np.asarray(e, dtype=float) for e in energies]
    lo = max(float(e[0]) for e in grids)
    hi = min(float(e[-1]) for e in grids)
    if not lo < hi:
        raise ValidationError(
            f"the grids share no energy range (latest start {lo:.2f} eV, earliest end {hi:.2f} eV)"
        )
    points = np.unique(np.concatenate(grids))
    points = points[(points >= lo) & (points <= hi)]
    finest = np.min([_local_step(e, points) for e in grids], axis=0) * (1 - 1e-9)
    # greedy thinning: a loop over points, O(n) for the few thousand points of a union
    kept = [0]
    for k in range(1, points.size - 1):
        if points[k] - points[kept[-1]] >= finest[k] and hi - points[k] >= finest[k]:
            kept.append(k)
    kept.append(points.size - 1)
    return points[kept]


def trimmed_ranges(series: Sequence[Series], grid: np.ndarray) -> list[dict[str, Any]]:
    """Series whose own range reaches beyond ``grid`` (eV), with what was cut off."""
    out = []
    for i, s in enumerate(series):
        cut_lo = float(grid[0] - s.energy[0])
        cut_hi = float(s.energy[-1] - grid[-1])
        if cut_lo > 1e-6 or cut_hi > 1e-6:
            out.append(
                {
                    "index": i,
                    "label": s.labels[0],
                    "own": [float(s.energy[0]), float(s.energy[-1])],
                    "cut_low_ev": max(cut_lo, 0.0),
                    "cut_high_ev": max(cut_hi, 0.0),
                }
            )
    return out


def _concat_grid(series: list[Series], grid: Any) -> np.ndarray | None:
    if grid is None:
        first = series[0].energy
        for i, s in enumerate(series[1:], start=1):
            if s.energy.shape != first.shape or not np.allclose(s.energy, first, rtol=0, atol=1e-9):
                raise ValidationError(
                    f"concat: series {i} has a different energy grid ({s.n_energy} points, "
                    f"{s.energy[0]:.2f}..{s.energy[-1]:.2f} eV) than series 0 ({first.size} "
                    f"points, {first[0]:.2f}..{first[-1]:.2f} eV); pass grid='first', "
                    "grid='union' or an array to interpolate"
                )
        return None
    if isinstance(grid, str):
        if grid == "first":
            lo = max(s.energy[0] for s in series)
            hi = min(s.energy[-1] for s in series)
            e = series[0].energy
            return e[(e >= lo) & (e <= hi)]
        if grid == "union":
            return union_grid([s.energy for s in series])
        raise ValidationError(f"grid must be None, 'first', 'union' or an array; got {grid!r}")
    return np.asarray(grid, dtype=float)
