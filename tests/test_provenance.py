"""The provenance mechanism: call arguments bound, data summarized by shape and hash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from speciate import Series
from speciate.provenance import array_summary, records_provenance, summarize


@dataclass(frozen=True)
class _Result:
    value: float
    provenance: dict[str, Any] = field(default_factory=dict)


@records_provenance(name="speciate.tests.scale")
def _scale(series: Series, factor: float = 2.0, *, window=(0.0, 1.0)) -> _Result:
    return _Result(float(series.mu.sum() * factor), {"used": "everything"})


def test_decorated_call_records_bound_arguments_and_keeps_own_facts():
    s = Series(np.linspace(0, 1, 50), np.ones((3, 50)))
    res = _scale(s, window=(0.1, 0.9))
    rec = res.provenance
    assert rec["function"] == "speciate.tests.scale"
    assert rec["parameters"]["factor"] == 2.0
    assert rec["parameters"]["window"] == [0.1, 0.9]
    assert rec["parameters"]["series"]["type"] == "Series"
    assert rec["parameters"]["series"]["mu"]["shape"] == [3, 50]
    assert rec["used"] == "everything"
    # data are summarized, never dumped: the record stays small and JSON
    assert len(json.dumps(rec)) < 2000


def test_summary_hash_changes_with_content_and_not_with_identity():
    a = np.arange(100.0)
    b = a.copy()
    assert array_summary(a) == array_summary(b)
    b[50] += 1e-12
    assert array_summary(a)["blake2b"] != array_summary(b)["blake2b"]
    assert summarize(np.arange(3.0)) == [0.0, 1.0, 2.0]


def test_result_without_provenance_field_is_a_programming_error():
    @records_provenance
    def bad() -> int:
        return 1

    with pytest.raises(TypeError, match="no provenance field"):
        bad()


def test_large_arrays_are_hashed_on_a_recorded_sample():
    big = np.arange(1_000_000, dtype=float)  # 8 MB
    summary = array_summary(big)
    assert summary["shape"] == [1_000_000] and summary["hash_stride"] == 8
    changed = big.copy()
    changed[8 * 1000] += 1.0  # a sampled element
    assert array_summary(changed)["blake2b"] != summary["blake2b"]
    assert "hash_stride" not in array_summary(np.arange(1000.0))


def test_dataclass_arguments_and_long_texts_are_summarized():
    @dataclass(frozen=True)
    class Options:
        width: float
        grid: np.ndarray

    record = summarize({"opts": Options(1.5, np.linspace(0, 1, 100)), "text": "x" * 1000})
    assert record["opts"]["type"] == "Options" and record["opts"]["width"] == 1.5
    assert record["opts"]["grid"]["shape"] == [100]
    assert record["text"]["chars"] == 1000 and "blake2b" in record["text"]


def test_summaries_of_frozen_arrays_are_remembered_and_writeable_ones_rehashed():
    from speciate import provenance

    frozen = np.arange(1000.0)
    frozen.setflags(write=False)
    first = array_summary(frozen)
    assert id(frozen) in provenance._SUMMARIES
    assert array_summary(frozen) == first
    del frozen
    assert all(ref() is not None for ref, _ in provenance._SUMMARIES.values())
    live = np.arange(1000.0)
    before = array_summary(live)
    live[10] = -1.0
    assert array_summary(live)["blake2b"] != before["blake2b"]


def test_read_only_views_are_remembered_only_when_their_base_is_frozen_too():
    from speciate import provenance

    owner = np.arange(2000.0)
    owner.setflags(write=False)
    view = owner[::2]
    array_summary(view)
    assert id(view) in provenance._SUMMARIES
    # a read-only view of writeable memory can change under it: hashed every time
    live = np.arange(2000.0)
    window = live[::2]
    window.setflags(write=False)
    before = array_summary(window)
    assert id(window) not in provenance._SUMMARIES
    live[0] = -1.0
    assert array_summary(window)["blake2b"] != before["blake2b"]
