"""Dense vessel ids: given in order of first appearance, stable, vectorised."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.fleet import VesselIndex
from tests import reference as ref


@settings(deadline=None)  # the first example compiles the hash kernel
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


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=4), st.integers(0, 2**31))
def test_ids_match_the_reference_while_the_table_grows(sizes: list[int], seed: int) -> None:
    """Batches of thousands of MMSIs, many new: the hash table is grown in the middle of a batch."""
    rng = np.random.default_rng(seed)
    batches = [rng.integers(200_000_000, 200_000_000 + 4 * n, n).tolist() for n in sizes]
    index = VesselIndex()
    got = [index.ids(np.array(b, np.int64)).tolist() for b in batches]
    assert got == ref.first_appearance_ids(batches)
    known = np.array(list(dict.fromkeys(m for b in batches for m in b)), np.int64)
    assert np.array_equal(index.lookup(known), np.arange(known.shape[0]))
