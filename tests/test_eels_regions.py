"""Region masks, region spectra and statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.eels import (
    SpectrumImage,
    box_mask,
    references_from_regions,
    region_spectra,
    region_statistics,
    shell_mask,
    size_masks,
    threshold_mask,
)
from speciate.errors import ValidationError


def _disk(n: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) < radius


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 9), st.integers(1, 10), st.integers(0, 11), st.integers(1, 12))
def test_box_mask_selects_the_box(y0, dy, x0, dx):
    y1, x1 = min(10, y0 + dy), min(12, x0 + dx)
    m = box_mask((10, 12), (y0, y1), (x0, x1))
    assert m.sum() == (y1 - y0) * (x1 - x0)
    assert m[y0, x0] and m[y1 - 1, x1 - 1]


def test_bad_box_and_mask_shapes_raise():
    with pytest.raises(ValidationError, match="inside the 10x12 image"):
        box_mask((10, 12), (5, 11), (0, 3))
    si = SpectrumImage(np.ones((4, 5, 6)), np.arange(6.0))
    with pytest.raises(ValidationError, match=r"shape \(4, 5\)"):
        region_spectra(si, {"a": np.ones((5, 4), bool)})


def test_threshold_mask_ignores_nan():
    v = np.array([[2.5, np.nan], [3.9, 3.1]])
    assert threshold_mask(v, below=3.25).tolist() == [[True, False], [False, True]]
    assert threshold_mask(v, above=3.0, below=3.5).tolist() == [[False, False], [False, True]]
    with pytest.raises(ValidationError):
        threshold_mask(v)


def test_shell_mask_is_the_outer_ring_of_a_disk():
    disk = _disk(31, 12)
    shell = shell_mask(disk, 3)
    core = disk & ~shell
    assert core.sum() > 0 and not (shell & core).any() and ((shell | core) == disk).all()
    # every shell pixel is within 3 px of the outside, every core pixel farther
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(disk)
    assert depth[shell].max() <= 3 and depth[core].min() > 3


def test_size_masks_split_particles_by_area():
    mask = np.zeros((20, 20), bool)
    mask[1:3, 1:3] = True  # 4 px
    mask[10:18, 10:18] = True  # 64 px
    parts = size_masks(mask, split_pixels=10)
    assert parts["small"].sum() == 4 and parts["large"].sum() == 64


def test_region_spectra_and_statistics_match_direct_numpy():
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 10, (6, 8, 15))
    si = SpectrumImage(data, np.arange(15.0))
    masks = {"left": box_mask((6, 8), (0, 6), (0, 3)), "right": box_mask((6, 8), (0, 6), (5, 8))}
    series = region_spectra(si, masks)
    np.testing.assert_allclose(series.mu[0], data[:, :3].reshape(-1, 15).mean(axis=0))
    assert series.labels == ("left", "right") and series.coords["n_pixels"].tolist() == [18, 18]
    values = rng.normal(3, 0.5, (6, 8))
    values[0, 0] = np.nan
    stats = region_statistics(values, masks)
    left = values[:, :3].ravel()
    left = left[np.isfinite(left)]
    assert stats.n_pixels[0] == 17
    assert stats.mean[0] == pytest.approx(left.mean()) and stats.std[0] == pytest.approx(left.std())
    assert "left: valence" in stats.report("valence")
    refs = references_from_regions(si, masks, valences={"left": 2.0, "right": 4.0})
    assert refs.coords["valence"].tolist() == [2.0, 4.0]
    with pytest.raises(ValidationError, match="missing for regions"):
        references_from_regions(si, masks, valences={"left": 2.0})
