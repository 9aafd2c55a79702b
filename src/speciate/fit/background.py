"""LCF of raw μ: ``scale × Σ wⱼ sⱼ(E − δⱼ) + polynomial(E)``, batched over a series.

The background polynomial enters linearly and without constraints, so it is eliminated
exactly before the weights are solved (variable projection): the data, the standards
and their shift tables are projected onto the complement of the polynomials on the fit
window (one shared (n_energy, m) orthonormal basis), and every solver of
`speciate.fit` then runs unchanged on the projected problem. Its unknowns are the
amplitudes ``aⱼ = scale·wⱼ``; with sum-to-one ``scale = Σ aⱼ`` and ``w = a / scale``
(weights >= 0 become a >= 0). The projected covariance of ``a`` is the exact marginal
covariance with the background fitted, and the weights' errors follow by the delta
method. Normalization errors (pre-edge line, edge step) are a scale and a smooth
background, so they cannot leak into the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._arrays import readonly_copy
from speciate.errors import ValidationError
from speciate.fit.design import Design, ShiftTable
from speciate.fit.results import LCFResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = [
    "BACKGROUNDS",
    "BackgroundLCFResult",
    "ProjectedDesign",
    "amplitude_bounds",
    "background_order",
    "build_background_result",
    "polynomial_coefs",
    "project_out",
    "to_fractions",
]

#: Backgrounds of scaled fits and their polynomial degrees; ``"scale"`` fits the scale
#: alone (degree -1: no polynomial), for normalized spectra whose edge step is off.
BACKGROUNDS = {"scale": -1, "constant": 0, "linear": 1, "quadratic": 2}


def background_order(background: Any) -> int | None:
    """Degree of the ``background`` polynomial; None for no background."""
    if background is None:
        return None
    if background not in BACKGROUNDS:
        raise ValidationError(
            f"background must be None or one of {sorted(BACKGROUNDS)}; got {background!r}"
        )
    return BACKGROUNDS[background]


def amplitude_bounds(
    lo: np.ndarray, hi: np.ndarray, sum_to_one: bool, background: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the amplitudes ``a = scale·w`` for weight bounds ``lo, hi`` (k,).

    With sum-to-one the scale is free, so only sign bounds carry over: every lower
    bound must be 0 or None and every upper bound >= 1 (implied by the others).
    Without sum-to-one the scale is 1 and the bounds apply to ``a`` as given, which
    leaves ``background="scale"`` nothing to fit: refused.
    """
    if not sum_to_one:
        if background == "scale":
            raise ValidationError(
                "background='scale' fits the scale of weights that sum to 1; with "
                "sum_to_one=False the weights are free already (use background=None, or "
                "a polynomial background)"
            )
        return lo, hi
    ok_lo = (lo == 0.0) | np.isneginf(lo)
    ok_hi = hi >= 1.0
    if not (ok_lo.all() and ok_hi.all()):
        raise ValidationError(
            "with a background and sum_to_one the weights can only be bounded below by 0 "
            f"(bounds (0, 1) or None); got lo={lo.tolist()}, hi={hi.tolist()}"
        )
    return lo.copy(), np.full_like(hi, np.inf)


