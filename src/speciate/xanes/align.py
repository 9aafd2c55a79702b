"""Energy alignment of a series by its reference-foil channel (or the spectra themselves).

Each spectrum's first derivative (of the reference channel by default) is matched to a
target derivative by least squares over an energy shift: a coarse scan over whole
steps of a fine uniform grid for all spectra at once, then Gauss–Newton refinement
to sub-grid precision, also batched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series, interp_rows
from speciate.xanes.derivative import derivative_array, uniform_grid
from speciate.xanes.normalize import find_e0

__all__ = ["AlignResult", "align"]


@dataclass(frozen=True, eq=False)
class AlignResult:
    """Energy shifts that align a series, and the aligned series.

    Attributes
    ----------
    shifts : (n_spectra,) eV
        Added to each spectrum's energies: aligned energy = measured energy + shift.
    stderr : (n_spectra,) eV
        One-sigma uncertainty of each shift (Gauss–Newton covariance scaled by the residual).
    target_e0 : float
        E0 (derivative maximum, eV) of the target on which the series was aligned.
    series : Series
        The spectra (and reference) shifted and interpolated onto the common grid covered by
        every shifted spectrum; coords gain ``energy_shift``.
    provenance : dict
    """

    shifts: np.ndarray
    stderr: np.ndarray
    target_e0: float
    series: Series
    provenance: Mapping[str, Any]


def _peak_position(energy: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Sub-grid position of the maximum of each row of ``d`` (parabolic vertex)."""
    i = np.clip(np.argmax(d, axis=-1), 1, energy.size - 2)
    rows = np.arange(d.shape[0])
    y0, y1, y2 = d[rows, i - 1], d[rows, i], d[rows, i + 1]
    denom = y0 - 2 * y1 + y2
    frac = np.where(np.abs(denom) > 0, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0.0)
    step = energy[1] - energy[0]
    return energy[i] + np.clip(frac, -1, 1) * step


def _target_derivative(
    target: Any, series: Series, channel: np.ndarray, smooth_ev: float
) -> tuple[np.ndarray | None, float]:
    """The target derivative on the series grid (None for a bare E0 target) and its E0."""
    if target is None:
        d = derivative_array(series.energy, channel[:1], 1, smooth_ev)[0]
        return d, float(find_e0(series.energy, channel[:1])[0])
    if isinstance(target, (int, float, np.floating, np.integer)):
        return None, float(target)
    if isinstance(target, Series):
        src = target.reference if target.reference is not None else target.mu
        if target.n_spectra != 1:
            raise ValidationError(f"target must be one spectrum; got {target.n_spectra}")
        on_grid = Series(target.energy, src).interpolate(
            series.energy[
                (series.energy >= target.energy[0]) & (series.energy <= target.energy[-1])
            ]
        )
        full = np.interp(series.energy, on_grid.energy, on_grid.mu[0])
        d = derivative_array(series.energy, full[None], 1, smooth_ev)[0]
        return d, float(find_e0(on_grid.energy, on_grid.mu)[0])
    arr = np.asarray(target, dtype=float)
    if arr.shape != series.energy.shape:
        raise ValidationError(
            "target must be None, an E0 in eV, a one-spectrum Series or an array on the "
            f"series grid of shape {series.energy.shape}; got shape {arr.shape}"
        )
    d = derivative_array(series.energy, arr[None], 1, smooth_ev)[0]
    return d, float(find_e0(series.energy, arr[None])[0])


