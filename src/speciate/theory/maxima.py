"""Derivative maxima of computed spectra by one stated rule (the radius-convergence test).

Rule: a Gaussian of ``gaussian_fwhm`` eV on the spectrum's own grid
(`speciate.theory.broadening.gaussian_broaden`), dμ/dE by finite differences
(`numpy.gradient`, non-uniform grids allowed), then the local maxima of dμ/dE that are
positive and have a prominence of at least ``prominence`` times the largest dμ/dE inside
``window`` (`scipy.signal.find_peaks`), kept when they lie inside ``window`` (eV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import find_peaks

from speciate.errors import ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = ["DerivativeMaxima", "derivative_maxima"]


@dataclass(frozen=True)
class DerivativeMaxima:
    """The dμ/dE maxima of every spectrum of a series.

    Attributes
    ----------
    labels
        Spectrum labels, (n_spectra,).
    positions
        Per spectrum, the energies of the maxima (eV), increasing.
    heights
        Per spectrum, dμ/dE at the maxima (units of μ per eV).
    window, prominence, gaussian_fwhm
        The rule's parameters.
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    labels: tuple[str, ...]
    positions: tuple[tuple[float, ...], ...]
    heights: tuple[tuple[float, ...], ...]
    window: tuple[float, float]
    prominence: float
    gaussian_fwhm: float
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> tuple[int, ...]:
        """Number of maxima per spectrum."""
        return tuple(len(p) for p in self.positions)

    @property
    def flatness(self) -> tuple[float, ...]:
        """Smallest over largest height per spectrum (1 = equal; NaN with < 2 maxima)."""
        return tuple(min(h) / max(h) if len(h) > 1 else float("nan") for h in self.heights)


@records_provenance
def derivative_maxima(
    series: Series,
    window: tuple[float, float] = (6543.0, 6562.0),
    prominence: float = 0.05,
    gaussian_fwhm: float = 1.0,
) -> DerivativeMaxima:
    """Find the dμ/dE maxima of every spectrum in ``series`` by the module's rule.

    Parameters
    ----------
    series
        Spectra (n_spectra, n_energy), energies in eV (after any alignment shift).
    window
        Energy range (eV) in which maxima are kept and the reference height is taken.
    prominence
        Minimum prominence as a fraction of the largest dμ/dE inside ``window``.
    gaussian_fwhm
        Gaussian FWHM (eV) applied first; 0 for none.
    """
    lo, hi = (float(x) for x in window)
    if not hi > lo:
        raise ValidationError(f"window must be (low, high) with high > low eV; got {window!r}")
    if not 0 < prominence < 1:
        raise ValidationError(f"prominence is a fraction in (0, 1); got {prominence!r}")
    inside = (series.energy >= lo) & (series.energy <= hi)
    if inside.sum() < 3:
        raise ValidationError(
            f"window {lo:g}..{hi:g} eV holds {int(inside.sum())} grid point(s) of "
            f"{series.energy[0]:.1f}..{series.energy[-1]:.1f} eV; need at least 3"
        )
    if gaussian_fwhm > 0:
        from speciate.theory.broadening import gaussian_broaden

        series = gaussian_broaden(series, gaussian_fwhm)
    dmu = np.gradient(series.mu, series.energy, axis=-1)
    top = np.where(inside, dmu, -np.inf).max(axis=1)
    positions, heights = [], []
    for row, ref in zip(dmu, top):
        # find_peaks works on one 1-D signal; the loop is over a handful of spectra
        peaks, _ = find_peaks(row, height=0.0, prominence=prominence * max(ref, 0.0))
        peaks = peaks[inside[peaks]]
        positions.append(tuple(float(series.energy[p]) for p in peaks))
        heights.append(tuple(float(row[p]) for p in peaks))
    return DerivativeMaxima(
        series.labels, tuple(positions), tuple(heights), (lo, hi), float(prominence),
        float(gaussian_fwhm),
    )  # fmt: skip
