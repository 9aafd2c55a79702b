"""FDMNES: parsers on real FDMNES output, input writer, runner contract with a fake executable."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap

import numpy as np
import pytest

from speciate.errors import EngineError, ReadError, ValidationError
from speciate.structures import cluster, load
from speciate.theory import Cache, EngineTimeout, compute
from speciate.theory.broadening import broaden
from speciate.theory.fdmnes import (
    FdmnesEngine,
    FdmnesOptions,
    range_points,
    read_fdmnes_bav,
    read_fdmnes_conv,
    read_fdmnes_txt,
)

CASES = {
    "limn2o4_r3": ("LiMn2O4_R3", 16),
    "limn2o4_r5": ("LiMn2O4_R5", 16),
    "limn2o4_r6": ("LiMn2O4_R6", 16),
    "li2mno3_r3": ("Li2MnO3_R3", 4),
    "li2mno3_r5": ("Li2MnO3_R5", 4),
}


@pytest.fixture
def fdm(engine_outputs):
    return engine_outputs / "fdmnes"


@pytest.mark.parametrize("case", sorted(CASES))
def test_raw_and_convolved_spectra_share_the_absolute_grid(fdm, case):
    name, n_abs = CASES[case]
    raw = read_fdmnes_txt(fdm / case / f"{name}.txt", expected_rows=191)
    conv = read_fdmnes_conv(fdm / case / f"{name}_conv.txt", expected_rows=191)
    assert raw.meta["header"]["E_edge"] == 6539.0
    assert raw.n_absorbers == conv.n_absorbers == n_abs
    assert raw.energy[0] == pytest.approx(6529.0) and raw.energy[-1] == pytest.approx(6609.0)
    np.testing.assert_array_equal(raw.energy, conv.energy)
    # the convolution removes intensity below E_cut: far below the edge only tails remain
    e_cut = raw.meta["header"]["E_cut"]
    below = raw.energy < 6539.0 + e_cut - 3
    assert conv.mu[below].max() < 0.1 * conv.mu.max()
    # per absorber, +70 eV is about 0.04 Mbarn for both compounds (Mn K jump)
    assert 0.02 < conv.mu[-1] / conv.n_absorbers < 0.06


@pytest.mark.parametrize("case", sorted(CASES))
def test_fermi_level_is_e_edge_plus_e_cut_and_default_broadening_matches_fdmnes(fdm, case):
    name, _ = CASES[case]
    raw = read_fdmnes_txt(fdm / case / f"{name}.txt")
    conv = read_fdmnes_conv(fdm / case / f"{name}_conv.txt")
    header = raw.meta["header"]
    assert raw.e_fermi == pytest.approx(header["E_edge"] + header["E_cut"])
    assert conv.e_fermi == pytest.approx(raw.e_fermi)
    # broaden() takes the Fermi level from the series' coords: no argument needed
    series = raw.to_series(name)
    out = broaden(series).mu[0]
    assert np.max(np.abs(out - conv.mu)) < 1e-4 * conv.mu.max()
    if header["E_cut"] < -0.1:
        # E_edge alone (E_cut dropped) misses FDMNES's convolution by > 0.3 % of the maximum
        wrong = broaden(series, e_fermi=header["E_edge"]).mu[0]
        assert np.max(np.abs(wrong - conv.mu)) > 3e-3 * conv.mu.max()


def test_energphot_file_equals_relative_file_shifted_by_e_edge(fdm):
    rel = read_fdmnes_txt(fdm / "limn2o4_r3" / "LiMn2O4_R3.txt")
    absolute = read_fdmnes_txt(fdm / "limn2o4_r3_energphot" / "LiMn2O4_R3_energphot.txt")
    assert absolute.meta["energphot"] and not rel.meta["energphot"]
    np.testing.assert_allclose(absolute.energy, rel.energy, atol=1e-6)
    np.testing.assert_array_equal(absolute.mu, rel.mu)


def test_convolution_only_output_needs_e_edge_and_matches_the_full_run(fdm):
    path = fdm / "limn2o4_r5_convonly" / "LiMn2O4_R5_gh116_conv.txt"
    with pytest.raises(ReadError, match="pass e_edge="):
        read_fdmnes_conv(path)
    only = read_fdmnes_conv(path, e_edge=6539.0, n_absorbers=16)
    full = read_fdmnes_conv(fdm / "limn2o4_r5" / "LiMn2O4_R5_conv.txt")
    np.testing.assert_array_equal(only.mu, full.mu)


def test_bav_log_summary_survives_truncation(fdm):
    log = read_fdmnes_bav(fdm / "limn2o4_r5" / "LiMn2O4_R5_bav.txt")
    assert log.version.startswith("FDMNES program")
    assert (log.e_edge, log.n_atom_uc, log.absorption_radius) == (6539.0, 56, 5.0)
    assert log.absorption_atoms == 51 and log.total_time_s == pytest.approx(42.1)
    assert log.finished
    li = read_fdmnes_bav(fdm / "li2mno3_r5" / "Li2MnO3_R5_bav.txt")
    assert (li.n_atom_uc, li.absorption_atoms) == (24, 75)


def test_partial_raw_file_is_reported_with_its_row_count(fdm, tmp_path):
    lines = (fdm / "limn2o4_r5" / "LiMn2O4_R5.txt").read_text().splitlines()
    part = tmp_path / "x.txt"
    part.write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(ReadError, match=r"expected 191 energies .* found 98"):
        read_fdmnes_txt(part, expected_rows=191)
    part.write_text("garbage\n" + "\n".join(lines[1:]))
    with pytest.raises(ReadError, match="line 1"):
        read_fdmnes_txt(part)


def test_range_points_counts_the_fixture_grid():
    assert range_points((-10, 0.2, 10, 0.5, 40, 1, 70)) == 191
    with pytest.raises(ValidationError, match="odd count"):
        range_points((-10, 0.2))
    with pytest.raises(ValidationError, match="not increasing"):
        range_points((10, 0.2, -10))


@pytest.fixture(scope="module")
def spinel_cluster():
    return cluster(load("LiMn2O4"), radius=6.0)[0]


def test_input_writer_lists_cluster_atoms_and_keywords(spinel_cluster):
    opts = FdmnesOptions(mode="fdm", scf=True, quadrupole=True)
    recipe = FdmnesEngine(executable=sys.executable).inputs(spinel_cluster, 3.0, options=opts)
    text = recipe.files["xanes_R3_inp.txt"]
    assert recipe.files["fdmfile.txt"] == "1\nxanes_R3_inp.txt\n"
    for keyword in ("Filout", "Range", "Radius", "SCF", "Quadrupole", "Convolution", "Molecule"):
        assert f" {keyword}\n" in text
    assert " Green\n" not in text
    atoms = text.split(" Molecule\n")[1].split("\n\n")[0].splitlines()[1:]
    # atoms out to radius + 2.5 Å margin; the absorber first, at the origin
    assert atoms[0].split() == ["25", "0.000000", "0.000000", "0.000000"]
    assert len(atoms) == int((spinel_cluster.distances <= 5.5 + 1e-6).sum())
    green = FdmnesEngine(executable=sys.executable).inputs(spinel_cluster, 3.0)
    assert " Green\n" in green.files["xanes_R3_inp.txt"]
    with pytest.raises(ValidationError, match="only extends to 6"):
        FdmnesEngine(executable=sys.executable).inputs(spinel_cluster, 5.0)


FAKE = """\
#!{python}
import os, pathlib, shutil, sys, time
mode = os.environ["FAKE_FDMNES_MODE"]
src = pathlib.Path(os.environ["FAKE_FDMNES_SOURCE"])
inp = pathlib.Path("fdmfile.txt").read_text().split()[1]
name = pathlib.Path(inp).read_text().split("Filout")[1].split()[0]
print("FDMNES program (fake)")
if mode == "reject":
    shutil.copy(os.environ["FAKE_FDMNES_ERROR"], "fdmnes_error.txt")
    sys.exit(0)
