"""`speciate fit DATA --standards STD... [--shifts] [--combinations N] -o out.csv|.nc [--plot]`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from speciate.cli import main
from test_fit_support import SIX, mixtures, six_standards

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(mn_groups, tmp_path_factory):
    """Normalized standards and a synthetic mixture series, as `speciate normalize` writes them."""
    folder = tmp_path_factory.mktemp("fitcli")
    six = six_standards(mn_groups)
    for name, std in zip(SIX, six):
        std.to_series().to_netcdf(folder / f"{name}.nc")
    series, truth, _ = mixtures(six, 24, seed=31, shift=0.5)
    meta = {"normalization": {"kind": "norm"}}
    series.replace(meta=meta, labels=[f"scan_{i:02d}" for i in range(24)]).to_netcdf(
        folder / "data.nc"
    )
    return folder, truth


def _std_args(folder, names=SIX):
    return [arg for name in names for arg in ("-s", str(folder / f"{name}.nc"))]


def test_fit_writes_weights_per_spectrum_and_plots(files, capsys, tmp_path):
    folder, truth = files
    out = tmp_path / "weights.csv"
    argv = ["fit", str(folder / "data.nc"), *_std_args(folder), "--shifts", "-o", str(out),
            "--plot"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert list(table["label"]) == [f"scan_{i:02d}" for i in range(24)]
    weights = table[[f"weight_{n}" for n in SIX]].to_numpy()
    assert np.abs(weights - truth).mean() <= 0.02
    np.testing.assert_allclose(table["total"], 1.0, atol=1e-9)
    assert f"shift_{SIX[0]}" in table and f"stderr_{SIX[3]}" in table
    for suffix in ("_fits.png", "_weights.png"):
        assert (tmp_path / f"weights{suffix}").read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert "scan_00" in printed and "wrote 24 fits of 6 standards" in printed


def test_fit_combinations_selects_subsets_and_writes_netcdf(files, capsys, tmp_path):
    folder, truth = files
    out = tmp_path / "combo.nc"
    argv = ["fit", str(folder / "data.nc"), *_std_args(folder), "--shifts",
            "--combinations", "4", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        weights = ds["weights"].values
        assert list(ds["standard"].values) == SIX
        assert ds["fit"].shape == (24, ds.sizes["energy"])
    found = weights > 0
    assert (found == (truth > 0)).mean(axis=1).min() >= 5 / 6
    assert (found == (truth > 0)).all(axis=1).mean() >= 0.95
    ranked = pd.read_csv(tmp_path / "combo_ranked.csv")
    assert len(ranked) == 24 * 56 and ranked["selected"].sum() == 24


def test_fit_reads_and_normalizes_raw_files(mn_groups, capsys, tmp_path):
    out = tmp_path / "raw.csv"
    stds = [arg for n in ("02_MnO", "04_Mn2O3x", "11_Pyrolusite")
            for arg in ("-s", str(mn_groups / f"{n}.dat"))]  # fmt: skip
    argv = ["fit", str(mn_groups / "14_Mn3O4.dat"), *stds, "--energy", "energy_shifted_eV",
            "--mu", "mu", "--sort", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    row = pd.read_csv(out).iloc[0]
    assert row["label"] == "14_Mn3O4"
    assert row["total"] == pytest.approx(1.0, abs=1e-9)
    # Mn3O4 (Mn2+ Mn3+2) is mostly Mn2O3 with about a third of MnO
    assert row["weight_04_Mn2O3x"] > row["weight_02_MnO"] > row["weight_11_Pyrolusite"]
    assert row["r_factor"] < 0.01


def test_fit_errors_are_one_clear_line(files, capsys, tmp_path):
    folder, _ = files
    data = str(folder / "data.nc")
    assert main(["fit", data, *_std_args(folder), "-o", str(tmp_path / "w.txt")]) == 1
    assert "--output must end in .csv or .nc" in capsys.readouterr().err
    argv = ["fit", data, *_std_args(folder), "--e-range=60,-20", "-o", str(tmp_path / "w.csv")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "e_range must be (start, end)" in err and "Traceback" not in err
    assert not (tmp_path / "w.csv").exists()
    argv = ["fit", data, *_std_args(folder), "--e-range=-20", "-o", str(tmp_path / "w.csv")]
    assert main(argv) == 1
    assert "--e-range expects 'start,end'" in capsys.readouterr().err
    dup = [*_std_args(folder, SIX[:2]), "-s", str(folder / f"{SIX[0]}.nc")]
    assert main(["fit", data, *dup, "-o", str(tmp_path / "w.csv")]) == 1
    assert "unique" in capsys.readouterr().err


def test_fit_raw_mu_with_a_fitted_background_from_the_command_line(files, capsys, tmp_path):
    folder, truth = files
    from speciate import io as sio

    norm = sio.read(folder / "data.nc")
    # raw absorption: a scale of 0.7 and a sloping offset on the normalized mixtures
    raw = 0.7 * norm.mu + 0.2 + 1e-4 * (norm.energy - 6550.0)
    raw_path = tmp_path / "raw.nc"
    norm.replace(mu=raw, meta={}).to_netcdf(raw_path)
    out = tmp_path / "raw.csv"
    argv = ["fit", str(raw_path), *_std_args(folder), "--shifts", "--background", "linear",
            "--raw", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    weights = table[[f"weight_{n}" for n in SIX]].to_numpy()
    assert np.abs(weights - truth).mean() <= 0.02
    np.testing.assert_allclose(table["scale"], 0.7, rtol=0.02)
    assert {"background_c0", "background_c1"} <= set(table.columns)
    assert main(["fit", str(raw_path), *_std_args(folder), "--raw", "-o", str(out)]) == 1
    assert "add --background" in capsys.readouterr().err


def test_fit_scale_of_normalized_data_and_combinations_csv_keep_the_scale(files, capsys, tmp_path):
    folder, truth = files
    from speciate import io as sio

    data = sio.read(folder / "data.nc")
    off_path = tmp_path / "off.nc"
    data.replace(mu=1.02 * data.mu).to_netcdf(off_path)  # edge steps 2 % off
    out = tmp_path / "scaled.csv"
    argv = ["fit", str(off_path), *_std_args(folder), "--shifts", "--background", "scale",
            "--combinations", "3", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    np.testing.assert_allclose(table["scale"], 1.02, rtol=0.01)
    weights = table[[f"weight_{n}" for n in SIX]].to_numpy()
    assert np.abs(weights - truth).mean() <= 0.02
