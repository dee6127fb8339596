"""identity_conflict from two simultaneous tracks: the kernel against its reference, and on simulated data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.common import KM_PER_NM, US_PER_S
from engine.detectors.twin_tracks import (
    B_T,
    LAST,
    N_STATE,
    START,
    SWITCHES,
    TwinSettings,
    TwinTrackDetector,
    twin_tracks,
)
from seawatch.simulator.scenario import SimConfig, simulate
from tests import reference as ref
from tests.engine.detectors.scenario_run import label_frame, random_cuts, recall, run

S = TwinSettings()


def _kernel(fixes: list[tuple[int, int, float, float]]) -> list[tuple[int, int, int, int]]:
    n_v = max((f[0] for f in fixes), default=0) + 1
    state = np.full((n_v, N_STATE), np.nan)
    a = np.array(fixes, np.float64).reshape(-1, 4)
    closed = twin_tracks(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3], state, S)
    out = [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in closed]
    for v in range(n_v):
        s = state[v]
        if not np.isnan(s[B_T]) and s[SWITCHES] >= S.min_switches:
            out.append((v, int(s[START]), int(s[LAST]), int(s[SWITCHES])))
    return out


def _ref(fixes: list[tuple[int, int, float, float]]) -> list[tuple[int, int, int, int]]:
    return ref.twin_track_episodes(fixes, S.max_speed_kn * KM_PER_NM, S.jitter_km, S.stale_s * US_PER_S,
                                   S.min_switches)  # fmt: skip


def test_two_transmitters_alternating() -> None:
    m = 60 * US_PER_S
    fixes = [(0, k * m, 20.0 + (0.0 if k % 2 else 1.0) + k * 1e-4, 108.0) for k in range(12)]  # 111 km apart
    got = _kernel(fixes)
    assert got == _ref(fixes)
    assert len(got) == 1 and got[0][3] == 11


def test_edges_one_fix_nan_one_jump_and_slow_vessel() -> None:
    m = 60 * US_PER_S
    assert _kernel([(0, 0, 20.0, 108.0)]) == _ref([(0, 0, 20.0, 108.0)]) == []
    nan = [(0, k * m, np.nan, 108.0) for k in range(5)]
    assert _kernel(nan) == _ref(nan) == []
    jump = [(0, k * m, 20.0 + (2.0 if k == 5 else 0.0), 108.0) for k in range(10)]  # one spoofed fix
    assert _kernel(jump) == _ref(jump) == []
    slow = [(0, k * m, 20.0 + k * 0.002, 108.0) for k in range(30)]  # 13 kn: one track
    assert _kernel(slow) == _ref(slow) == []
    same_time = [(0, (k // 2) * m, 20.0 + (k % 2), 108.0) for k in range(12)]  # duplicate timestamps
    assert _kernel(same_time) == _ref(same_time)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 600), st.sampled_from([0.0, 0.005, 1.0, 1.5]),
                          st.floats(-0.01, 0.01)), max_size=80))  # fmt: skip
def test_kernel_matches_reference(raw: list[tuple[int, int, float, float]]) -> None:
    fixes = sorted(((v, m * 60 * US_PER_S, 20.0 + c + j, 108.0 + j) for v, m, c, j in raw), key=lambda f: f[:2])
    assert _kernel(fixes) == _ref(fixes)


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return simulate(SimConfig(hours=8, vessels=80, seed=11, injections_per_day=9))


@pytest.fixture(scope="module")
def whole(scenario) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return run(scenario.feed, lambda: [TwinTrackDetector()])


def test_simulated_conflicts_are_found(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    labels = label_frame(scenario.labels, scenario.cfg.epoch)
    got, missed = recall(whole, labels, "identity_conflict")
    assert got >= 0.6, missed
    conflicted = set(labels.filter(pl.col("kind") == "identity_conflict")["mmsi"])
    assert set(whole["mmsi"]) <= conflicted


@pytest.mark.parametrize("seed", [5, 6])
def test_stream_equals_batch(scenario, whole: pl.DataFrame, seed: int) -> None:  # type: ignore[no-untyped-def]
    cut = run(scenario.feed, lambda: [TwinTrackDetector()], random_cuts(len(scenario.feed), seed, 200))
    assert whole.height > 0
    assert cut.equals(whole)
