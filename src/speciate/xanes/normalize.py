"""Pre-edge subtraction and edge-step normalization, vectorized over a whole series.

Conventions follow Larch/Athena: E0 at the maximum of the first derivative unless
given; the pre-edge line is fitted to mu over ``e0 + pre``; the post-edge polynomial
is fitted to ``mu - pre_edge`` over ``e0 + post``; the edge step is the post-edge
polynomial at E0; ``flat`` also removes the post-edge curvature above E0. By default
the ranges and degrees are chosen per spectrum (`speciate.xanes.ranges`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from math import comb
from typing import Any, NamedTuple

import numpy as np
from scipy.linalg.blas import dgemm

from speciate._arrays import freeze as _readonly
from speciate._arrays import readonly_copy, readonly_view
from speciate.errors import ValidationError
from speciate.provenance import jsonable, records_provenance
from speciate.series import Series
from speciate.xanes.ranges import (
    PRE_LINE_SPAN,
    adaptive_post_order,
    adaptive_post_range,
    adaptive_pre_range,
    looks_normalized,
)

__all__ = ["NormResult", "find_e0", "normalize"]

# A real absorption edge stands far above derivative noise; a flat or noise-only
# spectrum has max|dmu/dE| only a few times its median.
_EDGE_CONTRAST = 8.0


@dataclass(frozen=True, eq=False)
class NormResult:
    """Normalized spectra and everything used to get them.

    Attributes
    ----------
    energy : (n_energy,) eV
    mu : (n_spectra, n_energy) the input spectra
    norm : (n_spectra, n_energy) ``(mu - pre_edge) / edge_step``
    flat : (n_spectra, n_energy) ``norm`` with the post-edge curvature removed above E0,
        computed from ``post_coefs`` on first access (fits use ``norm``; most never need it)
    e0 : (n_spectra,) eV
    edge_step : (n_spectra,) in units of mu
    pre_coefs : (n_spectra, 2) pre-edge line in powers of (E - e0): offset at E0, slope per eV
    post_coefs : (n_spectra, post_order + 1) polynomial fitted to ``mu - pre_edge`` in powers of
        (E - e0), lowest power first; ``post_coefs[:, 0]`` is the edge step
    pre_range, post_range : (n_spectra, 2) eV relative to E0, the ranges actually used
        (after clipping to the data)
    labels, time, coords, meta : carried from the input `Series`
    provenance : dict, the call, parameters and what was clipped
    pre_order, post_order : (n_spectra,) int, degrees of the pre-edge (0 = constant,
        1 = line) and post-edge polynomials actually used; None when not recorded
    """

    energy: np.ndarray
    mu: np.ndarray
    norm: np.ndarray
    e0: np.ndarray
    edge_step: np.ndarray
    pre_coefs: np.ndarray
    post_coefs: np.ndarray
    pre_range: np.ndarray
    post_range: np.ndarray
    labels: tuple[str, ...]
    time: np.ndarray | None
    coords: Mapping[str, np.ndarray]
    meta: Mapping[str, Any]
    provenance: Mapping[str, Any]
    pre_order: np.ndarray | None = None
    post_order: np.ndarray | None = None

    @property
    def n_spectra(self) -> int:
        """Number of spectra."""
        return int(self.norm.shape[0])

    def __len__(self) -> int:
        return self.n_spectra

    def __repr__(self) -> str:
        return (
            f"NormResult(n_spectra={self.n_spectra}, n_energy={self.energy.size}, "
            f"e0={np.round(self.e0[:3], 2).tolist()}{'...' if self.n_spectra > 3 else ''} eV)"
        )

    @cached_property
    def flat(self) -> np.ndarray:
        """(n_spectra, n_energy) ``norm`` minus ``(post_edge − post_edge(E0)) / edge_step``
        at and above each spectrum's E0 (read-only, computed once)."""
        return _flatten(self.energy, self.norm, self.e0, self.post_coefs, self.edge_step)

    @property
    def pre_edge(self) -> np.ndarray:
        """(n_spectra, n_energy) the fitted pre-edge line, in units of mu."""
        return _polyval_t(self.pre_coefs, self.energy, self.e0)

    @property
    def post_edge(self) -> np.ndarray:
        """(n_spectra, n_energy) the post-edge curve including the pre-edge line (as in Larch)."""
        return self.pre_edge + _polyval_t(self.post_coefs, self.energy, self.e0)

    def to_series(self, kind: str = "norm") -> Series:
        """The normalized spectra as a `Series`.

        Parameters
        ----------
        kind
            ``"norm"``, ``"flat"`` or ``"mu"`` (the input).

        The returned series carries coords ``e0`` and ``edge_step`` (unless the input
        already had coords of those names) and ``meta["normalization"]``.
        """
        arrays = {"norm": self.norm, "flat": self.flat, "mu": self.mu}
        if kind not in arrays:
            raise ValidationError(f"kind must be one of {sorted(arrays)}; got {kind!r}")
        coords = dict(self.coords)
        coords.setdefault("e0", self.e0)
        coords.setdefault("edge_step", self.edge_step)
        meta = dict(self.meta)
        settings = self.provenance.get("settings", self.provenance.get("parameters", {}))
        meta["normalization"] = {"kind": kind, **dict(settings)}
        return Series(
            self.energy, arrays[kind], labels=self.labels, time=self.time, coords=coords, meta=meta
        )

    def select(self, key: Any) -> NormResult:
        """Select spectra (labels, indices, slice or mask) keeping every per-spectrum field."""
        idx = self.to_series("mu").indices(key)
        per_spectrum = {
            name: None if getattr(self, name) is None else getattr(self, name)[idx]
            for name in (
                "mu", "norm", "e0", "edge_step", "pre_coefs", "post_coefs",
                "pre_range", "post_range", "pre_order", "post_order",
            )
        }  # fmt: skip
        return NormResult(
            energy=self.energy,
            labels=tuple(self.labels[i] for i in idx),
            time=None if self.time is None else self.time[idx],
            coords={k: v[idx] for k, v in self.coords.items()},
            meta=self.meta,
            provenance=self.provenance,
            **per_spectrum,
        )


