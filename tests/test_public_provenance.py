"""Every public result carries the provenance of the call that made it.

The test walks the public API (``speciate.__all__`` and every subpackage's ``__all__``),
finds the result classes (dataclasses returned by public functions) and checks that each
has a ``provenance`` field; then it calls every producing function once and checks that
the record names the function and holds every argument of the call.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import speciate
from speciate import Series

# Results converted to `records_provenance` in the features, xanes.normalize and
# fit.{lcf,combinations,scan} work that lands beside this one; skipped until it has.
CONVERTED_ELSEWHERE: frozenset[str] = frozenset()

# Data and configuration, not analysis results: containers carry their record in
# ``meta["provenance"]`` (Series, SpectrumImage); the others are inputs, parsed engine
# files or settings.
DATA_MODELS = frozenset(
    {
        "Series",
        "SpectrumImage",
        "Cycling",
        "Edge",
        "EdgeGuess",
        "EdgeWindows",
        "Structure",
        "Cluster",
        "Normalized",
        "TheorySpectrum",
        "FdmnesLog",
        "RunRecord",
        "ReferenceSet",
        "Format",
    }
)


def _public_functions() -> dict[str, Callable[..., Any]]:
    out = {}
    for name in ["speciate", *(f"speciate.{m}" for m in speciate._SUBMODULES)]:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                out[f"{name}.{attr}"] = obj
    return out


def _public_names() -> dict[str, Any]:
    """Every public name of every subpackage, to resolve annotations written as text."""
    names: dict[str, Any] = {}
    for name in ["speciate", *(f"speciate.{m}" for m in speciate._SUBMODULES)]:
        module = importlib.import_module(name)
        names.update({attr: getattr(module, attr) for attr in module.__all__})
    return names


def _returned_classes(func: Callable[..., Any]) -> list[type]:
    ret = typing.get_type_hints(func, localns=_public_names()).get("return")
    found, todo = [], [ret]
    while todo:
        t = todo.pop()
        if inspect.isclass(t) and dataclasses.is_dataclass(t):
            found.append(t)
        todo.extend(typing.get_args(t))
    return found


def _producers() -> dict[str, list[type]]:
    return {n: c for n, f in _public_functions().items() if (c := _returned_classes(f))}


def _is_result(cls: type) -> bool:
    return cls.__name__ not in DATA_MODELS


def test_every_public_result_class_has_a_provenance_field():
    classes = {c for cs in _producers().values() for c in cs if _is_result(c)}
    assert len(classes) > 20  # the walk found the API
    missing = sorted(
        c.__name__
        for c in classes
        if c.__name__ not in CONVERTED_ELSEWHERE
        and "provenance" not in {f.name for f in dataclasses.fields(c)}
    )
    assert missing == []


# ------------------------------------------------------------------ example calls
def _cycling():
    from speciate.echem.synthetic import galvanostatic

    return galvanostatic(2, rest_s=0.0, start_time=None)


def _xanes() -> Series:
    e = np.linspace(6500.0, 6650.0, 301)
    steps = 6540.0 + np.array([[0.0], [2.0], [4.0], [1.0], [3.0]])
    mu = 0.5 + 0.5 * np.tanh((e - steps) / 2.0) + 0.05 * np.exp(-0.5 * ((e - 6560) / 5.0) ** 2)
    return Series(e, mu, labels=("a", "b", "c", "d", "e"))


def _image():
    from speciate.eels import SpectrumImage
    from speciate.eels.synthetic import mn_references

    energy = np.linspace(600.0, 700.0, 401)
    refs = mn_references(energy)
    mix = np.array([0.2, 0.5, 0.8])[:, None] * refs.mu[0] + 0.5 * refs.mu[2]
    data = 2e4 * (energy / 600.0) ** -3.2 + 1e3 * np.broadcast_to(mix, (2, 3, energy.size))
    return SpectrumImage(data, energy), refs


def _masks():
    a = np.zeros((2, 3), bool)
    a[0] = True
    return {"top": a, "bottom": ~a}


def _theory_series() -> Series:
    e = np.linspace(-10.0, 60.0, 281)
    mu = 0.5 + np.arctan(e[None, :] / 2.0 - np.array([[0.0], [0.5]])) / np.pi
    return Series(e, mu, coords={"e_fermi": np.array([0.0, 0.0])})


def _fake_engine(tmp: Path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_theory_sweep import SCRIPT, FakeEngine

    script = tmp / "fake_engine.py"
    script.write_text(SCRIPT)
    return FakeEngine(str(script), str(tmp / "runs.txt"))


def _examples(tmp: Path) -> dict[str, Callable[[], Any]]:
    from speciate import echem, eels, fit, theory, xanes
    from speciate.structures import cluster, load

    cyc = _cycling()
    si, refs = _image()
    x = _xanes()
    times = np.array([900.0, 1800.0, 2700.0])
    timed = Series(np.array([1.0, 2.0]), np.zeros((3, 2)), time=times)
    engine = _fake_engine(tmp)
    return {
        "speciate.echem.capacity_per_cycle": lambda: echem.capacity_per_cycle(cyc, mass_mg=5.0),
        "speciate.echem.compare": lambda: echem.compare({"a": cyc, "b": cyc}),
        "speciate.echem.curves": lambda: echem.curves(cyc, [1]),
        "speciate.echem.dqdv": lambda: echem.dqdv(cyc, [1], voltage_step_v=0.01),
        "speciate.echem.half_cycle_summary": lambda: echem.half_cycle_summary(cyc),
        "speciate.echem.segment": lambda: echem.segment(cyc, min_capacity_fraction=0.01),
        "speciate.echem.sync": lambda: echem.sync(timed, cyc, offset=10.0),
        "speciate.eels.correct_drift": lambda: eels.correct_drift(si, np.zeros((2, 3)), 0.0),
        "speciate.eels.fit_background": lambda: eels.fit_background(si, (605.0, 630.0)),
        "speciate.eels.l3_l2_ratio": lambda: eels.l3_l2_ratio(si),
        "speciate.eels.l3_onset": lambda: eels.l3_onset(si, fraction=0.4),
        "speciate.eels.mlls": lambda: eels.mlls(
            si, refs, background="power_law", background_window=(605.0, 630.0)
        ),
        "speciate.eels.region_statistics": lambda: eels.region_statistics(
            np.arange(6.0).reshape(2, 3), _masks()
        ),
        "speciate.fit.pca": lambda: fit.pca(x, alpha=0.1),
        "speciate.fit.mcr_als": lambda: fit.mcr_als(x, 2, max_iter=20),
        "speciate.fit.target_transform": lambda: fit.target_transform(
            fit.pca(x), x.select([0, 1]), n_components=2
        ),
        "speciate.theory.align_to": lambda: theory.align_to(
            Series(x.energy - 6540.0, x.mu[:1]), x.select(0)
        ),
        "speciate.theory.compute": lambda: theory.compute(
            engine,
            engine.inputs(cluster(load("LiMn2O4"), radius=4.0)[0], 3.0),
            cache=theory.Cache.at(tmp / "cache"),
        ),
        "speciate.theory.derivative_maxima": lambda: theory.derivative_maxima(x, prominence=0.1),
        "speciate.theory.normalize": lambda: theory.normalize(_theory_series(), post=(30.0, 60.0)),
        "speciate.theory.sweep": lambda: theory.sweep(
            "LiMn2O4",
            [3.0],
            engine=engine,
            cache_dir=tmp / "sweep",
            progress=False,
            grid=np.linspace(6535.0, 6615.0, 161),
        ),
        "speciate.xanes.align": lambda: xanes.align(x, target=6541.0),
        **_analysis_examples(x, cyc),
    }


def _candidates(n: Any) -> Series:
    """Two 'theory' phases at two radii, built from the normalized example spectra."""
    s = n.to_series("norm").select([1, 2, 3, 4])
    return s.replace(
        labels=("p1 3 A", "p1 5 A", "p2 3 A", "p2 5 A"),
        coords={"phase": np.array(["p1", "p1", "p2", "p2"]), "radius": np.array([3.0, 5, 3, 5])},
    )


def _analysis_examples(x: Series, cyc: Any) -> dict[str, Callable[[], Any]]:
    from speciate import features, fit, xanes
    from speciate.operando import operando_table

    n = xanes.normalize(x)
    stds = xanes.normalize(x.select([0, 2, 4]))
    table = features.extract(n)
    timed = x.replace(time=np.linspace(600.0, 3000.0, x.n_spectra))
    return {
        "speciate.xanes.normalize": lambda: xanes.normalize(x),
        "speciate.fit.lcf": lambda: fit.lcf(n, stds),
        "speciate.fit.combinations": lambda: fit.combinations(n, stds, max_components=2),
        "speciate.fit.scan": lambda: fit.scan(n, stds.select([0]), _candidates(n)),
        "speciate.features.edge_positions": lambda: features.edge_positions(n),
        "speciate.features.edge_shape": lambda: features.edge_shape(n),
        "speciate.features.white_line": lambda: features.white_line(n),
        "speciate.features.preedge_peaks": lambda: features.preedge_peaks(n),
        "speciate.features.derivative_triplet": lambda: features.derivative_triplet(n),
        "speciate.features.extract": lambda: features.extract(n),
        "speciate.features.trends": lambda: features.trends(table),
        "speciate.features.valence_calibration": lambda: features.valence_calibration(
            n, [2.0, 3.0, 4.0, 2.5, 3.5], edge="Mn-K"
        ),
        "speciate.features.default_mn_calibration": features.default_mn_calibration,
        "speciate.features.redox_table": lambda: features.redox_table(
            {"Mn-K": n}, state_of_charge=np.linspace(0.0, 1.0, x.n_spectra)
        ),
        "speciate.operando.operando_table": lambda: operando_table(timed, cyc),
    }


# Functions that read a stored result back: its record is the one stored with it.
LOADERS = {"speciate.features.load_calibration"}


# Functions that return a data container: the record sits in its meta.
CONTAINER_EXAMPLES = {
    "speciate.eels.fourier_ratio",
    "speciate.eels.subtract_background",
    "speciate.eels.region_spectra",
    "speciate.eels.references_from_regions",
    "speciate.theory.broaden",
    "speciate.theory.gaussian_broaden",
    "speciate.io.read",
    "speciate.io.read_many",
}


def _container_examples(tmp: Path, real_data: Path) -> dict[str, Callable[[], Any]]:
    from speciate import eels, io, theory

    si, _ = _image()
    low = eels.SpectrumImage(
        np.broadcast_to(np.exp(-0.5 * (np.linspace(-5, 95, 401) / 0.5) ** 2), (2, 3, 401)),
        np.linspace(-5.0, 95.0, 401),
    )
    core = eels.SpectrumImage(si.data, np.linspace(-5.0, 95.0, 401) + 700.0)
    first = sorted((real_data / "operando" / "perex_LNO_NiK" / "XAS_normalized").glob("*.txt"))
    return {
        "speciate.eels.fourier_ratio": lambda: eels.fourier_ratio(core, low, fwhm=1.0),
        "speciate.eels.subtract_background": lambda: eels.subtract_background(
            si, eels.fit_background(si, (605.0, 630.0))
        ),
        "speciate.eels.region_spectra": lambda: eels.region_spectra(si, _masks()),
        "speciate.eels.references_from_regions": lambda: eels.references_from_regions(
            si, _masks(), {"top": 2.0, "bottom": 4.0}
        ),
        "speciate.theory.broaden": lambda: theory.broaden(_theory_series(), e_fermi=0.0),
        "speciate.theory.gaussian_broaden": lambda: theory.gaussian_broaden(
            _theory_series(), 1.5
        ),
        "speciate.io.read": lambda: io.read(first[0]),
        "speciate.io.read_many": lambda: io.read_many(first[:2], grid="first"),
    }


def _check_record(record: Any, name: str, func: Callable[..., Any]) -> None:
    assert isinstance(record, dict) and record, f"{name}: no provenance"
    assert record["function"].split(".")[-1] == name.split(".")[-1]
    assert record["function"].startswith(name.rsplit(".", 1)[0])
    params = inspect.signature(func).parameters.values()
    # **options are recorded under their own keys, not as one entry
    expected = {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert expected <= set(record["parameters"]), f"{name}: {sorted(record['parameters'])}"
    json.dumps(record)  # serializable
    # data are summarized, never dumped
    assert len(json.dumps(record)) < 20_000, f"{name}: record of {len(json.dumps(record))} B"


def test_every_producing_function_has_an_example(tmp_path, real_data):
    wanted = {
        n
        for n, classes in _producers().items()
        if any(_is_result(c) and c.__name__ not in CONVERTED_ELSEWHERE for c in classes)
    }
    assert wanted - set(_examples(tmp_path)) - LOADERS == set()




def test_calls_record_their_arguments(tmp_path):
    functions = _public_functions()
    for name, call in _examples(tmp_path).items():
        result = call()
        _check_record(result.provenance, name, functions[name])


def test_containers_record_their_call_in_meta(tmp_path, real_data):
    functions = _public_functions()
    for name, call in _container_examples(tmp_path, real_data).items():
        result = call()
        _check_record(dict(result.meta).get("provenance"), name, functions[name])
    assert set(_container_examples(tmp_path, real_data)) == CONTAINER_EXAMPLES


def test_an_input_record_copied_into_meta_is_not_taken_for_the_call():
    from speciate import eels

    si, _ = _image()
    fitted = eels.subtract_background(si, eels.fit_background(si, (605.0, 630.0)))
    again = eels.region_spectra(fitted, _masks())
    record = again.meta["provenance"]
    assert record["function"].endswith("region_spectra")
    assert record["parameters"]["si"]["produced_by"].endswith("subtract_background")
    assert "stored" not in record and "details" not in record
