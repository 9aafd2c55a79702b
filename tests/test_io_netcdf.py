"""NetCDF written by speciate reads back through speciate.io.read with everything."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import speciate.io as sio
from speciate import Series
from speciate.errors import ReadError


def _assert_same(a: Series, b: Series) -> None:
    np.testing.assert_array_equal(a.energy, b.energy)
    np.testing.assert_array_equal(a.mu, b.mu)
    assert a.labels == b.labels
    if a.reference is None:
        assert b.reference is None
    else:
        np.testing.assert_array_equal(a.reference, b.reference)
    if a.time is None:
        assert b.time is None
    else:
        np.testing.assert_array_equal(a.time, b.time)
    assert set(a.coords) == set(b.coords)
    for name in a.coords:
        np.testing.assert_array_equal(a.coords[name], b.coords[name])
    meta_a, meta_b = dict(a.meta), dict(b.meta)
    prov_a, prov_b = meta_a.pop("provenance", None), meta_b.pop("provenance", None)
    assert meta_a == meta_b
    # reading records its own call; the stored record of how the data were made is kept
    if prov_a is not None:
        assert prov_b["function"] == "speciate.io.read"
        assert prov_b["stored"] == prov_a


def test_real_series_round_trips_through_netcdf(real_data, tmp_path):
    folder = real_data / "operando" / "perex_LNO_NiK" / "XAS_normalized"
    s = sio.read_many(sorted(folder.glob("*.txt"))[:4])
    path = tmp_path / "op2.nc"
    s.to_netcdf(path)
    assert sio.detect_format(path).name == "netcdf"
    back = sio.read(path)
    _assert_same(s, back)


@settings(max_examples=25, deadline=None)
@given(
    n_s=st.integers(1, 4),
    n_e=st.integers(2, 30),
    seed=st.integers(0, 2**32 - 1),
    with_ref=st.booleans(),
    with_time=st.booleans(),
    label=st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=("Cs",)),
        max_size=8,
    ),
)
def test_netcdf_round_trip_preserves_everything(
    tmp_path_factory, n_s, n_e, seed, with_ref, with_time, label
):
    rng = np.random.default_rng(seed)
    energy = 6500 + np.cumsum(rng.uniform(0.1, 5.0, n_e))
    series = Series(
        energy,
        rng.normal(size=(n_s, n_e)),
        labels=tuple(f"{label}{i}" for i in range(n_s)),
        reference=rng.normal(size=(n_s, n_e)) if with_ref else None,
        time=np.datetime64("2022-07-26T23:01:58.055") + np.arange(n_s) * np.timedelta64(687, "s")
        if with_time
        else None,
        coords={"voltage": rng.uniform(3, 4.3, n_s), "phase": np.array(["a"] * n_s)},
        meta={"source": {"name": label}, "n": n_s},
    )
    path = tmp_path_factory.mktemp("nc") / "s.nc"
    series.to_netcdf(path)
    _assert_same(series, sio.read(path))


def test_column_options_do_not_apply_to_netcdf(tmp_path):
    path = tmp_path / "s.nc"
    Series(np.arange(5.0) + 6500, np.ones(5)).to_netcdf(path)
    with pytest.raises(ReadError, match="do not apply"):
        sio.read(path, mu="mu")


def test_foreign_netcdf_is_refused(tmp_path):
    import xarray as xr

    path = tmp_path / "other.nc"
    xr.Dataset({"t": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ReadError, match="written by speciate"):
        sio.read(path)


def test_truncated_netcdf_raises(tmp_path):
    path = tmp_path / "s.nc"
    Series(np.arange(50.0) + 6500, np.ones(50)).to_netcdf(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ReadError, match="NetCDF"):
        sio.read(path)