def _project(values: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``values`` (..., n_energy) minus their projection on the orthonormal ``basis``."""
    if basis.shape[1] == 0:
        return values.copy()
    return values - (values @ basis) @ basis.T


@dataclass(frozen=True, eq=False)
class ProjectedDesign(Design):
    """A `Design` with a polynomial background projected out of data and standards.

    Attributes
    ----------
    background : (n_energy, m) orthonormal basis of the background polynomials
    parent : the unprojected design (for the fitted curves)
    center, width : eV, the polynomials are in ``(E − center)/width``
    """

    background: np.ndarray
    parent: Design
    center: float
    width: float

    def shifted(self, shifts: np.ndarray, derivative: bool = False) -> np.ndarray:
        """Projected standards at ``energy − shift``, (n_spectra, n_energy, k)."""
        out = self.parent.shifted(shifts, derivative)
        return _project(out.transpose(0, 2, 1), self.background).transpose(0, 2, 1)

    def shift_table(self, reach: float) -> ShiftTable:
        """The parent's table with every row projected (projection is linear, so values
        and shift derivatives stay consistent)."""
        table = self.parent.shift_table(reach)
        rows = _project(table.rows, self.background)
        rows.setflags(write=False)
        return ShiftTable(rows=rows, step=table.step, half=table.half, k=table.k)

    def subset(self, idx: Sequence[int]) -> ProjectedDesign:
        """The same projected design restricted to the standards at ``idx``."""
        idx = [int(i) for i in idx]
        parent = self.parent.subset(idx)
        return ProjectedDesign(
            energy=self.energy, y=self.y, matrix=readonly_copy(self.matrix[:, idx]),
            names=parent.names, splines=parent.splines, e0=self.e0,
            background=self.background, parent=parent, center=self.center, width=self.width,
        )  # fmt: skip


def project_out(design: Design, order: int) -> ProjectedDesign:
    """Project polynomials of degree <= ``order`` in E out of ``design``.

    The polynomials are in ``(E − E_ref)/half_width`` (E_ref the design's E0, else the
    window centre), orthonormalized on the window grid by QR. ``order=-1`` projects
    nothing out (a fitted scale without a polynomial).
    """
    energy = design.energy
    if energy.size <= design.matrix.shape[1] + order + 1:
        raise ValidationError(
            f"{energy.size} points in the fit window cannot fit {design.matrix.shape[1]} "
            f"standards and a degree-{order} background"
        )
    center = float(design.e0) if design.e0 is not None else 0.5 * float(energy[0] + energy[-1])
    width = 0.5 * float(energy[-1] - energy[0])
    vander = ((energy - center) / width)[:, None] ** np.arange(order + 1)
    basis, _ = np.linalg.qr(vander)
    basis.setflags(write=False)
    y = _project(design.y, basis)
    matrix = _project(design.matrix.T, basis).T
    y.setflags(write=False)
    matrix = readonly_copy(matrix)
    return ProjectedDesign(
        energy=energy, y=y, matrix=matrix, names=design.names, splines=design.splines,
        e0=design.e0, background=basis, parent=design, center=center, width=width,
    )  # fmt: skip


def to_fractions(
    amplitudes: np.ndarray, cov: np.ndarray, sum_to_one: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights, scale and their covariances from amplitudes ``a = scale·w``.

    Parameters
    ----------
    amplitudes
        (n, k).
    cov
        (n, p, p) covariance of the amplitudes (first k) and any further parameters
        (shifts), already scaled to the noise.
    sum_to_one
        ``scale = Σa, w = a/scale`` (delta method for the covariance), else scale 1.

    Returns
    -------
    weights (n, k), scale (n,), cov (n, p, p) with the weight block transformed,
    scale variance (n,).
    """
    n, k = amplitudes.shape
    if not sum_to_one:
        return amplitudes, np.ones(n), cov, np.zeros(n)
    scale = amplitudes.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = amplitudes / scale[:, None]
        # ∂w_i/∂a_j = (δ_ij − w_i)/scale; other parameters unchanged
        jac = np.zeros_like(cov)
        jac[:] = np.eye(cov.shape[1])
        jac[:, :k, :k] = (np.eye(k)[None] - w[:, :, None]) / scale[:, None, None]
    cov_w = jac @ cov @ jac.transpose(0, 2, 1)
    scale_var = cov[:, :k, :k].sum(axis=(1, 2))
    return w, scale, cov_w, scale_var


@dataclass(frozen=True, eq=False)
class BackgroundLCFResult(LCFResult):
    """An `LCFResult` of raw μ fitted as ``scale × Σ wⱼ sⱼ(E − δⱼ) + polynomial(E)``.

    ``fit = scale·(basis·w) + background``; ``weights`` are fractions (summing to 1
    with sum-to-one) and ``basis`` holds the standards as given (normalized).

    Attributes
    ----------
    scale, scale_stderr : (n_spectra,) the fitted edge-step scale (units of the data)
        and its 1-σ uncertainty; 1 and 0 without sum-to-one
    background : (n_spectra, n_energy) the fitted background curve
    background_coefs : (n_spectra, order + 1) its coefficients in powers of
        ``(E − background_center)`` eV, lowest first
    background_center : eV, E0 of the window (or the window centre)
    background_kind : "scale" (no polynomial: ``background`` is 0), "constant",
        "linear" or "quadratic"
    """

    scale: np.ndarray
    scale_stderr: np.ndarray
    background: np.ndarray
    background_coefs: np.ndarray
    background_center: float
    background_kind: str

    def __repr__(self) -> str:
        return (
            super()
            .__repr__()
            .replace("LCFResult(", f"BackgroundLCFResult(background={self.background_kind!r}, ", 1)
        )

    def components(self, index: int) -> np.ndarray:
        """Scaled weighted standards of spectrum ``index``, shape (n_energy, k)."""
        return super().components(index) * self.scale[index]

    def to_dataframe(self) -> pd.DataFrame:
        """`LCFResult.to_dataframe` plus scale and background coefficients."""
        table = super().to_dataframe()
        table["scale"] = self.scale
        table["scale_stderr"] = self.scale_stderr
        for p in range(self.background_coefs.shape[1]):
            table[f"background_c{p}"] = self.background_coefs[:, p]
        return table

    def to_xarray(self) -> xr.Dataset:
        """`LCFResult.to_xarray` plus scale, background curve and coefficients."""
        ds = super().to_xarray()
        ds["scale"] = (("spectrum",), self.scale)
        ds["scale_stderr"] = (("spectrum",), self.scale_stderr)
        ds["background"] = (("spectrum", "energy"), self.background)
        ds["background_coefs"] = (("spectrum", "power"), self.background_coefs)
        ds.attrs["speciate_type"] = "BackgroundLCFResult"
        ds.attrs["background"] = self.background_kind
        ds.attrs["background_center"] = self.background_center
        return ds

    def report(self, max_spectra: int = 10) -> str:
        """`LCFResult.report` with the background and the scale of each spectrum."""
        kind = (
            "none (scale only)"
            if self.background_kind == "scale"
            else f"{self.background_kind} in (E - {self.background_center:.2f} eV)"
        )
        head = f"  background   : {kind}; scale (median) = {float(np.median(self.scale)):.5g}"
        lines = super().report(max_spectra).split("\n")
        return "\n".join([*lines[:5], head, *lines[5:]])


