"""Standards -> one design matrix on the data grid, with coverage and collinearity checks.

Every fit in `speciate.fit` starts here: the data (a `NormResult` or a normalized
`Series`) is cut to the fit window, and every standard (experimental or theoretical,
on any grid) becomes a cubic spline that is evaluated on the data grid once. For fitted
per-standard shifts the spline is tabulated at evenly spaced shifts (`ShiftTable`), and a
standard at any shift is interpolated from that table; fixed shifts use the spline itself.
Splines, window matrices and shift tables of recently used standards are cached, so refits
skip their set-up.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.sparse import csr_matrix

from speciate._arrays import freeze
from speciate._arrays import readonly_copy as _readonly
from speciate.errors import FitError, ValidationError
from speciate.series import Series
from speciate.xanes.normalized import Normalized, as_normalized

__all__ = ["Design", "FitData", "ShiftTable", "Standards", "as_fit_data", "as_standards",
           "make_design"]  # fmt: skip

# Two standards whose shapes on the fit window agree to this cosine are the same spectrum.
_DUPLICATE_COSINE = 1.0 - 1e-8
# Above this condition number (columns scaled to unit norm) the weights are not determined:
# noise is amplified ~cond times (the six Mn oxide standards together give ~100).
_MAX_CONDITION = 2e3
_SPLINE_MARGIN = 16
# Splines of recently used standards, keyed by the content of their points and the range:
# refitting with the same standards (interactive work, combinations, scans) skips the
# spline set-up, which dominates a plain fit of a few hundred spectra.
_SPLINE_CACHE: OrderedDict[tuple[bytes, int, int], CubicSpline] = OrderedDict()
_SPLINE_CACHE_SIZE = 128
# The standards evaluated on a fit window (and found not collinear there), for refits.
_MATRIX_CACHE: OrderedDict[tuple[tuple[int, ...], bytes], tuple[tuple, np.ndarray, bool]] = (
    OrderedDict()
)
# Fitted shifts evaluate the standards from a table at shifts this far apart (eV), by cubic
# Hermite interpolation in the shift. The error scales as step³: for the Mn standards
# sampled every ~1 eV it is < 2e-6 of the edge step at 0.05 eV (0.05 % of 0.3 % noise).
_SHIFT_STEP = 0.05
# Tabulated standards of recently fitted (spline, grid, shift range): a refit with the same
# standards on the same grid (interactive work, combinations, scans) skips the
# tabulation, which costs ~2 ms per standard. Bounded by size, ~1 MB per standard for
# a 500-point window and ±3 eV.
_TABLE_CACHE: OrderedDict[tuple[int, bytes, int, float], tuple[Any, np.ndarray]] = OrderedDict()
_TABLE_CACHE_BYTES = 64 * 2**20


def _spline(e: np.ndarray, v: np.ndarray) -> CubicSpline:
    """A natural cubic spline through (e, v), from the cache when the same points were
    splined recently."""
    digest = hashlib.blake2b(e.tobytes(), digest_size=16)
    digest.update(v.tobytes())
    key = (digest.digest(), e.size, v.size)
    spline = _SPLINE_CACHE.get(key)
    if spline is None:
        spline = CubicSpline(e, v, bc_type="natural")
        _SPLINE_CACHE[key] = spline
        if len(_SPLINE_CACHE) > _SPLINE_CACHE_SIZE:
            _SPLINE_CACHE.popitem(last=False)
    else:
        _SPLINE_CACHE.move_to_end(key)
    return spline


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` itself when it is a read-only float array (a `Series` or `NormResult` array),
    else a read-only copy."""
    if a.dtype == float and not a.flags.writeable:
        return a
    return _readonly(a)


