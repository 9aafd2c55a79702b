"""Run a study: a graph of stages, each cached under its inputs, failures kept apart.

Stages run in dependency order. A stage whose key (options, input files, upstream keys)
matches a cached result is loaded, not run. A stage that raises is recorded with its
error and the stages that need it are skipped; the others (and the report) still run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from speciate.study.cache import StageCache, stage_key
from speciate.study.schema import Study

__all__ = ["Stage", "StageRecord", "StudyResult", "run_stages"]


@dataclass(frozen=True)
class Stage:
    """One node of the study graph.

    Attributes
    ----------
    name
        Unique name, e.g. ``"spectra:Ni K operando"``.
    kind
        Stage type (``spectra``, ``standards``, ``theory``, ``features``, ``echem``,
        ``sync``, ``fit``, ``eels``, ``report``).
    func
        ``func(study, inputs) -> value`` with ``inputs`` the values of ``deps`` by name.
    deps
        Names of the stages it needs.
    options
        The options that define its result (hashed into its key).
    files
        Input files whose contents are hashed into its key.
    optional_deps
        Stages it uses when they succeeded but can run without (the report).
    cache
        False for stages whose output must always be rewritten.
    """

    name: str
    kind: str
    func: Callable[[Study, Mapping[str, Any]], Any]
    deps: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    optional_deps: tuple[str, ...] = ()
    cache: bool = True


@dataclass(frozen=True)
class StageRecord:
    """What happened to one stage: ``status`` is ran, cached, failed or skipped."""

    name: str
    kind: str
    status: str
    key: str | None
    seconds: float
    error: str | None = None
    detail: str | None = None
    engine_runs: int = 0


@dataclass(frozen=True, eq=False)
class StudyResult:
    """A finished run.

    Attributes
    ----------
    study
        The study that ran.
    records
        One `StageRecord` per stage, in run order.
    values
        Stage results by stage name (failed and skipped stages absent).
    provenance
        Input hashes, options, versions, timings (also written to ``provenance.json``).
    """

    study: Study
    records: tuple[StageRecord, ...]
    values: Mapping[str, Any]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @property
    def ran(self) -> tuple[str, ...]:
        """Names of the stages that were computed (not loaded from the cache)."""
        return tuple(r.name for r in self.records if r.status == "ran")

    @property
    def failed(self) -> tuple[StageRecord, ...]:
        """The stages that raised."""
        return tuple(r for r in self.records if r.status == "failed")

    @property
    def engine_runs(self) -> int:
        """Theory-engine runs started by this run (0 when all came from caches)."""
        return sum(r.engine_runs for r in self.records)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_stages(
    study: Study,
    stages: Sequence[Stage],
    cache_dir: str | Path,
    *,
    version: str = "",
    force: Sequence[str] = (),
    progress: Callable[[str, str], Any] | None = None,
) -> tuple[list[StageRecord], dict[str, Any], dict[str, str]]:
    """Run ``stages`` in order (each after its deps), using and filling the cache.

    Parameters
    ----------
    study
        The study passed to every stage function.
    stages
        Topologically ordered stages.
    cache_dir
        Folder of the stage cache.
    version
        Mixed into every key (the speciate version), so an upgrade recomputes.
    force
        Stage kinds to recompute even when cached.
    progress
        Called with (stage name, event) where event is start, ran, cached, failed, skipped.

    Returns
    -------
    records, values, keys
    """
    cache = StageCache(cache_dir)
    say = progress or (lambda _n, _e: None)
    values: dict[str, Any] = {}
    keys: dict[str, str] = {}
    status: dict[str, str] = {}
    records: list[StageRecord] = []
    for st in stages:
        missing = [d for d in st.deps if status.get(d) not in ("ran", "cached")]
        if missing:
            status[st.name] = "skipped"
            records.append(
                StageRecord(
                    st.name, st.kind, "skipped", None, 0.0, detail=f"needs {', '.join(missing)}"
                )
            )
            say(st.name, "skipped")
            continue
        present = [d for d in st.optional_deps if status.get(d) in ("ran", "cached")]
        upstream = [keys[d] for d in (*st.deps, *present)]
        upstream += [f"absent:{d}" for d in st.optional_deps if d not in present]
        t0 = time.perf_counter()
        try:
            key = stage_key(st.name, st.options, st.files, upstream, version)
        except OSError as exc:
            status[st.name] = "failed"
            records.append(StageRecord(st.name, st.kind, "failed", None, 0.0, _error_text(exc)))
            say(st.name, "failed")
            continue
        keys[st.name] = key
        if st.cache and st.kind not in force:
            hit, value = cache.get(st.name, key)
            if hit:
                values[st.name] = value
                status[st.name] = "cached"
                records.append(
                    StageRecord(st.name, st.kind, "cached", key, time.perf_counter() - t0)
                )
                say(st.name, "cached")
                continue
        say(st.name, "start")
        inputs = {d: values[d] for d in (*st.deps, *present)}
        if st.kind == "report":
            inputs["__records__"] = tuple(records)
        try:
            value = st.func(study, inputs)
        except Exception as exc:  # any stage failure is reported; the others go on
            status[st.name] = "failed"
            tail = "".join(traceback.format_exception(exc)[-3:])
            records.append(
                StageRecord(
                    st.name,
                    st.kind,
                    "failed",
                    key,
                    time.perf_counter() - t0,
                    _error_text(exc),
                    tail,
                )
            )
            say(st.name, "failed")
            continue
        values[st.name] = value
        status[st.name] = "ran"
        runs = (
            int(getattr(value, "engine_runs", 0) or 0)
            if not isinstance(value, Mapping)
            else int(value.get("engine_runs", 0) or 0)
        )
        records.append(
            StageRecord(st.name, st.kind, "ran", key, time.perf_counter() - t0, engine_runs=runs)
        )
        if st.cache:
            cache.put(st.name, key, value)
        say(st.name, "ran")
    return records, values, keys
