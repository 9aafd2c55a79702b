"""Put computed spectra on one scale: per absorbing atom, divided by a post-edge mean.

Theory grids start just below the edge, so there is no pre-edge line to fit: the
normalization is ``norm = mu / n_absorbers / mean(mu / n_absorbers over e0 + post)`` with
E0 the Fermi level of each calculation (FEFF: the ``Mu=`` of ``xmu.dat``; FDMNES:
E_edge + E_cut). The result is a
`speciate.xanes.NormResult`, so theory standards go into ``fit`` and ``features`` like
measured ones and radius trends are comparable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from speciate._arrays import readonly_copy
from speciate.errors import ValidationError
from speciate.provenance import jsonable, records_provenance
from speciate.series import Series
from speciate.xanes import NormResult

__all__ = ["normalize"]


def _per_spectrum(value: Any, n_s: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n_s, float(arr))
    if arr.shape != (n_s,):
        raise ValidationError(f"{name} must be a scalar or have shape ({n_s},); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValidationError(f"{name} must be finite; got {arr.tolist()}")
    return arr


@records_provenance
def normalize(
    series: Series,
    post: tuple[float, float] = (40.0, 70.0),
    e0: Any = None,
    n_absorbers: Any = None,
) -> NormResult:
    """Normalize theory spectra per absorbing atom to the mean over a post-edge range.

    Parameters
    ----------
    series
        Computed spectra, shape (n_spectra, n_energy), e.g. ``SweepResult.series``.
    post
        Post-edge range (eV, relative to E0) whose mean becomes 1.
    e0
        Edge zero per spectrum (eV, scalar or (n_spectra,)); default the ``e_fermi`` coord.
    n_absorbers
        Equivalent absorbers summed in each spectrum (scalar or (n_spectra,)); default the
        ``n_absorbers`` coord, else 1.

    Returns
    -------
    NormResult
        ``norm`` = ``flat`` = mu / edge_step; ``edge_step`` (n_spectra,) in units of the
        input mu (the per-absorber value times ``n_absorbers``); ``pre_coefs`` zero and
        ``pre_range`` NaN (no pre-edge line); ``post_coefs`` (n_spectra, 1) the constant;
        ``post_range`` the range actually averaged, eV relative to E0.

    Raises
    ------
    ValidationError
        If E0 is neither given nor in the coords, or a spectrum has no point in
        ``e0 + post`` (the message names the spectrum and its grid).
    """
    if not isinstance(series, Series):
        raise ValidationError(f"normalize expects a Series; got {type(series).__name__}")
    lo, hi = (float(x) for x in post)
    if not hi > lo:
        raise ValidationError(f"post must be (low, high) with high > low eV; got {post!r}")
    n_s = series.n_spectra
    e0_given = e0 is not None
    if e0 is None:
        if "e_fermi" not in series.coords:
            raise ValidationError(
                "normalize needs E0: pass e0= (eV) or give the series an 'e_fermi' coord "
                f"(coords present: {sorted(series.coords)})"
            )
        e0 = series.coords["e_fermi"]
    e0_arr = _per_spectrum(e0, n_s, "e0")
    if n_absorbers is None:
        n_absorbers = series.coords.get("n_absorbers", 1)
    n_abs = _per_spectrum(n_absorbers, n_s, "n_absorbers")
    if (n_abs < 1).any():
        raise ValidationError(f"n_absorbers must be >= 1; got {n_abs.tolist()}")
    energy = series.energy
    rel = energy[np.newaxis, :] - e0_arr[:, np.newaxis]
    window = (rel >= lo) & (rel <= hi)
    counts = window.sum(axis=1)
    if (counts == 0).any():
        i = int(np.nonzero(counts == 0)[0][0])
        raise ValidationError(
            f"spectrum {series.labels[i]!r} has no point in e0 + post = "
            f"{e0_arr[i] + lo:.2f}..{e0_arr[i] + hi:.2f} eV; its grid is "
            f"{energy[0]:.2f}..{energy[-1]:.2f} eV (E0 {e0_arr[i]:.2f} eV)"
        )
    edge_step = np.where(window, series.mu, 0.0).sum(axis=1) / counts
    if not (edge_step > 0).all():
        i = int(np.nonzero(~(edge_step > 0))[0][0])
        raise ValidationError(
            f"spectrum {series.labels[i]!r} has a post-edge mean of {edge_step[i]:.4g} "
            "(expected > 0): not an absorption spectrum"
        )
    norm = series.mu / edge_step[:, np.newaxis]
    used = np.stack(
        [np.where(window, rel, np.inf).min(axis=1), np.where(window, rel, -np.inf).max(axis=1)],
        axis=1,
    )
    provenance = {
        "post_used": [lo, hi],
        "e0_from": "argument" if e0_given else "coords.e_fermi",
        "edge_step_per_absorber": jsonable(edge_step / n_abs),
        "n_absorbers": jsonable(n_abs),
    }
    return NormResult(
        energy=readonly_copy(energy),
        mu=readonly_copy(series.mu),
        norm=readonly_copy(norm),
        e0=readonly_copy(e0_arr),
        edge_step=readonly_copy(edge_step),
        pre_coefs=readonly_copy(np.zeros((n_s, 2))),
        post_coefs=readonly_copy(edge_step[:, np.newaxis]),
        pre_range=readonly_copy(np.full((n_s, 2), np.nan)),
        post_range=readonly_copy(used),
        labels=series.labels,
        time=series.time,
        coords=series.coords,
        meta=series.meta,
        provenance=provenance,
    )