def _window_rows(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values[:, mask]`` read-only; a view (no copy) when the window is one contiguous
    run of points and ``values`` is itself read-only (a `Series` or `NormResult` array)."""
    idx = np.flatnonzero(mask)
    if not values.flags.writeable and idx[-1] - idx[0] + 1 == idx.size:
        out = values[:, idx[0] : idx[-1] + 1]
    else:
        out = values[:, mask]
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class FitData:
    """The spectra to fit, on their own grid, before windowing.

    Attributes
    ----------
    energy : (n_energy,) eV
    values : (n_spectra, n_energy) the fitted array (``norm`` by default)
    e0 : (n_spectra,) eV or None when unknown
    labels, time, coords : carried from the input
    """

    energy: np.ndarray
    values: np.ndarray
    e0: np.ndarray | None
    labels: tuple[str, ...]
    time: np.ndarray | None
    coords: Any


@dataclass(frozen=True, eq=False)
class Standards:
    """Reference spectra, each kept on its own grid as a cubic spline.

    Attributes
    ----------
    names : (k,) standard names (labels)
    energies : k arrays (n_energy_j,) eV
    values : k arrays (n_energy_j,)
    coords : per-standard coordinates (``phase``, ``radius``...) as (k,) arrays
    """

    names: tuple[str, ...]
    energies: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    coords: dict[str, np.ndarray]

    @property
    def k(self) -> int:
        """Number of standards."""
        return len(self.names)

    def splines(self, lo: float = -np.inf, hi: float = np.inf) -> list[CubicSpline]:
        """One cubic spline per standard, built on its points around ``lo..hi`` eV.

        A natural spline's end condition fades by ~4x per knot, so keeping
        `_SPLINE_MARGIN` knots beyond the range makes the cut invisible while the
        spline stays cheap to build for long EXAFS-range standards.
        """
        out = []
        for e, v in zip(self.energies, self.values):
            i0 = max(int(np.searchsorted(e, lo)) - _SPLINE_MARGIN, 0)
            i1 = min(int(np.searchsorted(e, hi, side="right")) + _SPLINE_MARGIN, e.size)
            out.append(_spline(e[i0:i1], v[i0:i1]))
        return out

    def select(self, idx: Sequence[int]) -> Standards:
        """The standards at positions ``idx``."""
        idx = [int(i) for i in idx]
        return Standards(
            names=tuple(self.names[i] for i in idx),
            energies=tuple(self.energies[i] for i in idx),
            values=tuple(self.values[i] for i in idx),
            coords={key: val[idx] for key, val in self.coords.items()},
        )


def _values_of(obj: Any, array: str, what: str) -> Normalized:
    if not (isinstance(obj, Series) or hasattr(obj, "norm")):
        raise ValidationError(
            f"{what} must be a NormResult or an already-normalized Series; got {type(obj).__name__}"
        )
    return as_normalized(obj, array)


def as_fit_data(data: Any, array: str = "norm") -> FitData:
    """Turn a `NormResult` (its ``array``) or a normalized `Series` into `FitData`.

    The NaN policy is `speciate.xanes.as_normalized`'s: NaN marks energies a spectrum
    does not cover; spectra that are NaN everywhere are rejected, naming them.
    """
    norm = _values_of(data, array, "data")
    e0 = None if np.isnan(norm.e0).all() else np.asarray(norm.e0)
    return FitData(
        energy=norm.energy,
        values=norm.norm,
        e0=e0,
        labels=norm.labels,
        time=norm.time,
        coords=dict(norm.coords),
    )


def as_standards(standards: Any, array: str = "norm") -> Standards:
    """Collect standards from a `NormResult`/`Series` or a sequence of them.

    Every spectrum of every item is one standard, named by its label. Per-spectrum
    coords (``phase``, ``radius``, ``engine``...) are kept where all items have them.
    """
    items = [standards] if not isinstance(standards, (list, tuple)) else list(standards)
    if not items:
        raise FitError("no standards given; expected at least one")
    names: list[str] = []
    energies: list[np.ndarray] = []
    values: list[np.ndarray] = []
    coord_parts: list[dict[str, np.ndarray]] = []
    for n, item in enumerate(items):
        norm = _values_of(item, array, f"standards[{n}]")
        energy, vals = norm.energy, norm.norm
        bad = ~np.isfinite(vals)
        if bad.any():
            row = int(np.nonzero(bad.any(axis=1))[0][0])
            raise FitError(
                f"standard {norm.labels[row]!r} has {int(bad[row].sum())} NaN/inf value(s); "
                "standards must be finite"
            )
        # one entry per standard (a handful), each keeping its own energy grid: the
        # spectra themselves are never looped over
        for row in range(vals.shape[0]):
            names.append(str(norm.labels[row]))
            energies.append(_frozen(energy))
            values.append(_frozen(vals[row]))
        coord_parts.append({key: np.asarray(val) for key, val in norm.coords.items()})
    shared = set.intersection(*(set(c) for c in coord_parts)) if coord_parts else set()
    coords = {key: np.concatenate([c[key] for c in coord_parts]) for key in sorted(shared)}
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise FitError(f"standard names must be unique; repeated: {dup}")
    return Standards(tuple(names), tuple(energies), tuple(values), coords)


def fit_window(
    data: FitData,
    e_range: tuple[float, float],
    relative_to: str,
    e0: float | None,
) -> tuple[np.ndarray, float | None]:
    """Boolean mask of the data grid inside the fit window, and the reference E0 used (eV)."""
    lo, hi = (float(x) for x in e_range)
    if not lo < hi:
        raise ValidationError(f"e_range must be (start, end) with start < end; got {e_range}")
    if relative_to == "absolute":
        ref = None
        window = (lo, hi)
    elif relative_to == "e0":
        if e0 is not None:
            ref = float(e0)
        elif data.e0 is not None:
            ref = float(np.median(data.e0))
        else:
            raise ValidationError(
                "relative_to='e0' needs an edge energy: pass e0= or data with E0 (a NormResult "
                "or a Series with an 'e0' coordinate); or use relative_to='absolute'"
            )
        window = (ref + lo, ref + hi)
    else:
        raise ValidationError(f"relative_to must be 'e0' or 'absolute'; got {relative_to!r}")
    mask = (data.energy >= window[0]) & (data.energy <= window[1])
    if not mask.any():
        raise FitError(
            f"the fit window {window[0]:.2f}..{window[1]:.2f} eV holds no data points "
            f"(data span {data.energy[0]:.2f}..{data.energy[-1]:.2f} eV)"
        )
    return mask, ref


@dataclass(frozen=True, eq=False)
class ShiftTable:
    """Standards tabulated at evenly spaced shifts, evaluated at any shift in ±reach.

    Standard j at shift δ (eV) is ``S_j(E − δ)``; between the tabulated shifts
    ``δ_m = (m − half)·step`` it is the cubic Hermite interpolant of the tabulated values
    and derivatives, so a shift costs a combination of four tabulated rows per spectrum
    and standard instead of spline calls at every point.

    Attributes
    ----------
    rows : (k · n_grid · 2, n_energy) for standard j and m = 0..n_grid−1, row
        ``2(j·n_grid + m)`` holds ``S_j(E − δ_m)`` and the next row its derivative with
        respect to ``m`` (``−step · S_j′(E − δ_m)``)
    step : float, eV between tabulated shifts
    half : int, index of the zero shift (n_grid = 2·half + 1)
    k : int, number of standards
    """

    rows: np.ndarray
    step: float
    half: int
    k: int

    def evaluate(self, shifts: np.ndarray, part: str = "both") -> np.ndarray:
        """Standards at ``E − shift`` and/or their derivatives with respect to the shift
        (per eV, ``−S′(E − shift)``).

        Parameters
        ----------
        shifts
            (n, k) eV, within ±``half·step``.
        part
            ``"values"``, ``"slopes"`` or ``"both"``.

        Returns
        -------
        numpy.ndarray
            (n, k, n_energy) values or slopes; (n, 2k, n_energy) for ``"both"``, values
            first. A zero shift gives the tabulated values exactly.
        """
        n, k = shifts.shape
        n_grid = 2 * self.half + 1
        u = shifts / self.step + self.half
        m = np.clip(np.floor(u), 0, n_grid - 2).astype(np.intp)
        t = u - m
        t2 = t * t
        t3 = t2 * t
        coef = []
        if part in ("values", "both"):
            coef.append(np.stack([2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, 3 * t2 - 2 * t3,
                                  t3 - t2], -1))  # fmt: skip
        if part in ("slopes", "both"):
            d = np.stack([6 * t2 - 6 * t, 3 * t2 - 4 * t + 1, 6 * t - 6 * t2, 3 * t2 - 2 * t], -1)
            coef.append(d / self.step)
        data = np.stack(coef, axis=1)  # (n, 1 or 2, k, 4)
        first = 2 * (np.arange(k) * n_grid + m)  # (n, k): row of the value at m
        cols = np.broadcast_to(first[:, None, :, None] + np.arange(4), data.shape)
        nnz = data.size
        pick = csr_matrix(
            (data.ravel(), cols.ravel(), np.arange(0, nnz + 1, 4)),
            shape=(nnz // 4, self.rows.shape[0]),
        )
        return (pick @ self.rows).reshape(n, data.shape[1] * k, -1)


def _tabulate(spline: CubicSpline, energy: np.ndarray, half: int, step: float) -> np.ndarray:
    """(2·n_grid, n_energy) rows of one standard for `ShiftTable`, from the cache when
    the same spline was tabulated on the same grid recently."""
    key = (id(spline), hashlib.blake2b(energy.tobytes(), digest_size=16).digest(), half, step)
    hit = _TABLE_CACHE.get(key)
    if hit is not None and hit[0]() is spline:  # the id is this spline's, not a dead one's
        _TABLE_CACHE.move_to_end(key)
        return hit[1]
    grid = (np.arange(2 * half + 1) - half) * step
    points = energy[None, :] - grid[:, None]
    # value and derivative from one interval search in the spline's pieces
    i = np.clip(np.searchsorted(spline.x, points, side="right") - 1, 0, spline.x.size - 2)
    dx = points - spline.x[i]
    c0, c1, c2, c3 = (c[i] for c in spline.c)
    rows = np.empty((grid.size, 2, energy.size))
    rows[:, 0] = ((c0 * dx + c1) * dx + c2) * dx + c3
    rows[:, 1] = -step * ((3.0 * c0 * dx + 2.0 * c1) * dx + c2)
    rows[half, 0] = spline(energy)  # no shift: bit for bit the design matrix
    rows = rows.reshape(-1, energy.size)
    rows.setflags(write=False)
    _TABLE_CACHE[key] = (weakref.ref(spline), rows)
    total = sum(r.nbytes for _, r in _TABLE_CACHE.values())
    while total > _TABLE_CACHE_BYTES and len(_TABLE_CACHE) > 1:
        total -= _TABLE_CACHE.popitem(last=False)[1][1].nbytes
    return rows


@dataclass(frozen=True, eq=False)
class Design:
    """Standards evaluated on the data's fit window.

    Attributes
    ----------
    energy : (n_energy,) eV, the data grid inside the fit window
    y : (n_spectra, n_energy) the data inside the window
    matrix : (n_energy, k) the standards on that grid (unshifted)
    names : (k,) standard names
    splines : k cubic splines of the standards (for shifted evaluation)
    e0 : reference E0 of the window (eV), or None for an absolute window
    """

    energy: np.ndarray
    y: np.ndarray
    matrix: np.ndarray
    names: tuple[str, ...]
    splines: tuple[CubicSpline, ...]
    e0: float | None

    def shifted(self, shifts: np.ndarray, derivative: bool = False) -> np.ndarray:
        """Standards at ``energy - shift`` from the splines, shape (n_spectra, n_energy, k).

        ``shifts`` (n_spectra, k) in eV; with ``derivative=True`` the energy
        derivative of each standard at the same points (per eV).
        """
        shifts = np.asarray(shifts, dtype=float)
        out = np.empty((shifts.shape[0], self.energy.size, len(self.splines)))
        for j, spline in enumerate(self.splines):  # k <= a handful of standards
            points = self.energy[None, :] - shifts[:, j, None]
            out[:, :, j] = spline(points, 1 if derivative else 0)
        return out

    def shift_table(self, reach: float) -> ShiftTable:
        """The standards tabulated at shifts within ±``reach`` eV, `_SHIFT_STEP` apart
        (or a little closer so that ±reach are tabulated)."""
        half = max(int(np.ceil(reach / _SHIFT_STEP - 1e-9)), 1)
        step = reach / half
        blocks = [_tabulate(spline, self.energy, half, step) for spline in self.splines]
        rows = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return ShiftTable(rows=rows, step=step, half=half, k=len(blocks))

    def subset(self, idx: Sequence[int]) -> Design:
        """The same design restricted to the standards at positions ``idx``."""
        idx = [int(i) for i in idx]
        names = tuple(self.names[i] for i in idx)
        return Design(
            energy=self.energy,
            y=self.y,
            matrix=_readonly(self.matrix[:, idx]),
            names=names,
            splines=tuple(self.splines[i] for i in idx),
            e0=self.e0,
        )

    def shifted_with_slope(self, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standards and their energy derivatives (per eV) at ``energy - shift``, both
        (n_spectra, n_energy, k)."""
        return self.shifted(shifts), self.shifted(shifts, derivative=True)


def make_design(
    data: FitData,
    standards: Standards,
    mask: np.ndarray,
    e0: float | None,
    max_shift: float = 0.0,
    check: bool = True,
) -> Design:
    """Evaluate the standards on the data's fit window and check they can be fitted.

    With ``check=False`` the standards are not tested for collinearity all together
    (a caller fitting them in groups, such as `speciate.fit.scan`, checks each group).

    Raises
    ------
    FitError
        When a standard does not cover the window (widened by ``max_shift`` eV), when
        the window has fewer points than standards, when data are not finite inside the
        window, or when standards are duplicate or collinear (naming them).
    """
    energy = data.energy[mask]
    lo, hi = energy[0] - max_shift, energy[-1] + max_shift
    short = [
        f"{name!r} ({e[0]:.2f}..{e[-1]:.2f} eV)"
        for name, e in zip(standards.names, standards.energies)
        if e[0] > lo + 1e-9 or e[-1] < hi - 1e-9
    ]
    if short:
        raise FitError(
            f"standards must cover the fit range {lo:.2f}..{hi:.2f} eV"
            + (f" (window ± max_shift {max_shift:g} eV)" if max_shift else "")
            + f"; these do not: {', '.join(short)}"
        )
    k = standards.k
    if k > energy.size:
        raise FitError(
            f"{k} standards but only {energy.size} data points in the fit window "
            f"{energy[0]:.2f}..{energy[-1]:.2f} eV; need more points than standards"
        )
    y = _window_rows(data.values, mask)
    _check_finite(y)
    splines = tuple(standards.splines(lo, hi))
    return Design(
        energy=freeze(energy),
        y=y,
        matrix=_standards_matrix(splines, energy, standards.names, check),
        names=standards.names,
        splines=splines,
        e0=e0,
    )


def _standards_matrix(
    splines: tuple[CubicSpline, ...], energy: np.ndarray, names: Sequence[str], check: bool
) -> np.ndarray:
    """The standards on the window grid, (n_energy, k) read-only, checked for collinearity
    when ``check``; from the cache when the same splines were used on the same grid."""
    key = (tuple(id(s) for s in splines), hashlib.blake2b(energy.tobytes()).digest())
    hit = _MATRIX_CACHE.get(key)
    if hit is not None and all(r() is s for r, s in zip(hit[0], splines)) and hit[2] >= check:
        _MATRIX_CACHE.move_to_end(key)
        return hit[1]
    matrix = np.stack([s(energy) for s in splines], axis=1)
    if check:
        check_collinearity(matrix, names)
    matrix.setflags(write=False)
    _MATRIX_CACHE[key] = (tuple(weakref.ref(s) for s in splines), matrix, check)
    if len(_MATRIX_CACHE) > _SPLINE_CACHE_SIZE:
        _MATRIX_CACHE.popitem(last=False)
    return matrix


def _check_finite(y: np.ndarray) -> None:
    """Raise `FitError` naming the spectra with NaN/inf values in the window."""
    if np.isfinite(y.sum(axis=1)).all():  # any NaN/inf makes its row sum non-finite
        return
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.nonzero(bad.any(axis=1))[0]
        raise FitError(
            f"data spectra {rows[:10].tolist()} have NaN/inf inside the fit window "
            f"({int(bad.sum())} value(s)); expected finite values"
        )


def check_collinearity(matrix: np.ndarray, names: Sequence[str]) -> None:
    """Raise `FitError` naming duplicate or (near-)collinear standards.

    Parameters
    ----------
    matrix
        (n_energy, k) standards on the fit grid.
    names
        (k,) their names.
    """
    gram = matrix.T @ matrix
    norms = np.sqrt(np.diagonal(gram))
    zero = np.nonzero(norms == 0)[0]
    if zero.size:
        raise FitError(f"standards {[names[i] for i in zero]} are zero on the whole fit window")
    cosine = gram / np.outer(norms, norms)
    dup = np.argwhere(np.triu(cosine, 1) > _DUPLICATE_COSINE)
    if dup.size:
        pairs = [f"{names[i]!r} and {names[j]!r}" for i, j in dup]
        raise FitError(
            f"duplicate standards on the fit window (same shape): {'; '.join(pairs)}; "
            "drop one of each pair"
        )
    # eigenvalues of the cosine matrix are the squared singular values of the unit-norm
    # columns; the ratio needed here (~1e6 at most) is far above their rounding error
    lam, vec = np.linalg.eigh(cosine)
    cond = np.sqrt(lam[-1] / lam[0]) if lam[0] > 0 else np.inf
    if cond > _MAX_CONDITION:
        v = np.abs(vec[:, 0])
        involved = [names[i] for i in np.nonzero(v > 0.1 * v.max())[0]]
        raise FitError(
            f"standards {involved} are collinear on the fit window (condition number "
            f"{cond:.3g} > {_MAX_CONDITION:.0f}): one is a combination of the others; drop one"
        )
