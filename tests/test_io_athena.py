"""Athena projects: cross-checked against plain exports of the same groups."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

import speciate.io as sio
from speciate.errors import ReadError, ValidationError


@pytest.fixture(scope="module")
def xraylarch(real_data):
    return real_data / "xanes" / "xraylarch"


@pytest.fixture(scope="module")
def mn_prj_groups(xraylarch):
    return sio.read_groups(xraylarch / "Mn.prj")


def _export_eshift(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        match = re.search(r"bkg_eshift=([-\d.eE+]+)", fh.read())
    return float(match.group(1))


@pytest.mark.parametrize(
    ("prj", "folder"),
    [("Mn.prj", "Mn_groups"), ("Mn_all.prj", "Mn_all_groups"), ("MnO_bv.prj", "MnO_bv_groups")],
)
def test_every_group_matches_its_plain_export(xraylarch, prj, folder):
    groups = sio.read_groups(xraylarch / prj)
    exports = sorted((xraylarch / folder).glob("*.dat*"))
    assert len(groups) == len(exports)
    for series, export in zip(groups, exports):
        raw = np.loadtxt(export)
        # exports are rounded to 0.01 eV and 6 significant digits
        np.testing.assert_allclose(series.energy, raw[:, 1], rtol=0, atol=0.0051)
        np.testing.assert_allclose(series.mu[0], raw[:, 2], rtol=1e-5, atol=1e-6)
        eshift = series.meta["athena"]["energy_shift"]
        assert eshift == pytest.approx(_export_eshift(export), abs=1e-9)
        assert series.meta["expressions"] == {"energy": "energy", "mu": "mu"}


def test_energy_shift_is_applied_and_recorded(mn_prj_groups):
    foil, mn3o4 = mn_prj_groups[0], mn_prj_groups[13]
    assert foil.labels == ("Mn foil",)
    assert foil.meta["athena"]["energy_shift"] == pytest.approx(1.2982)
    assert mn3o4.meta["athena"]["energy_shift"] == pytest.approx(19.1)
    assert mn3o4.energy[0] == pytest.approx(6339.8026 + 19.1)
    assert mn3o4.meta["athena"]["args"]["bkg_e0"] == "6547.106"


def test_raw_energy_and_extra_arrays_are_columns(xraylarch):
    s = sio.read(xraylarch / "Mn.prj", group="Mn3O4", energy="energy_raw", mu="mu*i0")
    raw = np.loadtxt(xraylarch / "Mn_groups" / "14_Mn3O4.dat")
    np.testing.assert_allclose(s.energy, raw[:, 0], atol=0.0051)
    np.testing.assert_allclose(s.mu[0], raw[:, 2] * raw[:, 3], rtol=2e-5)


def test_group_by_index_and_label(xraylarch, mn_prj_groups):
    by_index = sio.read(xraylarch / "Mn.prj", group=4)
    by_label = sio.read(xraylarch / "Mn.prj", group="Li2MnO3")
    assert by_index.labels == by_label.labels == ("Li2MnO3",)
    np.testing.assert_array_equal(by_index.mu, mn_prj_groups[4].mu)


def test_several_groups_need_group_and_error_lists_them(xraylarch):
    with pytest.raises(ReadError, match=r"14 groups.*0: 'Mn foil'.*13: 'Mn3O4'"):
        sio.read(xraylarch / "Mn.prj")
    with pytest.raises(ReadError, match=r"no group is labelled 'MnO3'"):
        sio.read(xraylarch / "Mn.prj", group="MnO3")
    with pytest.raises(ReadError, match="out of range"):
        sio.read(xraylarch / "Mn.prj", group=14)


def test_single_group_project_needs_no_group(xraylarch):
    s = sio.read(xraylarch / "MnO_bv.prj")
    assert s.labels == ("mno.xmu",)
    assert s.meta["source"]["compression"] in ("gzip", "plain")


def test_plain_text_project_reads_like_gzipped(xraylarch, tmp_path):
    plain = tmp_path / "plain.prj"
    plain.write_bytes(gzip.decompress((xraylarch / "Mn.prj").read_bytes()))
    s = sio.read(plain, group="MnO")
    ref = sio.read(xraylarch / "Mn.prj", group="MnO")
    assert sio.detect_format(plain).name == "athena"
    np.testing.assert_array_equal(s.mu, ref.mu)
    assert s.meta["source"]["compression"] == "plain"


def test_truncated_gzip_raises(xraylarch, tmp_path):
    data = (xraylarch / "Mn.prj").read_bytes()
    path = tmp_path / "cut.prj"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="corrupt or truncated gzip"):
        sio.read_groups(path)


def test_truncated_text_raises_naming_the_line(xraylarch, tmp_path):
    text = gzip.decompress((xraylarch / "Mn.prj").read_bytes()).decode("latin-1")
    cut = text[: text.index("@y", 20000) + 5000]
    path = tmp_path / "cut.prj"
    path.write_text(cut, encoding="latin-1")
    with pytest.raises(ReadError, match=r"line \d+: .*truncated"):
        sio.read_groups(path)


def test_code_in_a_project_is_never_run(tmp_path):
    path = tmp_path / "evil.prj"
    path.write_text(
        "# Athena project file\n$old_group = 'a';\n@args = ('label', 'a');\n"
        "@x = (system('touch pwned'));\n@y = ('1','2');\n[record]\n"
    )
    with pytest.raises(ReadError, match=r"line 4: "):
        sio.read_groups(path)
    assert not (tmp_path / "pwned").exists()


def test_group_without_y_raises(tmp_path):
    path = tmp_path / "noy.prj"
    path.write_text("# Athena project file\n$old_group = 'a';\n@x = ('1','2');\n[record]\n")
    with pytest.raises(ReadError, match=r"line 2: group 'a' has no @y"):
        sio.read_groups(path)


def test_non_numeric_array_value_raises(tmp_path):
    path = tmp_path / "text.prj"
    path.write_text(
        "# Athena project file\n$old_group = 'a';\n@x = ('6500','6501.x');\n"
        "@y = ('1','2');\n[record]\n"
    )
    with pytest.raises(ReadError, match=r"line 3: @x of group 'a' holds a non-numeric value"):
        sio.read_groups(path)


def test_chi_group_is_refused(tmp_path):
    path = tmp_path / "chi.prj"
    path.write_text(
        "# Athena project file\n$old_group = 'k';\n@args = ('is_chi',1,'label','chi');\n"
        "@x = ('1','2');\n@y = ('0.1','0.2');\n[record]\n"
    )
    with pytest.raises(ReadError, match="chi data, not mu"):
        sio.read_groups(path)


def test_read_many_stacks_project_groups_onto_a_common_grid(xraylarch, mn_prj_groups):
    s = sio.read_many(xraylarch / "Mn.prj", grid="union")
    assert s.n_spectra == 14
    assert list(s.coords["source"]) == ["Mn.prj"] * 14
    assert s.labels == tuple(g.labels[0] for g in mn_prj_groups)
    assert s.energy[0] >= max(g.energy[0] for g in mn_prj_groups)
    assert s.meta["concat"]["grid"] == "union"
    assert len(s.meta["sources"]) == 1
    with pytest.raises(ValidationError, match="different energy grid"):
        sio.read_many(xraylarch / "Mn.prj")
