"""SOLEIL extranormal operando files and read_many on the operando folder."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import speciate.io as sio
from speciate.errors import ReadError, ValidationError


@pytest.fixture(scope="module")
def operando(real_data):
    return real_data / "operando" / "perex_LNO_NiK"


def test_one_file_time_mu_and_reference(operando):
    path = operando / "XAS_normalized" / "norm_op2_cell4_pos1_dq1_0001_av240_00001.txt"
    s = sio.read(path)
    raw = np.loadtxt(path)
    assert sio.detect_format(path).name == "soleil"
    assert s.time[0] == np.datetime64("2022-07-26T23:01:58.055")
    np.testing.assert_array_equal(s.energy, raw[:, 0])
    np.testing.assert_array_equal(s.mu[0], raw[:, 1])
    np.testing.assert_array_equal(s.reference[0], raw[:, 2])
    assert s.meta["soleil"]["E0_pivot"] == "8349.6"
    assert s.meta["normalized"] is True


def test_read_many_stacks_folder_in_time_order(operando):
    s = sio.read_many(operando / "XAS_normalized")
    with open(operando / "operando_index.csv", newline="") as fh:
        index = list(csv.DictReader(fh))
    assert s.n_spectra == len(index) == 21
    assert list(s.coords["source"]) == [row["file"] for row in index]
    header_times = np.array([row["xas_time_at_start"] for row in index], dtype="datetime64[s]")
    np.testing.assert_array_equal(s.time.astype("datetime64[s]"), header_times)
    assert np.all(np.diff(s.time) > np.timedelta64(0, "s"))
    assert len(s.meta["sources"]) == 21
    # the edge (max derivative of the normalized mu, 8320-8370 eV) moves as in the index
    win = (s.energy >= 8320) & (s.energy <= 8370)
    e = s.energy[win]
    d = np.gradient(s.mu[:, win], e, axis=1)
    e_max = e[np.argmax(d, axis=1)]
    expected = np.array([float(row["E_maxderiv_normalized_eV"]) for row in index])
    assert np.mean(np.abs(e_max - expected) <= 0.6) > 0.9


def test_read_many_glob_and_natural_order(operando):
    pattern = str(operando / "XAS_normalized" / "norm_op2_*_00[0-1][0-9]_*.txt")
    s = sio.read_many(pattern)
    numbers = ["0001", "0004", "0007", "0010", "0013", "0016", "0019"]
    assert [str(x).split("_")[5] for x in s.coords["source"]] == numbers


def test_natural_key_orders_numbers_by_value():
    names = ["scan_10.txt", "scan_2.txt", "scan_1.txt"]
    assert sorted(names, key=sio.natural_key) == ["scan_1.txt", "scan_2.txt", "scan_10.txt"]


def test_read_many_requires_common_grid_unless_given(operando, tmp_path):
    first = operando / "XAS_normalized" / "norm_op2_cell4_pos1_dq1_0001_av240_00001.txt"
    lines = first.read_text().splitlines()
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:-10]) + "\n")
    with pytest.raises(ValidationError, match="different energy grid"):
        sio.read_many([first, short])
    s = sio.read_many([first, short], grid="first")
    assert s.n_spectra == 2
    assert s.meta["concat"]["grid"] == "first"


def test_read_many_empty_folder_raises(tmp_path):
    with pytest.raises(ReadError, match="no files match"):
        sio.read_many(tmp_path / "*.txt")


def test_too_few_columns_raises(tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("#Time at start=2022-07-26 23:01:58.055\n8000 0.1\n8001 0.2\n")
    with pytest.raises(ReadError, match=r"line 2: expected at least 3 columns"):
        sio.read(path)
