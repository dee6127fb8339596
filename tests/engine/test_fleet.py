"""Dense vessel ids: given in order of first appearance, stable, vectorised."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.fleet import VesselIndex


@given(st.lists(st.lists(st.integers(0, 999_999_999), max_size=30), max_size=6))
def test_ids_follow_first_appearance_across_batches(batches: list[list[int]]) -> None:
    index = VesselIndex()
    seen: dict[int, int] = {}
    for batch in batches:
        ids = index.ids(np.array(batch, np.int64))
        for m, i in zip(batch, ids.tolist(), strict=True):
            seen.setdefault(m, len(seen))
            assert i == seen[m]
    assert index.size == len(seen)
    assert np.array_equal(index.mmsi, np.array(list(seen), np.int64).reshape(-1))
    restored = VesselIndex.from_state(index.state())
    probe = np.array([*seen, 5], np.int64)
    assert np.array_equal(restored.lookup(probe), index.lookup(probe))


def test_unknown_mmsi_has_no_id() -> None:
    index = VesselIndex()
    index.ids(np.array([574000001, 412000002]))
    assert index.lookup(np.array([412000002, 1])).tolist() == [1, -1]