@records_provenance
def align(
    series: Series,
    reference: np.ndarray | str | None = None,
    target: Any = None,
    window: tuple[float, float] = (-20.0, 40.0),
    smooth_ev: float = 1.0,
    max_shift: float = 10.0,
) -> AlignResult:
    """Align every spectrum of a series in energy.

    Parameters
    ----------
    series
        Spectra with, ideally, a reference-foil channel (``series.reference``).
    reference
        Which channel to match: ``None`` uses ``series.reference`` when present, else the
        spectra; ``"mu"`` forces the spectra; an array (n_spectra, n_energy) gives the channel.
    target
        What to align to: ``None`` (the first spectrum's channel), an E0 in eV (e.g. the
        tabulated Mn foil edge 6539.0 eV: all channels are matched to the first, and the
        derivative maximum of their mean is moved there), a
        one-spectrum `Series` (its reference channel if present, else mu) or an array on the
        series grid.
    window
        Energy range (eV, relative to the target E0) over which derivatives are compared.
    smooth_ev
        Savitzky–Golay width (eV) of the derivative.
    max_shift
        Largest shift searched, eV.

    Returns
    -------
    AlignResult
    """
    if reference is None:
        channel = series.reference if series.reference is not None else series.mu
        channel_name = "reference" if series.reference is not None else "mu"
    elif isinstance(reference, str):
        if reference != "mu":
            raise ValidationError(f"reference must be None, 'mu' or an array; got {reference!r}")
        channel, channel_name = series.mu, "mu"
    else:
        channel = np.asarray(reference, dtype=float)
        channel_name = "array"
        if channel.shape != series.mu.shape:
            raise ValidationError(
                f"reference array must have shape {series.mu.shape}; got {channel.shape}"
            )
    energy = series.energy
    t_deriv, t_e0 = _target_derivative(target, series, channel, smooth_ev)

    if t_deriv is None:
        # Match every channel to the first by its whole derivative curve (robust to
        # split edge peaks), then move the mean channel's derivative maximum onto E0.
        first_d = derivative_array(energy, channel[:1], 1, smooth_ev)[0]
        first_e0 = float(find_e0(energy, channel[:1])[0])
        rel, stderr = _align_to_curve(
            energy, channel, first_d, first_e0, window, smooth_ev, max_shift
        )
        # The absolute offset comes from the mean of the matched channels: one noisy
        # channel's derivative maximum can sit tenths of an eV off.
        lo, hi = energy[0] + rel.max(), energy[-1] + rel.min()
        grid = energy[(energy >= lo) & (energy <= hi)]
        mean = interp_rows_points(grid[None, :] - rel[:, None], energy, channel).mean(axis=0)
        offset, offset_err = _align_to_e0(grid, mean[None, :], t_e0, window, smooth_ev, max_shift)
        shifts = rel + offset[0]
        stderr = np.hypot(stderr, offset_err[0])
        method = (
            "derivative match to the first spectrum, then the derivative maximum of the "
            "mean matched channel to E0"
        )
    else:
        shifts, stderr = _align_to_curve(
            energy, channel, t_deriv, t_e0, window, smooth_ev, max_shift
        )
        method = "least-squares derivative match"
    aligned = _apply_shifts(series, shifts)
    provenance = {"channel_used": channel_name, "target_e0_used": t_e0, "method": method}
    shifts.setflags(write=False)
    stderr.setflags(write=False)
    return AlignResult(shifts, stderr, t_e0, aligned, provenance)


def _align_to_e0(
    energy: np.ndarray,
    channel: np.ndarray,
    t_e0: float,
    window: tuple[float, float],
    smooth_ev: float,
    max_shift: float,
) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = t_e0 + window[0] - max_shift, t_e0 + window[1] + max_shift
    sel = (energy >= lo) & (energy <= hi)
    if sel.sum() < 7:
        raise ValidationError(
            f"alignment window {lo:.1f}..{hi:.1f} eV holds {int(sel.sum())} points of the data "
            f"({energy[0]:.1f}..{energy[-1]:.1f} eV); is the target E0 {t_e0:.2f} eV right?"
        )
    fine = uniform_grid(energy[sel], step=min(0.05, float(np.min(np.diff(energy[sel])))))
    d = derivative_array(energy, channel, 1, smooth_ev)
    d_fine = interp_rows(fine, energy, d)
    peak = _peak_position(fine, d_fine)
    shifts = t_e0 - peak
    too_far = np.abs(shifts) > max_shift
    if too_far.any():
        raise ValidationError(
            f"derivative maximum of spectrum {int(np.nonzero(too_far)[0][0])} is "
            f"{abs(shifts[too_far][0]):.2f} eV from the target E0 {t_e0:.2f} eV "
            f"(max_shift={max_shift} eV)"
        )
    # the vertex of a sampled peak is good to a fraction of the fine step
    return shifts, np.full(shifts.shape, (fine[1] - fine[0]) / np.sqrt(12))


