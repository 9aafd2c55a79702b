"""Pre-edge subtraction and edge-step normalization, vectorized over a whole series.

Conventions follow Larch/Athena: E0 at the maximum of the first derivative unless
given; the pre-edge line is fitted to mu over ``e0 + pre``; the post-edge polynomial
is fitted to ``mu - pre_edge`` over ``e0 + post``; the edge step is the post-edge
polynomial at E0; ``flat`` also removes the post-edge curvature above E0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import comb
from typing import Any, NamedTuple

import numpy as np

from speciate._arrays import freeze as _readonly
from speciate.errors import ValidationError
from speciate.provenance import make_provenance
from speciate.series import Series

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
    flat : (n_spectra, n_energy) ``norm`` with the post-edge curvature removed above E0
    e0 : (n_spectra,) eV
    edge_step : (n_spectra,) in units of mu
    pre_coefs : (n_spectra, 2) pre-edge line in powers of (E - e0): offset at E0, slope per eV
    post_coefs : (n_spectra, post_order + 1) polynomial fitted to ``mu - pre_edge`` in powers of
        (E - e0), lowest power first; ``post_coefs[:, 0]`` is the edge step
    pre_range, post_range : (n_spectra, 2) eV relative to E0, the ranges actually used
        (after clipping to the data)
    labels, time, coords, meta : carried from the input `Series`
    provenance : dict, the call, parameters and what was clipped
    """

    energy: np.ndarray
    mu: np.ndarray
    norm: np.ndarray
    flat: np.ndarray
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
        meta["normalization"] = {"kind": kind, **dict(self.provenance.get("parameters", {}))}
        return Series(
            self.energy, arrays[kind], labels=self.labels, time=self.time, coords=coords, meta=meta
        )

    def select(self, key: Any) -> NormResult:
        """Select spectra (labels, indices, slice or mask) keeping every per-spectrum field."""
        idx = self.to_series("mu")._index(key)
        per_spectrum = {
            name: getattr(self, name)[idx]
            for name in (
                "mu", "norm", "flat", "e0", "edge_step",
                "pre_coefs", "post_coefs", "pre_range", "post_range",
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
    # slope across four intervals centred on each point (i-2 .. i+2): a light smoothing
    # that suppresses single-point glitches without moving the edge
    ds = mu[:, 4:] - mu[:, :-4]
    ds /= energy[4:] - energy[:-4]
    # the first and last three points are never taken as the edge
    ds[:, 0] = -np.inf
    ds[:, -1] = -np.inf
    idx = np.argmax(ds, axis=-1)
    peak = ds[np.arange(ds.shape[0]), idx]
    idx = idx + 2
    # a subsample is enough to estimate the typical slope
    noise = np.median(np.abs(ds[:, 1 : -1 : max(1, ds.shape[1] // 64)]), axis=-1)
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


class _Window(NamedTuple):
    """A fit range of every spectrum, as a boolean block over the columns any spectrum uses."""

    cols: slice  # the block's columns in the full grid
    mask: np.ndarray  # (n_s, n_block) bool
    counts: np.ndarray  # (n_s,) points in range
    used: np.ndarray  # (n_s, 2) eV relative to E0, after clipping to the data
    clipped: np.ndarray  # (n_s, 2) bool


def _range_window(
    energy: np.ndarray, e0: np.ndarray, rng: tuple[float | None, float | None]
) -> _Window:
    lo_rel = -np.inf if rng[0] is None else float(rng[0])
    hi_rel = np.inf if rng[1] is None else float(rng[1])
    if lo_rel >= hi_rel:
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
    requested = np.array([lo_rel, hi_rel])
    used = np.stack([lo - e0, hi - e0], axis=1)
    clipped = (np.abs(used - requested) > 1e-8 * np.maximum(1.0, np.abs(used))) & np.isfinite(
        requested
    )
    return _Window(slice(start, end), mask, counts, used, clipped)


def _batched_polyfit(
    u: np.ndarray,
    y: np.ndarray,
    window: _Window,
    degree: int,
    minus: np.ndarray | None = None,
) -> np.ndarray:
    """Least-squares polynomials of one degree for every row, each over its own window.

    ``u`` (n_e,) is a scaled abscissa shared by all rows, so the normal equations of
    every spectrum come from two matrix products: masked moments of ``u`` and masked
    projections of ``y``. ``minus`` (n_s, q) are polynomial coefficients in ``u`` to
    subtract from ``y`` first (the pre-edge line under the post-edge); their projections
    come from the same moments, so ``y - minus(u)`` is never formed. Returns coefficients
    in powers of ``u``, lowest first, shape (n_s, degree + 1).
    """
    w = window.mask.astype(float)
    us = u[window.cols]
    extra = 0 if minus is None else minus.shape[1] - 1
    n_mom = max(2 * degree, degree + extra) + 1
    moments = w @ (us[:, None] ** np.arange(n_mom))  # (n_s, n_mom)
    powers = np.arange(degree + 1)
    a = moments[:, powers[:, None] + powers[None, :]]  # Hankel (n_s, p+1, p+1)
    w *= y[:, window.cols]
    b = w @ (us[:, None] ** powers)  # (n_s, p+1)
    if minus is not None:
        q = np.arange(minus.shape[1])
        b -= np.einsum("sq,sqp->sp", minus, moments[:, q[:, None] + powers[None, :]])
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


def _polyval_u(coef_u: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Polynomials (n_s, q) in powers of ``u`` evaluated on ``u`` (n_e,): (n_s, n_e)."""
    # Horner in place: a matrix product with inner dimension q <= 4 is slower than this
    out = np.empty((coef_u.shape[0], u.size))
    out[:] = coef_u[:, -1:]
    for c in coef_u.T[-2::-1]:
        out *= u
        out += c[:, None]
    return out


def _check_counts(window: _Window, labels: tuple[str, ...], what: str) -> None:
    bad = np.nonzero(window.counts < 3)[0]
    if bad.size:
        i = int(bad[0])
        used = window.used
        raise ValidationError(
            f"{what} range holds {int(window.counts[i])} point(s) for spectrum {labels[i]!r} "
            f"(used {used[i, 0]:.1f}..{used[i, 1]:.1f} eV relative to E0 after clipping to the "
            f"data); at least 3 are needed. Widen the {what} range or check E0"
            + (f" ({bad.size} spectra affected)" if bad.size > 1 else "")
        )


def normalize(
    series: Series,
    e0: float | np.ndarray | None = None,
    pre: tuple[float, float] = (-200.0, -30.0),
    post: tuple[float, float | None] = (50.0, None),
    post_order: int = 2,
) -> NormResult:
    """Normalize every spectrum of a series to unit edge step, all at once.

    Parameters
    ----------
    series
        Spectra (n_spectra, n_energy), energies in eV.
    e0
        Edge energy in eV: a scalar for all spectra, an array (n_spectra,), or ``None`` to
        take the maximum of the smoothed first derivative of each spectrum.
    pre
        Pre-edge range (start, end) in eV relative to E0; clipped to the data.
    post
        Post-edge range (start, end) in eV relative to E0; ``end=None`` runs to the last
        point. Clipped to the data.
    post_order
        Degree of the post-edge polynomial (0-3).

    Returns
    -------
    NormResult

    Raises
    ------
    ValidationError
        Fewer than 3 points in a range, no edge in range, non-positive edge step.
    """
    if not isinstance(series, Series):
        raise ValidationError(f"normalize expects a speciate Series; got {type(series).__name__}")
    if post_order not in (0, 1, 2, 3):
        raise ValidationError(f"post_order must be 0, 1, 2 or 3; got {post_order}")
    energy, mu = series.energy, series.mu
    n_s = series.n_spectra
    if e0 is None:
        e0_arr = find_e0(energy, mu)
        e0_source = "max derivative"
    else:
        e0_arr = np.broadcast_to(np.asarray(e0, dtype=float), (n_s,)).copy()
        e0_source = "given"
        outside = (e0_arr < energy[0]) | (e0_arr > energy[-1])
        if outside.any():
            raise ValidationError(
                f"e0 {e0_arr[outside][0]:.2f} eV lies outside the data "
                f"{energy[0]:.2f}..{energy[-1]:.2f} eV"
            )
    center = 0.5 * float(energy[0] + energy[-1])
    scale = 0.5 * float(energy[-1] - energy[0])
    u = (energy - center) / scale

    pre_win = _range_window(energy, e0_arr, pre)
    _check_counts(pre_win, series.labels, "pre-edge")
    pre_u = _batched_polyfit(u, mu, pre_win, 1)

    post_win = _range_window(energy, e0_arr, post)
    _check_counts(post_win, series.labels, "post-edge")
    post_u = _batched_polyfit(u, mu, post_win, post_order, minus=pre_u)
    pre_coefs = _shift_poly(pre_u, center, scale, e0_arr)
    post_coefs = _shift_poly(post_u, center, scale, e0_arr)
    edge_step = post_coefs[:, 0].copy()
    bad = np.nonzero(~(edge_step > 0))[0]
    if bad.size:
        raise ValidationError(
            f"edge step is {edge_step[bad[0]]:.4g} (not positive) for spectrum "
            f"{series.labels[bad[0]]!r}: no rising edge at E0 = {e0_arr[bad[0]]:.2f} eV "
            "(is mu inverted, or E0 wrong?)"
        )
    step = edge_step[:, None]
    norm = _polyval_u(pre_u, u)
    np.subtract(mu, norm, out=norm)
    norm /= step
    # flat: above E0 also remove the post-edge curvature, (poly - step)/step; only the
    # columns at or above the lowest E0 can change
    flat = norm.copy()
    k = int(np.searchsorted(energy, e0_arr.min(), side="left"))
    curvature = _polyval_u(post_u, u[k:])
    curvature /= step
    curvature -= 1.0
    curvature *= energy[None, k:] >= e0_arr[:, None]
    flat[:, k:] -= curvature

    provenance = make_provenance(
        "speciate.xanes.normalize",
        {"e0": e0_source if e0 is None else e0_arr, "pre": pre, "post": post,
         "post_order": post_order},
        clipped={
            "pre": int(np.count_nonzero(pre_win.clipped.any(axis=1))),
            "post": int(np.count_nonzero(post_win.clipped.any(axis=1))),
        },
        source=dict(series.meta).get("source"),
    )  # fmt: skip
    return NormResult(
        energy=_readonly(energy),
        mu=_readonly(mu),
        norm=_readonly(norm),
        flat=_readonly(flat),
        e0=_readonly(e0_arr),
        edge_step=_readonly(edge_step),
        pre_coefs=_readonly(pre_coefs),
        post_coefs=_readonly(post_coefs),
        pre_range=_readonly(pre_win.used),
        post_range=_readonly(post_win.used),
        labels=series.labels,
        time=series.time,
        coords=series.coords,
        meta=series.meta,
        provenance=provenance,
    )
