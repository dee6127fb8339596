"""Receiving stations: outages found from synthetic traffic (every copy counted), none for a quiet or a steady
station, the same outages whatever the chunking, snapshot and restore, and the per-vessel coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.gaps import GapDetector
from engine.detectors.stations import StationMonitor, StationSettings, _cover_walk, _per_bucket
from engine.runner import Engine
from tests.engine.detectors.scenario import empty_tables
from tests.engine.detectors.stations_scene import BOTH, TARGET, at, chunked, day


def run(table: pl.DataFrame, stations: StationSettings | None = None) -> Engine:
    engine = Engine([GapDetector(stations=stations)])
    engine.process(table, *empty_tables())
    engine.finish()
    return engine


def test_a_busy_station_that_hears_nothing_is_down_until_it_hears_again() -> None:
    d = day()
    out = run(d.table).outages()
    assert out.height == 1
    row = out.row(0, named=True)
    assert row["station"] == "A"
    assert row["start"] == at(d.last_s)[0]  # its last message before the silence
    assert row["end"] == at(d.back_s)[0]  # its first message after
    a_per_bucket = 10 * (1 + 6 + len(BOTH))  # target, six A-only vessels, two heard by both: one a minute each
    assert row["usual_per_10min"] == pytest.approx(a_per_bucket)
    assert row["heard"] == 0


def test_station_b_and_a_steady_day_have_no_outage() -> None:
    assert run(day(down=None).table).outages().height == 0


def test_a_station_below_the_busy_bar_never_has_an_outage() -> None:
    d = day()
    assert run(d.table, StationSettings(busy_messages=200.0)).outages().height == 0


def test_an_outage_still_going_at_the_end_has_no_end() -> None:
    d = day(down=(4.0, 13.0))  # A never comes back within the 12 h
    out = run(d.table).outages()
    assert out.height == 1
    assert out["end"].is_null().all()
    status = run(d.table).detectors[0].stations.table()  # type: ignore[attr-defined]
    a = status.filter(pl.col("station") == "A").row(0, named=True)
    assert a["down"] and a["outages_24h"] == 1 and a["current_per_10min"] == 0


def test_sources_without_a_name_are_no_station() -> None:
    table = day().table.with_columns(pl.lit(None, pl.String).alias("source"))
    engine = run(table)
    assert engine.outages().height == 0
    assert engine.detectors[0].stations.names == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_equals_batch_for_the_outages(seed: int) -> None:
    d = day(target_silent_h=3.0)
    batch = chunked(d.table, lambda: [GapDetector()], 1, 0)
    stream = chunked(d.table, lambda: [GapDetector()], 37, seed)
    assert batch.outages().height == 1
    assert stream.outages().equals(batch.outages())
    assert stream.alerts().equals(batch.alerts())


def test_snapshot_and_restore_keep_the_stations(tmp_path: Path) -> None:
    d = day(target_silent_h=3.0)
    half = d.table.height // 2
    engine = Engine([GapDetector()])
    engine.process(d.table[:half], *empty_tables())
    engine.snapshot(tmp_path / "snap")
    again = Engine.restore(tmp_path / "snap", [GapDetector()])
    again.process(d.table[half:], *empty_tables())
    again.finish()
    whole = run(d.table)
    assert again.outages().equals(whole.outages())
    assert again.alerts().equals(whole.alerts())


def test_coverage_is_the_stations_that_heard_the_vessel_before_it_fell_silent() -> None:
    d = day(target_silent_h=3.0)
    engine = Engine([GapDetector()])
    monitor: StationMonitor = engine.detectors[0].stations  # type: ignore[attr-defined]
    before = pl.col("t") < at(3 * 3600.0)[0]
    engine.process(d.table.filter(before), *empty_tables())
    target, both = (int(np.flatnonzero(engine.fleet.mmsi == m)[0]) for m in (TARGET, BOTH[0]))
    assert monitor.covered_by(target, int(monitor.last_t[target])) == ("A",)
    assert set(monitor.covered_by(both, int(monitor.last_t[both]))) == {"A", "B"}
    # 2.5 h into A's outage, only B has heard the vessel both stations used to hear
    engine.process(d.table.filter(~before & (pl.col("t") < at(d.down[1] * 3600 - 60)[0])), *empty_tables())
    assert monitor.covered_by(both, int(monitor.last_t[both])) == ("B",)


@pytest.mark.parametrize("spread_s", [3600, 10**9])  # a day's traffic, and a clock gone decades wrong
def test_messages_per_station_and_bucket_are_counted_with_their_first_and_last_time(spread_s: int) -> None:
    rng = np.random.default_rng(spread_s)
    sid = rng.integers(0, 4, 500)
    t = rng.integers(1_717_200_000, 1_717_200_000 + spread_s, 500) * 1_000_000
    want: dict[tuple[int, int], list[int]] = {}
    for s, x in zip(sid.tolist(), t.tolist(), strict=True):
        n, lo, hi = want.get((s, x // 600_000_000), [0, x, x])
        want[(s, x // 600_000_000)] = [n + 1, min(lo, x), max(hi, x)]
    got = {(s, b): [n, lo, hi] for s, b, n, lo, hi in zip(*_per_bucket(sid, t, 600_000_000), strict=True)}
    assert got == want


def test_station_ids_follow_the_names_as_they_come_and_empty_names_are_no_station() -> None:
    monitor = StationMonitor()
    first = monitor._station_ids(pl.Series(["B", None, "A", "", "B"]))
    second = monitor._station_ids(pl.Series(["C", "A", "", None]))
    assert first.tolist() == [1, -1, 0, -1, 1] and second.tolist() == [2, 0, -1, -1]
    assert monitor.names == ["A", "B", "C"] and monitor.ring.shape[0] == 3


def test_every_silence_of_a_walk_is_reported_however_many() -> None:
    n = 100  # more silences than the walk first makes room for
    vid, t = np.repeat(np.arange(n), 2), np.tile([0, 10_000], n).astype(np.int64)
    none = np.full((n, 8), -1, np.int64)
    v, t0, stations = _cover_walk(vid, t, np.tile([0, 1], n), np.ones(2 * n, np.bool_), np.full(n, -1, np.int64),
                                  none.copy(), none.copy(), 5_000, 100)  # fmt: skip
    assert v.tolist() == list(range(n)) and (t0 == 0).all()
    assert stations.tolist() == [[0, -1, -1, -1, -1, -1, -1, -1]] * n


def test_the_walk_takes_each_vessel_in_time_order_whatever_order_the_copies_come_in() -> None:
    rng = np.random.default_rng(7)
    n, n_v = 400, 6
    vid, t = rng.integers(0, n_v, n), rng.integers(0, 1500, n) * 600_000_000  # silences of 2 h and more, copies
    sid, has_pos = rng.integers(-1, 3, n), rng.random(n) > 0.1

    def walk(rows: np.ndarray) -> tuple[list, list, list]:
        state = np.full(n_v, -1, np.int64), np.full((n_v, 8), -1, np.int64), np.full((n_v, 8), -1, np.int64)
        got = _cover_walk(vid[rows], t[rows], sid[rows], has_pos[rows], *state, 7_200_000_000, 1_800_000_000)
        return [x.tolist() for x in got]  # type: ignore[return-value]

    by_vessel_time = np.lexsort((t, vid))  # equal times keep the given order, as the walk does
    assert walk(np.arange(n)) == walk(by_vessel_time)
    assert len(walk(np.arange(n))[0]) > 5


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(-1, 11), st.booleans()), max_size=80),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(-1, 11), st.booleans()), max_size=80),
       st.integers(1, 8))  # fmt: skip
def test_the_walk_matches_the_reference(first: list, second: list, k_slots: int) -> None:
    """Two walks in a row (the state carried between steps) against the plain row-by-row walk: silences, their
    stations, and the slots; up to 12 stations for as few as one slot, so slots are taken over."""
    from tests import reference as ref

    n_v, gap, cover = 4, 10, 5
    last_t, slot_sid, slot_t = np.full(n_v, -1, np.int64), np.full((n_v, k_slots), -1, np.int64), np.full(
        (n_v, k_slots), -1, np.int64)  # fmt: skip
    ref_last: dict[int, int] = {}
    ref_slots: dict[int, list[list[int]]] = {}
    for rows in (first, second):
        vid, t, sid = (np.array([r[i] for r in rows], np.int64) for i in range(3))
        has_pos = np.array([r[3] for r in rows], np.bool_)
        v, t0, stations = _cover_walk(vid, t, sid, has_pos, last_t, slot_sid, slot_t, gap, cover)
        found = zip(v.tolist(), t0.tolist(), stations.tolist(), strict=True)
        got = [(a, b, [x for x in row if x >= 0]) for a, b, row in found]
        assert got == ref.cover_walk(rows, ref_last, ref_slots, gap, cover, k_slots)
    assert last_t.tolist() == [ref_last.get(v, -1) for v in range(n_v)]
    empty = [[-1, -1]] * k_slots
    assert np.stack([slot_sid, slot_t], axis=2).tolist() == [ref_slots.get(v, empty) for v in range(n_v)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-3_000, 3_000)), min_size=1, max_size=60),
       st.sampled_from([1, 7, 600]))  # fmt: skip
def test_the_counts_per_bucket_match_the_plain_count(rows: list[tuple[int, int]], bucket: int) -> None:
    """The compiled count against a dict, with times before 1970 (floor division) and buckets of every size
    (many cells, the numbered path, or one)."""
    sid, t = (np.array(col, np.int64) for col in zip(*rows, strict=True))
    want: dict[tuple[int, int], list[int]] = {}
    for s, x in rows:
        n, lo, hi = want.get((s, x // bucket), [0, x, x])
        want[(s, x // bucket)] = [n + 1, min(lo, x), max(hi, x)]
    cells = list(zip(*_per_bucket(sid, t, bucket), strict=True))
    assert [(s, b) for s, b, *_ in cells] == sorted(want)
    assert {(s, b): [n, lo, hi] for s, b, n, lo, hi in cells} == want