def find_e0(energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """E0 of every spectrum: the energy of the maximum of the lightly smoothed derivative.

    Parameters
    ----------
    energy
        (n_energy,) eV.
    mu
        (n_spectra, n_energy).

    Returns
    -------
    numpy.ndarray
        (n_spectra,) eV, each a point of the grid.

    Raises
    ------
    ValidationError
        When a spectrum shows no edge in the energy range.
    """
    energy = np.asarray(energy, dtype=float)
    mu = np.atleast_2d(np.asarray(mu, dtype=float))
    if energy.size < 7:
        raise ValidationError(f"need at least 7 energy points to find E0; got {energy.size}")
    idx, peak, noise = _steepest(mu, energy)
    no_edge = ~(peak > _EDGE_CONTRAST * np.maximum(noise, 1e-300))
    if no_edge.any():
        bad = np.nonzero(no_edge)[0]
        raise ValidationError(
            f"no absorption edge found in {energy[0]:.1f}..{energy[-1]:.1f} eV for spectrum "
            f"index(es) {bad[:10].tolist()}: the largest derivative is only "
            f"{float((peak / np.maximum(noise, 1e-300))[bad[0]]):.1f}x its median "
            f"(expected > {_EDGE_CONTRAST:g}x); check the energy range or pass e0="
        )
    return energy[idx]


def _steepest(mu: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index of the steepest rise of each row, its slope and the rows' median |slope|."""
    # slope across four intervals centred on each point (i-2 .. i+2): a light smoothing
    # that suppresses single-point glitches without moving the edge
    ds = mu[:, 4:] - mu[:, :-4]
    de = energy[4:] - energy[:-4]
    if np.ptp(de) > 1e-9 * de[0]:  # on a uniform grid the slope's scale cancels below
        ds /= de
    # the first and last three points are never taken as the edge
    ds[:, 0] = -np.inf
    ds[:, -1] = -np.inf
    idx = np.argmax(ds, axis=-1)
    peak = ds[np.arange(ds.shape[0]), idx]
    # a subsample is enough to estimate the typical slope
    sample = np.abs(ds[:, 1 : -1 : max(1, ds.shape[1] // 64)])
    middle = sample.shape[1] // 2  # the (upper) median: a partition is enough
    noise = np.partition(sample, middle, axis=1)[:, middle]
    return idx + 2, peak, noise


class _Window(NamedTuple):
    """A fit range of every spectrum, as a boolean block over the columns any spectrum uses."""

    cols: slice  # the block's columns in the full grid
    mask: np.ndarray  # (n_s, n_block) bool
    first: np.ndarray  # (n_s,) each range's first column, in the block
    stop: np.ndarray  # (n_s,) one past each range's last column, in the block
    counts: np.ndarray  # (n_s,) points in range
    used: np.ndarray  # (n_s, 2) eV relative to E0, after clipping to the data
    clipped: np.ndarray  # (n_s, 2) bool


def _range_window(energy: np.ndarray, e0: np.ndarray, rng: tuple[Any, Any]) -> _Window:
    """``rng`` holds (start, end) in eV relative to E0: scalars, (n_s,) arrays or None."""
    n_s = e0.size
    lo_rel = np.broadcast_to(np.asarray(-np.inf if rng[0] is None else rng[0], float), (n_s,))
    hi_rel = np.broadcast_to(np.asarray(np.inf if rng[1] is None else rng[1], float), (n_s,))
    if not (lo_rel < hi_rel).all():
        raise ValidationError(f"range {rng} must have start < end (eV relative to E0)")
    lo = np.maximum(e0 + lo_rel, energy[0])
    hi = np.minimum(e0 + hi_rel, energy[-1])
    first = np.searchsorted(energy, lo, side="left")
    stop = np.searchsorted(energy, hi, side="right")
    counts = np.maximum(stop - first, 0)
    # ranges are narrow windows: only the columns some spectrum uses are materialized
    start, end = int(first.min()), max(int(stop.max()), int(first.min()) + 1)
    j = np.arange(start, end)
    mask = (j[None, :] >= first[:, None]) & (j[None, :] < stop[:, None])
    requested = np.stack([lo_rel, hi_rel], axis=1)
    used = np.stack([lo - e0, hi - e0], axis=1)
    with np.errstate(invalid="ignore"):
        clipped = (np.abs(used - requested) > 1e-8 * np.maximum(1.0, np.abs(used))) & (
            np.isfinite(requested)
        )
    first_rel = np.clip(first - start, 0, end - start)
    return _Window(
        slice(start, end), mask, first_rel, np.maximum(stop - start, first_rel), counts, used,
        clipped,
    )


class _Projections(NamedTuple):
    """Masked moments of ``u`` and projections of ``y`` on its powers, per spectrum."""

    moments: np.ndarray  # (n_s, n_mom): Σ u^m over each spectrum's window
    b: np.ndarray  # (n_s, top + 1): Σ y u^p over each spectrum's window

    def mean(self) -> np.ndarray:
        """(n_s,) mean of ``y`` over each window."""
        return self.b[:, 0] / np.maximum(self.moments[:, 0], 1.0)


def _projections(u: np.ndarray, y: np.ndarray, window: _Window, top: int) -> _Projections:
    """The sums from which every row's least-squares polynomial of degree <= ``top``
    (and one more power for subtracting a pre-edge line) follows: two matrix products
    over the window's columns, shared by all rows."""
    us = u[window.cols]
    # each window is a contiguous run of columns: moments are differences of running sums
    running = np.zeros((us.size + 1, 2 * top + 2))
    np.cumsum(us[:, None] ** np.arange(2 * top + 2), axis=0, out=running[1:])
    moments = running[window.stop] - running[window.first]
    b = np.multiply(window.mask, y[:, window.cols]) @ (us[:, None] ** np.arange(top + 1))
    return _Projections(moments, b)


def _solve_poly(
    proj: _Projections, degree: np.ndarray, minus: np.ndarray | None = None
) -> np.ndarray:
    """Least-squares polynomials for every row, each over its own window and of its own
    degree (``degree`` (n_s,) int, at most the projections' ``top``).

    The normal equations of every spectrum are a Hankel matrix of the moments and the
    projections. A row of lower degree than the largest gets identity rows for the
    powers it does not use, so all rows are solved together. ``minus`` (n_s, q) are
    polynomial coefficients in ``u`` to subtract from ``y`` first (the pre-edge line
    under the post-edge); their projections come from the same moments, so
    ``y - minus(u)`` is never formed. Returns coefficients in powers of ``u``, lowest
    first, shape (n_s, max(degree) + 1), zero above each row's degree.
    """
    top = int(degree.max())
    powers = np.arange(top + 1)
    a = proj.moments[:, powers[:, None] + powers[None, :]]  # Hankel (n_s, p+1, p+1)
    b = proj.b[:, : top + 1].copy()
    if minus is not None:
        q = np.arange(minus.shape[1])
        b -= np.einsum("sq,sqp->sp", minus, proj.moments[:, q[:, None] + powers[None, :]])
    unused = powers[None, :] > degree[:, None]  # (n_s, p+1)
    if unused.any():
        keep = ~unused
        a *= keep[:, :, None] & keep[:, None, :]
        a += unused[:, :, None] * np.eye(top + 1)
        b *= keep
    return np.linalg.solve(a, b[..., None])[..., 0]


def _shift_poly(coef_u: np.ndarray, center: float, scale: float, e0: np.ndarray) -> np.ndarray:
    """Re-express polynomials in u = (E - center)/scale as polynomials in t = E - e0."""
    degree = coef_u.shape[1] - 1
    d = (e0 - center) / scale
    out = np.zeros_like(coef_u)
    # u = (t + e0 - center)/scale; binomial expansion, vectorized over spectra
    for j in range(degree + 1):
        for k in range(j + 1):
            out[:, k] += coef_u[:, j] * comb(j, k) * d ** (j - k) / scale**k
    return out


def _polyval_t(coefs: np.ndarray, energy: np.ndarray, e0: np.ndarray) -> np.ndarray:
    t = energy[None, :] - e0[:, None]
    out = np.zeros_like(t)
    for c in coefs.T[::-1]:  # Horner over the few powers, vectorized over spectra
        out = out * t + c[:, None]
    return out


def _check_counts(window: _Window, labels: tuple[str, ...], what: str, least: int = 3) -> None:
    bad = np.nonzero(window.counts < least)[0]
    if bad.size:
        i = int(bad[0])
        used = window.used
        raise ValidationError(
            f"{what} range holds {int(window.counts[i])} point(s) for spectrum {labels[i]!r} "
            f"(used {used[i, 0]:.1f}..{used[i, 1]:.1f} eV relative to E0 after clipping to the "
            f"data); at least {least} are needed. Widen the {what} range or check E0"
            + (f" ({bad.size} spectra affected)" if bad.size > 1 else "")
        )


@records_provenance(name="speciate.xanes.normalize")
def normalize(
    series: Series,
    e0: float | np.ndarray | None = None,
    pre: tuple[float, float] | None = None,
    post: tuple[float, float | None] | None = None,
    post_order: int | None = None,
    *,
    step: float | np.ndarray | None = None,
    shared_e0: bool = False,
) -> NormResult:
    """Normalize every spectrum of a series to unit edge step, all at once.

    With the defaults (``None``) the ranges and the post-edge degree are chosen per
    spectrum from the data's own extent around its E0, so that the same call works on
    long raw EXAFS scans, on short XANES scans and on already-normalized spectra:

    * pre-edge (`adaptive_pre_range`): from the first point (at most 200 eV below E0)
      to ``−clip(0.4·below, 10, 30)`` eV. A line is fitted when this range spans at
      least 20 eV and holds 3 points (a line through less, ending 10 eV below E0,
      follows the foot of the edge); shorter pre-edges get a constant (with a
      `UserWarning`), never an error while one point is there.
    * post-edge (`adaptive_post_range`): from ``clip(above/3, 15, 150)`` eV to the last
      point.
    * post-edge degree (`adaptive_post_order`): 0 for spans under 30 eV, 1 under 300 eV,
      2 above. A quadratic through 100 eV of post-edge oscillations extrapolates badly
      to E0; a line follows the smooth decline of μ above the edge without chasing them.
    * already-normalized spectra (`looks_normalized`: ending < 120 eV above E0, ~0 at
      the start of the pre-edge range, within 0.1 of 0 on average, within 0.25 of 1
      after the edge) keep the normalization they carry: a constant pre-edge level c is
      subtracted and the step is ``1 − c``. Refitting the step of a normalized spectrum
      from a short post-edge only adds the bias of its oscillations (0.83-0.89 instead
      of 1 over +25..+75 eV of the real Ni K operando spectra).

    Larch's defaults are close for long scans (pre2 ≈ pre1/3, norm1 = min(150,
    norm2/3), nnorm 0/1/2 at 50/350 eV); they differ on short and normalized data, where
    Larch fits lines through a few eV of pre-edge and a quadratic/linear post-edge through
    oscillations. Explicit ranges and degree keep their fixed meaning (clipped to data).

    Parameters
    ----------
    series
        Spectra (n_spectra, n_energy), energies in eV.
    e0
        Edge energy in eV: a scalar for all spectra, an array (n_spectra,), or ``None`` to
        take the maximum of the smoothed first derivative of each spectrum.
    pre
        Pre-edge range (start, end) in eV relative to E0, clipped to the data; ``None``:
        chosen per spectrum (above).
    post
        Post-edge range (start, end) in eV relative to E0; ``end=None`` runs to the last
        point. Clipped to the data. ``None``: chosen per spectrum (above).
    post_order
        Degree of the post-edge polynomial (0-3); ``None``: chosen from the span when
        ``post`` is ``None`` too, else 2 (an explicit range keeps its former meaning).
    step
        Fixed edge step (Athena's "fix step"): a scalar or (n_spectra,) in units of mu.
        The post-edge polynomial is still fitted (for ``flat``) but not used for the step.
    shared_e0
        Use one E0 for every spectrum (the median of the per-spectrum E0s, or of ``e0``),
        as for an operando series whose edge moves with the chemistry: the ranges then
        stay fixed in energy.

    Returns
    -------
    NormResult
        With the ranges (``pre_range``, ``post_range`` (n, 2) eV) and degrees
        (``pre_order``, ``post_order`` (n,)) actually used.

    Raises
    ------
    ValidationError
        Fewer than 3 points in an explicit range (1 in a chosen pre-edge range), no edge
        in range, non-positive edge step.
    """
    if not isinstance(series, Series):
        raise ValidationError(f"normalize expects a speciate Series; got {type(series).__name__}")
    if post_order is not None and post_order not in (0, 1, 2, 3):
        raise ValidationError(f"post_order must be 0, 1, 2, 3 or None; got {post_order}")
    energy, mu = series.energy, series.mu
    n_s = series.n_spectra
    e0_arr = _edge_energies(energy, mu, e0, n_s, shared_e0)
    center = 0.5 * float(energy[0] + energy[-1])
    scale = 0.5 * float(energy[-1] - energy[0])
    u = (energy - center) / scale

    pre_win = _range_window(energy, e0_arr, _pair(pre, adaptive_pre_range(energy, e0_arr)))
    _check_counts(pre_win, series.labels, "pre-edge", 3 if pre is not None else 1)
    post_win = _range_window(energy, e0_arr, _pair(post, adaptive_post_range(energy, e0_arr)))
    _check_counts(post_win, series.labels, "post-edge", 3 if post is not None else 1)
    pre_span = np.diff(pre_win.used, axis=1)[:, 0]
    if post_order is None and post is None:
        orders = adaptive_post_order(np.diff(post_win.used, axis=1)[:, 0])
    else:  # an explicit range keeps its former default degree
        orders = np.full(n_s, 2 if post_order is None else post_order, int)
    pre_proj = _projections(u, mu, pre_win, 1)
    post_proj = _projections(u, mu, post_win, int(orders.max()))
    normalized = np.zeros(n_s, bool)
    if pre is None:
        pre_order = ((pre_span >= PRE_LINE_SPAN) & (pre_win.counts >= 3)).astype(int)
        first = mu[:, pre_win.cols][np.arange(n_s), pre_win.first]
        normalized = looks_normalized(
            first, pre_proj.mean(), post_proj.mean(), energy[-1] - e0_arr
        ) & (step is None)
        pre_order[normalized] = 0
        if post_order is None and post is None:
            orders[normalized] = 0
        short = np.count_nonzero((pre_order == 0) & ~normalized)
        if short:
            warnings.warn(
                f"{short} spectrum(s) have under {PRE_LINE_SPAN:g} eV of pre-edge "
                f"(e.g. {series.labels[int(np.argmin(pre_span))]!r}: "
                f"{float(pre_span.min()):.1f} eV): a constant pre-edge is subtracted",
                UserWarning,
                stacklevel=3,
            )
    else:
        pre_order = np.ones(n_s, int)
    pre_u = _solve_poly(pre_proj, pre_order)
    post_u = _solve_poly(post_proj, orders, minus=pre_u)
    pre_coefs = _shift_poly(pre_u, center, scale, e0_arr)
    post_coefs = _shift_poly(post_u, center, scale, e0_arr)
    if step is None:
        edge_step = post_coefs[:, 0].copy()
        # the input's own step: from its constant pre-edge level to 1
        edge_step[normalized] = 1.0 - pre_coefs[normalized, 0]
    else:
        edge_step = np.broadcast_to(np.asarray(step, dtype=float), (n_s,)).copy()
    bad = np.nonzero(~(edge_step > 0))[0]
    if bad.size:
        raise ValidationError(
            f"edge step is {edge_step[bad[0]]:.4g} (not positive) for spectrum "
            f"{series.labels[bad[0]]!r}: no rising edge at E0 = {e0_arr[bad[0]]:.2f} eV "
            "(is mu inverted, or E0 wrong?)"
        )
    norm = _normalized(mu, u, pre_u, edge_step)
    provenance = jsonable({
        "settings": {
            "e0": "max derivative" if e0 is None else e0_arr, "shared_e0": shared_e0,
            "pre": "adaptive" if pre is None else pre,
            "post": "adaptive" if post is None else post,
            "post_order": post_order if post_order is not None
            else ("adaptive" if post is None else 2),
            "step": "fitted" if step is None else edge_step,
        },
        "clipped": {
            "pre": int(np.count_nonzero(pre_win.clipped.any(axis=1))),
            "post": int(np.count_nonzero(post_win.clipped.any(axis=1))),
        },
        "already_normalized": int(np.count_nonzero(normalized)),
        "constant_pre_edge": int(np.count_nonzero(pre_order == 0)),
        "post_order_counts": {str(d): int(np.count_nonzero(orders == d)) for d in range(4)
                              if (orders == d).any()},
        "source": dict(series.meta).get("source"),
    })  # fmt: skip
    return NormResult(
        energy=readonly_view(energy),  # a Series' arrays are read-only: no copy
        mu=readonly_view(mu),
        norm=norm,
        e0=_readonly(e0_arr),
        edge_step=_readonly(edge_step),
        pre_coefs=_readonly(
            pre_coefs[:, :2]
            if pre_coefs.shape[1] > 1
            else np.concatenate([pre_coefs, np.zeros((n_s, 1))], axis=1)
        ),
        post_coefs=_readonly(post_coefs),
        pre_range=_readonly(pre_win.used),
        post_range=_readonly(post_win.used),
        labels=series.labels,
        time=series.time,
        coords=series.coords,
        meta=series.meta,
        provenance=provenance,
        pre_order=readonly_copy(pre_order, int),
        post_order=readonly_copy(orders, int),
    )


def _pair(given: Any, adaptive: np.ndarray) -> tuple[Any, Any]:
    return (adaptive[:, 0], adaptive[:, 1]) if given is None else tuple(given)


def _edge_energies(
    energy: np.ndarray, mu: np.ndarray, e0: Any, n_s: int, shared: bool
) -> np.ndarray:
    """(n_s,) E0 in eV: found, given, or their median for all spectra when ``shared``."""
    if e0 is None:
        e0_arr = find_e0(energy, mu)
    else:
        e0_arr = np.broadcast_to(np.asarray(e0, dtype=float), (n_s,)).copy()
        outside = (e0_arr < energy[0]) | (e0_arr > energy[-1])
        if outside.any():
            raise ValidationError(
                f"e0 {e0_arr[outside][0]:.2f} eV lies outside the data "
                f"{energy[0]:.2f}..{energy[-1]:.2f} eV"
            )
    if shared:
        e0_arr = np.full(n_s, float(np.median(e0_arr)))
    return e0_arr


def _normalized(
    mu: np.ndarray, u: np.ndarray, pre_u: np.ndarray, edge_step: np.ndarray
) -> np.ndarray:
    """``(mu − pre_edge)/step``, read-only: ``mu/step`` minus the scaled pre-edge line,
    accumulated in place (fresh memory is what costs most here: no temporaries)."""
    inv_step = 1.0 / edge_step[:, None]
    norm = np.multiply(mu, inv_step)
    _subtract_products(norm, pre_u * inv_step, u[:, None] ** np.arange(pre_u.shape[1]))
    norm.setflags(write=False)
    return norm


def _flatten(
    energy: np.ndarray,
    norm: np.ndarray,
    e0: np.ndarray,
    post_coefs: np.ndarray,
    edge_step: np.ndarray,
) -> np.ndarray:
    """``norm`` minus the post-edge curvature ``(poly(E) − poly(E0))/step`` at E >= E0.

    Only the columns at or above the lowest E0 change, and only those below the highest
    E0 differ between spectra in whether they do.
    """
    k = int(np.searchsorted(energy, e0.min(), side="left"))
    k_all = int(np.searchsorted(energy, e0.max(), side="left"))
    flat = norm.copy()
    curvature = _polyval_t(post_coefs, energy[k:], e0)
    curvature -= post_coefs[:, :1]
    curvature /= edge_step[:, None]
    curvature[:, : k_all - k] *= energy[None, k:k_all] >= e0[:, None]
    flat[:, k:] -= curvature
    flat.setflags(write=False)
    return flat


def _subtract_products(out: np.ndarray, coefs: np.ndarray, powers: np.ndarray) -> None:
    """``out -= coefs @ powers.T`` in place: (n_s, n_e) -= (n_s, q) @ (q, n_e).

    BLAS's ``dgemm`` with beta = 1 accumulates into ``out`` (its transpose is the
    column-major matrix BLAS expects), so no (n_s, n_e) temporary is made.
    """
    result = dgemm(-1.0, powers, coefs.T, beta=1.0, c=out.T, overwrite_c=True)
    if not np.shares_memory(result, out):  # a non-contiguous out is copied by the wrapper
        out[:] = result.T
