"""Content-hash cache of finished engine runs, shared by every sweep.

An entry is keyed by the hash of the input files, the engine name and its version
(`speciate.theory.base.recipe_key`). Entries are written to a temporary directory and
renamed into place, so an entry is either complete or absent: a sweep killed at any point
resumes with every finished run kept and none recomputed.

Location: ``cache_dir=`` if given, else the ``SPECIATE_CACHE`` environment variable, else
the user cache directory of the platform (``platformdirs.user_cache_dir("speciate")``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from speciate.errors import ValidationError
from speciate.provenance import jsonable

__all__ = ["Cache", "default_cache_dir"]

_LAYOUT = "v1"
_RECORD = "record.json"


def default_cache_dir() -> Path:
    """``$SPECIATE_CACHE`` if set, else the platform's user cache dir for speciate."""
    env = os.environ.get("SPECIATE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("speciate"))


def _copy_outputs(src: Path, dst: Path, keep: Iterable[str]) -> None:
    keep = tuple(keep)
    if "*" in keep:
        shutil.copytree(src, dst, dirs_exist_ok=True, symlinks=True)
        return
    dst.mkdir(parents=True, exist_ok=True)
    for name in keep:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


@dataclass(frozen=True)
class Cache:
    """A directory of finished engine runs.

    Parameters
    ----------
    root
        Cache directory; None uses `default_cache_dir`.
    """

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> Cache:
        """The cache at ``root`` (or the default location), created if needed."""
        path = default_cache_dir() if root is None else Path(root).expanduser()
        try:
            (path / _LAYOUT).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValidationError(f"cache directory {path} cannot be created: {exc}") from exc
        return cls(path)

    def entry(self, engine: str, key: str) -> Path:
        """Directory of the entry ``key`` of ``engine`` (it may not exist)."""
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValidationError(f"cache keys are lowercase hex digests; got {key!r}")
        return self.root / _LAYOUT / engine / key[:2] / key

    def get(self, engine: str, key: str) -> Path | None:
        """The entry's directory if the run finished and was stored, else None."""
        path = self.entry(engine, key)
        return path if (path / _RECORD).is_file() else None

    def record(self, engine: str, key: str) -> Mapping[str, Any] | None:
        """The JSON record stored with an entry, or None."""
        path = self.get(engine, key)
        if path is None:
            return None
        return json.loads((path / _RECORD).read_text(encoding="utf-8"))

    def store(
        self,
        engine: str,
        key: str,
        work_dir: str | os.PathLike,
        keep: Iterable[str],
        record: Mapping[str, Any],
    ) -> Path:
        """Copy the kept outputs of a finished run into the cache, atomically.

        If another process stored the same key meanwhile, its entry is kept (same inputs,
        same engine version: same outputs) and this copy is discarded.
        """
        final = self.entry(engine, key)
        if (final / _RECORD).is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{key}.{uuid.uuid4().hex}.part"
        try:
            _copy_outputs(Path(work_dir), tmp, keep)
            text = json.dumps(jsonable(dict(record)), indent=1, sort_keys=True)
            (tmp / _RECORD).write_text(text, encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:
                # rename onto an existing non-empty directory fails: someone else won
                if not (final / _RECORD).is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def restore(self, engine: str, key: str, work_dir: str | os.PathLike) -> None:
        """Copy a stored entry's files (not its record) into ``work_dir``."""
        src = self.get(engine, key)
        if src is None:
            raise ValidationError(f"no finished {engine} run with key {key[:12]} in {self.root}")
        shutil.copytree(src, work_dir, dirs_exist_ok=True, symlinks=True)
        with contextlib.suppress(FileNotFoundError):
            (Path(work_dir) / _RECORD).unlink()

    def keys(self, engine: str) -> list[str]:
        """Keys of every finished entry of ``engine``."""
        base = self.root / _LAYOUT / engine
        if not base.is_dir():
            return []
        return sorted(p.parent.name for p in base.glob(f"??/*/{_RECORD}"))
