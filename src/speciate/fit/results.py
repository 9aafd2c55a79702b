"""`LCFResult`: weights, uncertainties and statistics per spectrum, and their exports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from speciate._export import TableExport

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["LCFResult"]


@dataclass(frozen=True, eq=False)
class LCFResult(TableExport):
    """Linear-combination fit of every spectrum of a series.

    Attributes
    ----------
    energy : (n_energy,) eV, the data grid inside the fit window
    data, fit, residual : (n_spectra, n_energy) data, Σ w_j·standard_j, data − fit
    basis : (n_spectra or 1, n_energy, k) the standards on the grid (shifted per spectrum
        when shifts were fitted)
    weights, stderr : (n_spectra, k) weights and their 1-σ uncertainties; a weight on a
        bound is not a free parameter and has stderr 0
    total : (n_spectra,) Σ weights (exactly 1 with ``sum_to_one``)
    shifts, shifts_stderr : (n_spectra, k) eV per-standard shifts (standard j is used at
        ``E − shift_j``), or None when not fitted
    r_factor : (n_spectra,) Σ(data − fit)² / Σ data²
    chi2 : (n_spectra,) Σ(data − fit)² (unit weights, as Larch without eps)
    reduced_chi2 : (n_spectra,) chi2 / (n_energy − n_free)
    n_free : (n_spectra,) int, free parameters: weights not on a bound, minus one for
        sum-to-one, plus fitted shifts of standards with a non-zero weight
    at_bound : (n_spectra, k) bool, weights sitting on a bound
    standards : (k,) standard names
    labels, time, coords : carried from the data
    e0 : reference E0 of the window (eV), None for an absolute window
    e_range : the window as given
    provenance : the call and its parameters
    """

    energy: np.ndarray
    data: np.ndarray
    fit: np.ndarray
    residual: np.ndarray
    basis: np.ndarray
    weights: np.ndarray
    stderr: np.ndarray
    total: np.ndarray
    shifts: np.ndarray | None
    shifts_stderr: np.ndarray | None
    r_factor: np.ndarray
    chi2: np.ndarray
    reduced_chi2: np.ndarray
    n_free: np.ndarray
    at_bound: np.ndarray
    standards: tuple[str, ...]
    labels: tuple[str, ...]
    time: np.ndarray | None
    coords: Mapping[str, np.ndarray]
    e0: float | None
    e_range: tuple[float, float]
    provenance: Mapping[str, Any]

    @property
    def n_spectra(self) -> int:
        """Number of fitted spectra."""
        return int(self.weights.shape[0])

    def __len__(self) -> int:
        return self.n_spectra

    def __repr__(self) -> str:
        return (
            f"LCFResult(n_spectra={self.n_spectra}, standards={list(self.standards)}, "
            f"shifts={'fitted' if self.shifts is not None else 'no'}, "
            f"median r_factor={float(np.median(self.r_factor)):.3g})"
        )

    def components(self, index: int) -> np.ndarray:
        """Weighted standards of spectrum ``index``, shape (n_energy, k)."""
        basis = self.basis[index if self.basis.shape[0] > 1 else 0]
        return basis * self.weights[index]

    # ------------------------------------------------------------------ tables
    def to_dataframe(self) -> pd.DataFrame:
        """One row per spectrum: label, time, coords, weights, stderr, shifts, statistics."""
        import pandas as pd

        cols: dict[str, Any] = {"label": list(self.labels)}
        if self.time is not None:
            cols["time"] = self.time
        for key, val in self.coords.items():
            cols[key] = val
        for j, name in enumerate(self.standards):
            cols[f"weight_{name}"] = self.weights[:, j]
            cols[f"stderr_{name}"] = self.stderr[:, j]
        if self.shifts is not None and self.shifts_stderr is not None:
            for j, name in enumerate(self.standards):
                cols[f"shift_{name}"] = self.shifts[:, j]
                cols[f"shift_stderr_{name}"] = self.shifts_stderr[:, j]
        cols.update(
            total=self.total,
            r_factor=self.r_factor,
            chi2=self.chi2,
            reduced_chi2=self.reduced_chi2,
            n_free=self.n_free,
        )
        return pd.DataFrame(cols)

    def to_xarray(self) -> xr.Dataset:
        """Dataset with dims (spectrum, standard, energy): weights, stderr, fit, residual..."""
        import xarray as xr

        spec = ("spectrum",)
        pair = ("spectrum", "standard")
        curve = ("spectrum", "energy")
        data_vars: dict[str, Any] = {
            "weights": (pair, self.weights),
            "stderr": (pair, self.stderr),
            "at_bound": (pair, self.at_bound.astype(np.int8)),
            "total": (spec, self.total),
            "r_factor": (spec, self.r_factor),
            "chi2": (spec, self.chi2),
            "reduced_chi2": (spec, self.reduced_chi2),
            "n_free": (spec, self.n_free),
            "data": (curve, self.data),
            "fit": (curve, self.fit),
            "residual": (curve, self.residual),
        }
        if self.shifts is not None and self.shifts_stderr is not None:
            data_vars["shifts"] = (pair, self.shifts, {"units": "eV"})
            data_vars["shifts_stderr"] = (pair, self.shifts_stderr, {"units": "eV"})
        coords: dict[str, Any] = {
            "energy": ("energy", self.energy, {"units": "eV"}),
            "standard": ("standard", np.array(self.standards, dtype=str)),
            "label": ("spectrum", np.array(self.labels, dtype=str)),
        }
        if self.time is not None:
            coords["time"] = ("spectrum", np.asarray(self.time))
        for key, val in self.coords.items():
            if key not in coords:
                coords[key] = ("spectrum", np.asarray(val))
        attrs = {
            "speciate_type": "LCFResult",
            "e0": np.nan if self.e0 is None else self.e0,
            "e_range": list(self.e_range),
            "provenance": json.dumps(dict(self.provenance)),
        }
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    # ------------------------------------------------------------------ report
    def report(self, max_spectra: int = 10) -> str:
        """A readable table: weights ± stderr (and shifts) per spectrum, then statistics."""
        lines = [
            "[[Linear combination fit]]",
            f"  standards    : {', '.join(self.standards)}",
            f"  window       : {self.energy[0]:.2f} .. {self.energy[-1]:.2f} eV "
            f"({self.energy.size} points"
            + (f"; E0 = {self.e0:.2f} eV, e_range = {tuple(self.e_range)}" if self.e0 else "")
            + ")",
            f"  spectra      : {self.n_spectra}",
            f"  shifts       : {'fitted per standard' if self.shifts is not None else 'none'}",
        ]
        for i in range(min(self.n_spectra, max_spectra)):
            lines.append(
                f"[[{self.labels[i]}]]  r_factor = {self.r_factor[i]:.5g}, "
                f"reduced_chi2 = {self.reduced_chi2[i]:.4g}, n_free = {int(self.n_free[i])}, "
                f"total = {self.total[i]:.6f}"
            )
            for j, name in enumerate(self.standards):
                text = f"    {name:<24s} {self.weights[i, j]:8.4f} +/- {self.stderr[i, j]:.4f}"
                if self.at_bound[i, j]:
                    text += "  (at bound)"
                if self.shifts is not None and self.shifts_stderr is not None:
                    text += (
                        f"   shift {self.shifts[i, j]:+.3f} +/- {self.shifts_stderr[i, j]:.3f} eV"
                    )
                lines.append(text)
        if self.n_spectra > max_spectra:
            lines.append(f"... {self.n_spectra - max_spectra} more spectra (to_dataframe())")
        return "\n".join(lines)