def _align_to_curve(
    energy: np.ndarray,
    channel: np.ndarray,
    t_deriv: np.ndarray,
    t_e0: float,
    window: tuple[float, float],
    smooth_ev: float,
    max_shift: float,
) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = t_e0 + window[0], t_e0 + window[1]
    if lo - max_shift < energy[0] or hi + max_shift > energy[-1]:
        max_shift = float(min(lo - energy[0], energy[-1] - hi, max_shift))
        if max_shift <= 0:
            raise ValidationError(
                f"alignment window {lo:.1f}..{hi:.1f} eV is not inside the data "
                f"{energy[0]:.1f}..{energy[-1]:.1f} eV"
            )
    step = min(0.05, float(np.min(np.diff(energy))))
    fine = np.arange(lo - max_shift, hi + max_shift + step / 2, step)
    d = interp_rows(fine, energy, derivative_array(energy, channel, 1, smooth_ev))
    dt = np.interp(fine, energy, t_deriv)
    core = (fine >= lo) & (fine <= hi)
    n_core = int(core.sum())
    offset = int(np.nonzero(core)[0][0])
    n_lag = int(max_shift / step)
    lags = np.arange(-n_lag, n_lag + 1)
    # cost(lag) = sum (d[i + lag] - dt[i])^2 over the core window, for every spectrum
    idx = offset + lags[:, None] + np.arange(n_core)[None, :]
    windows = d[:, idx]  # (n_s, n_lag, n_core)
    cost = ((windows - dt[core][None, None, :]) ** 2).sum(axis=-1)
    best = np.argmin(cost, axis=-1)
    shifts = -lags[best] * step  # a feature seen at E + lag*step must move down by that much

    # Gauss–Newton on the continuous shift, all spectra at once
    e_core = fine[core]
    dd = np.gradient(d, fine, axis=-1)
    for _ in range(6):
        x = e_core[None, :] - shifts[:, None]
        model = interp_rows_points(x, fine, d)
        jac = -interp_rows_points(x, fine, dd)
        resid = model - dt[core][None, :]
        delta = -(resid * jac).sum(axis=-1) / np.maximum((jac**2).sum(axis=-1), 1e-300)
        shifts = shifts + delta
        if np.all(np.abs(delta) < 1e-5):
            break
    x = e_core[None, :] - shifts[:, None]
    resid = interp_rows_points(x, fine, d) - dt[core][None, :]
    jac = -interp_rows_points(x, fine, dd)
    # resampled points are correlated over the smoothing width: count independent ones
    n_indep = max((hi - lo) / max(smooth_ev, step), 2.0)
    s2 = (resid**2).sum(axis=-1) / max(n_core - 1, 1)
    stderr = np.sqrt(s2 * n_core / (n_indep * np.maximum((jac**2).sum(axis=-1), 1e-300)))
    return shifts, stderr


def interp_rows_points(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation: ``out[s, j] = interp(x[s, j], xp, fp[s])``."""
    idx = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    x0 = xp[idx]
    t = (x - x0) / (xp[idx + 1] - x0)
    rows = np.arange(fp.shape[0])[:, None]
    return fp[rows, idx] * (1 - t) + fp[rows, idx + 1] * t


def _apply_shifts(series: Series, shifts: np.ndarray) -> Series:
    energy = series.energy
    lo = energy[0] + shifts.max()
    hi = energy[-1] + shifts.min()
    grid = energy[(energy >= lo) & (energy <= hi)]
    x = grid[None, :] - shifts[:, None]  # where each shifted spectrum is sampled
    mu = interp_rows_points(x, energy, series.mu)
    ref = None if series.reference is None else interp_rows_points(x, energy, series.reference)
    coords = dict(series.coords)
    coords["energy_shift"] = shifts
    meta = dict(series.meta)
    meta["alignment"] = {
        "shifts_ev": shifts.tolist(),
        "grid": [float(grid[0]), float(grid[-1]), int(grid.size)],
        "interpolation": "linear",
    }
    return Series(
        grid, mu, labels=series.labels, time=series.time, reference=ref, coords=coords, meta=meta
    )
