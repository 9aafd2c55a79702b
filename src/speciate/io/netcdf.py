"""NetCDF files written by `Series.to_netcdf` (HDF5-based NetCDF4, or classic NetCDF3)."""

from __future__ import annotations

from pathlib import Path

from speciate.errors import ReadError, SpeciateError
from speciate.io.registry import Format, ReadOptions
from speciate.series import Series

__all__ = ["FORMAT", "read_netcdf"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_CDF_MAGIC = (b"CDF\x01", b"CDF\x02")


def read_netcdf(path: Path, options: ReadOptions) -> list[Series]:
    """Read a Series stored with `Series.to_netcdf`; everything it carried comes back."""
    import xarray as xr

    if options.has_columns:
        raise ReadError(
            "a speciate NetCDF file stores a whole Series; energy=, mu= and reference= do "
            "not apply (read it, then use Series.select/window)",
            path,
        )
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if not _guess(path, magic):
        raise ReadError(
            f"expected a NetCDF file (HDF5 or CDF signature); the file starts with {magic[:8]!r}",
            path,
        )
    engine = "h5netcdf" if magic.startswith(_HDF5_MAGIC) else "scipy"
    try:
        with xr.open_dataset(path, engine=engine) as ds:
            ds = ds.load()
    except Exception as exc:
        # h5py/scipy raise many unrelated types (IndexError, KeyError, OSError...) on
        # damaged files; all of them mean the same thing here, so report one ReadError.
        raise ReadError(f"cannot open as NetCDF ({type(exc).__name__}: {exc})", path) from exc
    if ds.attrs.get("speciate_type") != "Series":
        raise ReadError(
            "expected a NetCDF file written by speciate (attribute speciate_type='Series'); "
            f"found variables {list(ds.data_vars)} and attributes {list(ds.attrs)[:10]}",
            path,
        )
    try:
        series = Series.from_xarray(ds)
    except (SpeciateError, ValueError, KeyError, TypeError) as exc:
        raise ReadError(f"the stored Series is invalid: {exc}", path) from None
    return [series]


def _guess(path: Path, head: bytes) -> bool:
    return head.startswith(_HDF5_MAGIC) or head[:4] in _CDF_MAGIC


FORMAT = Format(
    name="netcdf",
    description="NetCDF written by speciate (Series.to_netcdf)",
    guess_can_open=_guess,
    read_groups=read_netcdf,
    extensions=(".nc", ".h5"),
    priority=100,
)
