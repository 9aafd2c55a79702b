"""Reading cycler files into `Cycling`: real vendor files, cross-checked against other parsers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.echem import Cycling, half_cycle_summary, read
from speciate.echem.cycling import COLUMNS
from speciate.errors import ReadError, SpeciateError, ValidationError


@pytest.fixture(scope="module")
def echem(real_data: Path) -> Path:
    return real_data / "echem"


@pytest.fixture(scope="module")
def ec_dir(real_data: Path) -> Path:
    return real_data / "operando" / "perex_LNO_NiK" / "EC"


def _n_data_lines(path: Path, header_lines: int) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - header_lines


def test_read_eclab_mpt_has_all_columns_units_and_start(ec_dir: Path) -> None:
    path = ec_dir / "220726cell4operandoxas_C06.mpt"
    cyc = read(path)
    assert set(COLUMNS) <= set(cyc.columns)
    assert cyc.n_rows == _n_data_lines(path, 82)
    assert cyc.start_time == np.datetime64("2022-07-26T22:38:30.190")
    assert cyc.voltage_v.min() == pytest.approx(3.0, abs=0.01)
    assert cyc.voltage_v.max() == pytest.approx(4.3, abs=0.01)
    assert cyc.time_s[-1] == pytest.approx(139969, abs=1)
    # the program set +154 µA charge, -154 µA discharge (header table)
    on = cyc.step_type == "charge"
    assert np.median(cyc.current_ma[on]) == pytest.approx(0.154, rel=0.01)
    assert cyc.meta["decimal_separator"] == ","
    assert "working electrode" in cyc.meta["sign_convention"]


def test_cycling_is_frozen_and_dataframe_is_a_copy(ec_dir: Path) -> None:
    cyc = read(ec_dir / "220726cell4operandoxas_C06.mpt")
    with pytest.raises(ValueError):
        cyc.voltage_v[0] = 0.0
    with pytest.raises(AttributeError):
        cyc.start_time = None  # type: ignore[misc]
    df = cyc.to_dataframe()
    df.loc[0, "voltage_v"] = -1.0
    assert cyc.voltage_v[0] > 0
    assert list(df.columns)[:9] == list(COLUMNS)


def test_cycling_pickles(ec_dir: Path) -> None:
    cyc = read(ec_dir / "220726cell4operandoxas_C06.mpt")
    back = pickle.loads(pickle.dumps(cyc))
    np.testing.assert_array_equal(back.voltage_v, cyc.voltage_v)
    assert back.start_time == cyc.start_time and back.meta == cyc.meta
    assert not back.voltage_v.flags.writeable


def test_read_joins_files_of_one_cell_in_time_order(ec_dir: Path) -> None:
    first = ec_dir / "220726cell4operandoxas_C06.mpt"
    second = ec_dir / "220726cell4operandoxascontinuation_C06.mpt"
    joined = read([second, first])
    assert joined.source == (str(first), str(second))
    a, b = read(first), read(second)
    assert joined.n_rows == a.n_rows + b.n_rows
    gap = (
        dt.datetime(2022, 7, 28, 13, 31, 45, 341000) - dt.datetime(2022, 7, 26, 22, 38, 30, 190000)
    ).total_seconds()
    assert joined.time_s[a.n_rows] == pytest.approx(gap + b.time_s[0], abs=1e-3)
    assert np.all(np.diff(joined.time_s) >= 0)


def test_read_refuses_overlapping_files(ec_dir: Path) -> None:
    first = ec_dir / "220726cell4operandoxas_C06.mpt"
    with pytest.raises(ReadError, match="overlap"):
        read([first, first])


def test_neware_nda_matches_newarenda_reference_export(echem: Path) -> None:
    cyc = read(echem / "NewareNDA" / "TestFile.nda")
    ref = pd.read_csv(echem / "NewareNDA" / "TestFile_reference.csv.gz")
    assert cyc.n_rows == len(ref)
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], atol=1e-5)
    np.testing.assert_allclose(cyc.current_ma, ref["Current(mA)"], rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(cyc.charge_capacity_mah, ref["Charge_Capacity(mAh)"], rtol=1e-6)
    np.testing.assert_allclose(
        cyc.discharge_capacity_mah, ref["Discharge_Capacity(mAh)"], rtol=1e-6
    )
    np.testing.assert_array_equal(cyc.step, ref["Step"])
    start = pd.Timestamp(ref["Timestamp"].iloc[0]).tz_convert("UTC").tz_localize(None)
    first_abs = cyc.absolute_time[0]
    assert abs((first_abs - start.to_datetime64()) / np.timedelta64(1, "ms")) < 20
    assert set(np.unique(cyc.step_type)) >= {"charge", "discharge", "rest", "cv_charge"}
    assert cyc.meta["start_time_zone"] == "UTC"


def test_neware_step_time_is_accumulated_into_test_time(echem: Path) -> None:
    cyc = read(echem / "NewareNDA" / "new_nda_file.nda")
    ref = pd.read_csv(echem / "NewareNDA" / "new_nda_file_reference.csv")
    assert cyc.n_rows == len(ref)
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], atol=1e-5)
    assert np.all(np.diff(cyc.time_s) >= 0)
    step_time = ref["Time"].to_numpy()
    # within a step, differences equal the reference step time's differences
    same = ref["Step"].to_numpy()[1:] == ref["Step"].to_numpy()[:-1]
    np.testing.assert_allclose(np.diff(cyc.time_s)[same], np.diff(step_time)[same], atol=1e-4)
    assert "step time" in cyc.meta["time_note"]


def test_neware_ndax_zip_container(echem: Path) -> None:
    cyc = read(echem / "navani" / "test.ndax")
    assert cyc.meta["vendor"] == "neware"
    assert cyc.voltage_v.min() >= 1.49 and cyc.voltage_v.max() <= 4.41
    assert (cyc.current_ma > 0).any() and (cyc.current_ma < 0).any()


@pytest.mark.skipif(shutil.which("mdb-export") is None, reason="mdbtools not installed")
def test_arbin_res_matches_mdb_export_table(echem: Path) -> None:
    path = echem / "navani" / "arbin_example.res"
    cyc = read(path)
    text = subprocess.run(
        ["mdb-export", str(path), "Channel_Normal_Table"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ref = pd.read_csv(StringIO(text)).sort_values("Data_Point")
    assert cyc.n_rows == len(ref)
    # mdb-export prints floats with 8 significant digits; the reader keeps the stored values
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], rtol=5e-8)
    np.testing.assert_allclose(cyc.current_ma, ref["Current"] * 1000.0, rtol=5e-8)
    np.testing.assert_allclose(cyc.charge_capacity_mah, ref["Charge_Capacity"] * 1000, rtol=5e-8)
    np.testing.assert_allclose(cyc.time_s, ref["Test_Time"], rtol=1e-12)
    assert cyc.start_time.astype("datetime64[D]") == np.datetime64("2023-07-24")
    assert cyc.meta["cycle_source"] == "file"


def test_arbin_excel_export_reads_channel_sheets(echem: Path) -> None:
    path = echem / "navani" / "bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx"
    cyc = read(path)
    ref = pd.read_excel(path, sheet_name="Channel_11_1")
    np.testing.assert_allclose(cyc.current_ma, ref["Current(A)"] * 1000)
    np.testing.assert_allclose(cyc.time_s, ref["Test_Time(s)"])
    first = np.datetime64(pd.Timestamp(ref["Date_Time"].iloc[0]).to_datetime64(), "ns")
    assert cyc.absolute_time[0] == first
    # graphite vs Li: 50 µA lithiation first (negative current), 0.05-1 V window
    assert cyc.step_type[np.argmax(cyc.step_type != "rest")] == "discharge"
    assert cyc.voltage_v.min() == pytest.approx(0.05, abs=0.005)
    # speciate's ∫I dt agrees with the counters Arbin wrote (0.5 % requirement)
    hc = half_cycle_summary(cyc)
    assert np.abs(hc.capacity_mah / hc.cycler_capacity_mah - 1).max() < 0.005


def test_maccor_raw_export_reads_signed_current_and_state(echem: Path) -> None:
    path = echem / "beep" / "PredictionDiagnostics_000151_test.052"
    cyc = read(path)
    ref = pd.read_csv(path, sep="\t", skiprows=1, index_col=False)
    np.testing.assert_allclose(cyc.current_ma, ref["Amps"] * 1000)
    np.testing.assert_allclose(cyc.discharge_capacity_mah, ref["Amp-hr"] * 1000)
    assert np.all(cyc.charge_capacity_mah == 0)
    assert np.all(cyc.step_type == "discharge")
    assert cyc.start_time == np.datetime64("2019-10-21T23:59:59") - np.timedelta64(769267240, "ms")


def test_maccor_duration_text_times(echem: Path) -> None:
    cyc = read(echem / "beep" / "maccor_test_file_4267-66-6519.041")
    assert cyc.time_s[0] == 0.0
    assert cyc.time_s[-1] == pytest.approx(10.0)
    assert cyc.start_time == np.datetime64("2016-11-02T15:57:53")


def test_truncated_maccor_text_raises_with_line_or_repairs_explicitly(echem: Path) -> None:
    path = echem / "cellpy" / "maccor_two.txt"
    with pytest.raises(ReadError) as info:
        read(path)
    assert info.value.line == 229
    assert "drop_incomplete_rows" in str(info.value)
    cyc = read(path, repair=["drop_incomplete_rows"])
    assert cyc.n_rows == 213
    assert "dropped 1 incomplete row" in cyc.meta["repairs"][0]
    # TestTime is in minutes in this export: its own DPT Time clock agrees
    ref = pd.read_csv(path, sep="\t", skiprows=13, index_col=False, nrows=213)
    stamps = pd.to_datetime(ref["DPT Time"], format="%m/%d/%Y %H:%M:%S")
    elapsed = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(cyc.time_s - cyc.time_s[0], elapsed, atol=1.0)


def test_biologic_mpr_gcpl_reads_through_galvani(echem: Path) -> None:
    cyc = read(echem / "navani" / "jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")
    assert cyc.meta["reader"] == "galvani.BioLogic.MPRfile"
    assert cyc.voltage_v.min() == pytest.approx(2.0, abs=0.01)
    assert cyc.voltage_v.max() == pytest.approx(3.8, abs=0.01)
    assert cyc.start_time.astype("datetime64[D]") == np.datetime64("2020-10-26")
    assert any("dq" in d for d in cyc.meta["derived"])


def test_truncated_mpr_points_to_mpt_export(echem: Path, tmp_path: Path) -> None:
    src = echem / "navani" / "jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
    bad = tmp_path / "cut.mpr"
    bad.write_bytes(src.read_bytes()[:3000])
    with pytest.raises(ReadError, match=r"\.mpt"):
        read(bad)


def test_nda_cut_inside_its_header_raises_speciate_error(echem: Path, tmp_path: Path) -> None:
    # NewareNDA skips a partial last record, so only a cut before the records is detectable
    bad = tmp_path / "cut.nda"
    bad.write_bytes((echem / "NewareNDA" / "TestFile.nda").read_bytes()[:500])
    with pytest.raises(ReadError):
        read(bad)


def test_mpr_without_current_column_says_what_is_missing(echem: Path) -> None:
    with pytest.raises(ReadError, match="current_ma") as info:
        read(echem / "navani" / "00_test_01_OCV_C01.mpr")
    assert "Ewe/V" in str(info.value)


def test_unknown_format_lists_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "cell.bin"
    path.write_bytes(b"\x00\x01binary record")
    with pytest.raises(ReadError, match="Maccor"):
        read(path)


def _write_csv(path: Path, t, v, i, extra: dict | None = None) -> Path:
    data = {"t [s]": t, "E [V]": v, "I [A]": i, **(extra or {})}
    pd.DataFrame(data).to_csv(path, index=False)
    return path


_MAP = {"time_s": "t [s]", "voltage_v": "E [V]", "current_ma": {"name": "I [A]", "scale": 1000}}


def test_plain_csv_with_column_map(tmp_path: Path) -> None:
    t = np.arange(10.0)
    path = _write_csv(tmp_path / "cell.csv", t, 3.5 + 0.01 * t, np.full(10, 1e-3))
    cyc = read(path, columns=_MAP)
    np.testing.assert_allclose(cyc.current_ma, 1.0)
    assert cyc.start_time is None
    assert cyc.meta["cycle_source"] == "speciate"
    assert np.isnan(cyc.charge_capacity_mah).all()


def test_unknown_columns_raise_with_the_columns_found(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "cell.csv", [0, 1], [3, 3], [0, 0])
    with pytest.raises(ReadError, match=r"I \[A\]"):
        read(path)


def test_time_going_backwards_raises_or_sorts_explicitly(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "cell.csv", [0, 1, 3, 2, 4], [3.0] * 5, [1e-3] * 5)
    with pytest.raises(ReadError, match="backwards") as info:
        read(path, columns=_MAP)
    assert info.value.line == 5
    cyc = read(path, columns=_MAP, repair=["sort_time"])
    np.testing.assert_array_equal(cyc.time_s, [0, 1, 2, 3, 4])
    assert "sorted" in cyc.meta["repairs"][0]


def test_current_sign_that_contradicts_state_raises(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    rows = ["Rec#\tCyc#\tStep\tTest (Sec)\tAmp-hr\tAmps\tVolts\tState"]
    for k, (amps, state) in enumerate([(0.1, "C"), (0.1, "C"), (0.1, "D"), (-0.1, "D")]):
        rows.append(f"{k + 1}\t1\t1\t{k}.0\t0.0\t{amps}\t3.5\t{state}")
    path.write_text("Today's Date 01/01/2020\n" + "\n".join(rows) + "\n")
    with pytest.raises(ReadError, match="disagrees") as info:
        read(path)
    assert info.value.line == 5


def test_unsigned_maccor_current_takes_sign_from_state(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    rows = ["Rec#\tCyc#\tStep\tTest (Sec)\tAmp-hr\tAmps\tVolts\tState"]
    for k, state in enumerate("CCDD"):
        rows.append(f"{k + 1}\t1\t1\t{k}.0\t0.0\t0.1\t3.5\t{state}")
    path.write_text("Today's Date 01/01/2020\n" + "\n".join(rows) + "\n")
    cyc = read(path)
    np.testing.assert_allclose(cyc.current_ma, [100, 100, -100, -100])
    assert "State" in cyc.meta["sign_convention_applied"]


def _cycle_csv(path: Path, sign: float) -> Path:
    t = np.arange(200.0)
    current = np.where(t < 100, 1e-3, -1e-3) * sign
    voltage = np.where(t < 100, 3.5 + 0.005 * t, 4.0 - 0.005 * (t - 100))
    return _write_csv(path, t, voltage, current)


def test_inverted_current_is_caught_by_the_voltage(tmp_path: Path) -> None:
    path = _cycle_csv(tmp_path / "cell.csv", sign=-1.0)
    with pytest.raises(ReadError, match="invert_current=True"):
        read(path, columns=_MAP)
    fixed = read(path, columns=_MAP, invert_current=True)
    assert fixed.current_ma[1] > 0 and fixed.meta["current_inverted"]
    kept = read(path, columns=_MAP, check_sign=False)
    assert kept.current_ma[1] < 0 and kept.meta["sign_checked"] is False
    assert read(_cycle_csv(tmp_path / "ok.csv", sign=1.0), columns=_MAP).meta["sign_checked"]


def test_files_without_start_join_only_sequentially(tmp_path: Path) -> None:
    a = _cycle_csv(tmp_path / "a.csv", 1.0)
    b = _cycle_csv(tmp_path / "b.csv", 1.0)
    with pytest.raises(ReadError, match="sequential"):
        read([a, b], columns=_MAP)
    joined = read([a, b], columns=_MAP, join="sequential")
    assert joined.n_rows == 400
    assert np.all(np.diff(joined.time_s) >= 0)
    assert joined.half_cycle.max() == 4


def test_unknown_column_map_keys_are_refused(tmp_path: Path) -> None:
    path = _cycle_csv(tmp_path / "a.csv", 1.0)
    with pytest.raises(ValidationError, match="temperature"):
        read(path, columns={**_MAP, "temperature": "T"})


def test_invert_current_is_recorded(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "cell.csv", [0, 1], [3, 3], [1e-3, 1e-3])
    cyc = read(path, columns=_MAP, invert_current=True)
    np.testing.assert_allclose(cyc.current_ma, -1.0)
    assert cyc.meta["current_inverted"] is True


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-1.5, 0.0, 2.0]), st.integers(1, 5)), min_size=1, max_size=8
    ),
    st.floats(2.0, 4.8),
)
def test_csv_roundtrip_keeps_every_value(blocks, v0: float) -> None:
    current = np.repeat([b[0] for b in blocks], [b[1] for b in blocks])
    n = current.size
    t = np.cumsum(np.full(n, 0.5))
    v = v0 + 0.001 * np.arange(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_csv(Path(tmp) / "c.csv", t, v, current / 1000.0)
        # an arbitrary voltage ramp: the physics check does not apply
        cyc = read(path, columns=_MAP, check_sign=False)
    np.testing.assert_allclose(cyc.time_s, t, rtol=1e-15)
    np.testing.assert_allclose(cyc.voltage_v, v, rtol=1e-15)
    np.testing.assert_allclose(cyc.current_ma, current, rtol=1e-12)
    assert set(np.unique(cyc.step_type)) <= {"charge", "discharge", "rest"}


def test_bad_options_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        read(tmp_path / "x.csv", repair=["guess"])
    with pytest.raises(ReadError, match="no such file"):
        read(tmp_path / "missing.csv")
    with pytest.raises(SpeciateError):
        Cycling({"time_s": [0.0]})


def test_arbin_csv_export_matches_its_own_columns(echem: Path) -> None:
    path = echem / "beep" / "FastCharge_000025_CH8.csv"
    cyc = read(path)
    ref = pd.read_csv(path)
    assert cyc.meta["vendor"] == "arbin" and cyc.n_rows == len(ref)
    np.testing.assert_allclose(cyc.time_s, ref["Test_Time"], rtol=1e-12)
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], rtol=1e-12)
    np.testing.assert_allclose(cyc.current_ma, ref["Current"] * 1000.0)
    np.testing.assert_allclose(cyc.charge_capacity_mah, ref["Charge_Capacity"] * 1000.0)
    # DateTime is epoch seconds of each row: the start is the first row minus its test time
    first = pd.to_datetime(ref["DateTime"].iloc[0], unit="s").to_datetime64()
    assert abs((cyc.absolute_time[0] - first) / np.timedelta64(1, "ms")) < 1
    # a formation rest: no current, so every row is rest
    assert np.all(cyc.step_type == "rest")


def test_neware_ndax_matches_newarenda_reference_columns(echem: Path) -> None:
    # the reference table came from an older NewareNDA that repeated the first record at
    # 0.1 s and wrote whole-second local timestamps: compare by record index
    cyc = read(echem / "NewareNDA" / "123456789012_Unit27_Example_Data_File.ndax")
    ref = pd.read_csv(echem / "NewareNDA" / "123456789012_Unit27_Example_Data_File_reference.csv")
    ref = ref.drop_duplicates("Index", keep="first")
    assert cyc.n_rows == len(ref)
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], atol=1e-6)
    np.testing.assert_allclose(cyc.current_ma, ref["Current(mA)"], atol=1e-6)
    np.testing.assert_allclose(cyc.time_s, ref["Time"], atol=1e-3)
    np.testing.assert_array_equal(cyc.step, ref["Step"])
    np.testing.assert_array_equal(cyc.cycle, ref["Cycle"])
    start = pd.Timestamp(ref["Timestamp"].iloc[0]).tz_convert("UTC").tz_localize(None)
    assert abs((cyc.start_time - start.to_datetime64()) / np.timedelta64(1, "s")) < 1.0
    assert np.all(cyc.step_type == "rest")


def test_recent_mpr_with_current_column_reads_without_derivation(echem: Path) -> None:
    # a 2023 EC-Lab modulo-bat file: I/mA is in the file, nothing derived
    cyc = read(echem / "navani" / "00_test_04_MB_C01.mpr")
    assert cyc.n_rows == 1501 and "derived" not in cyc.meta
    assert cyc.start_time == np.datetime64("2023-12-08T09:49:52.346")
    assert np.all(cyc.current_ma < 0) and np.all(cyc.step_type == "discharge")
    assert cyc.voltage_v.mean() == pytest.approx(-1.650, abs=1e-3)


@pytest.mark.parametrize(
    ("name", "keep"),
    [
        ("navani/test.ndax", 20_000),
        ("navani/arbin_example.res", 200_000),
        ("navani/arbin_example.res", 500_000),
    ],
)
def test_truncated_ndax_and_res_raise_instead_of_reading_part(
    echem: Path, tmp_path: Path, name: str, keep: int
) -> None:
    src = echem / name
    assert src.stat().st_size > keep
    bad = tmp_path / f"cut{src.suffix}"
    bad.write_bytes(src.read_bytes()[:keep])
    with pytest.raises(ReadError, match="complete") as info:
        read(bad)
    assert str(bad) in str(info.value)


def test_unknown_mpr_data_module_version_points_to_mpt(echem: Path, tmp_path: Path) -> None:
    raw = bytearray((echem / "navani" / "00_test_04_MB_C01.mpr").read_bytes())
    at = raw.find(b"VMP data  ")
    # module header: short name (10), long name (25), max length, length, version (u32 each)
    version = at + 10 + 25 + 4 + 4
    assert raw[version : version + 4] == b"\x00\x00\x00\x00"
    raw[version : version + 4] = (7).to_bytes(4, "little")
    bad = tmp_path / "future.mpr"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ReadError, match=r"version.*\.mpt") as info:
        read(bad)
    assert "7" in str(info.value)


def _mdb_export(path: Path, table: str) -> pd.DataFrame:
    text = subprocess.run(
        ["mdb-export", str(path), table], capture_output=True, text=True, check=True
    ).stdout
    return pd.read_csv(StringIO(text))


@pytest.mark.skipif(shutil.which("mdb-export") is None, reason="mdbtools not installed")
def test_arbin_res_access_parser_matches_mdb_export_row_for_row(echem: Path) -> None:
    pytest.importorskip("access_parser")
    from speciate.echem.arbin_res import res_tables

    path = echem / "navani" / "arbin_example.res"
    tables, reader = res_tables(path)
    assert reader == "access-parser"
    ours = tables["Channel_Normal_Table"].sort_values("Data_Point").reset_index(drop=True)
    ref = _mdb_export(path, "Channel_Normal_Table").sort_values("Data_Point")
    ref = ref.reset_index(drop=True)
    assert list(ours.columns) == list(ref.columns) and len(ours) == len(ref) == 2150
    for name in ref.columns:
        # mdb-export prints floats with limited digits; access-parser keeps the stored double
        np.testing.assert_allclose(
            ours[name].to_numpy(float), ref[name].to_numpy(float), rtol=1e-7, atol=1e-12
        )
    glob = _mdb_export(path, "Global_Table")
    assert tables["Global_Table"]["Start_DateTime"].iloc[0] == pytest.approx(
        glob["Start_DateTime"].iloc[0], abs=1e-6
    )


def _hide_mdb_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH without any directory holding mdb-export (python stays reachable by sys path)."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    keep = [d for d in keep if not (Path(d) / "mdb-export").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(keep) or str(tmp_path))
    assert shutil.which("mdb-export") is None


def test_arbin_res_reads_without_mdbtools_on_path(
    echem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("access_parser")
    _hide_mdb_export(monkeypatch, tmp_path)
    cyc = read(echem / "navani" / "arbin_example.res")
    assert cyc.meta["reader"] == "access-parser"
    assert cyc.n_rows == 2150
    assert cyc.start_time.astype("datetime64[D]") == np.datetime64("2023-07-24")
    # an LCO cell between 3.0 and 4.3 V, charged and discharged at constant current
    assert 2.9 < cyc.voltage_v.min() < cyc.voltage_v.max() < 4.31
    assert {"charge", "discharge"} <= set(np.unique(cyc.step_type))
    hc = half_cycle_summary(cyc)
    active = np.isfinite(hc.cycler_capacity_mah) & (hc.cycler_capacity_mah > 0.01)
    assert np.abs(hc.capacity_mah[active] / hc.cycler_capacity_mah[active] - 1).max() < 0.005


def test_arbin_res_without_either_backend_says_what_to_install(
    echem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide_mdb_export(monkeypatch, tmp_path)
    monkeypatch.setitem(sys.modules, "access_parser", None)
    with pytest.raises(ReadError, match="mdbtools") as info:
        read(echem / "navani" / "arbin_example.res")
    assert "access-parser is not installed" in str(info.value)


@pytest.mark.skipif(shutil.which("mdb-export") is None, reason="mdbtools not installed")
def test_arbin_res_falls_back_to_mdb_export(echem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "access_parser", None)
    path = echem / "navani" / "arbin_example.res"
    cyc = read(path)
    assert cyc.meta["reader"] == "mdbtools (mdb-export)"
    ref = _mdb_export(path, "Channel_Normal_Table").sort_values("Data_Point")
    np.testing.assert_allclose(cyc.voltage_v, ref["Voltage"], rtol=1e-12)


def test_truncated_res_names_the_page_size(echem: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.res"
    bad.write_bytes((echem / "navani" / "arbin_example.res").read_bytes()[:300_000])
    with pytest.raises(ReadError, match="4096-byte database pages"):
        read(bad)


def test_maccor_milli_unit_export_reads_mv_ma_and_duration_times(echem: Path) -> None:
    path = echem / "cellpy" / "maccor_three_trimmed.txt"
    with pytest.warns(UserWarning, match="'Volts' column is read as mV"):
        cyc = read(path)
    ref = pd.read_csv(path, sep="\t", skiprows=4, index_col=False)
    np.testing.assert_allclose(cyc.voltage_v, ref["Volts"] / 1000.0)
    np.testing.assert_allclose(cyc.current_ma, ref["mAmps"])
    assert "mV" in cyc.meta["voltage_unit_read"]
    # TestTime "2d 08:26:01.15" -> 2 days + 8 h 26 min 1.15 s
    row = int(np.flatnonzero(ref["Rec#"] == 2471)[0])
    assert cyc.time_s[row] == pytest.approx(2 * 86400 + 8 * 3600 + 26 * 60 + 1.15)
    on_discharge = ref["State"].to_numpy() == "D"
    np.testing.assert_allclose(
        cyc.discharge_capacity_mah[on_discharge], ref["mAmp-hr"][on_discharge]
    )
    assert np.all(cyc.charge_capacity_mah[on_discharge] == 0)
    assert cyc.start_time == np.datetime64("2021-08-23T18:04:18")
    assert set(np.unique(cyc.step_type)) == {"rest", "charge", "discharge"}


def test_pec_csv_export_reads_its_table_below_the_header(echem: Path) -> None:
    path = echem / "cellpy" / "Test25209_trimmed.csv"
    cyc = read(path)
    assert cyc.meta["vendor"] == "pec" and cyc.n_rows == 71
    lines = path.read_text().splitlines()
    first = lines[46].split(",")  # the first data row, below the "Test,Cell,..." header
    assert lines[45].startswith("Test,Cell,")
    assert cyc.voltage_v[0] == float(first[16]) and cyc.current_ma[0] == float(first[17]) * 1000
    last = lines[-1].split(",")
    h, m, s = last[9].split(":")
    assert cyc.time_s[-1] == pytest.approx(int(h) * 3600 + int(m) * 60 + float(s))
    assert cyc.discharge_capacity_mah[-1] == float(last[19])
    # Real Time of the first row minus its 0.002 s of test time
    assert cyc.start_time == np.datetime64("2026-01-09T15:08:37.998")
    assert cyc.meta["header_testregime_name"] == "OCV generic long HP"


def test_novonix_csv_export_reads_quoted_data_lines(echem: Path) -> None:
    path = echem / "beep" / "test_Nova_Form-CH01-01_trimmed.csv"
    cyc = read(path)
    assert cyc.meta["vendor"] == "novonix" and cyc.n_rows == 132
    lines = path.read_text(encoding="utf-8").splitlines()
    data = [ln.strip('"').split(",") for ln in lines[lines.index("[Data]") + 2 :]]
    np.testing.assert_allclose(cyc.time_s, [float(r[3]) * 3600 for r in data])
    np.testing.assert_allclose(cyc.voltage_v, [float(r[6]) for r in data])
    np.testing.assert_allclose(cyc.current_ma, [float(r[5]) * 1000 for r in data])
    np.testing.assert_allclose(cyc.charge_capacity_mah[-1], float(data[-1][7]) * 1000)
    # step type 8 is the CV hold of the CC-CV charge to 1.5 V (until its current fades
    # below the rest threshold, 0.1 % of the largest current)
    cv = np.array([r[2] == "8" for r in data]) & (cyc.current_ma > 1e-3 * cyc.current_ma.max())
    assert cv.sum() >= 3 and np.all(cyc.step_type[cv] == "cv_charge")
    assert cyc.start_time == np.datetime64("2022-04-11T10:58:07")


def test_maccor_procedure_xml_is_refused_clearly(echem: Path) -> None:
    with pytest.raises(ReadError, match="Maccor test procedure") as info:
        read(echem / "beep" / "xTESLADIAG_000003_CH68.000")
    assert "Rec#" in str(info.value)
    with pytest.raises(ReadError, match="Maccor test procedure"):
        read(echem / "beep" / "xTESLADIAG_000003_CH68.000", format="maccor")


def test_maccor_impedance_export_is_refused(tmp_path: Path) -> None:
    # no public Maccor EIS export could be bundled: a header of that kind
    path = tmp_path / "cell.EDA0001.041"
    path.write_text(
        "Today's Date 03/07/2018\tMaccor\nRec#\tCyc#\tStep\tFrequency (Hz)\tZ' (Ohm)\t"
        "Z'' (Ohm)\tPhase\n1\t0\t1\t1000.0\t0.02\t-0.001\t-2.8\n"
    )
    with pytest.raises(ReadError, match="impedance"):
        read(path)


def test_arbin_res_parser_warnings_are_not_ignored(
    echem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    access_parser = pytest.importorskip("access_parser")
    original = access_parser.AccessParser.parse_table

    def noisy(self, name):
        logging.getLogger("access_parser").error("Failed parsing record")
        return original(self, name)

    monkeypatch.setattr(access_parser.AccessParser, "parse_table", noisy)
    path = echem / "navani" / "arbin_example.res"
    if shutil.which("mdb-export") is not None:
        assert read(path).meta["reader"] == "mdbtools (mdb-export)"
    _hide_mdb_export(monkeypatch, tmp_path)
    with pytest.raises(ReadError, match="access-parser reported: Failed parsing record"):
        read(path)
