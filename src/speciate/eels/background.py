"""Pre-edge background of EELS core-loss spectra: power law or exponential, all pixels at once.

The background ``I(E) = A E^-r`` (power law) or ``I(E) = A exp(-b E)`` (exponential) is a
straight line in log-counts, so every pixel is fitted in closed form by weighted linear
regression of ``ln I`` on ``ln E`` (or ``E``). The weights approximate Poisson statistics:
``var(ln I) ~ 1/I``, so the first pass weights each channel by its counts and a second pass by
the fitted counts, which brings the estimate to that of a per-pixel nonlinear least-squares
fit without iterating an optimizer per pixel. Channels with zero or negative counts have no
logarithm: they are masked (weight 0) and counted in `BackgroundFit.n_masked`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from speciate.eels._chunks import map_pixels
from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import ValidationError
from speciate.provenance import make_provenance

__all__ = ["BackgroundFit", "fit_background", "subtract_background"]

Model = Literal["power_law", "exponential"]
_MODELS = ("power_law", "exponential")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _abscissa(energy: np.ndarray, model: str) -> np.ndarray:
    if model == "power_law":
        if (energy <= 0).any():
            raise ValidationError(
                "a power-law background needs positive energy losses; the window starts at "
                f"{energy[0]:.2f} eV"
            )
        return np.log(energy)
    return np.asarray(energy, dtype=float)


def _check_model(model: str) -> None:
    if model not in _MODELS:
        raise ValidationError(f"background model must be one of {_MODELS}; got {model!r}")


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
    positive = y > 0
    n_pos = positive.sum(axis=1)
    all_positive = bool((n_pos == y.shape[1]).all())
    if (n_pos < 2).any():
        first = int(np.nonzero(n_pos < 2)[0][0])
        raise ValidationError(
            "background window needs at least 2 channels with positive counts per pixel; "
            f"{int((n_pos < 2).sum())} pixel(s) have fewer (first: flat pixel index {first}, "
            f"{int(n_pos[first])} positive of {y.shape[1]}). Widen the window or bin pixels"
        )
    xc = x - x.mean()  # centring keeps the normal equations well conditioned
    powers = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)  # (n_channels, 3)
    if all_positive:  # the usual case: skip the masking passes
        z = np.log(y)
        w = y
    else:
        z = np.log(np.where(positive, y, 1.0))
        w = np.where(positive, y, 0.0)
    for it in range(max(1, int(iterations))):
        s0, s1, s2 = (w @ powers).T
        t0, t1 = ((w * z) @ powers[:, :2]).T
        det = s0 * s2 - s1 * s1
        slope = (s0 * t1 - s1 * t0) / det
        icpt = (t0 - slope * s1) / s0
        if it + 1 < iterations:
            w = np.exp(icpt[:, None] + slope[:, None] * xc)
            if not all_positive:
                w[~positive] = 0.0
    intercept = icpt - slope * x.mean()
    return intercept, slope, (~positive).sum(axis=1)


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
            object.__setattr__(self, name, _readonly(np.asarray(getattr(self, name))))

    @property
    def amplitude(self) -> np.ndarray:
        """A in counts (power law: counts at 1 eV), shape (ny, nx)."""
        return np.exp(self.log_amplitude)

    def evaluate(self, energy: Any) -> np.ndarray:
        """Background counts at ``energy`` (eV, shape (n,)), shape (ny, nx, n)."""
        x = _abscissa(np.asarray(energy, dtype=float), self.model)
        return evaluate_flat(self.log_amplitude[..., None], -self.exponent[..., None], x)

    def shape_at(self, energy: Any) -> np.ndarray:
        """Background shape normalised to 1 at the first energy, shape (ny, nx, n)."""
        x = _abscissa(np.asarray(energy, dtype=float), self.model)
        return np.exp(-self.exponent[..., None] * (x - x[0]))


def evaluate_flat(log_a: np.ndarray, slope: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``exp(log_a + slope * x)`` broadcast over pixels; x is ln E or E."""
    return np.exp(log_a + slope * x)


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
    _check_model(model)
    sl = si.channels(window, "background window")
    x = _abscissa(si.energy[sl], model)

    def kernel(y: np.ndarray) -> np.ndarray:
        a, s, n = fit_flat(y, x, iterations)
        return np.stack([a, s, n], axis=1)

    out = map_pixels(kernel, si.data, 3, sl)
    return BackgroundFit(
        model=model,
        window=(float(window[0]), float(window[1])),
        log_amplitude=out[..., 0],
        exponent=-out[..., 1],
        n_masked=out[..., 2].astype(np.int64),
        provenance=make_provenance(
            "speciate.eels.fit_background",
            {"window": window, "model": model, "iterations": iterations},
            source=dict(si.meta),
        ),
    )


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
