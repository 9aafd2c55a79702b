"""Per-pixel energy drift: measured on exspy's real low-loss spectrum, then removed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speciate.eels import SpectrumImage, correct_drift, edge_onset_positions, read, zlp_positions
from speciate.eels.drift import shift_rows
from speciate.eels.synthetic import mn_l23
from speciate.errors import ValidationError


@pytest.fixture(scope="module")
def low_loss() -> SpectrumImage:
    spec = importlib.util.find_spec("exspy")
    if spec is None or spec.origin is None:
        pytest.skip("exspy (test-only dependency) is not installed")
    return read(Path(spec.origin).parent / "tests" / "components" / "lowloss_spectrum.msa")


def _drifted(si: SpectrumImage, shifts: np.ndarray, margin: int = 10) -> SpectrumImage:
    d = si.dispersion
    rows = np.broadcast_to(si.data[0, 0], (shifts.size, si.n_energy))
    data = shift_rows(
        np.ascontiguousarray(rows), -shifts.ravel() / d, slice(margin, si.n_energy - margin)
    )
    return SpectrumImage(data.reshape(*shifts.shape, -1), si.energy[margin:-margin])


def test_zlp_positions_follow_known_shifts(low_loss):
    shifts = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 7))
    drifted = _drifted(low_loss, shifts)
    pos = zlp_positions(drifted)
    # sub-channel (0.2 eV channels) precision on the real, asymmetric zero-loss peak
    err = (pos - pos.mean()) - (shifts - shifts.mean())
    assert np.abs(err).max() < 0.06


def test_correct_drift_aligns_every_pixel(low_loss):
    shifts = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 5))
    drifted = _drifted(low_loss, shifts)
    fixed = correct_drift(drifted, zlp_positions(drifted), reference=0.0)
    pos = zlp_positions(fixed.image)
    assert np.ptp(pos) < 0.06
    assert abs(pos.mean()) < 0.06
    # the axis keeps only channels that every pixel covers
    assert fixed.image.energy[0] >= drifted.energy[0]
    assert fixed.image.energy[-1] <= drifted.energy[-1]
    assert fixed.image.meta["drift_correction"]["reference_eV"] == 0.0


def test_edge_onset_positions_track_a_shifted_mn_edge():
    energy = np.arange(620.0, 680.0, 0.1)
    edge = SpectrumImage(mn_l23(energy, 3), energy)
    shifts = np.linspace(-0.4, 0.4, 9).reshape(3, 3)
    moved = _drifted(edge, shifts)
    pos = edge_onset_positions(moved, (632.0, 646.0))
    np.testing.assert_allclose(pos - pos[1, 1], shifts - shifts[1, 1], atol=0.03)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(2, 6))
def test_zero_shift_is_the_identity(ny, nx):
    rng = np.random.default_rng(ny * 10 + nx)
    si = SpectrumImage(rng.uniform(1, 10, (ny, nx, 30)), np.arange(30.0))
    out = correct_drift(si, np.full((ny, nx), 3.0), reference=3.0)
    np.testing.assert_array_equal(out.image.data, si.data)
    np.testing.assert_array_equal(out.shifts, 0.0)


def test_bad_positions_raise():
    si = SpectrumImage(np.ones((2, 2, 20)), np.arange(20.0))
    with pytest.raises(ValidationError, match="pixel shape"):
        correct_drift(si, np.zeros((3, 2)))
    with pytest.raises(ValidationError, match="finite"):
        correct_drift(si, np.array([[0.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(ValidationError, match="no channel covered"):
        correct_drift(si, np.array([[0.0, 30.0], [0.0, 0.0]]), reference=0.0)
