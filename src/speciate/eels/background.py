"""Pre-edge background of EELS core-loss spectra: power law or exponential, all pixels at once.

The background ``I(E) = A E^-r`` (power law) or ``I(E) = A exp(-b E)`` (exponential) is a
straight line in log-counts, so every pixel is fitted in closed form by weighted linear
regression of ``ln I`` on ``ln E`` (or ``E``). The weights approximate Poisson statistics:
``var(ln I) ~ 1/I``, so the first pass weights each channel by its counts and a second pass by
the fitted counts, which brings the estimate to that of a per-pixel nonlinear least-squares
fit without iterating an optimizer per pixel. Channels with zero or negative counts have no
logarithm: they are masked (weight 0) and counted in `BackgroundFit.n_masked`.

Speed: the second-pass weights ``exp(a + s x)`` and the extrapolated background in the edge
window are not evaluated channel by channel. Around a reference slope ``s0`` (the block's
median), ``exp(s x) = exp(s0 x) * sum_k (s - s0)^k x^k / k!``, and the series is cut where
its remainder is below 1e-13 relative, so both become small matrix products (BLAS) with a
few columns instead of one exponential per channel and pixel. Pixels whose slope is too far
from the median for the series to converge quickly are evaluated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from speciate._arrays import readonly_view
from speciate.eels._chunks import map_pixels, matmul_rows
from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import records_provenance

__all__ = [
    "MODELS",
    "BackgroundFit",
    "BackgroundModel",
    "Exponential",
    "PowerLaw",
    "background_model",
    "fit_background",
    "subtract_background",
]

Model = Literal["power_law", "exponential"]


class BackgroundModel(Protocol):
    """A pre-edge background that is a straight line ``ln I = a + s x`` in one abscissa.

    Both fits (`fit_background` and the background of `speciate.eels.mlls`) see a model
    only through this protocol: its linear columns, the bounds of its energy axis and the
    range of exponents that is physically plausible.
    """

    name: str
    #: (low, high) exponent considered plausible; pixels outside are flagged, not clipped.
    plausible_exponent: tuple[float, float]

    def columns(self, energy: np.ndarray) -> np.ndarray:
        """The abscissa ``x`` of the line, shape (n_channels,); validates the energy bounds."""
        ...


@dataclass(frozen=True)
class PowerLaw:
    """``I = A E^-r``: linear in ``ln E``; losses must be positive.

    The plausible range of r (2–6) is the one reported for inner-shell edges in EELS
    (Egerton, *Electron Energy-Loss Spectroscopy in the Electron Microscope*, ch. 4);
    exponents outside it usually mean the window holds part of an edge or of the plural
    scattering of a lower one.
    """

    name: str = "power_law"
    plausible_exponent: tuple[float, float] = (2.0, 6.0)

    def columns(self, energy: np.ndarray) -> np.ndarray:
        energy = np.asarray(energy, dtype=float)
        if (energy <= 0).any():
            raise ValidationError(
                "a power-law background needs positive energy losses; the window starts at "
                f"{energy[0]:.2f} eV"
            )
        return np.log(energy)


@dataclass(frozen=True)
class Exponential:
    """``I = A exp(-b E)``: linear in ``E`` (b in 1/eV, positive for a falling background)."""

    name: str = "exponential"
    plausible_exponent: tuple[float, float] = (0.0, np.inf)

    def columns(self, energy: np.ndarray) -> np.ndarray:
        return np.asarray(energy, dtype=float)


MODELS: dict[str, BackgroundModel] = {m.name: m for m in (PowerLaw(), Exponential())}


def background_model(model: str | BackgroundModel) -> BackgroundModel:
    """The `BackgroundModel` named ``model`` (``"power_law"`` or ``"exponential"``).

    Raises
    ------
    ValidationError
        If no model has that name.
    """
    if not isinstance(model, str):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise ValidationError(
            f"background model must be one of {tuple(MODELS)}; got {model!r}"
        ) from None


def fit_flat(y: np.ndarray, x: np.ndarray, iterations: int = 2) -> tuple[np.ndarray, ...]:
    """Weighted log-linear fit of every row of ``y``: ``ln y = a + s x``.

    Parameters
    ----------
    y
        Counts, shape (n_pixels, n_channels).
    x
        Abscissa (ln E or E), shape (n_channels,).
    iterations
        1: weights = counts; 2 (default): weights = fitted counts of pass 1.

    Returns
    -------
    intercept, slope, n_masked
        Each shape (n_pixels,); ``n_masked`` counts the non-positive channels left out.

    Raises
    ------
    ValidationError
        If a pixel has fewer than 2 positive channels in the window.
    """
    if y.shape[0] and y.min() > 0:  # the usual case: one pass, no masks
        positive = None
        n_masked = np.zeros(y.shape[0], dtype=np.int64)
    else:
        positive = y > 0
        n_pos = positive.sum(axis=1)
        n_masked = y.shape[1] - n_pos
        if (n_pos < 2).any():
            first = int(np.nonzero(n_pos < 2)[0][0])
            raise ValidationError(
                "background window needs at least 2 channels with positive counts per pixel; "
                f"{int((n_pos < 2).sum())} pixel(s) have fewer (first: flat pixel index "
                f"{first}, {int(n_pos[first])} positive of {y.shape[1]}). Widen the window or "
                "bin pixels"
            )
    xc = x - x.mean()  # centring keeps the normal equations well conditioned
    powers = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)  # (n_channels, 3)
    if positive is None:
        z = np.log(y)
        w = y
    else:
        z = np.log(np.where(positive, y, 1.0))
        w = np.where(positive, y, 0.0)
    s0, s1, s2 = matmul_rows(w, powers).T
    t0, t1 = matmul_rows(w * z, powers[:, :2]).T
    slope, icpt = _solve_line(s0, s1, s2, t0, t1)
    mask = None if positive is None else positive.astype(np.float64)
    for _ in range(max(1, int(iterations)) - 1):
        # weights = fitted counts exp(icpt + slope * xc); the factor exp(icpt) cancels
        slope, icpt = _solve_line(*_exp_weighted_sums(z, mask, xc, slope))
    intercept = icpt - slope * x.mean()
    return intercept, slope, n_masked


# Relative remainder at which the series for exp((s - s0) x) is cut, and the largest
# |s - s0| * max|x| handled by the series (beyond it: exact exponentials for those rows).
_SERIES_TOL = 1e-13
_SERIES_MAX_ARG = 1.0


def _series_order(rho: float) -> int:
    """Smallest K with rho^(K+1) / (K+1)! * e^rho below `_SERIES_TOL`."""
    term, k = np.exp(rho), 0
    while True:
        term *= rho / (k + 1)
        if term <= _SERIES_TOL:
            return k
        k += 1


def _series_basis(x: np.ndarray, s_ref: float, n_terms: int) -> np.ndarray:
    """exp(s_ref x) x^k for k < n_terms, shape (n, n_terms), C-contiguous (for BLAS)."""
    basis = np.empty((x.size, n_terms))
    basis[:, 0] = np.exp(s_ref * x)
    for k in range(1, n_terms):
        np.multiply(basis[:, k - 1], x, out=basis[:, k])
    return basis


def _series_terms(delta: np.ndarray, order: int) -> np.ndarray:
    """delta^k / k! for k = 0..order, shape (n_rows, order + 1)."""
    out = np.empty((delta.size, order + 1))
    out[:, 0] = 1.0
    for k in range(1, order + 1):
        out[:, k] = out[:, k - 1] * delta / k
    return out


def _series_split(slope: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Reference slope (the mean), deviations, rows the series handles, series order."""
    s_ref = float(slope.mean())
    delta = slope - s_ref
    reach = np.abs(delta) * float(np.abs(x).max())
    ok = reach <= _SERIES_MAX_ARG
    order = _series_order(float(reach[ok].max())) if ok.any() else 0
    return s_ref, delta, ok, order


