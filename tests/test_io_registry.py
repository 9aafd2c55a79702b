"""The reader registry: content sniffing, registering formats, and robustness to junk."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import speciate.io as sio
from speciate import Series
from speciate.errors import ReadError, SpeciateError, ValidationError
from speciate.io.registry import ReadOptions


def test_builtin_formats_in_sniffing_order(engine_outputs):
    builtin = ["netcdf", "athena", "xdi", "soleil", "columns"]
    names = [f.name for f in sio.formats()]
    assert [n for n in names if n in builtin] == builtin
    assert all(f.description for f in sio.formats())


def test_engine_outputs_are_sniffed_before_the_generic_column_reader(engine_outputs):
    xmu = next(engine_outputs.rglob("xmu.dat"))
    assert sio.detect_format(xmu).name == "feff-xmu"
    names = [f.name for f in sio.formats()]
    for engine in ("feff-xmu", "fdmnes", "fdmnes-conv"):
        assert names.index(engine) < names.index("columns")


def test_sniffing_uses_content_not_extension(real_data, tmp_path):
    cases = {
        "xanes/xdi/fe3c_rt.xdi": "xdi",
        "xanes/xraylarch/Mn.prj": "athena",
        "xanes/xraylarch/APS10BM_2019_MnO2.dat": "columns",
        "operando/perex_LNO_NiK/XAS_normalized/norm_op2_cell4_pos1_dq1_0001_av240_00001.txt": (
            "soleil"
        ),
    }
    for rel, name in cases.items():
        renamed = tmp_path / f"{name}_file.bin"
        shutil.copy(real_data / rel, renamed)
        assert sio.detect_format(renamed).name == name


def test_forced_format_overrides_sniffing(real_data):
    path = real_data / "xanes" / "xdi" / "fe3c_rt.xdi"
    s = sio.read(path, format="columns", energy="energy", mu="mutrans")
    assert s.meta["format"] == "columns"
    assert s.time is None  # the column reader does not interpret XDI fields
    with pytest.raises(ValidationError, match="unknown format 'foo'"):
        sio.read(path, format="foo")


def test_registered_format_is_sniffed_and_used(tmp_path):
    def can_open(path: Path, head: bytes) -> bool:
        return head.startswith(b"TOYSPEC")

    def read_toy(path: Path, options: ReadOptions) -> list[Series]:
        values = np.array(path.read_text().split()[1:], dtype=float)
        return [Series(6500 + np.arange(values.size), values, meta={"format": "toy"})]

    fmt = sio.Format("toy", "toy test format", can_open, read_toy, priority=60)
    sio.register(fmt)
    try:
        path = tmp_path / "a.toy"
        path.write_text("TOYSPEC 1 2 3")
        assert sio.detect_format(path) is fmt
        np.testing.assert_array_equal(sio.read(path).mu[0], [1, 2, 3])
        with pytest.raises(ValidationError, match="already registered"):
            sio.register(fmt)
    finally:
        from speciate.io import registry

        registry._REGISTRY.pop("toy", None)
    assert "toy" not in [f.name for f in sio.formats()]


def test_missing_file_and_directory_raise(tmp_path):
    with pytest.raises(ReadError, match="file not found"):
        sio.read(tmp_path / "nope.dat")
    with pytest.raises(ReadError, match="directory"):
        sio.read(tmp_path)


def test_binary_junk_is_not_guessed(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ReadError, match="no registered format recognises"):
        sio.read(path)


def test_bad_duplicates_choice_is_a_validation_error(real_data):
    with pytest.raises(ValidationError, match="duplicates must be"):
        sio.read(real_data / "xanes" / "xdi" / "fe3c_rt.xdi", duplicates="median")


def test_group_on_single_group_file(real_data):
    path = real_data / "xanes" / "xdi" / "fe3c_rt.xdi"
    assert sio.read(path, group=0).labels == ("Fe3C",)
    with pytest.raises(ReadError, match="no group is labelled"):
        sio.read(path, group="other")


# ------------------------------------------------------------------ fuzzing every reader
_SEEDS = {}


def _seed_texts(data: Path) -> dict[str, bytes]:
    if not _SEEDS:
        prj = gzip.decompress((data / "xanes/xraylarch/MnO_bv.prj").read_bytes())
        _SEEDS.update(
            xdi=(data / "xanes/xdi/feo_rt1.xdi").read_bytes()[:3000],
            athena=prj[:6000],
            soleil=sorted((data / "operando/perex_LNO_NiK/XAS_normalized").glob("*.txt"))[
                0
            ].read_bytes()[:3000],
            columns=(data / "xanes/xraylarch/mn_cpmnco3.dat").read_bytes()[:2000],
        )
    return _SEEDS


def _call_every_reader(path: Path, options: ReadOptions) -> None:
    for fmt in sio.formats():
        try:
            fmt.guess_can_open(path, path.read_bytes()[:8192])
            sio.registry.run_reader(fmt, path, options)
        except SpeciateError:
            pass
    try:
        sio.read(path)
    except SpeciateError:
        pass


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=2000))
def test_random_bytes_only_raise_speciate_errors(tmp_path, data):
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    _call_every_reader(path, ReadOptions())
    gz = tmp_path / "random.prj"
    gz.write_bytes(gzip.compress(data))
    _call_every_reader(gz, ReadOptions())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["xdi", "athena", "soleil", "columns"]),
    cut=st.integers(0, 6000),
    noise=st.text(max_size=40),
    where=st.integers(0, 6000),
    mu=st.sampled_from([None, "mu", "ln(i0/mutrans)", "x(", "normalized*2"]),
)
def test_mutated_real_files_only_raise_speciate_errors(
    tmp_path, real_data, kind, cut, noise, where, mu
):
    seed = _seed_texts(real_data)[kind]
    text = seed.decode("latin-1")[:cut]
    where = min(where, len(text))
    mutated = text[:where] + noise + text[where:]
    path = tmp_path / f"mutated.{kind}"
    path.write_bytes(mutated.encode("utf-8", errors="surrogatepass"))
    _call_every_reader(path, ReadOptions(mu=mu, duplicates="mean"))
