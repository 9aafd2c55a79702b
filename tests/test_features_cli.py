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
