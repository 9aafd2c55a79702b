"""`sweep`: XANES of every phase × cluster radius in one call, cached, parallel and resumable.

Each (phase, absorber site, radius) is one job; jobs sharing a FEFF potential depend on
one potential job. Jobs fan out over Dask: the local threaded scheduler by default
(each engine run is its own process, so threads give real parallelism), or any
``distributed`` cluster when ``client=`` is a `distributed.Client` or its address.
Every finished run is stored in the content-hash cache at once, so a killed sweep resumes
with nothing lost or recomputed. A failing point is recorded in ``failures`` (with the
engine's log tail) and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from speciate.errors import SpeciateError, ValidationError
from speciate.provenance import records_provenance
from speciate.series import Series, interp_rows
from speciate.theory.base import Engine, Recipe, TheorySpectrum, recipe_key
from speciate.theory.cache import Cache
from speciate.theory.compute import compute

__all__ = ["Failure", "SiteSpectrum", "SweepResult", "get_engine", "sweep"]


@dataclass(frozen=True)
class Failure:
    """One sweep point that produced no spectrum.

    Attributes
    ----------
    phase, radius, site
        The point (site None when the phase failed before its sites were known).
    error
        Error type and message.
    log_tail
        Last lines of the engine's log, when the engine ran.
    """

    phase: str
    radius: float
    site: str | None
    error: str
    log_tail: str | None = None


@dataclass(frozen=True)
class SiteSpectrum:
    """One absorber site's spectrum on its engine's own grid, with where it came from."""

    phase: str
    radius: float
    site: str
    multiplicity: int
    spectrum: TheorySpectrum
    key: str
    cached: bool
    duration_s: float


@dataclass(frozen=True, eq=False)
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    series
        One spectrum per phase × radius (sites merged by multiplicity, per absorbing atom)
        on one energy grid (eV); coords ``phase``, ``radius`` (Å), ``engine``, ``scf``,
        ``potential`` (FEFF: ``"shared"`` potential reused across radii, or
        ``"per_radius"`` full runs), ``e_fermi`` (eV), ``n_absorbers`` (1), ``n_sites``,
        and for FEFF ``atoms_radius`` (Å, the ATOMS list the potential was computed on).
        None if nothing succeeded.
    sites
        The per-site spectra on the same grid; coords as ``series`` plus ``site`` and
        ``multiplicity``.
    spectra
        The per-site spectra on their native engine grids (`SiteSpectrum`).
    failures
        Every point that failed (`Failure`).
    stats
        Counts and timings: jobs, computed, cached, failed, wall_s.
    provenance
        Parameters, engine version, cache location.
    """

    series: Series | None
    sites: Series | None
    spectra: tuple[SiteSpectrum, ...]
    failures: tuple[Failure, ...]
    stats: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stats", MappingProxyType(dict(self.stats)))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    def __repr__(self) -> str:
        n = 0 if self.series is None else self.series.n_spectra
        return (
            f"SweepResult({n} spectra, {len(self.spectra)} site runs, "
            f"{len(self.failures)} failure(s), {self.stats.get('computed', 0)} computed, "
            f"{self.stats.get('cached', 0)} from cache)"
        )

    def to_netcdf(self, path: str | Path) -> None:
        """Write ``series`` to NetCDF atomically (read back with `speciate.io.read`)."""
        if self.series is None:
            raise ValidationError("the sweep produced no spectrum; nothing to write")
        self.series.to_netcdf(path)


def get_engine(engine: str | Engine, **kwargs: Any) -> Engine:
    """An engine by name (``"feff"``, ``"fdmnes"``) or an `Engine` instance as is."""
    if not isinstance(engine, str):
        if not isinstance(engine, Engine):
            raise ValidationError(
                f"engine must be 'feff', 'fdmnes' or an Engine; got {type(engine).__name__}"
            )
        return engine
    if engine == "feff":
        from speciate.theory.feff import FeffEngine

        return FeffEngine(**kwargs)
    if engine == "fdmnes":
        from speciate.theory.fdmnes import FdmnesEngine

        return FdmnesEngine(**kwargs)
    raise ValidationError(f"unknown engine {engine!r}; choose 'feff' or 'fdmnes'")


def _error_text(exc: BaseException) -> tuple[str, str | None]:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}", getattr(exc, "log_tail", None)


