"""Reading EELS files through rosettasciio: real exspy files, written images, dispatch, errors."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.eels import MissingExtraError, SpectrumImage, read, sniff_format
from speciate.errors import ReadError, ValidationError

read_mod = sys.modules["speciate.eels.read"]


def _exspy_root() -> Path:
    spec = importlib.util.find_spec("exspy")
    if spec is None or spec.origin is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    return Path(spec.origin).parent


def _msa_numbers(path: Path) -> tuple[float, float, np.ndarray]:
    """Parse an EMSA file by hand: offset, dispersion and counts."""
    head, values = {}, []
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("#"):
            key, _, val = line[1:].partition(":")
            head[key.strip()] = val.strip()
        elif line.strip():
            values.extend(float(v) for v in line.replace(",", " ").split())
    return float(head["OFFSET"]), float(head["XPERCHAN"]), np.array(values)


def _signal(data: np.ndarray, axes: list[dict]) -> dict:
    return {
        "data": data,
        "axes": axes,
        "metadata": {"Signal": {"signal_type": "EELS"}, "General": {"title": "written"}},
        "original_metadata": {},
        "tmp_parameters": {},
        "attributes": {"_lazy": False},
        "learning_results": {},
        "package_info": {"name": "speciate", "version": "test"},
        "models": {},
    }


def _energy_axis(n: int, offset: float, scale: float) -> dict:
    return {
        "name": "Energy loss",
        "size": n,
        "scale": scale,
        "offset": offset,
        "units": "eV",
        "navigate": False,
    }


def test_read_exspy_core_loss_msa_matches_the_file_text():
    path = _exspy_root() / "tests" / "components" / "coreloss_spectrum.msa"
    si = read(path)
    offset, step, counts = _msa_numbers(path)
    assert si.shape == (1, 1, counts.size)
    assert si.offset == pytest.approx(offset) and si.dispersion == pytest.approx(step)
    np.testing.assert_array_equal(si.data[0, 0], counts)
    assert si.meta["format"] == "msa"


def test_read_exspy_line_scan_hspy_is_one_by_n():
    path = _exspy_root() / "tests" / "signals" / "data"
    si = read(path / "EELS_LL_linescan_simulated_thickness_variation.hspy")
    assert si.shape == (1, 17, 1024)
    assert si.offset == pytest.approx(-100.0) and si.dispersion == pytest.approx(0.5)
    assert sniff_format(path / "EELS_LL_linescan_simulated_thickness_variation.hspy") == "hspy"


def test_read_exspy_cr_l_edge_hspy():
    si = read(_exspy_root() / "tests" / "drawing" / "data" / "Cr_L_cl.hspy")
    assert si.shape == (1, 1, 400)
    assert si.energy[0] == pytest.approx(560.0) and si.dispersion == pytest.approx(0.1)
    # Cr L3 white line sits near 575-580 eV
    peak = si.energy[np.argmax(si.data[0, 0])]
    assert 570 < peak < 590


def test_written_spectrum_image_keeps_axes_and_pixel_size(tmp_path):
    hspy = pytest.importorskip("rsciio.hspy")
    data = np.random.default_rng(0).poisson(100, (4, 6, 50)).astype(np.float32)
    axes = [
        {"name": "y", "size": 4, "scale": 2.5, "offset": 0.0, "units": "nm", "navigate": True},
        {"name": "x", "size": 6, "scale": 2.5, "offset": 0.0, "units": "nm", "navigate": True},
        _energy_axis(50, 630.0, 0.25),
    ]
    path = tmp_path / "si.hspy"
    hspy.file_writer(str(path), _signal(data, axes))
    si = read(path)
    assert si.shape == (4, 6, 50) and si.pixel_size == (2.5, 2.5) and si.pixel_units == "nm"
    np.testing.assert_array_equal(si.data, data)
    lazy = read(path, lazy=True)
    assert lazy.is_lazy
    np.testing.assert_array_equal(np.asarray(lazy.data), data)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=2, max_size=64),
    st.floats(-50, 2000),
    st.sampled_from([0.05, 0.1, 0.25, 1.0]),
)
def test_msa_roundtrip_property(tmp_path_factory, counts, offset, scale):
    msa = pytest.importorskip("rsciio.msa")
    path = tmp_path_factory.mktemp("msa") / "s.msa"
    y = np.asarray(counts, dtype=float)
    msa.file_writer(str(path), _signal(y, [_energy_axis(y.size, offset, scale)]))
    si = read(path)
    np.testing.assert_allclose(si.data[0, 0], y)
    np.testing.assert_allclose(si.energy, offset + scale * np.arange(y.size), atol=1e-6)


def test_dm3_and_dm4_are_dispatched_to_the_digitalmicrograph_plugin(tmp_path, monkeypatch):
    # no DM file can be bundled: check the sniffing and the hand-off to rosettasciio
    calls = []

    class FakeDM:
        @staticmethod
        def file_reader(filename, lazy=False):
            calls.append((Path(filename).name, lazy))
            axes = [
                {"size": 3, "scale": 1.5, "offset": 0, "units": "nm", "navigate": True},
                _energy_axis(8, 600.0, 0.5),
            ]
            return [_signal(np.ones((3, 8)), axes)]

    seen = []

    def fake_import(fmt):
        seen.append(fmt)
        return FakeDM

    monkeypatch.setattr(read_mod, "_import_plugin", fake_import)
    for version in (3, 4):
        path = tmp_path / f"scan.dm{version}"
        path.write_bytes(version.to_bytes(4, "big") + b"\x00" * 60)
        assert sniff_format(path) == f"dm{version}"
        si = read(path, lazy=True)
        assert si.shape == (1, 3, 8) and si.pixel_units == "nm"
    assert seen == ["dm3", "dm4"] and calls == [("scan.dm3", True), ("scan.dm4", True)]


def test_truncated_dm3_raises_read_error_with_the_path(tmp_path):
    path = tmp_path / "broken.dm3"
    path.write_bytes((3).to_bytes(4, "big") + b"\x00" * 12)
    with pytest.raises(ReadError) as info:
        read(path)
    assert info.value.path == str(path)


def test_missing_rosettasciio_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "s.msa"
    path.write_text("#FORMAT : EMSA/MAS Spectral Data File\n")
    monkeypatch.setitem(sys.modules, "rsciio.msa", None)
    with pytest.raises(MissingExtraError, match=r"speciate\[eels\]"):
        read(path)


def test_unknown_file_and_missing_file_raise(tmp_path):
    junk = tmp_path / "notes.bin"
    junk.write_bytes(b"hello world")
    with pytest.raises(ReadError, match="unrecognised EELS file"):
        read(junk)
    with pytest.raises(ReadError, match="not found"):
        read(tmp_path / "absent.dm4")


def test_plain_arrays_become_images():
    line = read(np.ones((7, 20)), offset=500.0, dispersion=0.5)
    assert line.shape == (1, 7, 20) and line.energy[-1] == pytest.approx(509.5)
    single = SpectrumImage.from_array(np.arange(5.0), energy=np.linspace(1, 2, 5))
    assert single.shape == (1, 1, 5)
    with pytest.raises(ValidationError, match="offset and dispersion"):
        read(np.ones(10))


def test_spectrum_image_rejects_bad_axes_and_counts():
    with pytest.raises(ValidationError, match="uniform"):
        SpectrumImage(np.ones(4), [1.0, 2.0, 3.0, 5.0])
    with pytest.raises(ValidationError, match="strictly increasing"):
        SpectrumImage(np.ones(3), [3.0, 2.0, 1.0])
    bad = np.ones((2, 2, 5))
    bad[1, 0, 3] = np.nan
    with pytest.raises(ValidationError, match=r"pixel \(y=1, x=0\), channel 3"):
        SpectrumImage(bad, np.arange(5.0))
    si = SpectrumImage(np.ones((2, 2, 5)), np.arange(5.0))
    with pytest.raises(ValueError):
        si.data[0, 0, 0] = 2.0


def _dm_test_data() -> Path:
    """Gatan DM test files from a cache outside the repository (they are GPL-licensed).

    ``SPECIATE_DM_TEST_DATA`` names a folder holding ``dm4_3D_data/`` and ``dm3_2D_data/``
    (hyperspy's ``tests/io`` folder of its source distribution; ``.ci/run`` fills it).
    """
    root = os.environ.get("SPECIATE_DM_TEST_DATA")
    if not root or not (Path(root) / "dm4_3D_data" / "EELS_SI.dm4").is_file():
        pytest.skip(
            "Gatan DM test files not available: set SPECIATE_DM_TEST_DATA to the tests/io "
            "folder of hyperspy's source distribution (.ci/run does)"
        )
    return Path(root)


def test_dm4_spectrum_image_stored_energy_first_is_read(tmp_path):
    dm = pytest.importorskip("rsciio.digitalmicrograph")
    path = _dm_test_data() / "dm4_3D_data" / "EELS_SI.dm4"
    (raw,) = dm.file_reader(str(path))
    # as stored: energy (2048 channels) first, flagged as navigation; 2 x 2 µm pixels
    assert raw["data"].shape == (2048, 2, 2) and raw["axes"][0]["units"] == "eV"
    si = read(path)
    assert si.shape == (2, 2, 2048) and si.pixel_units == "µm"
    assert si.energy[0] == pytest.approx(raw["axes"][0]["offset"])
    assert si.dispersion == pytest.approx(raw["axes"][0]["scale"])
    np.testing.assert_array_equal(si.data, np.moveaxis(raw["data"], 0, -1))
    assert si.meta["energy_axis_in_file"] == 0 and "EELS_SI" in si.meta["signal"]
    lazy = read(path, lazy=True)
    assert lazy.is_lazy
    np.testing.assert_array_equal(np.asarray(lazy.data), si.data)


def test_dm3_without_an_energy_axis_lists_the_signals_it_holds():
    path = _dm_test_data() / "dm3_2D_data" / "multi_signal.dm3"
    with pytest.raises(ReadError, match="one energy axis in eV") as info:
        read(path)
    message = str(info.value)
    assert "2 signal(s)" in message and "'HAADF'" in message and "'Plot'" in message


def test_hyperspy_signal_saved_energy_first_is_read(tmp_path):
    hs = pytest.importorskip("hyperspy.api")
    rng = np.random.default_rng(1)
    cube = rng.poisson(50, (40, 3, 5)).astype(np.float32)  # (energy, y, x)
    sig = hs.signals.Signal2D(cube)
    energy, y, x = sig.axes_manager[0], sig.axes_manager[1], sig.axes_manager[2]
    energy.units, energy.offset, energy.scale = "eV", 640.0, 0.25
    y.units = x.units = "nm"
    y.scale = x.scale = 1.5
    path = tmp_path / "energy_first.hspy"
    sig.save(path)
    si = read(path)
    assert si.shape == (3, 5, 40) and si.pixel_units == "nm" and si.pixel_size == (1.5, 1.5)
    np.testing.assert_array_equal(si.data, np.moveaxis(cube, 0, -1))
    assert si.energy[0] == pytest.approx(640.0) and si.dispersion == pytest.approx(0.25)


def test_energy_axis_in_the_middle_is_moved_last(tmp_path):
    hspy = pytest.importorskip("rsciio.hspy")
    cube = np.arange(4 * 30 * 6, dtype=float).reshape(4, 30, 6)  # (y, energy, x)
    axes = [
        {"name": "y", "size": 4, "scale": 2.0, "offset": 0.0, "units": "nm", "navigate": True},
        _energy_axis(30, 100.0, 1.0),
        {"name": "x", "size": 6, "scale": 2.0, "offset": 0.0, "units": "nm", "navigate": True},
    ]
    path = tmp_path / "middle.hspy"
    hspy.file_writer(str(path), _signal(cube, axes))
    si = read(path)
    assert si.shape == (4, 6, 30) and si.meta["energy_axis_in_file"] == 1
    np.testing.assert_array_equal(si.data[2, 5], cube[2, :, 5])


def test_file_with_several_signals_takes_the_eels_one_and_says_so(tmp_path, monkeypatch):
    image = _signal(
        np.ones((8, 8)),
        [{"size": 8, "scale": 1.0, "units": "nm"}, {"size": 8, "scale": 1.0, "units": "nm"}],
    )
    image["metadata"] = {"General": {"title": "HAADF"}, "Signal": {}}
    eds = _signal(
        np.ones((2, 2, 50)),
        [
            {"size": 2, "units": "nm", "navigate": True},
            {"size": 2, "units": "nm", "navigate": True},
            {"size": 50, "units": "eV", "offset": 0.0, "scale": 10.0, "navigate": False},
        ],
    )
    eds["metadata"] = {"General": {"title": "EDS"}, "Signal": {"signal_type": "EDS_TEM"}}
    eels = _signal(
        np.full((2, 2, 20), 3.0),
        [
            {"size": 2, "units": "nm", "navigate": True},
            {"size": 2, "units": "nm", "navigate": True},
            _energy_axis(20, 500.0, 0.5),
        ],
    )
    eels["metadata"]["General"]["title"] = "core loss"

    class FakeDM:
        @staticmethod
        def file_reader(filename, lazy=False):
            return [image, eds, eels]

    monkeypatch.setattr(read_mod, "_import_plugin", lambda fmt: FakeDM)
    path = tmp_path / "session.dm4"
    path.write_bytes((4).to_bytes(4, "big") + b"\x00" * 60)
    si = read(path)
    assert si.shape == (2, 2, 20) and si.energy[0] == pytest.approx(500.0)
    assert "'core loss'" in si.meta["signal"] and "marked EELS" in si.meta["signal"]
    assert "'HAADF'" in si.meta["signal"] and "'EDS'" in si.meta["signal"]
