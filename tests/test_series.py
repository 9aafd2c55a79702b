"""Series: validation at construction, selection, concat, xarray round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate import Series, ValidationError


def _series(n_s: int = 3, n_e: int = 20, **kw) -> Series:
    energy = np.linspace(6500.0, 6600.0, n_e)
    mu = np.arange(n_s)[:, None] + np.linspace(0, 1, n_e)[None, :]
    return Series(energy, mu, **kw)


def test_series_is_frozen_and_arrays_read_only():
    s = _series()
    with pytest.raises(AttributeError):
        s.mu = np.zeros((3, 20))
    with pytest.raises(ValueError):
        s.mu[0, 0] = 1.0
    assert s.labels == ("spectrum_0", "spectrum_1", "spectrum_2")


def test_validation_messages_name_the_problem():
    e = np.linspace(1, 2, 5)
    with pytest.raises(ValidationError, match="4 energy points per spectrum but energy has 5"):
        Series(e, np.zeros((2, 4)))
    with pytest.raises(ValidationError, match="NaN/inf"):
        Series(e, np.array([0, 1, np.nan, 2, 3.0]))
    with pytest.raises(ValidationError, match="from_unsorted"):
        Series(e[::-1], np.zeros(5))
    with pytest.raises(ValidationError, match="duplicate"):
        Series(np.array([1, 2, 2, 3, 4.0]), np.zeros(5))
    with pytest.raises(ValidationError, match=r"coordinate 'phase' must have shape \(1,\)"):
        Series(e, np.zeros(5), coords={"phase": ["a", "b"]})
    with pytest.raises(ValidationError, match="JSON"):
        Series(e, np.zeros(5), meta={"x": object()})


def test_from_unsorted_sorts_and_merges_explicitly():
    e = np.array([3.0, 1.0, 2.0, 2.0])
    mu = np.array([30.0, 10.0, 20.0, 22.0])
    with pytest.raises(ValidationError, match="repeated"):
        Series.from_unsorted(e, mu)
    s = Series.from_unsorted(e, mu, duplicates="mean")
    np.testing.assert_allclose(s.energy, [1, 2, 3])
    np.testing.assert_allclose(s.mu[0], [10, 21, 30])
    assert s.meta["sorting"] == {"sorted": True, "duplicates": "mean", "n_duplicate_points": 1}
    first = Series.from_unsorted(e, mu, duplicates="first")
    np.testing.assert_allclose(first.mu[0], [10, 20, 30])


def test_select_by_label_index_mask_carries_everything():
    s = _series(
        4,
        time=np.arange(4) * 10.0,
        reference=np.ones((4, 20)),
        coords={"phase": ["a", "b", "c", "d"], "radius": [1, 2, 3, 4]},
        labels=["w", "x", "y", "z"],
    )
    by_label = s.select(["y", "w"])
    assert by_label.labels == ("y", "w")
    np.testing.assert_array_equal(by_label.coords["radius"], [3, 1])
    np.testing.assert_array_equal(by_label.time, [20.0, 0.0])
    assert by_label.reference.shape == (2, 20)
    assert s.select(1).labels == ("x",)
    assert s.select(np.array([True, False, False, True])).labels == ("w", "z")
    with pytest.raises(ValidationError, match="no spectrum labelled"):
        s.select("nope")
    with pytest.raises(ValidationError, match="empty"):
        s.select(np.zeros(4, dtype=bool))


def test_window_and_concat_grids():
    a = _series(2)
    b = Series(np.linspace(6490, 6610, 31), np.ones((1, 31)))
    w = a.window(6520, 6560)
    assert w.energy.min() >= 6520 and w.energy.max() <= 6560
    with pytest.raises(ValidationError, match="different energy grid"):
        Series.concat([a, b])
    from speciate.series import GridTrimWarning

    with pytest.warns(GridTrimWarning, match="1 spectra trimmed"):
        joined = Series.concat([a, b], grid="first")
    assert joined.meta["concat"]["trimmed"][0]["cut_low_ev"] == pytest.approx(10.0)
    assert joined.n_spectra == 3
    np.testing.assert_allclose(joined.energy, a.energy)
    assert joined.meta["concat"]["interpolation"] == "linear"
    with pytest.warns(GridTrimWarning):
        union = Series.concat([a, b], grid="union")
    assert union.n_energy > a.n_energy
    np.testing.assert_allclose(union.mu[2], 1.0)


@settings(max_examples=30, deadline=None)
@given(
    n_s=st.integers(1, 5),
    n_e=st.integers(2, 30),
    seed=st.integers(0, 2**16),
    with_time=st.booleans(),
    with_ref=st.booleans(),
)
def test_xarray_round_trip_preserves_everything(n_s, n_e, seed, with_time, with_ref):
    rng = np.random.default_rng(seed)
    energy = np.cumsum(rng.uniform(0.1, 5.0, n_e)) + 6400
    s = Series(
        energy,
        rng.normal(size=(n_s, n_e)),
        labels=[f"s{i}" for i in range(n_s)],
        time=rng.uniform(0, 1e5, n_s) if with_time else None,
        reference=rng.normal(size=(n_s, n_e)) if with_ref else None,
        coords={"phase": [f"p{i}" for i in range(n_s)], "radius": rng.uniform(2, 7, n_s)},
        meta={"source": "synthetic", "nested": {"a": [1, 2]}},
    )
    back = Series.from_xarray(s.to_xarray())
    np.testing.assert_array_equal(back.energy, s.energy)
    np.testing.assert_array_equal(back.mu, s.mu)
    assert back.labels == s.labels
    assert dict(back.meta) == dict(s.meta)
    assert list(back.coords) == list(s.coords)
    np.testing.assert_array_equal(back.coords["radius"], s.coords["radius"])
    np.testing.assert_array_equal(back.coords["phase"], s.coords["phase"])
    if with_time:
        np.testing.assert_array_equal(back.time, s.time)
    if with_ref:
        np.testing.assert_array_equal(back.reference, s.reference)


def test_union_of_nearly_equal_grids_is_not_finer_than_its_inputs():
    from speciate.series import union_grid

    a = np.linspace(6500.0, 6600.0, 401)  # 0.25 eV
    b = a + 1e-4  # the same scan, recorded 0.1 meV apart
    c = np.linspace(6490.0, 6610.0, 121)  # 1 eV
    grid = union_grid([a, b, c])
    assert np.diff(grid).min() >= 0.25 * (1 - 1e-9)
    assert grid.size <= a.size
    assert grid[0] == pytest.approx(b[0]) and grid[-1] == pytest.approx(a[-1])


def test_union_grid_keeps_a_fine_edge_region_beside_coarse_scans():
    from speciate.series import union_grid

    edge_scan = np.concatenate(
        [np.arange(6500, 6530, 2.0), np.arange(6530, 6560, 0.2), np.arange(6560, 6700.1, 2.0)]
    )
    coarse = np.arange(6490.0, 6710.0, 1.0)
    grid = union_grid([edge_scan, coarse])
    steps = np.diff(grid)
    at_edge = (grid[:-1] > 6531) & (grid[:-1] < 6558)
    np.testing.assert_allclose(steps[at_edge], 0.2, atol=1e-9)
    assert steps[grid[:-1] > 6561].min() == pytest.approx(1.0)


def test_union_grid_keeps_edges_and_reports_trimmed_spectra(real_data):
    import warnings

    import speciate.io as sio
    from speciate.series import GridTrimWarning
    from speciate.xanes import find_e0

    path = real_data / "xanes" / "xraylarch" / "Mn.prj"
    groups = sio.read_groups(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stacked = sio.read_many(path, grid="union")
    notes = [w for w in caught if issubclass(w.category, GridTrimWarning)]
    assert len(notes) == 1 and "13 spectra trimmed" in str(notes[0].message)
    trimmed = stacked.meta["concat"]["trimmed"]
    assert {t["label"] for t in trimmed} == {g.labels[0] for g in groups} - {"MnOx"}
    finest = min(float(np.median(np.diff(g.energy))) for g in groups)
    steps = np.diff(stacked.energy)
    assert steps.min() >= 0.9 * finest  # was 1e-4 eV before thinning
    assert stacked.n_energy < 1.1 * (stacked.energy[-1] - stacked.energy[0]) / finest
    own = np.array([find_e0(g.energy, g.mu)[0] for g in groups])
    moved = np.abs(find_e0(stacked.energy, stacked.mu) - own)
    # an edge moves by less than one step of the coarser grid (its own or the stack's)
    own_step = np.array([np.median(np.diff(g.energy)) for g in groups])
    local = np.array([steps[np.searchsorted(stacked.energy, e) - 1] for e in own])
    assert (moved <= np.maximum(own_step, local) + 1e-9).all(), moved
    assert moved[[g.labels[0] for g in groups].index("MnO")] < 0.6  # 0.74 eV on 1e-4 eV steps


def test_concat_keeps_the_shared_edge_and_refuses_to_mix_edges():
    e = np.linspace(8300.0, 8400.0, 11)
    ni = Series(e, np.ones(11), labels=["a"], meta={"edge": {"element": "Ni", "edge": "K"}})
    bare = Series(e, np.ones(11), labels=["b"])
    stacked = Series.concat([bare, ni])
    assert stacked.meta["edge"] == {"element": "Ni", "edge": "K"}
    mn = Series(e, np.ones(11), labels=["c"], meta={"edge": "Mn-K"})
    with pytest.raises(ValidationError, match=r"different edges \(Ni K, Mn K\)"):
        Series.concat([ni, mn])