def _run_job(
    engine: Engine, recipe: Recipe, cache_root: str, timeout: float | None, parse: bool, *deps: Any
) -> dict[str, Any]:
    for dep in deps:
        if not dep.get("ok"):
            return {
                "ok": False,
                "error": f"potential step failed: {dep['error']}",
                "log": dep.get("log"),
            }
    try:
        res = compute(engine, recipe, cache=Cache(Path(cache_root)), timeout=timeout, parse=parse)
    except Exception as exc:  # recorded per point, never hidden (message + engine log tail)
        error, log = _error_text(exc)
        return {"ok": False, "error": error, "log": log}
    return {
        "ok": True,
        "spectrum": res.spectrum,
        "key": res.key,
        "cached": res.cached,
        "duration_s": res.duration_s,
    }


def _plan(engine: Engine, cluster: Any, radii: Sequence[float], options: Mapping[str, Any]) -> dict:
    return engine.plan(cluster, radii, options)


def _load(phase: Any) -> tuple[str, Any]:
    from speciate.structures import load

    structure = load(phase) if isinstance(phase, (str, Path)) else phase
    name = getattr(structure, "name", None) or getattr(structure, "phase", None) or str(phase)
    return str(phase) if isinstance(phase, str) else str(name), structure


def _common_grid(spectra: Sequence[TheorySpectrum], grid: Any) -> np.ndarray:
    if grid is not None:
        return np.asarray(grid, dtype=float)
    first = spectra[0].energy
    # the same grid only if equal to 1 µeV: FEFF grids of two sites can differ by a few
    # hundredths of an eV (their Fermi levels), which a relative tolerance would let through
    if all(
        s.energy.shape == first.shape and np.allclose(s.energy, first, rtol=0.0, atol=1e-6)
        for s in spectra
    ):
        return first
    lo = max(float(s.energy[0]) for s in spectra)
    hi = min(float(s.energy[-1]) for s in spectra)
    if not hi > lo:
        raise ValidationError(
            f"the computed spectra share no energy range ({lo:.1f} > {hi:.1f} eV); pass grid="
        )
    step = max(0.05, min(float(np.median(np.diff(s.energy))) for s in spectra))
    return lo + step * np.arange(int(np.floor((hi - lo) / step + 1e-9)) + 1)


def _on_grid(grid: np.ndarray, spectra: Sequence[TheorySpectrum]) -> np.ndarray:
    rows = np.empty((len(spectra), grid.size))
    for i, s in enumerate(spectra):
        if grid[0] < s.energy[0] - 1e-6 or grid[-1] > s.energy[-1] + 1e-6:
            raise ValidationError(
                f"grid {grid[0]:.2f}..{grid[-1]:.2f} eV extends beyond a computed spectrum "
                f"({s.energy[0]:.2f}..{s.energy[-1]:.2f} eV)"
            )
        rows[i] = interp_rows(grid, s.energy, s.mu / s.n_absorbers)
    return rows


def _assemble(
    runs: list[SiteSpectrum], failures: list[Failure], grid: Any, coords: Mapping[str, Any]
) -> tuple[Series | None, Series | None]:
    if not runs:
        return None, None
    e = _common_grid([r.spectrum for r in runs], grid)
    site_mu = _on_grid(e, [r.spectrum for r in runs])
    site_coords = {
        "phase": [r.phase for r in runs],
        "radius": [r.radius for r in runs],
        "site": [r.site for r in runs],
        "multiplicity": [r.multiplicity for r in runs],
        "e_fermi": [r.spectrum.e_fermi for r in runs],
        "n_absorbers": np.ones(len(runs), dtype=int),
        **coords,
    }
    # engines that record the ATOMS radius of their potential (FEFF) get it as a coord
    atoms_radius = [r.spectrum.meta.get("atoms_radius") for r in runs]
    if all(a is not None for a in atoms_radius):
        site_coords["atoms_radius"] = np.asarray(atoms_radius, dtype=float)
    sites = Series(
        e, site_mu, labels=[f"{r.phase} {r.site} R={r.radius:g}" for r in runs], coords=site_coords
    )
    failed = {(f.phase, f.radius) for f in failures}
    points = sorted({(r.phase, r.radius) for r in runs} - failed, key=lambda p: (p[0], p[1]))
    if not points:
        return None, sites
    phase_arr = np.array([r.phase for r in runs])
    radius_arr = np.array([r.radius for r in runs])
    weights = np.array([r.multiplicity for r in runs], dtype=float)
    # (n_points, n_runs) weights: merging all points is one matrix product
    member = np.stack([(phase_arr == p) & (radius_arr == r) for p, r in points]) * weights
    member /= member.sum(axis=1, keepdims=True)
    e_fermi = member @ np.array([r.spectrum.e_fermi for r in runs])
    extra = {}
    if "atoms_radius" in site_coords:
        # all sites of one point share the ATOMS radius: the largest is that value
        extra["atoms_radius"] = np.max(
            np.where(member > 0, site_coords["atoms_radius"], -np.inf), axis=1
        )
    merged = Series(
        e,
        member @ site_mu,
        labels=[f"{p} R={r:g}" for p, r in points],
        coords={
            "phase": [p for p, _ in points],
            "radius": [r for _, r in points],
            "e_fermi": e_fermi,
            "n_absorbers": np.ones(len(points), dtype=int),
            "n_sites": (member > 0).sum(axis=1),
            **extra,
            **coords,
        },
    )
    return merged, sites


