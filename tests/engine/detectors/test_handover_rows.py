"""The handover detector's look-up of every vessel's latest fix at a new vessel's first (engine/detectors/handover.py;
its behaviour is tested in test_handover.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.handover import _key, latest_rows
from tests import reference as ref


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=8), min_size=1, max_size=5),
       st.lists(st.integers(-5, 60), max_size=6), st.integers(0, 2000))  # fmt: skip
def test_latest_rows_match_searchsorted_and_the_reference(
    runs: list[list[int]], queries: list[int], first: int
) -> None:
    vids = np.arange(first, first + len(runs), dtype=np.int64)
    t_s = np.concatenate([np.sort(np.array(r, np.float64)) for r in runs] + [np.zeros(0)]) + 1.7e9 + 0.25
    starts = np.concatenate([[0], np.cumsum([len(r) for r in runs])]).astype(np.int64)
    vid = np.repeat(vids, np.diff(starts))
    q_t = np.array(queries, np.float64) + 1.7e9
    got = latest_rows(vids, t_s, starts, q_t)
    assert got.tolist() == ref.latest_rows(vids.tolist(), t_s.tolist(), starts.tolist(), q_t.tolist())
    for q, t1 in enumerate(q_t.tolist()):  # what the detector computed before: searchsorted on the float keys
        j = np.searchsorted(_key(vid, t_s), _key(vids, np.full(vids.shape[0], t1)), side="right") - 1
        assert np.array_equal(np.where(j >= starts[:-1], j, starts[:-1] - 1), got[q])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(0, 5000)),
            st.booleans(),
            st.one_of(
                st.none(),
                st.tuples(
                    st.floats(20.0, 20.2),
                    st.floats(107.0, 107.2),
                    st.floats(0, 5000),
                    st.one_of(st.just(math.nan), st.floats(0, 30)),
                    st.one_of(st.just(math.nan), st.floats(0, 359)),
                ),  # fmt: skip
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    st.floats(0, 359),
)
def test_candidates_match_the_reference(vessels: list, cog1: float) -> None:
    """Vessels whose latest fix is carried from earlier steps, or is in this step (at or before t1, or after it)."""
    from engine.detectors.handover import _candidates

    t1, lat1, lon1, v = 4000.0, 20.1, 107.1, 0
    n = len(vessels)
    last, sog, cog = np.full((n, 3), np.nan), np.full(n, np.nan), np.full(n, np.nan)
    first_t = np.zeros(n, np.int64)
    ship = np.array([s for _, s, _, _ in vessels], np.bool_)
    rows: list[tuple[int, tuple]] = []  # this step's fixes: (vessel, fix)
    for u, (first, _, fix, in_step) in enumerate(vessels):
        if first is not None:
            first_t[u] = int(first * 1e6) + 1  # whole µs, never 0 (0 is "never heard")
        if fix is not None and in_step:
            rows.append((u, fix))
        elif fix is not None:
            last[u], sog[u], cog[u] = fix[:3], fix[3], fix[4]
    vids = np.array([u for u, _ in rows], np.int64)
    fx = np.array([f for _, f in rows], np.float64).reshape(-1, 5)
    starts = np.arange(len(rows) + 1, dtype=np.int64)
    latest = np.where(fx[:, 2] <= t1, starts[:-1], starts[:-1] - 1) if len(rows) else np.zeros(0, np.int64)
    got = _candidates(last, sog, cog, first_t, ship, vids, starts, latest, fx[:, 0].copy(), fx[:, 1].copy(),
                      fx[:, 3].copy(), fx[:, 4].copy(), fx[:, 2].copy(), v, t1, lat1, lon1, cog1, 600.0, 7200.0, 3.0,
                      120.0)  # fmt: skip
    fleet = []
    for u in range(n):
        step_fix = [f for w, f in rows if w == u and f[2] <= t1]
        fix = step_fix[0] if step_fix else (None if np.isnan(last[u, 2]) else (*last[u], sog[u], cog[u]))
        fleet.append((first_t[u] / 1e6 if first_t[u] else None, bool(ship[u]), fix))
    want = ref.handover_candidates(fleet, t1, lat1, lon1, cog1, v, 600.0, 7200.0, 3.0, 120.0)
    assert [(int(a), b, c, d, k, g) for a, b, c, d, k, g in zip(*(x.tolist() for x in got), strict=True)] == [
        (u, t, pytest.approx(km, abs=1e-9), pytest.approx(miss, abs=1e-6, nan_ok=True), pytest.approx(kn, nan_ok=True),
         pytest.approx(cog, nan_ok=True))
        for u, t, km, miss, kn, cog in want
    ]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(*(st.integers(-1, 99) for _ in range(2)),
       *(st.one_of(st.just(math.nan), st.floats(5, 300)) for _ in range(4)),
       st.one_of(st.just(math.nan), st.floats(0, 50)), st.floats(0, 40),
       st.one_of(st.just(math.nan), st.floats(0, 180)))  # fmt: skip
def test_hull_verdict_matches_the_reference(ka: int, kb: int, la: float, ba: float, lb: float, bb: float,
                                            miss: float, sailed: float, turn: float) -> None:  # fmt: skip
    from engine.detectors.handover import HandoverSettings, hull_verdict, type_group

    s = HandoverSettings()
    ga, gb = type_group(np.array([ka, kb]))
    got = hull_verdict(np.array([ga]), np.array([gb]), np.array([[la, ba]]), np.array([[lb, bb]]), np.array([miss]),
                       np.array([sailed]), np.array([turn]), s)  # fmt: skip
    assert int(got[0]) == ref.hull_verdict(int(ga), int(gb), (la, ba), (lb, bb), miss, sailed, turn, s)


def test_type_groups() -> None:
    from engine.detectors.handover import type_group

    got = type_group(np.array([0, 19, 30, 36, 52, 57, 70, 79, 80, 84, 99, 100, -1])).tolist()
    assert got == [-1, -1, 30, 36, 52, 59, 70, 70, 80, 80, 90, -1, -1]
