"""Track segmentation and motion features against the plain reference (tests/reference.py)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.track import MAX_SEGMENTS, NO_SEG, SegmentSettings, Tracker
from engine.fixes import Fixes
from tests import reference as ref

S = SegmentSettings()
T0 = 1_717_200_000_000_000


def fixes(vid, t_s, lat, lon, sog=None, cog=None, heading=None) -> Fixes:  # noqa: ANN001 - test data
    n = len(vid)

    def col(x, fill: float) -> np.ndarray:  # noqa: ANN001
        return np.full(n, fill) if x is None else np.asarray(x, np.float64)

    return Fixes(
        vid=np.asarray(vid, np.int64),
        mmsi=200_000_000 + np.asarray(vid, np.int64),
        t_us=T0 + (np.asarray(t_s, np.float64) * 1e6).astype(np.int64),
        arrival=np.arange(n, dtype=np.int64),
        lat=col(lat, np.nan),
        lon=col(lon, np.nan),
        sog=col(sog, np.nan),
        cog=col(cog, np.nan),
        heading=col(heading, np.nan),
        nav_status=np.full(n, -1, np.int8),
        msg_type=np.ones(n, np.int8),
        class_b=np.zeros(n, np.bool_),
    )


def reference(f: Fixes) -> list[tuple]:
    rows = zip(f.vid.tolist(), f.t_us.tolist(), f.lat.tolist(), f.lon.tolist(), f.sog.tolist(), f.cog.tolist(),
               strict=True)  # fmt: skip
    return ref.segments(rows, S.max_speed_kn, S.noise_km, int(S.max_gap_h * 3.6e9), MAX_SEGMENTS)


def check(f: Fixes, chunks: tuple[int, ...] = ()) -> None:
    """Kernel = reference, in one step and cut into steps at ``chunks`` (state carried between them)."""
    want = reference(f)
    for cuts in ((), chunks):
        tracker = Tracker(S)
        edges = [0, *sorted({c % (len(f) + 1) for c in cuts}), len(f)]
        got = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            part = tracker.update(f.take(np.arange(a, b)), int(f.vid.max()) + 1 if len(f) else 0)
            got += list(zip(part.seg.tolist(), part.implied_kn.tolist(), part.jump_kn.tolist(),
                            part.new_seg.tolist(), strict=True))  # fmt: skip
        assert [g[0] for g in got] == [w[0] for w in want]
        assert [g[3] for g in got] == [w[3] for w in want]
        for g, w in zip(got, want, strict=True):
            for x, y in ((g[1], w[1]), (g[2], w[2])):
                assert (math.isnan(x) and math.isnan(y)) or x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def test_one_ping_and_nan_positions() -> None:
    f = fixes([0, 1, 1], [0, 0, 60], [20.0, np.nan, 20.0], [107.0, 107.0, 107.0])
    feats = Tracker(S).update(f, 2)
    assert feats.seg.tolist() == [0, NO_SEG, 0]
    assert math.isnan(feats.implied_kn[0]) and math.isnan(feats.jump_kn[0])
    check(f)


def test_steady_track_is_one_segment_with_its_speed() -> None:
    t = np.arange(0, 3600, 60.0)
    lat = 20.0 + t * (10 * 1.852 / 3600) / 111.195  # 10 kn due north
    f = fixes(np.zeros(t.size), t, lat, np.full(t.size, 107.0), np.full(t.size, 10.0), np.zeros(t.size))
    feats = Tracker(S).update(f, 1)
    assert set(feats.seg.tolist()) == {0}
    assert np.allclose(feats.implied_kn[1:], 10.0, rtol=1e-3)
    assert np.allclose(feats.course[1:], 0.0, atol=1e-6)
    assert np.allclose(feats.turn[2:], 0.0, atol=1e-6)
    check(f, (7, 30))


def test_a_jump_opens_a_segment_and_the_track_resumes() -> None:
    lat = [20.0, 20.001, 21.0, 21.0005, 20.003]  # away 110 km in a minute, then back on the first track
    f = fixes(np.zeros(5), [0, 30, 60, 90, 120], lat, np.full(5, 107.0), np.full(5, 0.5), np.zeros(5))
    feats = Tracker(S).update(f, 1)
    assert feats.seg.tolist() == [0, 0, 1, 1, 0]
    assert feats.new_seg.tolist() == [True, False, True, False, False]
    assert feats.jump_kn[2] > 3000
    check(f, (3,))


def test_duplicate_timestamps_and_zero_speed() -> None:
    f = fixes(np.zeros(4), [0, 0, 0, 60], [20.0, 20.0, 20.5, 20.0], [107.0] * 4, [0.0] * 4, [np.nan] * 4)
    feats = Tracker(S).update(f, 1)
    assert feats.seg.tolist() == [0, 0, 1, 0]
    assert math.isinf(feats.jump_kn[2])
    check(f)


def test_antimeridian_is_a_short_step() -> None:
    f = fixes([0, 0], [0, 600], [0.0, 0.0], [179.99, -179.99], [5.0, 5.0], [90.0, 90.0])
    feats = Tracker(S).update(f, 1)
    assert feats.seg.tolist() == [0, 0]
    assert feats.implied_kn[1] < 15
    check(f)


def test_drift_flag_follows_amsa() -> None:
    f = fixes([0] * 4, [0, 60, 120, 180], [20.0] * 4, [107.0] * 4, [1.0, 1.0, 0.1, 1.0], [0.0] * 4,
              heading=[90.0, 30.0, 90.0, 225.0])  # fmt: skip
    assert Tracker(S).update(f, 1).drift.tolist() == [True, False, False, True]


@st.composite
def tracks(draw: st.DrawFn) -> Fixes:
    n = draw(st.integers(1, 40))
    vid = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    dt = draw(st.lists(st.sampled_from([0.0, 10.0, 30.0, 600.0, 7200.0, 100_000.0]), min_size=n, max_size=n))
    t = np.cumsum(dt)
    lat = draw(st.lists(st.one_of(st.just(np.nan), st.floats(-0.05, 0.05), st.floats(-3, 3)), min_size=n, max_size=n))
    lon = draw(st.lists(st.one_of(st.floats(179.9, 180.0), st.floats(-180.0, -179.9)), min_size=n, max_size=n))
    sog = draw(st.lists(st.one_of(st.just(np.nan), st.floats(0, 60)), min_size=n, max_size=n))
    cog = draw(st.lists(st.one_of(st.just(np.nan), st.floats(0, 359.9)), min_size=n, max_size=n))
    return fixes(vid, t, lat, lon, sog, cog)


@settings(max_examples=150, deadline=None)
@given(tracks(), st.lists(st.integers(0, 40), max_size=4))
def test_kernel_matches_reference(f: Fixes, cuts: list[int]) -> None:
    check(f, tuple(cuts))


@settings(max_examples=100, deadline=None)
@given(tracks())
def test_segments_only_gives_the_same_segments_and_jumps(f: Fixes) -> None:
    """Without features the kernel skips speeds, courses and drift, and still segments and measures jumps alike."""
    full = Tracker(S).update(f, int(f.vid.max()) + 1 if len(f) else 0)
    lean = Tracker(S).update(f, int(f.vid.max()) + 1 if len(f) else 0, features=False)
    for name in ("seg", "new_seg", "prev_seg"):
        assert np.array_equal(getattr(lean, name), getattr(full, name))
    for name in ("jump_kn", "jump_km"):
        assert np.array_equal(getattr(lean, name), getattr(full, name), equal_nan=True)
    assert np.isnan(lean.implied_kn).all() and np.isnan(lean.course).all() and not lean.drift.any()
