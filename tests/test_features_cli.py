"""`speciate features`: reads files, writes the CSV (and a figure), clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from speciate.cli import main


def test_features_command_writes_csv_and_figure(tmp_path, mn_groups):
    out = tmp_path / "features.csv"
    files = [mn_groups / n for n in ("02_MnO.dat", "11_Pyrolusite.dat", "05_Li2MnO3.dat")]
    args = ["features", *map(str, files), "--energy", "energy_shifted_eV", "--grid", "first"]
    code = main([*args, "-o", str(out), "--plot"])
    assert code == 0
    df = pd.read_csv(out, index_col="label")
    assert len(df) == 3
    assert {"e_half", "valence", "gamma_deg", "triplet_reason"} <= set(df.columns)
    # MnO is Mn(II), pyrolusite and Li2MnO3 Mn(IV)
    np.testing.assert_allclose(df["valence"], [2.0, 4.0, 4.0], atol=0.35)
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_features_command_reports_bad_options(tmp_path, mn_groups, capsys):
    out = tmp_path / "features.csv"
    code = main(["features", str(mn_groups / "02_MnO.dat"), "--energy", "energy_shifted_eV",
                 "-o", str(out), "--calibration", "fe"])  # fmt: skip
    assert code == 1
    assert "--calibration" in capsys.readouterr().err
    assert not out.exists()


def test_ni_operando_series_with_nothing_but_file_names(tmp_path, real_data, capsys):
    from speciate.echem import read as read_cycling
    from speciate.echem.sync import sync
    from speciate.io import read_many

    operando = real_data / "operando" / "perex_LNO_NiK"
    out = tmp_path / "ni.csv"
    code = main(["features", str(operando / "XAS_normalized"), "-o", str(out), "--plot"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "edge Ni K (inferred from E0" in captured.out
    # the Mn calibration is refused with its reason, and the console says so once
    assert "valence is NaN for every spectrum: calibration is for Mn K, data are Ni K" in (
        captured.err
    )
    assert "not in the figure" in captured.out and out.with_suffix(".png").exists()
    df = pd.read_csv(out, index_col="label")
    for name in ("e0", "e_half", "e_integral", "white_line_energy", "edge_shape"):
        assert np.isfinite(df[name]).all(), name
    assert df["valence"].isna().all()
    assert (df["valence_reason"] == "calibration is for Mn K, data are Ni K").all()
    series = read_many(str(operando / "XAS_normalized" / "*.txt"))
    state = sync(series, read_cycling(operando / "EC" / "220726cell4operandoxas_C06.mpt"))
    r = np.corrcoef(df.loc[list(series.labels), "e_integral"], state.voltage)[0, 1]
    assert r >= 0.95


def test_windows_and_edge_options_and_plot_without_data(tmp_path, mn_groups, capsys):
    out = tmp_path / "f.csv"
    base = ["features", str(mn_groups / "02_MnO.dat"), "--energy", "energy_shifted_eV"]
    # windows far from the data: every feature NaN, warnings, a figure, no traceback
    code = main([*base, "-o", str(out), "--plot", "--window", "preedge=9000:9010",
                 "--window", "triplet=9000:9020"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning: gamma_deg is NaN for every spectrum" in captured.err
    assert "warning: preedge_a_energy is NaN for every spectrum" in captured.err
    assert out.with_suffix(".png").stat().st_size > 5_000
    df = pd.read_csv(out, index_col="label")
    assert np.isfinite(df["e_integral"]).all()  # the edge window was not touched
    code = main([*base, "-o", str(out), "--window", "edge=6550"])
    assert code == 1 and "NAME=LO:HI" in capsys.readouterr().err
    code = main([*base, "-o", str(out), "--window", "edges=6530:6570"])
    assert code == 1 and "unknown window name" in capsys.readouterr().err
    # --edge overrides: the Mn calibration is then refused for the "Fe K" data
    code = main([*base, "-o", str(out), "--edge", "Fe-K"])
    assert code == 0
    assert pd.read_csv(out)["valence_reason"].str.contains("data are Fe K").all()


def test_calibration_from_a_json_file(tmp_path, mn_groups):
    from speciate.features import default_mn_calibration

    cal_file = tmp_path / "mn.json"
    default_mn_calibration().to_json(cal_file)
    out = tmp_path / "f.csv"
    files = [str(mn_groups / n) for n in ("01_Mn_foil.dat", "11_Pyrolusite.dat")]
    code = main(["features", *files, "--energy", "energy_shifted_eV", "--grid", "first",
                 "-o", str(out), "--calibration", str(cal_file)])  # fmt: skip
    assert code == 0
    df = pd.read_csv(out, index_col="label", keep_default_na=False)
    # the foil lies below the lowest standard (MnO): kept, but flagged
    assert df.loc["01_Mn_foil", "valence_reason"] == "extrapolated below the standards"
    assert df.loc["11_Pyrolusite", "valence_reason"] == ""


def test_by_edge_writes_the_redox_table(tmp_path, capsys):
    from speciate import Series
    from speciate.edges import tabulated_edge

    x = np.concatenate([np.linspace(1.0, 0.3, 8), np.linspace(0.3, 1.0, 8)[1:]])
    paths = []
    for element, shift in (("Mn", 0.0), ("Ni", 2.0)):
        e_tab = tabulated_edge(element)
        energy = np.arange(e_tab - 60.0, e_tab + 120.0, 0.25)
        d = energy[None, :] - (e_tab + 8.0 - shift * (x - 1.0))[:, None]
        mu = 0.5 + np.arctan(d / 1.5) / np.pi + 0.4 * np.exp(-0.5 * ((d - 6.0) / 2.5) ** 2)
        path = tmp_path / f"{element}.nc"
        Series(energy, mu, coords={"x_li": x}).to_netcdf(path)
        paths.append(str(path))
    out = tmp_path / "redox.csv"
    code = main(["features", *paths, "--by-edge", "--normalized", "-o", str(out), "--plot"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    df = pd.read_csv(out, index_col="edge")
    assert list(df.index) == ["Mn-K", "Ni-K"]
    np.testing.assert_allclose(df["shift_ev_per_x"], [0.0, -2.0], atol=0.05)
    assert df["active"].tolist() == [False, True]
    assert out.with_suffix(".png").exists()


def test_unknown_edge_option_is_refused(tmp_path, mn_groups, capsys):
    code = main(["features", str(mn_groups / "02_MnO.dat"), "--energy", "energy_shifted_eV",
                 "-o", str(tmp_path / "f.csv"), "--edge", "Xx-K"])  # fmt: skip
    assert code == 1 and "unknown element" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()