class _Progress:
    """A Rich progress bar counting finished jobs (no-op when disabled)."""

    def __init__(self, total: int, enabled: bool, label: str) -> None:
        self._bar = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            # progress goes to stderr, so a sweep's printed results stay clean on stdout
            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()


def _execute(
    jobs: dict[str, Any], client: Any, scheduler: str, n_workers: int | None, progress: _Progress
) -> dict:
    import dask

    keys = list(jobs)
    if client is not None:
        from distributed import Client, as_completed

        own = isinstance(client, str)
        cl = Client(client) if own else client
        try:
            futures = cl.compute([jobs[k] for k in keys])
            index = {f.key: k for f, k in zip(futures, keys)}
            out = {}
            for fut, value in as_completed(futures, with_results=True):
                out[index[fut.key]] = value
                progress.advance()
            return out
        finally:
            if own:
                cl.close()
    from dask.callbacks import Callback

    job_keys = {jobs[k].key for k in keys}

    class _Tick(Callback):
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if key in job_keys:
                progress.advance()

    with _Tick():
        values = dask.compute(*[jobs[k] for k in keys], scheduler=scheduler, num_workers=n_workers)
    return dict(zip(keys, values))


@records_provenance
def sweep(
    phases: str | Sequence[Any],
    radii: Sequence[float],
    engine: str | Engine = "feff",
    options: Mapping[str, Any] | None = None,
    *,
    absorber: str = "Mn",
    site: str | None = None,
    client: Any = None,
    scheduler: str = "threads",
    n_workers: int | None = None,
    cache_dir: str | Path | None = None,
    timeout: float | None = 3600.0,
    grid: Any = None,
    progress: bool = True,
) -> SweepResult:
    """Compute the XANES of every phase at every cluster radius.

    Parameters
    ----------
    phases
        Bundled phase names (``"LiMn2O4"``...), CIF paths or loaded structures.
    radii
        Cluster radii, Å (the FMS radius for FEFF, ``Radius`` for FDMNES).
    engine
        ``"feff"`` (default), ``"fdmnes"`` or an `Engine` instance.
    options
        Engine options (`speciate.theory.FeffOptions` / `FdmnesOptions` field names).
    absorber
        Absorbing element.
    site
        Only this absorber site (e.g. ``"Mn2"``); default all inequivalent sites.
    client
        A `distributed.Client` or a scheduler address; None runs locally.
    scheduler
        Local Dask scheduler: ``"threads"`` (default), ``"processes"`` or ``"sync"``.
    n_workers
        Local workers (default: the number of CPUs).
    cache_dir
        Cache location; default ``$SPECIATE_CACHE`` or the user cache directory.
    timeout
        Wall-time limit per engine run, seconds.
    grid
        Energy grid (eV) of ``series``; default the engines' shared grid, or a uniform grid
        over the energies every spectrum covers.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    SweepResult
    """
    start = time.perf_counter()
    eng = get_engine(engine)
    options = dict(options or {})
    phase_list, radii = _check_arguments(phases, radii, scheduler)
    cache = Cache.at(cache_dir)
    version = eng.version()
    graph = _JobGraph(eng, cache, version, timeout)
    for phase in phase_list:
        graph.add_phase(phase, radii, options, absorber, site)
    with _Progress(len(graph.jobs), progress, f"{eng.name} sweep") as bar:
        results = _execute(graph.jobs, client, scheduler, n_workers, bar) if graph.jobs else {}
    runs = graph.collect(results, phase_list)
    series, sites = _assemble(runs, graph.failures, grid, _series_coords(eng, options))
    computed = sum(not r.cached for r in runs)
    stats = {
        "jobs": len(graph.jobs),
        "computed": computed,
        "cached": len(runs) - computed,
        "failed": len(graph.failures),
        "wall_s": time.perf_counter() - start,
    }
    provenance = {
        "phases": [str(p) for p in phase_list],
        "engine_name": eng.name,
        "engine_version": version,
        "cache_dir": str(cache.root),
    }
    return SweepResult(series, sites, tuple(runs), tuple(graph.failures), stats, provenance)


