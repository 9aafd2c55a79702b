"""Engine outputs as `speciate.io` formats: ``speciate.io.read("xmu.dat")`` and FDMNES files.

Registered when `speciate.theory` is imported. Each file becomes a one-spectrum `Series`
on the absolute energy scale (eV) with coords ``engine``, ``e_fermi`` (eV) and
``n_absorbers`` (ready for `speciate.theory.normalize`).
"""

from __future__ import annotations

from pathlib import Path

from speciate.errors import ValidationError
from speciate.io.registry import Format, ReadOptions, register
from speciate.series import Series
from speciate.theory.base import TheorySpectrum
from speciate.theory.fdmnes import read_fdmnes_conv, read_fdmnes_txt
from speciate.theory.feff import read_xmu

__all__ = ["FDMNES_CONV_FORMAT", "FDMNES_FORMAT", "FEFF_XMU_FORMAT", "register_all"]


def _first_line(head: bytes) -> str:
    return head.split(b"\n", 1)[0].decode("latin-1", errors="replace")


def _no_columns(options: ReadOptions, what: str) -> None:
    if options.has_columns:
        raise ValidationError(
            f"{what} files have fixed columns; energy=/mu=/reference= choices do not apply"
        )


def _series(spec: TheorySpectrum, path: Path) -> list[Series]:
    series = spec.to_series(path.stem)
    return [series.replace(meta={**dict(series.meta), "source": str(path)})]


def _read_xmu(path: Path, options: ReadOptions) -> list[Series]:
    _no_columns(options, "FEFF xmu.dat")
    return _series(read_xmu(path), path)


def _read_fdmnes(path: Path, options: ReadOptions) -> list[Series]:
    _no_columns(options, "FDMNES")
    return _series(read_fdmnes_txt(path), path)


def _read_fdmnes_conv(path: Path, options: ReadOptions) -> list[Series]:
    _no_columns(options, "FDMNES")
    return _series(read_fdmnes_conv(path), path)


FEFF_XMU_FORMAT = Format(
    name="feff-xmu",
    description="FEFF xmu.dat (omega e k mu mu0 chi; Fermi level from the Mu= header)",
    guess_can_open=lambda path, head: b"Mu=" in head and b"omega" in head and b"FEFF" in head,
    read_groups=_read_xmu,
    extensions=("xmu.dat",),
    priority=90,
)

FDMNES_FORMAT = Format(
    name="fdmnes",
    description="FDMNES raw spectrum <name>.txt (E_edge header line, Energy <xanes>)",
    guess_can_open=lambda path, head: "= E_edge, Z" in _first_line(head),
    read_groups=_read_fdmnes,
    extensions=(".txt",),
    priority=90,
)

FDMNES_CONV_FORMAT = Format(
    name="fdmnes-conv",
    description="FDMNES convolved spectrum <name>_conv.txt (E_edge from the raw file beside it)",
    guess_can_open=lambda path, head: (
        _first_line(head).split() == ["Energy", "<xanes>"] and path.name.endswith("_conv.txt")
    ),
    read_groups=_read_fdmnes_conv,
    extensions=("_conv.txt",),
    priority=90,
)


def register_all() -> None:
    """Add the FEFF and FDMNES output formats to the `speciate.io` registry."""
    for fmt in (FEFF_XMU_FORMAT, FDMNES_FORMAT, FDMNES_CONV_FORMAT):
        register(fmt, replace=True)
