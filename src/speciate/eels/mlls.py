"""Multiple linear least squares (MLLS) of a spectrum image against reference spectra.

All pixels share one design matrix (the references on the window channels, optionally with
their energy derivatives), so the whole image is solved with one precomputed pseudo-inverse
and a matrix product. The pre-edge background is fitted in the same pass (closed form, see
`speciate.eels.background`) and either subtracted, or kept as an extra per-pixel column whose
amplitude is refitted together with the references (``joint_background=True``, the model of
a power law plus scaled fixed patterns); the per-pixel column is handled with batched
(n_pixels, p, p) normal equations. Dask arrays are processed chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from speciate._arrays import readonly_view
from speciate.eels._chunks import map_pixels, matmul_rows
from speciate.eels.background import (
    BackgroundFit,
    background_model,
    evaluate_rows,
    fit_flat,
)
from speciate.eels.references import collect_references
from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import FitError, ValidationError
from speciate.provenance import records_provenance

__all__ = ["MLLSResult", "mlls"]

# Condition number above which the references cannot be told apart in the window.
_MAX_COND = 1e8


@dataclass(frozen=True, eq=False)
class MLLSResult:
    """Per-pixel MLLS coefficients and the valence they imply.

    Attributes
    ----------
    coefficients
        Weight of each reference, shape (ny, nx, k).
    stderr
        One-sigma standard error of each coefficient, shape (ny, nx, k).
    reduced_chi2
        Sum of squared residuals over the noise variance (Poisson: the raw counts) per degree
        of freedom, shape (ny, nx); about 1 for a good fit under ``noise="poisson"``.
    valence
        Coefficient-weighted valence sum(c_i v_i) / sum(c_i), shape (ny, nx), or None when
        the references' valences are unknown.
    labels, valences
        Reference labels and formal valences (k,).
    window
        Fit window (e_min, e_max) in eV.
    energy
        Channel energies of the fit window in eV, shape (n_window,).
    references
        The design's reference spectra on those channels, shape (k, n_window).
    derivative_coefficients
        Weights of the references' energy derivatives (ny, nx, k) when ``derivatives=True``:
        c'_i / c_i approximates minus the energy shift of reference i in eV.
    background
        The pre-edge background fit used, or None.
    background_scale
        Refitted background amplitude relative to the pre-edge extrapolation (ny, nx) when
        ``joint_background=True``.
    notes
        What was done to the inputs (references interpolated onto the image grid...).
    provenance
        Function, parameters and versions.
    """

    coefficients: np.ndarray
    stderr: np.ndarray
    reduced_chi2: np.ndarray
    valence: np.ndarray | None
    labels: tuple[str, ...]
    valences: tuple[float, ...] | None
    window: tuple[float, float]
    energy: np.ndarray
    references: np.ndarray
    derivative_coefficients: np.ndarray | None = None
    background: BackgroundFit | None = None
    background_scale: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "coefficients",
            "stderr",
            "reduced_chi2",
            "valence",
            "energy",
            "references",
            "derivative_coefficients",
            "background_scale",
        ):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, readonly_view(value, dtype=None))

    @property
    def fractions(self) -> np.ndarray:
        """Coefficients normalised to sum 1 per pixel, shape (ny, nx, k)."""
        total = self.coefficients.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total != 0, self.coefficients / total, np.nan)

    def fitted(self, y: int, x: int) -> np.ndarray:
        """The edge model sum(c_i R_i) at pixel (y, x) on `energy`, shape (n_window,)."""
        return self.coefficients[y, x] @ self.references

    def to_xarray(self) -> Any:
        """The maps as an `xarray.Dataset` (dims y, x, reference), provenance in attrs."""
        import json

        import xarray as xr

        data = {
            "coefficients": (("y", "x", "reference"), self.coefficients),
            "stderr": (("y", "x", "reference"), self.stderr),
            "reduced_chi2": (("y", "x"), self.reduced_chi2),
            "references": (("reference", "energy"), self.references),
        }
        if self.valence is not None:
            data["valence"] = (("y", "x"), self.valence)
        if self.derivative_coefficients is not None:
            dims = ("y", "x", "reference")
            data["derivative_coefficients"] = (dims, self.derivative_coefficients)
        if self.background is not None:
            data["background_exponent"] = (("y", "x"), self.background.exponent)
            data["background_log_amplitude"] = (("y", "x"), self.background.log_amplitude)
        if self.background_scale is not None:
            data["background_scale"] = (("y", "x"), self.background_scale)
        coords: dict[str, Any] = {"reference": list(self.labels), "energy": self.energy}
        if self.valences is not None:
            coords["reference_valence"] = ("reference", np.array(self.valences))
        ds = xr.Dataset(data, coords=coords)
        ds["energy"].attrs["units"] = "eV"
        ds.attrs["window_eV"] = list(self.window)
        ds.attrs["notes"] = json.dumps(list(self.notes))
        ds.attrs["provenance"] = json.dumps(self.provenance)
        return ds

    def report(self) -> str:
        """A short text summary: references, mean coefficients, valence and chi2."""
        lines = [
            f"MLLS over {self.window[0]:.1f}-{self.window[1]:.1f} eV, "
            f"{self.coefficients.shape[0]}x{self.coefficients.shape[1]} pixels"
        ]
        mean = np.nanmean(self.coefficients, axis=(0, 1))
        for i, lab in enumerate(self.labels):
            v = "" if self.valences is None else f" (valence {self.valences[i]:g})"
            lines.append(f"  {lab}{v}: mean coefficient {mean[i]:.4g}")
        if self.valence is not None:
            lines.append(
                f"  valence: mean {np.nanmean(self.valence):.3f}, "
                f"range {np.nanmin(self.valence):.3f}..{np.nanmax(self.valence):.3f}"
            )
        lines.append(f"  reduced chi2: median {np.nanmedian(self.reduced_chi2):.3g}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _design(refs: np.ndarray, energy: np.ndarray, derivatives: bool) -> np.ndarray:
    cols = [refs]
    if derivatives:
        cols.append(np.gradient(refs, energy, axis=1))
    design = np.concatenate(cols).T  # (n_window, p)
    n, p = design.shape
    if n <= p:
        raise FitError(f"the fit window has {n} channels for {p} parameters; widen the window")
    cond = np.linalg.cond(design)
    if not np.isfinite(cond) or cond > _MAX_COND:
        raise FitError(
            f"the references are linearly dependent in the window (condition number {cond:.3g});"
            " remove a duplicate reference or widen the window"
        )
    return design


class _Kernel:
    """The fused per-block computation: background fit, subtraction, MLLS, statistics."""

    def __init__(
        self,
        design: np.ndarray,
        win: slice,
        bg: tuple[slice, np.ndarray, np.ndarray] | None,
        joint: bool,
        poisson: bool,
        iterations: int,
    ) -> None:
        self.design = design
        self.pinv = np.linalg.pinv(design)  # (p, n_window)
        self.pinv_t = np.ascontiguousarray(self.pinv.T)  # (n_window, p)
        self.design_t = np.ascontiguousarray(design.T)  # (p, n_window)
        self.gram_inv_diag = np.diag(np.linalg.inv(design.T @ design))
        self.win = win
        self.bg = bg
        self.joint = joint
        self.poisson = poisson
        self.iterations = iterations
        p = design.shape[1]
        self.n_out = 2 * p + 1 + (3 if bg is not None else 0) + (2 if joint else 0)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        raw = block[:, self.win]
        extra: list[np.ndarray] = []
        if self.bg is None:
            y = raw
            coef, stderr, resid = self._solve_shared(y)
        else:
            sl, x_bg, x_win = self.bg
            log_a, slope, n_masked = fit_flat(block[:, sl], x_bg, self.iterations)
            extra = [log_a, slope, n_masked.astype(float)]
            background = evaluate_rows(log_a, slope, x_win)
            if self.joint:
                y = raw - background
                coef, stderr, resid, scale, scale_err = self._solve_joint(y, background)
                extra += [scale, scale_err]
            else:
                y = np.subtract(raw, background, out=background)  # reuse the buffer
                coef, stderr, resid = self._solve_shared(y)
        dof = self.design.shape[0] - self.design.shape[1] - (1 if self.joint else 0)
        if self.poisson:
            scaled = np.maximum(raw, 1.0)
            np.divide(resid, scaled, out=scaled)
            chi2 = np.einsum("ij,ij->i", scaled, resid) / dof
        else:
            chi2 = np.einsum("ij,ij->i", resid, resid) / dof
        return np.column_stack([coef, stderr, chi2, *extra])

    def _solve_shared(self, y: np.ndarray) -> tuple[np.ndarray, ...]:
        coef = matmul_rows(y, self.pinv_t)
        resid = y - matmul_rows(coef, self.design_t)
        sigma2 = np.einsum("ij,ij->i", resid, resid) / (self.design.shape[0] - self.design.shape[1])
        stderr = np.sqrt(sigma2[:, None] * self.gram_inv_diag)
        return coef, stderr, resid

    def _solve_joint(self, y: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, ...]:
        # y already has the extrapolated background removed; refitting its amplitude means one
        # more column b = background itself, whose coefficient is (scale - 1).
        x = self.design
        n, p = x.shape
        b = background
        gram = np.empty((y.shape[0], p + 1, p + 1))
        gram[:, :p, :p] = x.T @ x
        cross = b @ x
        gram[:, :p, p] = cross
        gram[:, p, :p] = cross
        gram[:, p, p] = (b * b).sum(axis=1)
        rhs = np.concatenate([y @ x, (b * y).sum(axis=1, keepdims=True)], axis=1)
        sol = np.linalg.solve(gram, rhs[..., None])[..., 0]
        resid = y - sol[:, :p] @ x.T - sol[:, p : p + 1] * b
        sigma2 = (resid * resid).sum(axis=1) / (n - p - 1)
        cov_diag = np.diagonal(np.linalg.inv(gram), axis1=1, axis2=2)
        err = np.sqrt(sigma2[:, None] * cov_diag)
        return sol[:, :p], err[:, :p], resid, 1.0 + sol[:, p], err[:, p]


@records_provenance
def mlls(
    si: SpectrumImage,
    references: Any,
    window: tuple[float, float] = (635.0, 665.0),
    derivatives: bool = False,
    *,
    valences: Sequence[float] | None = None,
    background: Literal["power_law", "exponential"] | None = None,
    background_window: tuple[float, float] | None = None,
    joint_background: bool = False,
    noise: Literal["poisson", "uniform"] | None = None,
    iterations: int = 2,
) -> MLLSResult:
    """Fit every pixel as a linear combination of reference spectra.

    Parameters
    ----------
    si
        Spectrum image (ny, nx, n_energy): raw counts when ``background`` is given,
        background-free signal otherwise. NumPy or Dask (processed chunk-wise).
    references
        A Series of k references (``coords["valence"]`` used when present), file paths,
        SpectrumImages, or a list/dict of those (see `collect_references`).
    window
        Fit window (e_min, e_max) in eV, e.g. the Mn L2,3 edge (635, 665).
    derivatives
        Add each reference's derivative dR/dE as a column, so small energy shifts
        (drift, chemical shift) are absorbed instead of biasing the coefficients.
    valences
        Formal valence of each reference; gives the `MLLSResult.valence` map.
    background
        ``"power_law"`` or ``"exponential"``: fit it in ``background_window`` first (same
        pass). None: ``si`` is already background-free.
    background_window
        Pre-edge window (e_min, e_max) in eV; required with ``background``.
    joint_background
        Refit the background amplitude together with the references (shape from the
        pre-edge fit) instead of subtracting the extrapolation.
    noise
        Variance model for ``reduced_chi2``: ``"poisson"`` (raw counts) or ``"uniform"``.
        Default: Poisson when ``background`` is given (raw counts available), else uniform.
    iterations
        Re-weighting passes of the background fit.

    Returns
    -------
    MLLSResult

    Raises
    ------
    ValidationError
        A window outside the data, references that do not cover the window, a missing
        background window, bad valences.
    FitError
        Linearly dependent references or too few channels for the parameters.
    """
    win = si.channels(window, "fit window")
    energy = si.energy[win]
    refset = collect_references(references, energy, valences)
    design = _design(refset.matrix, energy, derivatives)
    if noise is None:
        noise = "poisson" if background is not None else "uniform"
    if noise not in ("poisson", "uniform"):
        raise ValidationError(f"noise must be 'poisson' or 'uniform'; got {noise!r}")
    if joint_background and background is None:
        raise ValidationError("joint_background=True needs background='power_law'|'exponential'")
    bg_spec = None
    span = win
    if background is not None:
        shape = background_model(background)
        if background_window is None:
            raise ValidationError(
                f"background_window (e_min, e_max) in eV is required with background={background!r}"
            )
        bsl = si.channels(background_window, "background window")
        lo, hi = min(bsl.start, win.start), max(bsl.stop, win.stop)
        span = slice(lo, hi)
        bg_spec = (
            slice(bsl.start - lo, bsl.stop - lo),
            shape.columns(si.energy[bsl]),
            shape.columns(energy),
        )
        win = slice(win.start - lo, win.stop - lo)
    else:
        win = slice(0, win.stop - win.start)
    kernel = _Kernel(design, win, bg_spec, joint_background, noise == "poisson", iterations)
    out = map_pixels(kernel, si.data, kernel.n_out, span)
    params = {
        "window": window,
        "derivatives": derivatives,
        "background": background,
        "background_window": background_window,
        "joint_background": joint_background,
        "noise": noise,
        "iterations": iterations,
    }
    return _assemble(out, kernel, refset, energy, si, params)


def _assemble(
    out: np.ndarray,
    kernel: _Kernel,
    refset: Any,
    energy: np.ndarray,
    si: SpectrumImage,
    params: dict[str, Any],
) -> MLLSResult:
    p = kernel.design.shape[1]
    k = refset.matrix.shape[0]
    background = params["background"]
    background_window = params["background_window"]
    coef_all, err_all = out[..., :p], out[..., p : 2 * p]
    chi2 = out[..., 2 * p]
    bg_fit = None
    scale = None
    if background is not None:
        bg_fit = BackgroundFit(
            model=background_model(background).name,
            window=(float(background_window[0]), float(background_window[1])),
            log_amplitude=out[..., 2 * p + 1],
            exponent=-out[..., 2 * p + 2],
            n_masked=out[..., 2 * p + 3].astype(np.int64),
        )
        if kernel.joint:
            scale = out[..., 2 * p + 4]
    coef = coef_all[..., :k]
    valence = None
    if refset.valences is not None:
        total = coef.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            valence = np.where(total > 0, coef @ np.asarray(refset.valences) / total, np.nan)
    return MLLSResult(
        coefficients=coef,
        stderr=err_all[..., :k],
        reduced_chi2=chi2,
        valence=valence,
        labels=refset.labels,
        valences=refset.valences,
        window=(float(params["window"][0]), float(params["window"][1])),
        energy=energy,
        references=refset.matrix,
        derivative_coefficients=coef_all[..., k:] if params["derivatives"] else None,
        background=bg_fit,
        background_scale=scale,
        notes=refset.notes,
        provenance={
            "references": list(refset.labels),
            "valences": refset.valences,
            "notes": list(refset.notes),
            "source": dict(si.meta),
            "shape": list(si.shape),
        },
    )
