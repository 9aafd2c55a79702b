"""XDI files: header fields into meta, Scan.start_time into time, named columns."""

from __future__ import annotations

import numpy as np
import pytest

import speciate.io as sio
from speciate.errors import ReadError


@pytest.fixture(scope="module")
def xdi_dir(real_data):
    return real_data / "xanes" / "xdi"


def test_xdi_header_fields_time_and_mutrans(xdi_dir):
    path = xdi_dir / "fe3c_rt.xdi"
    s = sio.read(path)
    raw = np.loadtxt(path)
    assert sio.detect_format(path).name == "xdi"
    assert s.meta["format"] == "xdi"
    assert s.meta["xdi"]["Element.symbol"] == "Fe"
    assert s.meta["xdi"]["Mono.d_spacing"] == "3.13550"
    assert s.meta["xdi"]["XDI.version"] == "1.0"
    assert "room temperature" in s.meta["comments"]
    assert s.time[0] == np.datetime64("2002-03-16T18:27:34")
    assert s.labels == ("Fe3C",)
    assert s.meta["expressions"] == {"energy": "energy", "mu": "mutrans"}
    np.testing.assert_array_equal(s.energy, raw[:, 0])
    np.testing.assert_array_equal(s.mu[0], raw[:, 1])
    assert s.meta["units"]["energy"] == "eV"


def test_epics_xdi_fluorescence_expression_over_many_channels(xdi_dir):
    path = xdi_dir / "fe_xanes_8ch.xdi"
    with pytest.raises(ReadError, match=r"mu\(E\).*Fe_Ka_mca1"):
        sio.read(path)
    expr = "(fe_ka_mca1+fe_ka_mca2+fe_ka_mca3+fe_ka_mca4)/i0"
    s = sio.read(path, mu=expr, reference="ln(i0/it)")
    raw = np.loadtxt(path)
    np.testing.assert_allclose(s.mu[0], raw[:, 15:19].sum(axis=1) / raw[:, 4])
    np.testing.assert_allclose(s.reference[0], np.log(raw[:, 4] / raw[:, 5]))
    np.testing.assert_array_equal(s.energy, raw[:, 0])  # "Energy", not "Energy_readback"
    assert s.time[0] == np.datetime64("2019-03-11T14:31:31")
    # values after '||' (Epics PV names) are not part of the field
    assert s.meta["xdi"]["Mono.dspacing"] == "3.13555"
    assert set(s.meta["columns_used"]) == {
        "Energy",
        "Fe_Ka_mca1",
        "Fe_Ka_mca2",
        "Fe_Ka_mca3",
        "Fe_Ka_mca4",
        "I0",
        "IT",
    }


@pytest.mark.parametrize("name", ["feo_rt1.xdi", "ni_metal_rt.xdi"])
def test_every_simple_xdi_file_reads(xdi_dir, name):
    s = sio.read(xdi_dir / name)
    assert s.n_energy > 100
    assert s.time is not None
    assert np.all(np.diff(s.energy) > 0)


def test_v_foil_transmission_from_counts(xdi_dir):
    s = sio.read(xdi_dir / "v_foil.xdi", mu="ln(i0/i1)")
    assert s.meta["xdi"]["Element.symbol"] == "V"
    assert 5300 < s.energy[0] < 5500


def test_bad_start_time_names_the_line(tmp_path):
    path = tmp_path / "bad.xdi"
    path.write_text(
        "# XDI/1.0\n# Column.1: energy eV\n# Column.2: mutrans\n"
        "# Scan.start_time: yesterday\n#----\n# energy mutrans\n7000 0.1\n7001 0.2\n"
    )
    with pytest.raises(ReadError, match=r"line 4: Scan.start_time is 'yesterday'"):
        sio.read(path)


def test_kev_column_unit_raises_with_conversion(tmp_path):
    path = tmp_path / "kev.xdi"
    path.write_text(
        "# XDI/1.0\n# Column.1: energy keV\n# Column.2: mutrans\n#----\n"
        "# energy mutrans\n7.000 0.1\n7.001 0.2\n7.002 0.3\n"
    )
    with pytest.raises(ReadError, match=r"keV.*energy='energy\*1000'"):
        sio.read(path)
    s = sio.read(path, energy="energy*1000")
    np.testing.assert_allclose(s.energy, [7000, 7001, 7002])


def test_xdi_without_data_raises(tmp_path):
    path = tmp_path / "nodata.xdi"
    path.write_text("# XDI/1.0\n# Column.1: energy eV\n")
    with pytest.raises(ReadError, match="not followed by any data"):
        sio.read(path)
