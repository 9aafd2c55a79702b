"""extract / FeatureTable: columns, units, reasons, real standards, vectorization, CSV."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from speciate import Series, ValidationError
from speciate.features import FeatureTable, extract
from speciate.features.mn_standards import MN_OXIDE_STANDARDS, load_standard
from speciate.theory.fdmnes import read_fdmnes_conv
from speciate.theory.normalize import normalize as theory_normalize
from speciate.xanes import normalize

REQUIRED = (
    "e0", "e_half", "edge_step", "preedge_a_energy", "preedge_a_area", "preedge_b_energy",
    "preedge_b_area", "white_line_energy", "white_line_height", "edge_shape",
    "triplet_c_energy", "triplet_d_energy", "triplet_e_energy", "triplet_flatness",
    "gamma_deg",
)  # fmt: skip


@pytest.fixture(scope="module")
def standards(mn_groups):
    """The seven Mn oxide standards on one grid, normalized together."""
    grid = np.arange(6400.0, 6800.0, 0.25)
    parts = []
    for name, _ in MN_OXIDE_STANDARDS:
        one = load_standard(mn_groups / name)
        parts.append(Series(grid, np.interp(grid, one.energy, one.mu[0]), labels=one.labels))
    valences = np.array([v for _, v in MN_OXIDE_STANDARDS])
    return normalize(Series.concat(parts)), valences


def test_extract_has_the_documented_columns_with_units(standards):
    norm, _ = standards
    table = extract(norm)
    assert isinstance(table, FeatureTable) and len(table) == 7
    for name in REQUIRED:
        assert name in table.columns and table.units[name]
        assert table[name].shape == (7,)
        assert not table[name].flags.writeable
    assert table.units["e0"] == "eV" and table.units["gamma_deg"] == "deg"
    df = table.to_dataframe()
    assert list(df.index) == list(norm.labels)
    assert {"triplet_reason", "preedge_a_reason", "edge_reason"} <= set(df.columns)
    assert df.attrs["units"]["white_line_height"] == "norm"


def test_extract_on_real_standards_reads_valence_and_edge_order(standards):
    norm, valences = standards
    table = extract(norm)
    err = table["valence"] - valences
    assert np.sqrt(np.mean(err**2)) < 0.3
    assert (np.abs(err) < 2.5 * table["valence_stderr"]).all()
    # the edge moves up from Mn(II) to Mn(IV)
    assert table["e_integral"][0] < table["e_integral"][1] < table["e_integral"][4]
    np.testing.assert_allclose(table["edge_step"], norm.edge_step)
    assert (table["white_line_height"] > 1.1).all()


def test_every_nan_has_a_reason(standards):
    norm, _ = standards
    table = extract(norm)
    for name, values in table.columns.items():
        missing = ~np.isfinite(values)
        if missing.any():
            assert (table.reason(name)[missing] != "").all(), name


def test_extract_batch_equals_one_by_one(standards):
    norm, _ = standards
    batch = extract(norm)
    for i in (1, 4):
        one = extract(norm.select(i))
        for name in ("e_integral", "preedge_b_energy", "white_line_energy", "edge_shape"):
            assert one[name][0] == pytest.approx(batch[name][i], abs=1e-6, nan_ok=True)


def test_extract_accepts_theory_normresult_and_flat_spectra(engine_outputs):
    spec = read_fdmnes_conv(engine_outputs / "fdmnes" / "limn2o4_r5" / "LiMn2O4_R5_conv.txt")
    table = extract(theory_normalize(spec.to_series("R5")))
    assert table["triplet_n_maxima"][0] == 3 and np.isfinite(table["gamma_deg"][0])
    # a flat line has no edge and no features, and must not crash
    energy = np.arange(6400.0, 6700.0, 0.5)
    flat = extract(Series(energy, np.full((2, energy.size), 0.3)))
    for name in ("e_half", "white_line_energy", "triplet_c_energy", "edge_shape", "valence"):
        assert np.isnan(flat[name]).all()
        assert (flat.reason(name) != "").all()


def test_windows_and_calibration_options():
    energy = np.arange(6400.0, 6700.0, 0.5)
    mu = 0.5 + np.arctan((energy - 6550.0) / 1.5) / np.pi
    with pytest.raises(ValidationError, match="unknown window"):
        extract(Series(energy, mu), windows={"pre-edge": (6530, 6545)})
    with pytest.raises(ValidationError, match="calibration"):
        extract(Series(energy, mu), calibration="fe")
    table = extract(Series(energy, mu), calibration=None)
    assert "valence" not in table.columns


def test_csv_roundtrip(tmp_path, standards):
    norm, _ = standards
    table = extract(norm)
    path = tmp_path / "out" / "features.csv"
    table.to_csv(path)
    back = pd.read_csv(path, index_col="label", keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(back["e_integral"], table["e_integral"])
    assert list(back.index) == list(table.labels)
    assert not list(tmp_path.glob("out/.features.csv.*"))


def test_nan_means_not_measured_per_window(standards):
    norm, _ = standards
    values = np.array(norm.norm[:3])
    cut = norm.energy > 6550.0
    values[1, cut] = np.nan  # spectrum 1 stops at 6550 eV: the edge window is cut short
    # a stack on a union grid: NaN where a spectrum was not measured
    partial = SimpleNamespace(energy=norm.energy, norm=values, meta={"edge": "Mn-K"})
    table = extract(partial)
    full = extract(Series(norm.energy, np.array(norm.norm[:3]), meta={"edge": "Mn-K"}))
    for name in ("e_half", "e_integral", "white_line_energy", "edge_shape"):
        assert np.isnan(table[name][1]), name
        assert table.reason(name)[1].startswith("no data over the"), name
        np.testing.assert_allclose(table[name][[0, 2]], full[name][[0, 2]], err_msg=name)
    # the pre-edge window (6534.5-6545.5 eV) was measured on every spectrum
    np.testing.assert_allclose(table["preedge_centroid"], full["preedge_centroid"], rtol=1e-9)
    with pytest.raises(ValidationError, match="NaN everywhere"):
        extract(SimpleNamespace(energy=norm.energy, norm=np.full((1, norm.energy.size), np.nan)))


def test_every_feature_result_records_its_call(standards):
    from speciate.features import (
        derivative_triplet,
        edge_positions,
        edge_shape,
        preedge_peaks,
        trends,
        white_line,
    )  # fmt: skip

    norm, _ = standards
    results = {
        "edge_positions": edge_positions(norm),
        "edge_shape": edge_shape(norm),
        "preedge_peaks": preedge_peaks(norm),
        "white_line": white_line(norm),
        "derivative_triplet": derivative_triplet(norm),
    }
    table = extract(norm)
    results["extract"] = table
    results["trends"] = trends(table)
    for name, result in results.items():
        assert result.provenance["function"] == f"speciate.features.{name}"
    assert table.provenance["parameters"]["norm"]["type"] == "NormResult"
    assert table.provenance["edge_used"]["element"] == "Mn"
    assert table.provenance["windows_used"]["edge"] == [6535.0, 6570.0]