def polynomial_coefs(curves: np.ndarray, design: ProjectedDesign) -> np.ndarray:
    """Coefficients (n, m) in powers of (E − center) eV of background curves (n, n_energy)."""
    m = design.background.shape[1]
    if m == 0:
        return np.zeros((curves.shape[0], 0))
    t = design.energy - design.center
    u = t / design.width
    vander = u[:, None] ** np.arange(m)
    coef_u = np.linalg.lstsq(vander, curves.T, rcond=None)[0].T
    return coef_u / design.width ** np.arange(m)


def build_background_result(
    fit_data: Any,
    design: ProjectedDesign,
    amplitudes: np.ndarray,
    states: np.ndarray,
    cov_unit: np.ndarray,
    basis: np.ndarray,
    sum_to_one: bool,
    shifts: np.ndarray | None,
    e_range: tuple[float, float],
    provenance: dict[str, Any],
    kind: str,
) -> BackgroundLCFResult:
    """Statistics, fractions and the background of a solved projected fit.

    ``basis`` (n or 1, n_energy, k) holds the unprojected standards (shifted when
    shifts were fitted or given); ``states`` and ``cov_unit`` come from the solver on
    the projected problem (amplitudes, then shifts). Free parameters are the free
    amplitudes (the scale and the free weights), the fitted shifts and the m
    background coefficients.
    """
    from speciate.fit.solvers import FREE, HI, LO

    k, m = amplitudes.shape[1], design.background.shape[1]
    y = design.parent.y
    model = (
        np.einsum("sek,sk->se", basis, amplitudes)
        if basis.shape[0] > 1
        else amplitudes @ basis[0].T
    )
    rest = y - model
    background = (rest @ design.background) @ design.background.T
    residual = rest - background
    n_free = (states == FREE).sum(axis=1) + m
    chi2 = np.einsum("se,se->s", residual, residual)
    dof = y.shape[1] - n_free
    with np.errstate(divide="ignore", invalid="ignore"):
        reduced = np.where(dof > 0, chi2 / np.maximum(dof, 1), np.nan)
        r_factor = chi2 / np.einsum("se,se->s", y, y)
    weights, scale, cov, scale_var = to_fractions(
        amplitudes, cov_unit * reduced[:, None, None], sum_to_one
    )
    err = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))

    def ro(a: np.ndarray, dtype: Any = float) -> np.ndarray:
        return readonly_copy(a, dtype)

    return BackgroundLCFResult(
        energy=design.energy, data=y, fit=ro(model + background), residual=ro(residual),
        basis=ro(basis), weights=ro(weights), stderr=ro(err[:, :k]),
        total=ro(weights.sum(axis=1)), shifts=None if shifts is None else ro(shifts),
        shifts_stderr=None if shifts is None else ro(err[:, k : 2 * k]),
        r_factor=ro(r_factor), chi2=ro(chi2), reduced_chi2=ro(reduced),
        n_free=ro(n_free, int),
        at_bound=ro((states[:, :k] == LO) | (states[:, :k] == HI), bool),
        standards=design.names, labels=fit_data.labels, time=fit_data.time,
        coords=fit_data.coords, e0=design.e0,
        e_range=(float(e_range[0]), float(e_range[1])), provenance=provenance,
        scale=ro(scale), scale_stderr=ro(np.sqrt(np.clip(scale_var, 0.0, None))),
        background=ro(background), background_coefs=ro(polynomial_coefs(background, design)),
        background_center=design.center, background_kind=kind,
    )  # fmt: skip
