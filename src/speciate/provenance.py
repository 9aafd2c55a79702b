"""What produced a result: the function, its parameters, inputs' hashes and package versions."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["file_sha256", "jsonable", "make_provenance", "versions"]


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of speciate, numpy and the named packages."""
    return dict(_versions(packages))


@functools.lru_cache(maxsize=64)
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = {}
    for name in ("speciate", "numpy", "scipy", *packages):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, paths and tuples into JSON-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def make_provenance(
    function: str, parameters: Mapping[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A JSON-serializable provenance record.

    Parameters
    ----------
    function
        Dotted name of the public function that produced the result.
    parameters
        The parameters it was called with (arrays are summarized by value).
    **extra
        Other facts worth keeping (input hashes, the ranges actually used...).
    """
    record = {
        "function": function,
        "parameters": jsonable(dict(parameters or {})),
        "versions": versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record.update(jsonable(extra))
    json.dumps(record)
    return record
