"""as_normalized: the one definition of normalized input and its NaN policy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from speciate import Series, ValidationError
from speciate.xanes import as_normalized, normalize


def _series(n: int = 3) -> Series:
    e = np.linspace(6350, 6800, 901)
    mu = 1 / (1 + np.exp(-(e - 6550) / 2.0))
    return Series(e, np.tile(mu, (n, 1)) + 0.01 * np.arange(n)[:, None])


def test_normresult_and_series_give_the_same_arrays():
    res = normalize(_series())
    a = as_normalized(res)
    b = as_normalized(res.to_series("norm"))
    np.testing.assert_array_equal(a.norm, b.norm)
    np.testing.assert_array_equal(a.e0, res.e0)
    assert as_normalized(res, "flat").array == "flat"


def test_nan_outside_a_measured_range_is_kept_but_empty_rows_and_inf_are_refused():
    res = normalize(_series())
    norm = res.norm.copy()
    norm[0, :20] = np.nan
    ok = as_normalized(dataclasses.replace(res, norm=norm))
    assert not ok.complete and ok.measured()[0, :20].sum() == 0
    norm[1] = np.nan
    with pytest.raises(ValidationError, match=r"\[1\] are NaN everywhere"):
        as_normalized(dataclasses.replace(res, norm=norm))
    norm[1] = 1.0
    norm[2, 5] = np.inf
    with pytest.raises(ValidationError, match=r"\[2\] hold inf"):
        as_normalized(dataclasses.replace(res, norm=norm))


def test_callers_arrays_stay_writeable():
    s = _series()
    mu = np.array(s.mu)
    view = as_normalized(Series(s.energy, mu))
    assert mu.flags.writeable and not view.norm.flags.writeable


def test_unknown_input_and_array_are_refused_with_what_was_found():
    with pytest.raises(ValidationError, match="got list"):
        as_normalized([1, 2, 3])
    with pytest.raises(ValidationError, match="array must be one of"):
        as_normalized(_series(), "chi")
