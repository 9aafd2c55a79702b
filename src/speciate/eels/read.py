"""Read EELS spectra, line scans and spectrum images through rosettasciio.

The format is sniffed from the file's first bytes (DM3/DM4 version word, HDF5 signature,
EMSA ``#FORMAT`` header, Zarr store) and only falls back to the extension when the bytes
say nothing. rosettasciio (GPL) is imported lazily, inside the reader, so the rest of
speciate works without the ``eels`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from speciate.eels.spectrum_image import SpectrumImage
from speciate.errors import MissingExtraError, ReadError, import_extra

__all__ = ["MissingExtraError", "read", "sniff_format"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

# format name -> rosettasciio plugin module
_PLUGINS = {
    "dm3": "rsciio.digitalmicrograph",
    "dm4": "rsciio.digitalmicrograph",
    "hspy": "rsciio.hspy",
    "msa": "rsciio.msa",
    "zspy": "rsciio.zspy",
}
_EXTENSIONS = {
    ".dm3": "dm3",
    ".dm4": "dm4",
    ".hspy": "hspy",
    ".hdf5": "hspy",
    ".h5": "hspy",
    ".msa": "msa",
    ".ems": "msa",
    ".mas": "msa",
    ".emsa": "msa",
    ".txt": "msa",
    ".zspy": "zspy",
}


def sniff_format(path: str | PathLike) -> str:
    """Name the EELS file format of ``path`` from its content.

    Returns
    -------
    str
        One of ``"dm3"``, ``"dm4"``, ``"hspy"``, ``"msa"``, ``"zspy"``.

    Raises
    ------
    ReadError
        If the file does not exist or its format is not recognised.
    """
    path = Path(path)
    if path.is_dir():
        if (path / ".zgroup").exists() or (path / "zarr.json").exists():
            return "zspy"
        raise ReadError("a directory that is not a Zarr (.zspy) store", path)
    if not path.is_file():
        raise ReadError("file not found", path)
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(_HDF5_MAGIC):
        return "hspy"
    if len(head) >= 4 and head[:4] in (b"\x00\x00\x00\x03", b"\x00\x00\x00\x04"):
        return "dm3" if head[3] == 3 else "dm4"
    if head.lstrip().upper().startswith(b"#FORMAT"):
        return "msa"
    guess = _EXTENSIONS.get(path.suffix.lower())
    if guess is not None and guess not in ("dm3", "dm4", "hspy"):
        return guess
    raise ReadError(
        "unrecognised EELS file: expected a DM3/DM4 file (version word 3 or 4), an HDF5 "
        f"(.hspy) file, an EMSA/MSA text file ('#FORMAT' header) or a .zspy store; first "
        f"bytes are {head[:16]!r}",
        path,
    )


def _import_plugin(fmt: str) -> Any:
    return import_extra(_PLUGINS[fmt], "eels", f"reading {fmt} files (rosettasciio)")


def _energy_axes(sig: Mapping[str, Any]) -> list[int]:
    """Positions of the axes in eV, whatever their navigate flag.

    DigitalMicrograph stores some spectrum images energy-first as an image stack, which
    rosettasciio reads with the energy as the navigation axis and the pixels as signal
    axes: the unit, not the flag, tells which axis is the energy loss.
    """
    return [i for i, ax in enumerate(sig["axes"]) if str(ax.get("units", "")).strip() == "eV"]


def _describe(sig: Mapping[str, Any], k: int) -> str:
    title = sig.get("metadata", {}).get("General", {}).get("title", "") or "untitled"
    units = [str(ax.get("units", "") or "-") for ax in sig["axes"]]
    return f"#{k + 1} {title!r} shape {tuple(sig['data'].shape)} axis units {units}"


def _pick_eels(signals: list[dict[str, Any]], path: Path) -> tuple[dict[str, Any], str]:
    """The EELS signal of a file, and a sentence saying which one was taken."""
    fits = [
        (k, s) for k, s in enumerate(signals) if len(_energy_axes(s)) == 1 and len(s["axes"]) <= 3
    ]
    if not fits:
        found = "; ".join(_describe(s, k) for k, s in enumerate(signals)) or "no signals"
        raise ReadError(
            "expected an EELS signal with one energy axis in eV and at most 2 other axes; "
            f"found {len(signals)} signal(s): {found}",
            path,
        )
    eels = [
        (k, s)
        for k, s in fits
        if str(s.get("metadata", {}).get("Signal", {}).get("signal_type", "")).startswith("EELS")
    ]
    k, sig = (eels or fits)[0]
    note = f"signal {_describe(sig, k)} of {len(signals)} in the file"
    others = [_describe(s, j) for j, s in enumerate(signals) if j != k]
    if others:
        reason = "marked EELS" if eels else "the first with an energy axis in eV"
        note += f", {reason}; not read: {'; '.join(others)}"
    return sig, note


def _axes_to_image(sig: dict[str, Any], path: Path) -> tuple[Any, np.ndarray, dict[str, Any]]:
    axes = list(sig["axes"])
    data = sig["data"]
    if len(axes) != data.ndim:
        raise ReadError(f"{len(axes)} axes described for a {data.ndim}-D array", path)
    e_index = _energy_axes(sig)[0]
    if e_index != data.ndim - 1:
        data = np.moveaxis(data, e_index, -1)
        axes.append(axes.pop(e_index))
    e_ax = axes[-1]
    if "axis" in e_ax:
        raise ReadError("non-uniform energy axes are not supported; expected offset + scale", path)
    n = int(e_ax["size"])
    energy = float(e_ax.get("offset", 0.0)) + float(e_ax.get("scale", 1.0)) * np.arange(n)
    nav = axes[:-1]
    sizes = [float(ax.get("scale", 1.0)) for ax in nav]
    units = [str(ax.get("units", "") or "px") for ax in nav]
    if len(nav) == 2:
        pixel_size = (sizes[0], sizes[1])
    elif len(nav) == 1:
        pixel_size = (sizes[0], sizes[0])
    else:
        pixel_size = (1.0, 1.0)
    info = {
        "pixel_size": pixel_size,
        "pixel_units": units[0] if units else "px",
        "energy_axis_in_file": e_index,
    }
    return data, energy, info


def read(
    source: str | PathLike | np.ndarray,
    *,
    lazy: bool = False,
    offset: float | None = None,
    dispersion: float | None = None,
    energy: Any = None,
) -> SpectrumImage:
    """Read an EELS spectrum, line scan or spectrum image.

    Parameters
    ----------
    source
        A DM3, DM4, HyperSpy (.hspy/.zspy) or EMSA/MSA file, or a plain array of shape
        (n_energy,), (n, n_energy) or (ny, nx, n_energy).
    lazy
        Keep the data as a Dask array (formats that support it: dm3/dm4, hspy, zspy).
    offset, dispersion, energy
        The energy axis (eV) of a plain array: ``energy`` or ``offset`` + ``dispersion``.

    Returns
    -------
    SpectrumImage
        Data (ny, nx, n_energy); a line scan is (1, n, n_energy) and a spectrum (1, 1, n).

    Raises
    ------
    ReadError
        If the file is missing, its format unknown, or it holds no signal with one energy
        axis in eV and at most two other axes (the message lists the signals found).

    Notes
    -----
    A file may hold several signals (a survey image, a spectrum image, a plot) and the
    energy axis may come anywhere in the array: the signal with one axis in eV is taken
    (one marked EELS first), its energy axis moved last, and ``meta["signal"]`` says
    which signal was read and which were not.
    MissingExtraError
        If rosettasciio (``speciate[eels]``) is not installed.
    """
    if isinstance(source, np.ndarray) or type(source).__module__.startswith("dask"):
        return SpectrumImage.from_array(
            source, energy=energy, offset=offset, dispersion=dispersion, meta={"source": "array"}
        )
    path = Path(source)
    fmt = sniff_format(path)
    plugin = _import_plugin(fmt)
    kwargs = {"lazy": lazy} if fmt != "msa" else {}
    try:
        signals = plugin.file_reader(str(path), **kwargs)
    # rosettasciio plugins raise many types on corrupt files (struct.error, IndexError,
    # KeyError...); all become a ReadError naming the file, with the cause chained
    except Exception as exc:
        raise ReadError(f"rosettasciio could not read this {fmt} file: {exc}", path) from exc
    sig, note = _pick_eels(list(signals), path)
    data, e_axis, info = _axes_to_image(sig, path)
    title = str(sig.get("metadata", {}).get("General", {}).get("title", "") or path.stem)
    meta = {
        "source": path.name,
        "format": fmt,
        "title": title,
        "signal": note,
        "energy_axis_in_file": info.pop("energy_axis_in_file"),
    }
    return SpectrumImage(data, e_axis, meta=meta, **info)
