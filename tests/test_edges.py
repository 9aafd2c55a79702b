"""Edge identity: from the file, the user or E0; carried through normalize and NetCDF."""

from __future__ import annotations

import numpy as np
import pytest

import speciate.io as sio
from speciate import Series
from speciate.edges import edge_from_meta, infer_edge, parse_edge, tabulated_edge, with_edge
from speciate.errors import ReadError, ValidationError
from speciate.features import edge_positions, extract
from speciate.xanes import normalize


def test_parse_edge_accepts_the_usual_spellings_and_names_the_problem():
    for text in ("Ni-K", "ni_k", "Ni K", "NI-K-edge"):
        edge = parse_edge(text)
        assert (edge.element, edge.edge, edge.energy) == ("Ni", "K", 8333.0)
    assert parse_edge("Mn-L3").energy == pytest.approx(638.7, abs=1.0)
    with pytest.raises(ValidationError, match="ELEMENT-EDGE"):
        parse_edge("nickel")
    with pytest.raises(ValidationError, match="unknown element"):
        parse_edge("Xx-K")


def test_inference_from_e0_guesses_near_edges_and_refuses_ambiguous_or_far():
    ni = infer_edge(8349.6)  # E0 of the LiNiO2 operando series
    assert ni.edge is not None and ni.edge.name == "Ni-K"
    assert ni.edge.distance_ev == pytest.approx(16.6) and ni.edge.source == "inferred"
    assert infer_edge(6550.0).edge.name == "Mn-K"
    amb = infer_edge(5480.0)  # V K (5465) and La L3 (5483) both within reach
    assert amb.edge is None and "ambiguous" in amb.reason and "La-L3" in amb.reason
    far = infer_edge(5800.0)
    assert far.edge is None and "far from every" in far.reason


@pytest.mark.parametrize(
    ("name", "mu", "element", "tabulated"),
    [
        ("fe3c_rt.xdi", None, "Fe", 7112.0),
        ("feo_rt1.xdi", None, "Fe", 7112.0),
        ("ni_metal_rt.xdi", None, "Ni", 8333.0),
        ("v_foil.xdi", "ln(i0/i1)", "V", 5465.0),
    ],
)
def test_xdi_files_carry_their_edge_and_get_finite_edges(real_data, name, mu, element, tabulated):
    series = sio.read(real_data / "xanes" / "xdi" / name, mu=mu)
    edge = edge_from_meta(series.meta)
    assert (edge.element, edge.edge, edge.source) == (element, "K", "file")
    table = extract(normalize(series))  # no options: windows from the file's edge
    assert table.meta["edge"]["element"] == element
    assert table.meta["windows"]["edge"] == [tabulated - 4.0, tabulated + 31.0]
    assert np.isfinite(table["e0"]).all() and np.isfinite(table["e_half"]).all()
    # metal foils: E0 within a few eV of the tabulated edge
    assert abs(table["e0"][0] - tabulated) < 12.0
    assert table["valence_reason"][0] == f"calibration is for Mn K, data are {element} K"


def test_athena_groups_carry_bkg_z_and_fft_edge(real_data):
    series = sio.read(real_data / "xanes" / "xraylarch" / "Mn.prj", group=0)
    assert series.meta["edge"] == {"element": "Mn", "edge": "K", "energy": 6539.0,
                                   "source": "file"}  # fmt: skip


def test_bad_element_in_an_xdi_header_is_a_read_error(tmp_path, real_data):
    text = (real_data / "xanes" / "xdi" / "fe3c_rt.xdi").read_text()
    bad = tmp_path / "bad.xdi"
    bad.write_text(text.replace("Element.symbol: Fe", "Element.symbol: Qq"))
    with pytest.raises(ReadError, match="unknown element"):
        sio.read(bad)


def _ni_like(n: int = 3) -> Series:
    e_tab = tabulated_edge("Ni")
    energy = np.arange(e_tab - 150.0, e_tab + 300.0, 0.5)
    mu = 0.2 + np.arctan((energy - e_tab - 10.0) / 2.0)[None, :] / np.pi + np.zeros((n, 1))
    return Series(energy, mu + 0.5)


def test_edge_travels_through_normalize_netcdf_and_features(tmp_path):
    series = with_edge(_ni_like(), "Ni-K")
    assert series.meta["edge"]["source"] == "user"
    norm = normalize(series)
    assert edge_from_meta(norm.meta).name == "Ni-K"
    path = tmp_path / "ni.nc"
    norm.to_series().to_netcdf(path)
    back = sio.read(path)
    assert edge_from_meta(back.meta).name == "Ni-K"
    assert extract(back).meta["edge"]["element"] == "Ni"


def test_inferred_edge_is_recorded_and_user_word_wins():
    norm = with_edge(normalize(_ni_like()))
    assert norm.meta["edge"]["source"] == "inferred" and norm.meta["edge"]["element"] == "Ni"
    table = extract(norm, edge="Co-K")
    assert table.meta["edge"]["element"] == "Co"
    assert table.meta["windows"]["edge"][0] == tabulated_edge("Co") - 4.0


def test_unknown_edge_falls_back_to_mn_windows_with_a_warning():
    energy = np.linspace(5700.0, 5900.0, 800)
    mu = 0.5 + np.arctan((energy - 5790.0) / 2.0) / np.pi
    with pytest.warns(UserWarning, match="far from every K and L3 edge"):
        table = extract(Series(energy, mu[None, :]))
    assert "edge" not in table.meta and "far from every" in table.meta["edge_reason"]
    # the Mn K windows lie outside these data: NaN with a reason, not an error
    assert np.isnan(table["e0"][0]) and table.reason("e0")[0] != ""
    # a window given by the user is used
    feats = edge_positions(Series(energy, mu[None, :]), window=(5770.0, 5820.0))
    assert feats.e_half[0] == pytest.approx(5790.0, abs=0.3)
