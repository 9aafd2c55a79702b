"""speciate: battery-materials spectroscopy.

XANES normalization and alignment, speciation fitting, theory standards (FEFF10,
FDMNES), fingerprint features, electrochemistry and EELS valence maps, all built
on one data model: `Series`, a stack of spectra (n_spectra, n_energy) on one grid.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import Any

from speciate.errors import (
    EngineError,
    FitError,
    MissingExtraError,
    ReadError,
    SpeciateError,
    StructureError,
    ValidationError,
)
from speciate.series import Series

try:
    __version__ = _metadata.version("speciate")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_SUBMODULES = (
    "echem",
    "edges",
    "eels",
    "features",
    "fit",
    "io",
    "operando",
    "report",
    "structures",
    "theory",
    "xanes",
)

__all__ = [
    "EngineError",
    "FitError",
    "MissingExtraError",
    "ReadError",
    "Series",
    "SpeciateError",
    "StructureError",
    "ValidationError",
    "__version__",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    # Subpackages load on first use so `import speciate` stays fast and optional
    # extras (gemmi, rosettasciio, galvani) are only needed by the parts that use them.
    if name in _SUBMODULES:
        return importlib.import_module(f"speciate.{name}")
    raise AttributeError(f"module 'speciate' has no attribute {name!r}")
