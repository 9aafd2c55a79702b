"""Stage results cached on disk under a hash of their inputs and options.

A stage's key is the SHA-256 of its name, its options (canonical JSON), the contents of
its input files and the keys of the stages it depends on, plus the speciate version, so
changing one option changes the key of that stage and of everything downstream only.
Results are pickled (library results hold read-only mapping proxies, which a private
dispatch table turns into dicts and back) and written atomically.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import json
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from speciate._atomic import atomic_path
from speciate.provenance import file_sha256, jsonable

__all__ = ["StageCache", "stage_key"]


def make_proxy(d: dict) -> MappingProxyType:
    """Rebuild a read-only mapping when a cached result is loaded."""
    return MappingProxyType(d)


def _proxy(m: MappingProxyType) -> tuple[Any, tuple[dict]]:
    return make_proxy, (dict(m),)


_DISPATCH = copyreg.dispatch_table.copy()
_DISPATCH[MappingProxyType] = _proxy


def stage_key(
    name: str,
    options: Mapping[str, Any],
    files: Iterable[str | Path] = (),
    upstream: Iterable[str] = (),
    version: str = "",
) -> str:
    """SHA-256 of a stage's name, options, input file contents and upstream keys."""
    record = {
        "stage": name,
        "options": jsonable(dict(options)),
        "files": sorted((str(Path(f).name), file_sha256(f)) for f in files),
        "upstream": sorted(upstream),
        "version": version,
    }
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class StageCache:
    """Pickled stage results in one folder, one file per stage and key."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, name: str, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() else "_" for ch in name)
        return self.root / f"{safe}-{key[:20]}.pkl"

    def get(self, name: str, key: str) -> tuple[bool, Any]:
        """(True, value) when the stage was computed with this key, else (False, None)."""
        path = self._path(name, key)
        if not path.exists():
            return False, None
        try:
            with path.open("rb") as fh:
                return True, pickle.load(fh)
        except Exception:  # a stale or unreadable entry is recomputed, never trusted
            return False, None

    def put(self, name: str, key: str, value: Any) -> None:
        """Store a result atomically; a value that cannot be pickled is not cached."""
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _DISPATCH
        try:
            pickler.dump(value)
        except (pickle.PicklingError, TypeError, AttributeError):
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._path(name, key)) as tmp:
            Path(tmp).write_bytes(buf.getvalue())
