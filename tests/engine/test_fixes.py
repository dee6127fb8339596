"""The order detectors get rows in: first arrival of each message, by (vessel, time, arrival)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.fixes import vessel_time_order
from tests import reference as ref


def test_copies_of_a_message_are_kept_once_in_vessel_then_time_order() -> None:
    vid = np.array([1, 0, 1, 0, 1, 0])
    t = np.array([50, 20, 10, 20, 10, 10])
    keys = np.array([[1], [1], [7], [1], [7], [2]])  # row 3 repeats row 1, row 4 repeats row 2
    assert vessel_time_order(vid, t, keys).tolist() == [5, 1, 2, 0]


def test_same_time_different_key_keeps_arrival_order_and_empty_input() -> None:
    vid, t = np.zeros(3, np.int64), np.full(3, 5)
    assert vessel_time_order(vid, t, np.array([[3], [2], [1]])).tolist() == [0, 1, 2]
    assert vessel_time_order(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2))).tolist() == []
    with pytest.raises(ValueError, match="vessel ids"):
        vessel_time_order(np.array([-1]), np.array([0]), np.array([[0]]))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 2), st.integers(0, 1)), max_size=60))
def test_order_matches_the_reference(rows: list[tuple[int, int, int, int]]) -> None:
    vid = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    keys = np.array([r[2:] for r in rows], np.int64).reshape(len(rows), 2)
    want = ref.vessel_time_order(vid.tolist(), t.tolist(), keys.tolist())
    assert vessel_time_order(vid, t, keys).tolist() == want


@settings(deadline=None, max_examples=100)
@given(st.lists(st.floats(allow_nan=True), max_size=40), st.data())
def test_take_rows_is_fancy_indexing(values: list[float], data: st.DataObject) -> None:
    """Scattering each column to its rows' places gives ``col[rows]`` (floats with NaN, small ints, int64)."""
    from engine.fixes import take_rows

    n = len(values)
    rows = np.array(data.draw(st.permutations(range(n)))[: data.draw(st.integers(0, n))], np.int64)
    cols = [np.array(values, np.float64), (np.arange(n) % 7).astype(np.int8), np.arange(n, dtype=np.int64) * 3]
    for got, col in zip(take_rows(cols, rows, n), cols, strict=True):
        assert got.dtype == col.dtype
        assert np.array_equal(got, col[rows], equal_nan=col.dtype.kind == "f")
