"""Plain column files: real beamline and exported files, separators, bad input."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import speciate.io as sio
from speciate.errors import ReadError


@pytest.fixture(scope="module")
def aps(real_data):
    return real_data / "xanes" / "xraylarch" / "APS10BM_2019_MnO2.dat"


def test_free_text_header_with_label_line_and_reference_channel(aps):
    s = sio.read(aps, mu="ln(Io/It)", reference="ln(It/Iref)", duplicates="mean")
    raw = np.loadtxt(aps, skiprows=18)
    assert s.meta["columns_found"] == ["energy", "Io", "It", "Iref", "If"]
    assert s.meta["format"] == "columns"
    assert s.meta["expressions"] == {
        "energy": "energy",
        "mu": "ln(Io/It)",
        "reference": "ln(It/Iref)",
    }
    assert set(s.meta["columns_used"]) == {"Io", "It", "Iref", "energy"}
    # the first three rows share one energy: averaged, and the choice recorded
    assert s.meta["duplicates"] == {"choice": "mean", "n_removed": 2}
    assert s.n_energy == raw.shape[0] - 2
    np.testing.assert_allclose(s.mu[0, 0], np.mean(np.log(raw[:3, 1] / raw[:3, 2])))
    np.testing.assert_allclose(s.reference[0, -1], np.log(raw[-1, 2] / raw[-1, 3]))
    np.testing.assert_allclose(s.energy[-1], raw[-1, 0])
    assert s.meta["header"][0].startswith("MRCAT_XAFS")


def test_expression_column_names_ignore_case(aps):
    s = sio.read(aps, mu="ln(io/it)", duplicates="first")
    raw = np.loadtxt(aps, skiprows=18)
    np.testing.assert_allclose(s.mu[0, 0], np.log(raw[0, 1] / raw[0, 2]))
    assert s.meta["duplicates"]["choice"] == "first"


def test_repeated_energies_raise_with_line_unless_a_choice_is_given(aps):
    with pytest.raises(ReadError, match=r"line 20.*repeated.*duplicates='mean'"):
        sio.read(aps, mu="ln(io/it)")


def test_missing_mu_lists_columns_found(aps):
    with pytest.raises(ReadError, match=r"mu\(E\).*\['energy', 'Io', 'It', 'Iref', 'If'\]"):
        sio.read(aps, duplicates="mean")


def test_unknown_column_name_is_named(aps):
    with pytest.raises(ReadError, match=r"no column named .i0.*columns found.*.Io."):
        sio.read(aps, mu="ln(i0/itrans)", duplicates="mean")


def test_hash_header_names_columns_and_energy_choice_is_required(mn_groups):
    path = mn_groups / "02_MnO.dat"
    with pytest.raises(ReadError, match=r"energy.*energy_raw_eV.*energy_shifted_eV"):
        sio.read(path)
    s = sio.read(path, energy="energy_shifted_eV")
    raw = np.loadtxt(path)
    np.testing.assert_array_equal(s.energy, raw[:, 1])
    np.testing.assert_array_equal(s.mu[0], raw[:, 2])
    assert s.meta["expressions"]["mu"] == "mu"


def test_two_column_file_with_parenthesised_label(real_data):
    path = real_data / "xanes" / "xraylarch" / "mn_cpmnco3.dat"
    s = sio.read(path)
    assert s.meta["column_labels"] == ["E", "xmu(trans)"]
    assert s.meta["expressions"] == {"energy": "E", "mu": "xmu_trans"}
    assert s.n_energy == 409
    assert s.mu[0, 0] == pytest.approx(-0.952437)


@pytest.mark.parametrize(
    ("text", "delimiter", "decimal"),
    [
        ("# energy;mu\n6500,0;0,10\n6501,5;0,20\n6503,0;0,40\n", "semicolon", ","),
        ("energy,mu\n6500.0,0.10\n6501.5,0.20\n6503.0,0.40\n", "comma", "."),
        ("# energy mu\n6500,0 0,10\n6501,5 0,20\n6503,0 0,40\n", "whitespace", ","),
        ("energy\tmu\n6500.0\t0.10\n6501.5\t0.20\n6503.0\t0.40\n", "whitespace", "."),
    ],
)
def test_separators_and_comma_decimals(tmp_path, text, delimiter, decimal):
    path = tmp_path / "scan.csv"
    path.write_text(text)
    s = sio.read(path)
    np.testing.assert_allclose(s.energy, [6500.0, 6501.5, 6503.0])
    np.testing.assert_allclose(s.mu[0], [0.1, 0.2, 0.4])
    assert (s.meta["delimiter"], s.meta["decimal"]) == (delimiter, decimal)


def test_latin1_file_is_read_and_encoding_recorded(tmp_path):
    path = tmp_path / "scan.dat"
    path.write_bytes("# échantillon µ\n# energy mu\n6500 1\n6501 2\n".encode("latin-1"))
    s = sio.read(path)
    assert s.meta["source"]["encoding"] == "latin-1"
    assert s.meta["header"][0] == "# échantillon µ"


def test_non_numeric_cell_names_line_and_cell(tmp_path):
    path = tmp_path / "bad.dat"
    path.write_text("# energy mu\n6500 0.1\n6501 0.2\n6502 abc\n6503 0.4\n")
    with pytest.raises(ReadError, match=r"bad.dat, line 4: non-numeric cell 'abc' in column 2"):
        sio.read(path)


def test_ragged_row_names_line(tmp_path):
    path = tmp_path / "ragged.dat"
    path.write_text("# energy mu\n6500 0.1\n6501 0.2 7\n")
    with pytest.raises(ReadError, match=r"line 3: expected 2 columns.*found 3"):
        sio.read(path)


def test_nan_cell_is_rejected_with_line(tmp_path):
    path = tmp_path / "nan.dat"
    path.write_text("# energy mu\n6500 0.1\n6501 nan\n6502 0.3\n")
    with pytest.raises(ReadError, match=r"line 3: non-finite"):
        sio.read(path)


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.dat"
    path.write_text("")
    with pytest.raises(ReadError, match="empty"):
        sio.read(path)


def test_header_only_file_raises(tmp_path):
    path = tmp_path / "header.dat"
    path.write_text("# energy mu\n# nothing measured\n")
    with pytest.raises(ReadError, match="no line with at least two numbers"):
        sio.read(path)


def test_energies_in_kev_raise_saying_how_to_convert(tmp_path):
    path = tmp_path / "kev.dat"
    e = np.linspace(6.4, 6.8, 50)
    np.savetxt(path, np.column_stack([e, np.tanh((e - 6.55) * 100)]), header="energy mu")
    with pytest.raises(ReadError, match=r"keV.*energy='energy\*1000'"):
        sio.read(path)
    s = sio.read(path, energy="energy*1000")
    np.testing.assert_allclose(s.energy, e * 1000)
    assert s.meta["expressions"]["energy"] == "energy*1000"


def test_unsorted_energies_raise_unless_sort_is_asked(tmp_path):
    path = tmp_path / "unsorted.dat"
    path.write_text("# energy mu\n6500 0.1\n6502 0.3\n6501 0.2\n")
    with pytest.raises(ReadError, match=r"line 4: energy decreases.*sort=True"):
        sio.read(path)
    s = sio.read(path, sort=True)
    np.testing.assert_allclose(s.energy, [6500, 6501, 6502])
    np.testing.assert_allclose(s.mu[0], [0.1, 0.2, 0.3])
    assert s.meta["sorted"] is True


def test_meta_records_source_and_provenance(mn_groups):
    path = mn_groups / "01_Mn_foil.dat"
    s = sio.read(path, energy="energy_shifted_eV")
    assert s.meta["source"]["name"] == "01_Mn_foil.dat"
    assert len(s.meta["source"]["sha256"]) == 64
    prov = s.meta["provenance"]
    assert prov["function"] == "speciate.io.read"
    assert prov["parameters"]["energy"] == "energy_shifted_eV"
    assert prov["parameters"]["duplicates"] == "error"


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["whitespace", "tab", "comma", "semicolon", "semicolon_comma"]),
    hashed=st.booleans(),
    free_text=st.lists(
        st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=122), min_size=1),
        max_size=4,
    ),
)
def test_written_tables_read_back_exactly(n, seed, style, hashed, free_text):
    rng = np.random.default_rng(seed)
    energy = 6400 + np.cumsum(rng.uniform(0.05, 10.0, n)).round(4)
    mu = rng.normal(size=n).round(6)
    i0 = rng.uniform(1e3, 1e6, n).round(1)
    sep = {"whitespace": "  ", "tab": "\t", "comma": ",", "semicolon": ";"}.get(style, ";")

    def cell(x: float) -> str:
        text = repr(float(x))
        return text.replace(".", ",") if style == "semicolon_comma" else text

    prefix = "# " if hashed else ""
    lines = [f"{prefix}{t}" for t in free_text]
    lines.append(prefix + sep.join(["energy", "mu", "i0"]))
    lines += [sep.join(cell(v) for v in row) for row in zip(energy, mu, i0)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.txt"
        path.write_text("\n".join(lines) + "\n")
        s = sio.read(path, reference="i0")
    np.testing.assert_array_equal(s.energy, energy)
    np.testing.assert_array_equal(s.mu[0], mu)
    np.testing.assert_array_equal(s.reference[0], i0)
    assert s.meta["columns_found"] == ["energy", "mu", "i0"]


def test_aps_reference_channel_is_the_mn_foil(aps):
    s = sio.read(aps, mu="ln(Io/It)", reference="ln(It/Iref)", duplicates="mean")
    win = (s.energy > 6500) & (s.energy < 6600)
    e = s.energy[win]

    def edge(y):
        smooth = np.convolve(y[win], np.ones(3) / 3, mode="same")
        d = np.gradient(smooth, e)
        return e[1:-1][np.argmax(d[1:-1])]

    # Mn foil reference ~1.4 eV below the tabulated 6539.0 eV; MnO2 sample near 6557 eV
    assert edge(s.reference[0]) == pytest.approx(6537.61, abs=0.3)
    assert edge(s.mu[0]) == pytest.approx(6556.98, abs=0.3)


def test_column_choice_error_carries_the_columns(aps):
    with pytest.raises(sio.ColumnChoiceError) as info:
        sio.read(aps, duplicates="mean")
    assert info.value.columns == ["energy", "Io", "It", "Iref", "If"]
    assert isinstance(info.value, ReadError)