def _check_arguments(
    phases: str | Sequence[Any], radii: Sequence[float], scheduler: str
) -> tuple[list[Any], list[float]]:
    """Phases as a list and radii as floats; raises on an empty sweep or unknown scheduler."""
    phase_list = [phases] if isinstance(phases, (str, Path)) else list(phases)
    radii = [float(r) for r in radii]
    if not phase_list or not radii:
        raise ValidationError(
            f"sweep needs phases and radii; got {len(phase_list)} and {len(radii)}"
        )
    if scheduler not in ("threads", "processes", "sync"):
        raise ValidationError(
            f"scheduler must be 'threads', 'processes' or 'sync'; got {scheduler!r}"
        )
    return phase_list, radii


class _JobGraph:
    """The sweep's Dask jobs, one per (phase, radius, site), and what failed before running.

    A recipe with a parent (FEFF's shared potential) depends on one job per distinct parent,
    so every radius of a site reuses the same potential run.
    """

    def __init__(self, engine: Engine, cache: Cache, version: str, timeout: float | None):
        self.engine, self.cache, self.version, self.timeout = engine, cache, version, timeout
        self.jobs: dict[tuple[str, float, str], Any] = {}
        self.meta: dict[tuple[str, float, str], tuple[str, float, str, int]] = {}
        self.parents: dict[str, Any] = {}
        self.failures: list[Failure] = []

    def add_phase(
        self,
        phase: Any,
        radii: list[float],
        options: Mapping[str, Any],
        absorber: str,
        site: str | None,
    ) -> None:
        """Plan every site of ``phase`` at every positive radius; record what cannot run."""
        label = str(phase)
        good = [r for r in radii if r > 0]
        self.failures += [
            Failure(label, r, None, f"ValidationError: radius must be > 0 Å; got {r:g}")
            for r in radii
            if not r > 0
        ]
        if not good:
            return
        try:
            label, structure = _load(phase)
            from speciate.structures import cluster as make_clusters

            build = self.engine.build_radius(good, options)
            clusters = make_clusters(structure, absorber=absorber, radius=build, site=site)
        except SpeciateError as exc:
            error, log = _error_text(exc)
            self.failures += [Failure(label, r, None, error, log) for r in good]
            return
        for cl in clusters:
            for r, recipe in _plan(self.engine, cl, good, options).items():
                if isinstance(recipe, SpeciateError):
                    self.failures.append(Failure(label, r, str(cl.site), *_error_text(recipe)))
                else:
                    self._add_job((label, r, str(cl.site)), recipe, int(cl.multiplicity))

    def _add_job(self, key: tuple[str, float, str], recipe: Recipe, multiplicity: int) -> None:
        import dask

        deps = []
        if recipe.parent is not None:
            pkey = recipe_key(recipe.parent, self.version)
            if pkey not in self.parents:
                self.parents[pkey] = dask.delayed(_run_job, pure=False)(
                    self.engine, recipe.parent, str(self.cache.root), self.timeout, False,
                    dask_key_name=f"potential-{pkey[:16]}",
                )  # fmt: skip
            deps.append(self.parents[pkey])
        self.jobs[key] = dask.delayed(_run_job, pure=False)(
            self.engine, recipe, str(self.cache.root), self.timeout, True, *deps,
            dask_key_name=f"job-{recipe_key(recipe, self.version)[:16]}-{len(self.jobs)}",
        )  # fmt: skip
        self.meta[key] = (*key, multiplicity)

    def collect(self, results: Mapping[Any, dict], phase_list: list[Any]) -> list[SiteSpectrum]:
        """Finished runs in phase, radius, site order; failed runs go to ``failures``."""
        runs: list[SiteSpectrum] = []
        for key, res in results.items():
            phase_name, r, site_name, mult = self.meta[key]
            if res["ok"]:
                found = (res["spectrum"], res["key"], res["cached"], res["duration_s"])
                runs.append(SiteSpectrum(phase_name, r, site_name, mult, *found))
            else:
                failed = Failure(phase_name, r, site_name, res["error"], res.get("log"))
                self.failures.append(failed)
        order = {str(p): i for i, p in enumerate(phase_list)}
        runs.sort(key=lambda x: (order.get(x.phase, 0), x.radius, x.site))
        return runs


def _series_coords(engine: Engine, options: Mapping[str, Any]) -> dict[str, Any]:
    """Coords every spectrum of the sweep shares: engine, SCF and potential mode."""
    scf = options.get("scf")
    default_potential = "shared" if engine.name == "feff" else "none"
    return {
        "engine": engine.name,
        "scf": bool(scf) if scf is not None else False,
        "potential": str(options.get("potential", default_potential)),
    }
