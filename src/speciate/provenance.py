"""What produced a result: the function, its parameters, inputs' hashes and package versions.

One mechanism records it: the `records_provenance` decorator binds the call's arguments to
the function's signature, summarizes every array-like input by shape and hash (never its
values), and attaches the record to the returned result's ``provenance`` (or, for a
`Series`, to ``meta["provenance"]``). Functions may still put facts only they know (the
ranges actually used, what was clipped) into ``provenance`` themselves; the decorator
keeps them beside the call's arguments.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import inspect
import json
import weakref
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "array_summary",
    "file_sha256",
    "jsonable",
    "make_provenance",
    "records_provenance",
    "summarize",
    "versions",
]

F = TypeVar("F", bound=Callable[..., Any])

# Arrays up to this many elements are short parameters (ranges, bounds) and kept as values.
_INLINE_SIZE = 16
# Texts longer than this are summarized by length and hash.
_INLINE_TEXT = 256
# Arrays above this many bytes are hashed on an evenly strided sample of about this size, so
# that recording a call on a spectrum image of hundreds of MB costs milliseconds, not seconds.
_HASH_BYTES = 1 << 20
# Keys of a provenance record that the decorator owns.
_OWN_KEYS = ("function", "parameters", "versions", "created")


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


def array_summary(a: Any) -> dict[str, Any]:
    """Shape, dtype and a content hash (BLAKE2b, 128 bit) of an array.

    Arrays larger than 1 MB are hashed on every k-th element (k recorded as
    ``"hash_stride"``), which identifies a data set without reading all of it.
    The summary of a read-only array that owns its data, or views only read-only
    arrays (the arrays of a frozen `Series` or result), is computed once and remembered
    while the array lives: analyses repeated on the same data do not pay for hashing it
    again.
    """
    arr = np.asarray(a)
    cacheable = _frozen(arr)
    if cacheable:
        hit = _SUMMARIES.get(id(arr))
        if hit is not None and hit[0]() is arr:
            return dict(hit[1])
    out = _summary(arr)
    if cacheable:
        _remember(arr, out)
    return out


def _frozen(arr: np.ndarray) -> bool:
    """Whether no one can change ``arr``'s values: it and every array it views are
    read-only, down to one that owns its memory (a frozen result's arrays are often
    read-only views of another result's)."""
    while True:
        if arr.flags.writeable:
            return False
        if arr.flags.owndata:
            return True
        base = arr.base
        if not isinstance(base, np.ndarray):
            return False
        arr = base


# id(array) -> (weak reference to the array, its summary); entries leave with the array
_SUMMARIES: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}


def _remember(arr: np.ndarray, summary: dict[str, Any]) -> None:
    key = id(arr)
    try:
        ref = weakref.ref(arr, lambda _, key=key: _SUMMARIES.pop(key, None))
    except TypeError:  # arrays that cannot be weakly referenced are just not cached
        return
    _SUMMARIES[key] = (ref, dict(summary))


