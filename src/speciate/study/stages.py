"""The stage functions of a study and the graph that connects them.

Every stage takes the study and its upstream values and returns a plain dict of library
results (`NormResult`, `LCFResult`, `ScanResult`, `FeatureTable`, `SyncTable`...). Tables
of options in the study file are forwarded to the library call as keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from speciate.errors import ValidationError
from speciate.study.runner import Stage
from speciate.study.schema import Study

__all__ = ["build_stages", "forwarded", "kwargs_for", "standard_series", "theory_stage"]


def forwarded(options: Mapping[str, Any]) -> dict[str, Any]:
    """TOML options as keyword arguments: lists become tuples (energy ranges, bounds)."""

    def conv(v: Any) -> Any:
        if isinstance(v, list):
            return tuple(conv(x) for x in v)
        if isinstance(v, Mapping):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {str(k): conv(v) for k, v in options.items()}


def kwargs_for(func: Callable[..., Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The options ``func`` accepts (all of them when it takes ``**kwargs``)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def _is_mn(edge: Any) -> bool:
    return isinstance(edge, str) and edge.replace(" ", "").lower().startswith("mnk")


# --- spectra ---------------------------------------------------------------------------


def _spectra(spec: Mapping[str, Any]) -> Callable[[Study, Mapping[str, Any]], dict]:
    def run(study: Study, _inputs: Mapping[str, Any]) -> dict:
        from speciate import io
        from speciate.xanes import align, derivative, normalize

        series = io.read_many(study.resolve(spec["files"]), **forwarded(spec.get("reader", {})))
        aligned = None
        if spec.get("align"):
            opts = spec["align"] if isinstance(spec["align"], Mapping) else {}
            aligned = align(series, **forwarded(opts))
            series = aligned.series
        norm = normalize(series, **forwarded(spec.get("normalize", {})))
        deriv = derivative(norm)
        return {
            "name": spec["name"],
            "edge": spec.get("edge"),
            "series": series,
            "norm": norm,
            "derivative": deriv,
            "align": aligned,
            "truth": dict(spec.get("truth", {})),
        }

    return run


def _features(spec: Mapping[str, Any]) -> Callable[[Study, Mapping[str, Any]], dict]:
    def run(_study: Study, inputs: Mapping[str, Any]) -> dict:
        from speciate.features import extract

        norm = inputs[f"spectra:{spec['name']}"]["norm"]
        opts = forwarded(spec.get("features", {}))
        opts.setdefault("calibration", "mn" if _is_mn(spec.get("edge")) else None)
        if opts["calibration"] is False:
            opts["calibration"] = None
        return {"table": extract(norm, **opts)}

    return run


# --- standards and theory ----------------------------------------------------------------


def standard_series(
    study: Study, std: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
) -> Any:
    """One standard as a normalized one-spectrum `Series` labelled by its name."""
    from speciate import io
    from speciate.xanes import normalize

    name = str(std["name"])
    if "file" in std:
        raw = io.read(study.resolve(std["file"]), **forwarded(std.get("reader", {})))
        opts = {"pre": (-150.0, -30.0), "post": (50.0, 400.0)}
        opts.update(forwarded(std.get("normalize", {})))
        series = normalize(raw, **opts).to_series("norm")
    else:
        norm = (inputs or {})[f"spectra:{std['spectra']}"]["norm"]
        index = int(std.get("index", 0))
        if not -norm.n_spectra <= index < norm.n_spectra:
            raise ValidationError(
                f"standard {name!r}: index {index} outside series {std['spectra']!r} "
                f"of {norm.n_spectra} spectra"
            )
        series = norm.to_series("norm").select(index % norm.n_spectra)
    coords = {"valence": np.array([float(std.get("valence", np.nan))])}
    return series.replace(labels=(name,), coords=coords, time=None, reference=None)


def _standards(study: Study, inputs: Mapping[str, Any]) -> dict:
    return {
        "standards": {str(s["name"]): standard_series(study, s, inputs) for s in study.standards}
    }


def theory_stage(study: Study, _inputs: Mapping[str, Any]) -> dict:
    """Theory spectra: precomputed or swept, normalized, broadened and shifted."""
    from speciate import io
    from speciate.theory import gaussian_broaden, sweep
    from speciate.theory import normalize as theory_normalize

    t = study.theory
    engine_runs = 0
    stats: dict[str, Any] = {}
    failures: list[str] = []
    if t.get("precomputed"):
        raw = io.read(study.resolve(t["precomputed"]))
        source = "precomputed"
    else:
        res = sweep(
            list(t["phases"]),
            [float(r) for r in t["radii"]],
            engine=t.get("engine", "feff"),
            options=forwarded(t.get("options", {})),
            absorber=t.get("absorber", "Mn"),
            n_workers=t.get("workers"),
            cache_dir=study.resolve(t["cache_dir"]) if t.get("cache_dir") else None,
            progress=False,
        )
        if res.series is None:
            raise ValidationError(f"the theory sweep produced no spectrum: {res.failures}")
        raw = res.series
        stats = dict(res.stats)
        engine_runs = int(stats.get("computed", 0))
        failures = [f"{f.phase} R={f.radius} Å: {f.error}" for f in res.failures]
        source = "sweep"
    phases = t.get("phases")
    if phases and "phase" in raw.coords:
        keep = np.isin(np.asarray(raw.coords["phase"]).astype(str), list(phases))
        if not keep.any():
            raise ValidationError(f"none of the phases {phases} in the theory spectra")
        raw = raw.select(np.nonzero(keep)[0])
    norm = theory_normalize(raw, **forwarded(t.get("normalize", {})))
    series = norm.to_series("norm")
    fwhm = t.get("broadening", {}).get("fwhm")
    if fwhm:
        series = gaussian_broaden(series, float(fwhm))
    shift = float(t.get("shift", 0.0))
    if shift:
        series = series.replace(energy=series.energy + shift)
    return {
        "raw": raw,
        "series": series,
        "source": source,
        "stats": stats,
        "failures": failures,
        "engine_runs": engine_runs,
        "engine": t.get("engine", "feff"),
    }


# --- electrochemistry ------------------------------------------------------------------


def _echem(study: Study, _inputs: Mapping[str, Any]) -> dict:
    from speciate.echem import capacity_per_cycle, curves, dqdv, read

    e = study.echem
    files = study.resolve(e["files"])
    cycling = read(files if isinstance(files, list) else [files], **forwarded(e.get("reader", {})))
    mass = e.get("mass_mg")
    summary = capacity_per_cycle(cycling, mass_mg=mass)
    cycles = e.get("cycles") or [int(c) for c in np.unique(summary.cycle)]
    curv = curves(cycling, cycles, mass_mg=mass)
    dq = dqdv(cycling, cycles, mass_mg=mass, **forwarded(e.get("dqdv", {})))
    return {"cycling": cycling, "summary": summary, "curves": curv, "dqdv": dq, "cycles": cycles}


def _sync(spec: Mapping[str, Any]) -> Callable[[Study, Mapping[str, Any]], dict]:
    def run(study: Study, inputs: Mapping[str, Any]) -> dict:
        from speciate.echem import sync

        e = study.echem
        norm = inputs[f"spectra:{spec['name']}"]["norm"]
        opts = {"outside": "nan", **forwarded(e.get("sync", {}))}
        table = sync(
            norm,
            inputs["echem"]["cycling"],
            offset=float(e.get("time_offset_s", 0.0)),
            mass_mg=e.get("mass_mg"),
            **opts,
        )
        return {"table": table}

    return run


# --- fits --------------------------------------------------------------------------------


def _fit(index: int, f: Mapping[str, Any]) -> Callable[[Study, Mapping[str, Any]], dict]:
    def run(_study: Study, inputs: Mapping[str, Any]) -> dict:
        from speciate.fit import combinations, lcf, scan

        norm = inputs[f"spectra:{f['spectra']}"]["norm"]
        comps = list(f.get("components", []))
        stds = [inputs["standards"]["standards"][c] for c in comps] if comps else []
        rest = forwarded({k: v for k, v in f.items() if k not in _FIT_KEYS})
        out: dict[str, Any] = {"spectra": f["spectra"], "components": comps, "options": rest}
        if comps and f.get("scan") is None:
            # with a scan, the components are its fixed standards and the scan fits them
            out["lcf"] = lcf(norm, stds, **rest)
        if f.get("combinations"):
            copts = f["combinations"] if isinstance(f["combinations"], Mapping) else {}
            copts = {**kwargs_for(combinations, rest), **forwarded(copts)}
            out["combinations"] = combinations(norm, stds, **copts)
        if f.get("scan") is not None:
            sopts = forwarded(f["scan"])
            theory = inputs["theory"]["series"]
            wanted = sopts.pop("candidates", None)
            cand = theory
            if wanted:
                wanted = [wanted] if isinstance(wanted, str) else list(wanted)
                phase = np.asarray(theory.coords["phase"]).astype(str)
                cand = theory.select(np.nonzero(np.isin(phase, wanted))[0])
            sopts = {**kwargs_for(scan, rest), **sopts}
            out["scan"] = scan(norm, stds or None, cand, **sopts)
        return out

    return run


_FIT_KEYS = {"spectra", "components", "scan", "combinations", "name"}


# --- EELS --------------------------------------------------------------------------------


def _eels(study: Study, _inputs: Mapping[str, Any]) -> dict:
    from speciate.eels import (
        fit_background,
        fourier_ratio,
        mlls,
        region_spectra,
        subtract_background,
    )
    from speciate.eels.synthetic import mn_references

    e = study.eels
    window = tuple(e.get("background", (600.0, 634.0)))
    fwhm = float(e.get("fwhm", 1.0))
    truth = None
    if "synthetic" in e:
        from speciate.eels import correct_drift, zlp_positions
        from speciate.eels.synthetic import model_spectra, shell_core_image

        opts = dict(e["synthetic"]) if isinstance(e["synthetic"], Mapping) else {}
        img = shell_core_image(
            *model_spectra(), shape=tuple(opts.get("shape", (32, 32))), seed=opts.get("seed", 0)
        )
        zlp = zlp_positions(img.low_loss)
        core, low = (
            correct_drift(si, zlp, reference=0.0).image for si in (img.core_loss, img.low_loss)
        )
        regions = {"shell": img.shell, "core": img.particle & ~img.shell}
        truth = {"valence": img.valence, "particle": img.particle}
    else:
        from speciate.eels import read

        core = read(study.resolve(e["image"]))
        low = read(study.resolve(e["low_loss"])) if e.get("low_loss") else None
        regions = {}
        from speciate.eels import box_mask

        for name, box in dict(e.get("regions", {})).items():
            regions[name] = box_mask(core.data.shape[:2], tuple(box[:2]), tuple(box[2:]))
    signal = subtract_background(core, fit_background(core, window))
    if low is not None:
        signal = fourier_ratio(signal, low, fwhm=fwhm)
    refs = e.get("references", "synthetic")
    opts = forwarded(e.get("mlls", {}))
    if refs == "synthetic":
        references = mn_references(core.energy, fwhm=fwhm)
    else:
        references = study.resolve(refs)
        if e.get("valences") is not None:
            opts.setdefault("valences", tuple(e["valences"]))
    result = mlls(signal, references, **opts)
    spectra = region_spectra(signal, regions) if regions else None
    return {"result": result, "regions": spectra, "masks": regions, "truth": truth}


# --- graph -------------------------------------------------------------------------------


def _spec_files(study: Study, spec: Mapping[str, Any]) -> tuple[str, ...]:
    from speciate.io import expand_paths

    return tuple(str(p) for p in expand_paths(study.resolve(spec["files"])))


def build_stages(study: Study, report: Callable[[Study, Mapping[str, Any]], Any]) -> list[Stage]:
    """The stages of ``study`` in dependency order, ending with ``report``."""
    stages: list[Stage] = []
    names = study.series_names()
    for spec in study.spectra:
        try:
            files = _spec_files(study, spec)
        except Exception:  # missing files: the stage fails with the reader's message
            files = ()
        opts = {k: v for k, v in spec.items() if k not in ("features", "state_of_charge")}
        stages.append(
            Stage(f"spectra:{spec['name']}", "spectra", _spectra(spec), options=opts, files=files)
        )
    if study.standards:
        refs = sorted({f"spectra:{s['spectra']}" for s in study.standards if "spectra" in s})
        files = tuple(study.resolve(s["file"]) for s in study.standards if "file" in s)
        stages.append(
            Stage(
                "standards",
                "standards",
                _standards,
                tuple(refs),
                options={"standards": list(study.standards)},
                files=files,
            )
        )
    if study.theory:
        t = study.theory
        files = (study.resolve(t["precomputed"]),) if t.get("precomputed") else ()
        stages.append(Stage("theory", "theory", theory_stage, options=dict(t), files=files))
    for spec in study.spectra:
        stages.append(
            Stage(
                f"features:{spec['name']}",
                "features",
                _features(spec),
                (f"spectra:{spec['name']}",),
                options={"features": spec.get("features", {}), "edge": spec.get("edge")},
            )
        )
    if study.echem:
        e = study.echem
        try:
            files = tuple(_spec_files(study, e))
        except Exception:  # missing files: the stage fails with the reader's message
            files = ()
        opts = {k: v for k, v in e.items() if k not in ("sync", "time_offset_s")}
        stages.append(Stage("echem", "echem", _echem, options=opts, files=files))
        for spec in study.spectra:
            if spec.get("state_of_charge", "echem") == "echem":
                stages.append(
                    Stage(
                        f"sync:{spec['name']}",
                        "sync",
                        _sync(spec),
                        (f"spectra:{spec['name']}", "echem"),
                        options={
                            "sync": e.get("sync", {}),
                            "offset": e.get("time_offset_s", 0.0),
                            "mass_mg": e.get("mass_mg"),
                        },
                    )
                )
    for i, f in enumerate(study.fits):
        deps = [f"spectra:{f['spectra']}"]
        if f.get("components"):
            deps.append("standards")
        if f.get("scan") is not None:
            deps.append("theory")
        stages.append(
            Stage(f"fit:{f.get('name', i)}", "fit", _fit(i, f), tuple(deps), options=dict(f))
        )
    if study.eels:
        e = study.eels
        files = tuple(study.resolve(e[k]) for k in ("image", "low_loss") if e.get(k))
        stages.append(Stage("eels", "eels", _eels, options=dict(e), files=files))
    upstream = tuple(s.name for s in stages)
    stages.append(
        Stage(
            "report",
            "report",
            report,
            optional_deps=upstream,
            # what the figures read straight from the study file (not through a stage)
            options={
                "report": dict(study.report),
                "title": study.title,
                "names": list(names),
                "state_of_charge": [s.get("state_of_charge", "echem") for s in study.spectra],
                "study_text": study.path.read_text(encoding="utf-8") if study.path else "",
            },
        )
    )
    return stages
