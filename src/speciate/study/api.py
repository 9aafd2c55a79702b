"""`run_study`: a study file in, results, figures, report and provenance out."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speciate._atomic import atomic_path, atomic_write_text
from speciate.provenance import file_sha256, jsonable, versions
from speciate.study.runner import StageRecord, StudyResult, run_stages
from speciate.study.schema import Study, load_study
from speciate.study.stages import build_stages

__all__ = ["run_study", "slug", "write_results"]


def slug(name: str) -> str:
    """A file-name-safe form of a series or fit name."""
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in str(name))
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_") or "x"


def _csv(df: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp)
    return path


def write_results(study: Study, values: Mapping[str, Any]) -> list[Path]:
    """Write every stage result that exists as CSV and NetCDF under ``results/``."""
    import pandas as pd
    import xarray as xr

    out = study.output / "results"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, value in values.items():
        kind, _, label = name.partition(":")
        s = slug(label)
        if kind == "spectra":
            path = out / f"spectra_{s}.nc"
            value["norm"].to_series("norm").to_netcdf(path)
            norm = value["norm"]
            df = pd.DataFrame({"e0_eV": norm.e0, "edge_step": norm.edge_step}, index=norm.labels)
            written += [path, _csv(df, out / f"edge_{s}.csv")]
        elif kind == "features":
            path = out / f"features_{s}.csv"
            value["table"].to_csv(path)
            written.append(path)
        elif kind == "sync":
            written.append(_csv(value["table"].to_dataframe(), out / f"sync_{s}.csv"))
        elif kind == "echem":
            written.append(_csv(value["summary"].to_dataframe(), out / "echem_summary.csv"))
        elif kind == "theory":
            path = out / "theory_normalized.nc"
            value["series"].to_netcdf(path)
            written.append(path)
        elif kind == "fit":
            if "lcf" in value:
                value["lcf"].to_csv(out / f"fractions_{s}.csv")
                value["lcf"].to_netcdf(out / f"fractions_{s}.nc")
                written += [out / f"fractions_{s}.csv", out / f"fractions_{s}.nc"]
            if "scan" in value:
                sc = value["scan"]
                df = pd.DataFrame(
                    {
                        "best_phase": sc.best_phase,
                        "best_radius_A": sc.best_radius,
                        "best_r_factor": sc.best_r_factor,
                        **{
                            f"weight_{n}": sc.best_weights[:, j]
                            for j, n in enumerate((*sc.fixed, "candidate"))
                        },
                    },
                    index=list(sc.labels),
                )
                written.append(_csv(df, out / f"radius_{s}.csv"))
                sc.to_netcdf(out / f"radius_landscape_{s}.nc")
                written.append(out / f"radius_landscape_{s}.nc")
            if "combinations" in value:
                written.append(_csv(value["combinations"].summary(), out / f"combinations_{s}.csv"))
        elif kind == "eels":
            res = value["result"]
            ds = xr.Dataset({"valence": (("y", "x"), np.asarray(res.valence))})
            path = out / "valence_map.nc"
            with atomic_path(path) as tmp:
                ds.to_netcdf(tmp, engine="h5netcdf")
            written.append(path)
    return written


def _provenance(
    study: Study, records: Sequence[StageRecord], keys: Mapping[str, str], wall: float
) -> dict[str, Any]:
    from speciate import __version__

    inputs: dict[str, str] = {}
    for st_files in _input_files(study):
        try:
            inputs[st_files] = file_sha256(st_files)
        except OSError:
            inputs[st_files] = "missing"
    engines: dict[str, Any] = {}
    try:
        import importlib.metadata as md

        engines["feff10-rs"] = md.version("feff10-rs")
    except Exception:
        engines["feff10-rs"] = None
    return {
        "study_file": None if study.path is None else str(study.path),
        "study_sha256": None if study.path is None else file_sha256(study.path),
        "speciate": __version__,
        "python": platform.python_version(),
        "versions": versions("numpy", "scipy", "pandas", "xarray", "matplotlib", "plotly"),
        "engines": engines,
        "options": jsonable(dict(study.raw)),
        "inputs": inputs,
        "stages": [
            {
                "name": r.name,
                "status": r.status,
                "key": keys.get(r.name),
                "seconds": round(r.seconds, 4),
                "engine_runs": r.engine_runs,
                "error": r.error,
            }
            for r in records
        ],
        "wall_s": round(wall, 3),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _input_files(study: Study) -> list[str]:
    from speciate.io import expand_paths

    files: list[str] = []
    for spec in (*study.spectra, study.echem):
        if spec.get("files"):
            try:
                files += [str(p) for p in expand_paths(study.resolve(spec["files"]))]
            except Exception:
                pass
    files += [study.resolve(s["file"]) for s in study.standards if "file" in s]
    if study.theory.get("precomputed"):
        files.append(study.resolve(study.theory["precomputed"]))
    for k in ("image", "low_loss"):
        if study.eels.get(k):
            files.append(study.resolve(study.eels[k]))
    return files


def _code_version(version: str) -> str:
    """The speciate version plus a hash of the study and report code, so a changed stage
    or figure recomputes even within one release."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for sub in ("study", "report"):
        for f in sorted((root / sub).glob("*.py")):
            h.update(f.read_bytes())
    return f"{version}+{h.hexdigest()[:12]}"


def run_study(
    study: str | Path | Study,
    *,
    force: Sequence[str] = (),
    progress: Callable[[str, str], Any] | None = None,
) -> StudyResult:
    """Run every stage of a study, reusing cached stage results.

    Parameters
    ----------
    study
        A study file (TOML) or a parsed `Study`.
    force
        Stage kinds to recompute even when cached (e.g. ``("theory",)``).
    progress
        Called with (stage name, event) as stages start and finish.

    Returns
    -------
    StudyResult
        Per-stage records (ran / cached / failed / skipped, with errors), the values,
        and the provenance also written to ``<output>/provenance.json``. Files:
        ``results/`` (NetCDF + CSV), ``figures/`` (PNG), ``report.html``.
    """
    from speciate import __version__
    from speciate.report.study import build_report

    if not isinstance(study, Study):
        study = load_study(study)
    t0 = time.perf_counter()
    out = study.output
    out.mkdir(parents=True, exist_ok=True)
    stages = build_stages(study, build_report)
    force = list(force)
    if not (out / "report.html").exists():
        force.append("report")
    records, values, keys = run_stages(
        study,
        stages,
        out / ".cache",
        version=_code_version(__version__),
        force=force,
        progress=progress,
    )
    write_results(study, {k: v for k, v in values.items() if k != "report"})
    prov = _provenance(study, records, keys, time.perf_counter() - t0)
    atomic_write_text(out / "provenance.json", json.dumps(prov, indent=1))
    return StudyResult(study, tuple(records), values, prov)