if mode == "hang":
    time.sleep(60)
if mode == "crash":
    print("Segmentation fault in routine tau")
    sys.exit(139)
shutil.copy(src / "LiMn2O4_R5.txt", name + ".txt")
if mode == "partial":
    lines = pathlib.Path(name + ".txt").read_text().splitlines()[:50]
    pathlib.Path(name + ".txt").write_text("\\n".join(lines) + "\\n")
if mode != "noconv":
    shutil.copy(src / "LiMn2O4_R5_conv.txt", name + "_conv.txt")
"""


@pytest.fixture
def fake_fdmnes(tmp_path, fdm, monkeypatch):
    exe = tmp_path / "bin" / "fdmnes"
    exe.parent.mkdir()
    exe.write_text(textwrap.dedent(FAKE.format(python=sys.executable)))
    exe.chmod(0o755)
    monkeypatch.setenv("FAKE_FDMNES_SOURCE", str(fdm / "limn2o4_r5"))
    # the real file FDMNES wrote when it rejected an ambiguous space group
    monkeypatch.setenv("FAKE_FDMNES_ERROR", str(fdm / "li2mno3_spgroup_error" / "fdmnes_error.txt"))
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("SPECIATE_FDMNES", raising=False)
    return exe


def _run(monkeypatch, mode, cluster_, tmp_path, timeout=30.0):
    monkeypatch.setenv("FAKE_FDMNES_MODE", mode)
    engine = FdmnesEngine()
    recipe = engine.inputs(cluster_, 3.0)
    return compute(engine, recipe, cache=Cache.at(tmp_path / f"cache-{mode}"), timeout=timeout)


def test_runner_accepts_complete_outputs_and_caches_them(
    fake_fdmnes, monkeypatch, spinel_cluster, fdm, tmp_path
):
    res = _run(monkeypatch, "ok", spinel_cluster, tmp_path)
    ref = read_fdmnes_conv(fdm / "limn2o4_r5" / "LiMn2O4_R5_conv.txt")
    np.testing.assert_array_equal(res.spectrum.mu, ref.mu)
    assert res.spectrum.n_absorbers == 16
    assert res.spectrum.e_fermi == pytest.approx(6539.0 + ref.meta["e_cut"])
    assert FdmnesEngine().version().startswith("fdmnes sha256:")
    assert _run(monkeypatch, "ok", spinel_cluster, tmp_path).cached


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("reject", r"rejected its input \(exit code 0"),
        ("partial", "expected 191 energies"),
        ("noconv", r"missing .*_conv\.txt"),
        ("crash", "exited with code 139"),
    ],
)
def test_runner_turns_silent_failures_into_errors(
    fake_fdmnes, monkeypatch, spinel_cluster, tmp_path, mode, message
):
    with pytest.raises(EngineError, match=message) as info:
        _run(monkeypatch, mode, spinel_cluster, tmp_path)
    if mode == "reject":
        assert "C12/m1" in info.value.log_tail
    if mode == "crash":
        assert "Segmentation fault" in info.value.log_tail
    assert Cache.at(tmp_path / f"cache-{mode}").keys("fdmnes") == []


def test_runner_timeout_kills_a_hung_fdmnes(fake_fdmnes, monkeypatch, spinel_cluster, tmp_path):
    with pytest.raises(EngineTimeout, match="did not finish within 1 s"):
        _run(monkeypatch, "hang", spinel_cluster, tmp_path, timeout=1.0)


def test_missing_executable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SPECIATE_FDMNES", raising=False)
    with pytest.raises(EngineError, match="FDMNES executable not found"):
        FdmnesEngine().version()


def test_real_fdmnes_run(spinel_cluster, tmp_path):
    exe = os.environ.get("SPECIATE_FDMNES") or shutil.which("fdmnes")
    if not exe:
        pytest.skip("FDMNES is not installed (no 'fdmnes' on PATH, SPECIATE_FDMNES unset)")
    engine = FdmnesEngine(executable=exe)
    res = compute(engine, engine.inputs(spinel_cluster, 3.0), cache=Cache.at(tmp_path))
    assert res.spectrum.energy.size == 191
