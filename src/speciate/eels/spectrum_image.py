"""`SpectrumImage`: EELS spectra on a pixel grid, with their energy axis and pixel size.

A spectrum image is (ny, nx, n_energy); a line scan is (1, n, n_energy) and a single
spectrum is (1, 1, n_energy), so every routine in `speciate.eels` handles all three the
same way. The data may be a NumPy array or a Dask array (images larger than memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from speciate._arrays import readonly_view
from speciate.errors import ValidationError
from speciate.series import Series

__all__ = ["SpectrumImage"]

# Relative tolerance on the channel width: EELS spectrometers record a uniform axis,
# and the FFT-based steps (deconvolution, drift shifts) rely on it.
_UNIFORM_RTOL = 1e-6


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask")


def _as_3d(data: Any) -> Any:
    if data.ndim == 1:
        return data[np.newaxis, np.newaxis, :]
    if data.ndim == 2:
        return data[np.newaxis, :, :]
    if data.ndim == 3:
        return data
    raise ValidationError(
        "EELS data must be a spectrum (n_energy,), a line scan (n, n_energy) or a spectrum "
        f"image (ny, nx, n_energy); got a {data.ndim}-D array of shape {data.shape}"
    )


def _check_axis(energy: np.ndarray, n_energy: int) -> None:
    if energy.ndim != 1 or energy.size != n_energy:
        raise ValidationError(
            f"energy must have shape ({n_energy},) to match the data's last axis; "
            f"got {energy.shape}"
        )
    if n_energy < 2:
        raise ValidationError(f"an EELS spectrum needs at least 2 channels; got {n_energy}")
    if not np.isfinite(energy).all():
        raise ValidationError("energy axis must be finite; found NaN/inf")
    step = np.diff(energy)
    if (step <= 0).any():
        i = int(np.nonzero(step <= 0)[0][0])
        raise ValidationError(
            f"energy axis must be strictly increasing; it does not increase at channel {i + 1} "
            f"({energy[i]:.4f} -> {energy[i + 1]:.4f} eV)"
        )
    if not np.allclose(step, step[0], rtol=_UNIFORM_RTOL, atol=0):
        raise ValidationError(
            "energy axis must be uniform (one dispersion in eV/channel); channel widths range "
            f"from {step.min():.6g} to {step.max():.6g} eV"
        )


@dataclass(frozen=True, eq=False)
class SpectrumImage:
    """EELS spectra on a pixel grid.

    Parameters
    ----------
    data
        Counts, shape (ny, nx, n_energy). NumPy arrays are kept as read-only views (not
        copied); Dask arrays stay lazy.
    energy
        Energy-loss axis in eV, shape (n_energy,), uniform and increasing.
    pixel_size
        Pixel size along (y, x), in ``pixel_units``.
    pixel_units
        Units of ``pixel_size`` (``"nm"``, ``"px"``...).
    meta
        JSON-friendly metadata (source file, acquisition settings, processing steps).

    Raises
    ------
    ValidationError
        On a wrong number of dimensions, an energy axis that does not match the data or is
        not uniform and increasing, or non-finite counts (NumPy data).
    """

    data: Any
    energy: np.ndarray
    pixel_size: tuple[float, float] = (1.0, 1.0)
    pixel_units: str = "px"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.data
        if not _is_dask(data):
            data = np.asarray(data)
            if data.dtype.kind not in "f":
                data = data.astype(np.float64)
        data = _as_3d(data)
        energy = np.array(self.energy, dtype=float)
        _check_axis(energy, int(data.shape[-1]))
        if not _is_dask(data):
            if not np.isfinite(data).all():
                bad = np.argwhere(~np.isfinite(data))[0]
                raise ValidationError(
                    "EELS counts must be finite; found NaN/inf, first at pixel "
                    f"(y={bad[0]}, x={bad[1]}), channel {bad[2]} ({energy[bad[2]]:.2f} eV)"
                )
            # a read-only view, not a copy: spectrum images can be hundreds of MB
            data = readonly_view(data, dtype=None)
        energy.setflags(write=False)
        size = tuple(float(v) for v in self.pixel_size)
        if len(size) != 2:
            raise ValidationError(f"pixel_size must be (y, x); got {self.pixel_size!r}")
        set_ = object.__setattr__
        set_(self, "data", data)
        set_(self, "energy", energy)
        set_(self, "pixel_size", size)
        set_(self, "pixel_units", str(self.pixel_units))
        set_(self, "meta", MappingProxyType(dict(self.meta)))

    @classmethod
    def from_array(
        cls,
        data: Any,
        *,
        energy: Any = None,
        offset: float | None = None,
        dispersion: float | None = None,
        **kwargs: Any,
    ) -> SpectrumImage:
        """Build from a plain array and either ``energy`` or ``offset`` + ``dispersion``.

        Parameters
        ----------
        data
            Shape (n_energy,), (n, n_energy) or (ny, nx, n_energy).
        energy
            Energy axis in eV, shape (n_energy,).
        offset, dispersion
            First channel (eV) and channel width (eV/channel), used when ``energy`` is None.
        **kwargs
            ``pixel_size``, ``pixel_units``, ``meta``.
        """
        n = int(np.shape(data)[-1])
        if energy is None:
            if offset is None or dispersion is None:
                raise ValidationError(
                    "give either energy (n_energy,) or both offset and dispersion (eV)"
                )
            if not dispersion > 0:
                raise ValidationError(f"dispersion must be > 0 eV/channel; got {dispersion}")
            energy = float(offset) + float(dispersion) * np.arange(n)
        return cls(data, energy, **kwargs)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int, int]:
        """(ny, nx, n_energy)."""
        return tuple(int(v) for v in self.data.shape)  # type: ignore[return-value]

    @property
    def nav_shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return self.shape[0], self.shape[1]

    @property
    def n_pixels(self) -> int:
        """ny * nx."""
        return self.shape[0] * self.shape[1]

    @property
    def n_energy(self) -> int:
        """Number of energy channels."""
        return self.shape[2]

    @property
    def dispersion(self) -> float:
        """Channel width in eV/channel."""
        return float((self.energy[-1] - self.energy[0]) / (self.energy.size - 1))

    @property
    def offset(self) -> float:
        """Energy of the first channel in eV."""
        return float(self.energy[0])

    @property
    def is_lazy(self) -> bool:
        """True when the data is a Dask array."""
        return _is_dask(self.data)

    def __repr__(self) -> str:
        ny, nx, n = self.shape
        kind = "dask" if self.is_lazy else "numpy"
        return (
            f"SpectrumImage({ny}x{nx} pixels, {n} channels, {self.energy[0]:.2f}.."
            f"{self.energy[-1]:.2f} eV at {self.dispersion:.4g} eV/ch, {kind})"
        )

    def replace(self, **changes: Any) -> SpectrumImage:
        """A new SpectrumImage with some fields replaced (validated again)."""
        fields = {
            "data": self.data,
            "energy": self.energy,
            "pixel_size": self.pixel_size,
            "pixel_units": self.pixel_units,
            "meta": dict(self.meta),
        }
        fields.update(changes)
        return SpectrumImage(**fields)

    # --------------------------------------------------------------- selection
    def channels(self, window: tuple[float, float], name: str = "window") -> slice:
        """Channel slice covering ``window`` = (e_min, e_max) eV, inclusive.

        Raises
        ------
        ValidationError
            If the window is reversed or reaches outside the energy axis.
        """
        lo, hi = (float(v) for v in window)
        if not lo < hi:
            raise ValidationError(f"{name} must be (e_min, e_max) with e_min < e_max; got {window}")
        e = self.energy
        half = 0.5 * self.dispersion
        if lo < e[0] - half or hi > e[-1] + half:
            raise ValidationError(
                f"{name} {lo:.2f}..{hi:.2f} eV reaches outside the data {e[0]:.2f}..{e[-1]:.2f} eV"
            )
        i0 = int(np.searchsorted(e, lo - 1e-9 * abs(lo), side="left"))
        i1 = int(np.searchsorted(e, hi + 1e-9 * abs(hi), side="right"))
        if i1 - i0 < 2:
            raise ValidationError(
                f"{name} {lo:.2f}..{hi:.2f} eV holds {i1 - i0} channel(s) at "
                f"{self.dispersion:.4g} eV/channel; need at least 2"
            )
        return slice(i0, i1)

    def window(self, e_min: float, e_max: float) -> SpectrumImage:
        """Keep the channels in [e_min, e_max] eV."""
        sl = self.channels((e_min, e_max))
        return self.replace(data=self.data[..., sl], energy=self.energy[sl])

    def flat(self) -> Any:
        """The data as (n_pixels, n_energy), pixels in row-major (y, x) order (a view)."""
        return self.data.reshape(self.n_pixels, self.n_energy)

    def mean_spectrum(self, mask: Any = None, label: str = "mean") -> Series:
        """Average of the spectra in ``mask`` (all pixels when None) as a one-spectrum Series.

        Parameters
        ----------
        mask
            Boolean array of shape (ny, nx).
        label
            Label of the spectrum.
        """
        if mask is None:
            mask = np.ones(self.nav_shape, dtype=bool)
        mask = np.asarray(mask)
        if mask.shape != self.nav_shape or mask.dtype != bool:
            raise ValidationError(
                f"mask must be a boolean array of shape {self.nav_shape}; "
                f"got {mask.dtype} {mask.shape}"
            )
        n = int(mask.sum())
        if n == 0:
            raise ValidationError(f"mask for {label!r} selects no pixel")
        if self.is_lazy:
            total = (self.data * mask[..., np.newaxis]).sum(axis=(0, 1)).compute()
            spec = np.asarray(total, dtype=float) / n
        else:
            spec = np.asarray(self.data[mask].mean(axis=0), dtype=float)
        return Series(self.energy, spec, labels=(label,), coords={"n_pixels": np.array([n])})