def _solve_line(
    s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, t0: np.ndarray, t1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of the weighted line from its moment sums."""
    slope = (s0 * t1 - s1 * t0) / (s0 * s2 - s1 * s1)
    return slope, (t0 - slope * s1) / s0


def _exp_weighted_sums(
    z: np.ndarray, mask: np.ndarray | None, xc: np.ndarray, slope: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Moment sums of the weights w = exp(slope * xc) (times mask), per row of z.

    Returns s_j = sum w xc^j (j = 0, 1, 2) and t_j = sum w z xc^j (j = 0, 1), each (n_rows,).
    ``z`` must be 0 wherever ``mask`` is 0 (fit_flat sets ln 1 there).
    """
    s_ref, delta, ok, order = _series_split(slope, xc)
    n_rows = z.shape[0]
    sums = np.empty((5, n_rows))
    if ok.any():
        every = bool(ok.all())
        basis = _series_basis(xc, s_ref, order + 3)  # (n_channels, order + 3)
        zb = matmul_rows(z if every else z[ok], basis[:, : order + 2])
        c = _series_terms(delta if every else delta[ok], order)
        # s_j = sum_k c_k M_(k+j), t_j = sum_k c_k Z_(k+j): windows of the moment columns
        if mask is None:
            hankel = sliding_window_view(basis.sum(axis=0), order + 1)[:3].T  # (order+1, 3)
            s_part = c @ hankel
        else:
            mb = matmul_rows(mask if every else mask[ok], basis)
            s_part = np.einsum("ik,ijk->ij", c, sliding_window_view(mb, order + 1, axis=1)[:, :3])
        t_part = np.einsum("ik,ijk->ij", c, sliding_window_view(zb, order + 1, axis=1))
        sums[:3, ok] = s_part.T
        sums[3:, ok] = t_part.T
    if not ok.all():
        bad = ~ok
        w = np.exp(slope[bad, None] * xc)
        if mask is not None:
            w *= mask[bad]
        powers = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)
        sums[:3, bad] = matmul_rows(w, powers).T
        sums[3:, bad] = matmul_rows(w * z[bad], powers[:, :2]).T
    return tuple(sums)


