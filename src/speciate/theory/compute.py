"""Run one recipe through its engine, or take it from the cache: write -> run -> parse."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any

from speciate.provenance import records_provenance
from speciate.theory.base import Engine, Recipe, TheorySpectrum, recipe_key
from speciate.theory.cache import Cache
from speciate.theory.runner import fresh_work_dir

__all__ = ["ComputeResult", "compute"]


@dataclass(frozen=True)
class ComputeResult:
    """A parsed spectrum and how it was obtained.

    Attributes
    ----------
    spectrum
        The parsed spectrum (None for a recipe that produces no spectrum, e.g. a shared
        FEFF potential).
    key
        Cache key of the recipe.
    cached
        True if the run was found in the cache and not recomputed.
    duration_s
        Wall time of the engine run in seconds (the stored value for cache hits).
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    spectrum: TheorySpectrum | None
    key: str
    cached: bool
    duration_s: float
    provenance: dict[str, Any] = field(default_factory=dict)


def _ensure(
    engine: Engine, recipe: Recipe, cache: Cache, timeout: float | None
) -> tuple[str, bool, float]:
    version = engine.version()
    key = recipe_key(recipe, version)
    hit = cache.record(recipe.engine, key)
    if hit is not None:
        return key, True, float(hit.get("duration_s", 0.0))
    with fresh_work_dir(prefix=f"speciate-{recipe.engine}-") as work:
        if recipe.parent is not None:
            parent_key, _, _ = _ensure(engine, recipe.parent, cache, timeout)
            cache.restore(recipe.parent.engine, parent_key, work)
        engine.write(recipe, work)
        start = time.perf_counter()
        engine.run(recipe, work, timeout)
        duration = time.perf_counter() - start
        cache.store(
            recipe.engine,
            key,
            work,
            recipe.keep,
            {
                "engine": recipe.engine,
                "engine_version": version,
                "label": recipe.label,
                "options": dict(recipe.options),
                "inputs": sorted(recipe.files),
                "run_args": list(recipe.run_args),
                "parent": None if recipe.parent is None else recipe_key(recipe.parent, version),
                "duration_s": duration,
                "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            },
        )
    return key, False, duration


@records_provenance
def compute(
    engine: Engine,
    recipe: Recipe,
    *,
    cache: Cache | None = None,
    timeout: float | None = None,
    parse: bool = True,
) -> ComputeResult:
    """Compute ``recipe`` with ``engine`` unless its result is already cached.

    A recipe's parent (e.g. a shared potential) is computed first, or taken from the
    cache; its work directory is copied into the fresh directory of this run.

    Parameters
    ----------
    engine
        The engine (`speciate.theory.Engine`).
    recipe
        What to compute.
    cache
        Where finished runs are kept; None uses the default cache location.
    timeout
        Wall-time limit per engine run, seconds.
    parse
        Parse the outputs into a `TheorySpectrum` (False for recipes with no spectrum).

    Raises
    ------
    EngineError
        The engine failed, timed out or left incomplete outputs (with its log tail).
    """
    cache = Cache.at() if cache is None else cache
    key, cached, duration = _ensure(engine, recipe, cache, timeout)
    spectrum = None
    if parse:
        entry = cache.get(recipe.engine, key)
        assert entry is not None  # _ensure stored it
        spectrum = engine.parse(recipe, entry)
    return ComputeResult(spectrum, key, cached, duration)