def _summary(arr: np.ndarray) -> dict[str, Any]:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(arr.dtype).encode())
    digest.update(str(arr.shape).encode())
    out: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    if arr.dtype.hasobject:
        digest.update(repr(arr.tolist()).encode())
    else:
        stride = max(1, -(-arr.nbytes // _HASH_BYTES))
        flat = arr.reshape(-1)[::stride] if stride > 1 else arr
        digest.update(np.ascontiguousarray(flat).data)
        if stride > 1:
            out["hash_stride"] = int(stride)
    out["blake2b"] = digest.hexdigest()
    return out


def summarize(value: Any) -> Any:
    """A JSON-friendly summary of a call argument: data by shape and hash, not by value.

    Series, normalized results, spectrum images and other objects holding arrays are
    summarized by their type, sizes, labels (first few) and a hash of their arrays;
    earlier results also name the function that produced them.
    """
    if isinstance(value, np.ndarray) and value.size > _INLINE_SIZE:
        return array_summary(value)
    if isinstance(value, str) and len(value) > _INLINE_TEXT:
        # engine inputs and other long texts: identified, not copied
        digest = hashlib.blake2b(value.encode(), digest_size=16).hexdigest()
        return {"chars": len(value), "blake2b": digest}
    if isinstance(value, (str, Path, int, float, bool, np.generic, np.ndarray)) or value is None:
        return jsonable(value)
    if isinstance(value, Mapping):
        return {str(k): summarize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [summarize(v) for v in value]
    arrays = _data_arrays(value)
    if not arrays and dataclasses.is_dataclass(value) and not isinstance(value, type):
        # options, engines, earlier results: field by field (arrays by shape and hash)
        out = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name != "provenance":
                out[f.name] = summarize(getattr(value, f.name))
        produced = getattr(value, "provenance", None)
        if isinstance(produced, Mapping) and "function" in produced:
            out["produced_by"] = produced["function"]
        return out
    if arrays:
        out: dict[str, Any] = {"type": type(value).__name__}
        for name, arr in arrays.items():
            out[name] = array_summary(arr)
        labels = getattr(value, "labels", None)
        if labels is not None and not isinstance(labels, np.ndarray):
            labels = list(labels)
            out["labels"] = labels[:5] + (["..."] if len(labels) > 5 else [])
        produced = _record_of(value)
        if produced is not None and "function" in produced:
            out["produced_by"] = produced["function"]
        return out
    return jsonable(value)


def _data_arrays(value: Any) -> dict[str, np.ndarray]:
    """The arrays that identify an object's data (energy/mu/norm/data/weights...)."""
    out = {}
    for name in ("energy", "mu", "norm", "data", "axis", "time_s", "voltage_v", "weights"):
        arr = getattr(value, name, None)
        if isinstance(arr, np.ndarray):
            out[name] = arr
    return out


def jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, paths and tuples into JSON-friendly values.

    Arrays of more than a few elements become a summary (shape, dtype, hash).
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.size > _INLINE_SIZE:
            return array_summary(value)
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
        The parameters it was called with (arrays are summarized by shape and hash).
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


@functools.lru_cache(maxsize=512)
def _signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


def call_parameters(func: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> dict:
    """The call's arguments bound to ``func``'s signature, defaults applied, summarized."""
    signature = _signature(func)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    params: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            params.update({k: summarize(v) for k, v in value.items()})
        else:
            params[name] = summarize(value)
    return params


def records_provenance(func: F | None = None, *, name: str | None = None) -> Any:
    """Decorate a public function so that its result carries the call's provenance.

    The result must be a dataclass with a ``provenance`` field, or a `Series` or other
    data container with a ``meta`` mapping (the record goes to ``meta["provenance"]``).
    Facts the function recorded itself in ``provenance`` are kept; its own ``parameters``
    entry, if any, is kept as ``details`` when it differs from the bound arguments.

    Parameters
    ----------
    func
        The function (when used as ``@records_provenance``).
    name
        Dotted name to record; default ``module.qualname`` of the function, with private
        submodules dropped (``speciate.fit._x.f`` records as ``speciate.fit.f``).
    """

    def decorate(f: F) -> F:
        label = name or _public_name(f)

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inherited = [_record_of(v) for v in (*args, *kwargs.values())]
            result = f(*args, **kwargs)
            return attach(result, label, call_parameters(f, args, kwargs), inherited)

        wrapper.__wrapped_provenance__ = label  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _public_name(f: Callable[..., Any]) -> str:
    parts = [p for p in f.__module__.split(".") if not p.startswith("_")]
    return ".".join([*parts, f.__qualname__])


def _record_of(value: Any) -> Any:
    """The provenance record an argument carries (its field or its meta's), if any."""
    record = getattr(value, "provenance", None)
    if record is None:
        meta = getattr(value, "meta", None)
        record = meta.get("provenance") if isinstance(meta, Mapping) else None
    return record if isinstance(record, Mapping) and record else None


def attach(
    result: Any,
    function: str,
    parameters: Mapping[str, Any],
    inherited: list[Any] | None = None,
) -> Any:
    """``result`` with a provenance record for ``function(**parameters)`` attached.

    ``inherited`` are the records the inputs carried: a result whose meta was copied from
    an input still holds its record, which describes the input and is not merged.
    """
    from speciate.series import Series

    stale = [r for r in (inherited or []) if r is not None]

    def own_record(record: Any) -> Mapping[str, Any]:
        if not record or any(record is r or record == r for r in stale):
            return {}
        return record

    if isinstance(result, Series):
        own = own_record(result.meta.get("provenance"))
        meta = dict(result.meta)
        meta["provenance"] = _merge(function, parameters, own)
        return result.replace(meta=meta)
    if dataclasses.is_dataclass(result) and any(
        f.name == "provenance" for f in dataclasses.fields(result)
    ):
        own = own_record(getattr(result, "provenance", None))
        # results are frozen dataclasses; the record is part of constructing them
        object.__setattr__(result, "provenance", _merge(function, parameters, own))
        return result
    if dataclasses.is_dataclass(result) and isinstance(getattr(result, "meta", None), Mapping):
        # data containers other than Series (SpectrumImage): the record goes to their meta,
        # set in place because rebuilding would re-validate (and re-read) the whole data
        meta = dict(result.meta)
        meta["provenance"] = _merge(function, parameters, own_record(meta.get("provenance")))
        frozen = isinstance(result.meta, MappingProxyType)
        object.__setattr__(result, "meta", MappingProxyType(meta) if frozen else meta)
        return result
    raise TypeError(
        f"{function} returns {type(result).__name__}, which has no provenance field"
    )


def _merge(function: str, parameters: Mapping[str, Any], own: Mapping[str, Any]) -> dict:
    record = make_provenance(function, {})
    record["parameters"] = dict(parameters)
    if own.get("function") not in (None, function):
        # a whole record of another call (a stored result read back): kept intact, nested
        record["stored"] = dict(own)
        return record
    for key, value in own.items():
        if key not in _OWN_KEYS:
            record[key] = value
    details = own.get("parameters")
    if details and jsonable(details) != record["parameters"]:
        record["details"] = jsonable(details)
    json.dumps(record)
    return record