def evaluate_rows(log_a: np.ndarray, slope: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``exp(log_a + slope * x)`` for every row, shape (n_rows, n); x is ln E or E (n,).

    Equal to `evaluate_flat` within ~1e-13 relative, as a small matrix product.
    """
    xm = float(x.mean())
    v = x - xm
    amp = np.exp(log_a + slope * xm)
    s_ref, delta, ok, order = _series_split(slope, v)
    if ok.all():
        basis = np.ascontiguousarray(_series_basis(v, s_ref, order + 1).T)
        return matmul_rows(_series_terms(delta, order) * amp[:, None], basis)
    out = np.empty((log_a.size, x.size))
    if ok.any():
        basis = np.ascontiguousarray(_series_basis(v, s_ref, order + 1).T)
        out[ok] = matmul_rows(_series_terms(delta[ok], order) * amp[ok, None], basis)
    out[~ok] = amp[~ok, None] * np.exp(slope[~ok, None] * v)
    return out


@dataclass(frozen=True, eq=False)
class BackgroundFit:
    """A fitted pre-edge background for every pixel.

    Attributes
    ----------
    model
        ``"power_law"`` (``I = A E^-r``) or ``"exponential"`` (``I = A exp(-b E)``).
    window
        Fit window (e_min, e_max) in eV.
    log_amplitude
        ln A, shape (ny, nx).
    exponent
        r (power law, dimensionless) or b (exponential, 1/eV), shape (ny, nx).
    n_masked
        Channels with zero or negative counts left out of the fit, shape (ny, nx).
    provenance
        How the fit was made.
    """

    model: str
    window: tuple[float, float]
    log_amplitude: np.ndarray
    exponent: np.ndarray
    n_masked: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("log_amplitude", "exponent", "n_masked"):
            object.__setattr__(self, name, readonly_view(getattr(self, name), dtype=None))

    @property
    def amplitude(self) -> np.ndarray:
        """A in counts (power law: counts at 1 eV), shape (ny, nx)."""
        return np.exp(self.log_amplitude)

    @property
    def implausible(self) -> np.ndarray:
        """Pixels whose exponent lies outside the model's plausible range, shape (ny, nx)."""
        lo, hi = background_model(self.model).plausible_exponent
        return ~((self.exponent >= lo) & (self.exponent <= hi))

    def evaluate(self, energy: Any) -> np.ndarray:
        """Background counts at ``energy`` (eV, shape (n,)), shape (ny, nx, n)."""
        x = background_model(self.model).columns(energy)
        return evaluate_flat(self.log_amplitude[..., None], -self.exponent[..., None], x)

    def shape_at(self, energy: Any) -> np.ndarray:
        """Background shape normalised to 1 at the first energy, shape (ny, nx, n)."""
        x = background_model(self.model).columns(energy)
        return np.exp(-self.exponent[..., None] * (x - x[0]))


def evaluate_flat(log_a: np.ndarray, slope: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``exp(log_a + slope * x)`` broadcast over pixels; x is ln E or E."""
    return np.exp(log_a + slope * x)


@records_provenance
def fit_background(
    si: SpectrumImage,
    window: tuple[float, float],
    model: Model = "power_law",
    *,
    iterations: int = 2,
) -> BackgroundFit:
    """Fit a power-law or exponential background in a pre-edge window, every pixel at once.

    Parameters
    ----------
    si
        Spectrum image (ny, nx, n_energy), counts.
    window
        Pre-edge fit window (e_min, e_max) in eV, inside the data.
    model
        ``"power_law"`` or ``"exponential"``.
    iterations
        Re-weighting passes (2 brings the fit to the per-pixel Poisson least-squares result).

    Returns
    -------
    BackgroundFit
        ln A, exponent and the number of masked channels per pixel.

    Raises
    ------
    ValidationError
        Unknown model, a window outside the data, or a pixel with fewer than 2 positive
        channels in the window.
    """
    shape = background_model(model)
    sl = si.channels(window, "background window")
    x = shape.columns(si.energy[sl])

    def kernel(y: np.ndarray) -> np.ndarray:
        a, s, n = fit_flat(y, x, iterations)
        return np.stack([a, s, n], axis=1)

    out = map_pixels(kernel, si.data, 3, sl)
    return BackgroundFit(
        model=shape.name,
        window=(float(window[0]), float(window[1])),
        log_amplitude=out[..., 0],
        exponent=-out[..., 1],
        n_masked=out[..., 2].astype(np.int64),
        provenance={"source": dict(si.meta)},
    )


@records_provenance
def subtract_background(si: SpectrumImage, fit: BackgroundFit) -> SpectrumImage:
    """The spectrum image minus its fitted background, from the window start upwards.

    Channels below the background window are dropped: the model says nothing there.

    Returns
    -------
    SpectrumImage
        Shape (ny, nx, n_kept), signal counts above background (may be negative from noise).
    """
    if fit.log_amplitude.shape != si.nav_shape:
        raise ValidationError(
            f"background fit is for {fit.log_amplitude.shape} pixels but the image has "
            f"{si.nav_shape}"
        )
    start = si.channels((fit.window[0], si.energy[-1]), "background window").start
    energy = si.energy[start:]
    data = si.data[..., start:]
    if not si.is_lazy:
        data = np.asarray(data, dtype=np.float64)
    signal = data - fit.evaluate(energy)
    meta = dict(si.meta)
    meta["background"] = {"model": fit.model, "window": list(fit.window)}
    return si.replace(data=signal, energy=energy, meta=meta)
