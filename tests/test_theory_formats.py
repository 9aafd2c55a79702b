"""Engine outputs through speciate.io.read: FEFF xmu.dat and FDMNES .txt / _conv.txt."""

from __future__ import annotations

import numpy as np
import pytest

import speciate.theory  # noqa: F401  (registers the engine formats)
from speciate.errors import ReadError, ValidationError
from speciate.io import detect_format, read
from speciate.theory import normalize, read_fdmnes_conv, read_xmu


def test_io_read_sniffs_feff_and_fdmnes_outputs(engine_outputs):
    xmu = engine_outputs / "feff10" / "LiMn2O4_R5.0" / "xmu_noscf.dat"
    raw = engine_outputs / "fdmnes" / "li2mno3_r5" / "Li2MnO3_R5.txt"
    conv = engine_outputs / "fdmnes" / "li2mno3_r5" / "Li2MnO3_R5_conv.txt"
    found = [detect_format(p).name for p in (xmu, raw, conv)]
    assert found == ["feff-xmu", "fdmnes", "fdmnes-conv"]
    s = read(xmu)
    np.testing.assert_array_equal(s.mu[0], read_xmu(xmu).mu)
    assert s.coords["e_fermi"][0] == pytest.approx(read_xmu(xmu).e_fermi)
    c = read(conv)
    assert c.coords["n_absorbers"][0] == 4
    np.testing.assert_array_equal(c.energy, read_fdmnes_conv(conv).energy)
    # straight into the theory normalization
    assert normalize(c).edge_step[0] > 0


def test_io_read_reports_a_conv_file_without_its_raw_partner(engine_outputs):
    path = engine_outputs / "fdmnes" / "limn2o4_r5_convonly" / "LiMn2O4_R5_gh200_conv.txt"
    with pytest.raises(ReadError, match="pass e_edge="):
        read(path)


def test_column_choices_are_refused_for_fixed_engine_files(engine_outputs):
    with pytest.raises(ValidationError, match="fixed columns"):
        read(engine_outputs / "feff10" / "LiMn2O4_R3.0" / "xmu.dat", mu="mu0")
