"""CSV and NetCDF export shared by result objects."""

from __future__ import annotations

from typing import Any

from speciate._atomic import atomic_path, atomic_write_text

__all__ = ["TableExport"]


class TableExport:
    """``to_netcdf`` and ``to_csv`` for results that define ``to_xarray`` and ``to_dataframe``."""

    __slots__ = ()

    def to_xarray(self) -> Any:  # pragma: no cover - every user defines it
        raise NotImplementedError

    def to_dataframe(self) -> Any:  # pragma: no cover - every user defines it
        raise NotImplementedError

    def to_netcdf(self, path: Any) -> None:
        """Write `to_xarray` to NetCDF (h5netcdf), atomically."""
        with atomic_path(path) as tmp:
            self.to_xarray().to_netcdf(tmp, engine="h5netcdf")

    def to_csv(self, path: Any) -> None:
        """Write `to_dataframe` to CSV without its index, atomically."""
        atomic_write_text(path, self.to_dataframe().to_csv(index=False))
