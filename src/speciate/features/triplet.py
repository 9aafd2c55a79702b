"""Derivative triplet c/d/e, its flatness and the angle γ, for every spectrum at once.

Detection rule (stated once, used everywhere):

1. The normalized spectrum is resampled on a uniform grid (10th percentile of the data
   step in the window, 0.01-0.1 eV) and differentiated with a Savitzky–Golay filter (quadratic,
   ``smooth_ev`` wide, default 1.0 eV).
2. Candidates are the interior local maxima of dμ/dE inside the window.
3. A candidate counts when its topographic prominence (as `scipy.signal.peak_prominences`,
   computed inside the window) is at least ``min_prominence`` (default 0.03) times the
   largest dμ/dE in the window **and** at least ``noise_sigma`` (default 5) times the
   standard deviation of the noise of dμ/dE at that energy. That noise is the
   spectrum's own white-noise level (`noise_level`: robust scatter of each point about
   its neighbours, over the points more than 10 eV below the window) times the exact
   noise gain of step 1 (`smoothing_gain`). Without this floor, noise of 0.3 % of the
   edge step on a 0.25 eV grid makes dμ/dE wiggles of ~0.004 per eV that pass a 3 %
   relative threshold, and the maxima counted are noise. The prominence of a noise
   wiggle is a difference of correlated noisy values, so 3σ is not enough: on a plain
   arctan edge with 0.3 % noise on a 0.25 eV grid, a 3σ floor lets extra maxima through
   in about 40 % of spectra (8-9 % become a made-up triplet), 5σ in 2 % (no triplet in 2000
   spectra), while still finding 92 % of real triplets (data of
   benchmarks/bench_features.py). Spectra with fewer than 8 points there (short theory
   spectra, which are noiseless) have no noise floor (``derivative_noise`` NaN) and
   only the relative rule acts.
4. c, d and e are reported only when exactly three maxima count, in energy order.
   Fewer or more give NaN and a reason naming the count: a triplet is never forced.

Flatness = min / max of the three heights (1 = three equal maxima).

γ is the angle (degrees) of the line joining c and e in the frame
``x = E / 10 eV``, ``y = (dμ/dE) / max(h_c, h_d, h_e)``:
``γ = atan2((h_e - h_c) / h_max, (E_e - E_c) / 10 eV)``. Dividing by the largest triplet
height removes the edge-step normalization and the energy resolution of each dataset
to first order, so γ changes along an operando series compare between datasets;
γ > 0 when e is higher than c.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speciate._arrays import readonly_copy as readonly
from speciate.errors import ValidationError
from speciate.features.measured import measured_in
from speciate.features.noise import noise_level, smoothing_gain
from speciate.features.peaks import local_maxima, prominences, refine_parabola
from speciate.features.reasons import frozen_reasons, reasons, set_reason
from speciate.features.windows import resolve_window
from speciate.provenance import records_provenance
from speciate.xanes.derivative import smooth_on_grid
from speciate.xanes.normalized import as_normalized

__all__ = ["DEFAULT_TRIPLET_WINDOW", "GAMMA_ENERGY_SCALE_EV", "Triplet", "derivative_triplet"]

#: Mn K edge: holds the seed's 6545-6560 eV and the first FDMNES maximum near 6544 eV.
DEFAULT_TRIPLET_WINDOW = (6543.0, 6560.0)
#: Energy unit of the γ frame (eV).
GAMMA_ENERGY_SCALE_EV = 10.0
#: The white noise is estimated on the points this far (eV) below the window.
_NOISE_MARGIN_EV = 10.0
#: Most maxima kept per spectrum in `Triplet.maxima_energy` / `maxima_height`.
MAX_REPORTED = 8


@dataclass(frozen=True, eq=False)
class Triplet:
    """Derivative maxima and the c/d/e triplet of every spectrum.

    Attributes
    ----------
    n_maxima : (n_spectra,) int, maxima passing the rule
    maxima_energy, maxima_height : (n_spectra, 8) eV and norm/eV, the passing maxima in
        energy order, NaN-padded
    maxima_prominence : (n_spectra, 8) norm/eV
    c_energy, d_energy, e_energy : (n_spectra,) eV
    c_height, d_height, e_height : (n_spectra,) dμ/dE in normalized absorption per eV
    flatness : (n_spectra,) min/max of the three heights
    gamma_deg : (n_spectra,) degrees, see the module docstring
    derivative_noise : (n_spectra,) norm/eV, standard deviation of the noise of dμ/dE
        (median over the window); maxima need a prominence of ``noise_sigma`` times it
    reason : (n_spectra,) str
    window : (lo, hi) eV; smooth_ev : eV; min_prominence : fraction of the window maximum
    noise_sigma : prominence floor in noise standard deviations
    provenance : record of the call
    """

    n_maxima: np.ndarray
    maxima_energy: np.ndarray
    maxima_height: np.ndarray
    maxima_prominence: np.ndarray
    c_energy: np.ndarray
    d_energy: np.ndarray
    e_energy: np.ndarray
    c_height: np.ndarray
    d_height: np.ndarray
    e_height: np.ndarray
    flatness: np.ndarray
    gamma_deg: np.ndarray
    derivative_noise: np.ndarray
    reason: np.ndarray
    window: tuple[float, float]
    smooth_ev: float
    min_prominence: float
    noise_sigma: float
    provenance: Mapping[str, Any] = field(default_factory=dict)


@records_provenance(name="speciate.features.derivative_triplet")
def derivative_triplet(
    data: Any,
    window: tuple[float, float] | None = None,
    smooth_ev: float = 1.0,
    min_prominence: float = 0.03,
    noise_sigma: float = 5.0,
) -> Triplet:
    """Maxima of the smoothed first derivative and the c/d/e triplet with flatness and γ.

    Parameters
    ----------
    data
        A `NormResult` (or a normalized `Series`).
    window
        (lo, hi) eV searched for maxima.
    smooth_ev
        Savitzky–Golay width of the derivative (eV).
    min_prominence
        Minimum prominence of a counted maximum, as a fraction of the largest dμ/dE in
        the window (0-1).
    noise_sigma
        Minimum prominence in standard deviations of the dμ/dE noise at the maximum
        (0 switches the noise floor off).

    Returns
    -------
    Triplet
    """
    if not 0.0 <= min_prominence < 1.0:
        raise ValidationError(f"min_prominence must be in [0, 1); got {min_prominence}")
    if not noise_sigma >= 0.0:
        raise ValidationError(f"noise_sigma must be >= 0; got {noise_sigma}")
    norm = as_normalized(data)
    window = resolve_window(norm, window, "triplet")
    n_s = norm.n_spectra
    data = measured_in(norm, window, "triplet")
    why = reasons(n_s)
    set_reason(why, ~data.ok, data.reason)
    out = smooth_on_grid(norm.energy, data.values, smooth_ev, 1, window)
    pos = np.full((n_s, MAX_REPORTED), np.nan)
    hgt = np.full((n_s, MAX_REPORTED), np.nan)
    prom_out = np.full((n_s, MAX_REPORTED), np.nan)
    count = np.zeros(n_s, dtype=int)
    d_noise = np.full(n_s, np.nan)
    if out is None:
        set_reason(why, np.ones(n_s, bool), f"triplet window {window} eV is outside the data")
    else:
        grid, d = out
        cand = local_maxima(d)
        prom = prominences(d, cand)
        scale = d.max(axis=1, keepdims=True)
        gain = smoothing_gain(norm.energy, window, smooth_ev, deriv=1)[1]
        sigma = noise_level(norm.energy, data.values, below=window[0] - _NOISE_MARGIN_EV)
        floor = noise_sigma * np.nan_to_num(sigma)[:, None] * gain[None, :]  # norm/eV
        d_noise = sigma * np.median(gain)
        ok = cand & (prom >= min_prominence * scale) & (prom >= floor) & (scale > 0)
        ok &= data.ok[:, None]
        count = ok.sum(axis=1)
        # passing indices in energy order, padded with -1
        order = np.sort(np.where(ok, np.arange(d.shape[1]), d.shape[1]), axis=1)
        order = order[:, :MAX_REPORTED]
        idx = np.where(order < d.shape[1], order, -1)
        pos, hgt = refine_parabola(grid, d, idx)
        rows = np.arange(n_s)[:, None]
        prom_out = np.where(idx >= 0, prom[rows, np.clip(idx, 0, None)], np.nan)
        for k in np.unique(count[(count != 3) & data.ok]):  # a few distinct counts, not spectra
            set_reason(why, count == k, f"{k} derivative maxima pass the rule; a triplet needs 3")
    is_tri = count == 3
    c_e, d_e, e_e = (np.where(is_tri, pos[:, i], np.nan) for i in range(3))
    c_h, d_h, e_h = (np.where(is_tri, hgt[:, i], np.nan) for i in range(3))
    h3 = np.stack([c_h, d_h, e_h])
    with np.errstate(invalid="ignore", divide="ignore"):
        flat = np.min(h3, axis=0) / np.max(h3, axis=0)
        h_max = np.max(h3, axis=0)
        gamma = np.degrees(np.arctan2((e_h - c_h) / h_max, (e_e - c_e) / GAMMA_ENERGY_SCALE_EV))
    return Triplet(
        n_maxima=readonly(count, dtype=int),
        maxima_energy=readonly(pos),
        maxima_height=readonly(hgt),
        maxima_prominence=readonly(prom_out),
        c_energy=readonly(c_e),
        d_energy=readonly(d_e),
        e_energy=readonly(e_e),
        c_height=readonly(c_h),
        d_height=readonly(d_h),
        e_height=readonly(e_h),
        flatness=readonly(np.where(is_tri, flat, np.nan)),
        gamma_deg=readonly(np.where(is_tri, gamma, np.nan)),
        derivative_noise=readonly(d_noise),
        reason=frozen_reasons(why),
        window=window,
        smooth_ev=float(smooth_ev),
        min_prominence=float(min_prominence),
        noise_sigma=float(noise_sigma),
    )
