"""The partitioning of engine/partitions.py: the lateness decided once over the stream is the engine's, and the
per-vessel sequences the detectors see are the same whether the kept rows run in one engine or per MMSI bucket."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decode import decode
from engine.partitions import FLEET_DETECTORS, Arrivals, bucket_expr, bucket_of, split_detectors
from engine.runner import Engine
from feeds.framing import Framer
from tests.engine.test_runner import Recorder, jittered_feed  # noqa: F401 - the module's feed fixture

TABLES = ("positions", "statics", "events")


def _chunks(feed: bytes, cuts: list[int]) -> list[dict[str, pl.DataFrame]]:
    framer = Framer()
    edges = [0, *sorted(c % len(feed) for c in cuts), len(feed)]
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        d = decode(framer.feed(feed[a:b]), details=False)
        out.append({"positions": d.positions, "statics": d.statics, "events": d.events})
    d = decode(framer.finish(), details=False)
    out.append({"positions": d.positions, "statics": d.statics, "events": d.events})
    return out


def _numbered(feed: bytes, cuts: list[int]) -> tuple[dict[str, pl.DataFrame], Arrivals]:
    arrivals = Arrivals()
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in TABLES}
    for chunk in _chunks(feed, cuts):
        for table, frame in arrivals.number(chunk).items():
            parts[table].append(frame)
    return {t: pl.concat(parts[t]) for t in TABLES}, arrivals


def _engine_run(tables: dict[str, pl.DataFrame]) -> tuple[Recorder, Engine]:
    rec = Recorder()
    engine = Engine([rec])
    kept = {t: f.filter(pl.col("kept")).drop("kept").rename({"arrival": "seq"}) for t, f in tables.items()}
    engine.process(kept["positions"], kept["statics"], kept["events"])
    engine.finish()
    return rec, engine


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 999_999_999), max_size=200), st.integers(1, 200))
def test_buckets_match_the_reference_and_stay_in_range(mmsi: list[int], buckets: int) -> None:
    frame = pl.DataFrame({"mmsi": mmsi}, schema={"mmsi": pl.Int64})
    got = frame.select(bucket_expr(buckets))["bucket"].to_numpy()
    assert np.array_equal(got, bucket_of(np.array(mmsi, np.int64), buckets))
    assert ((got >= 0) & (got < buckets)).all()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 10**9), max_size=30))
def test_the_rows_kept_at_ingest_are_the_rows_the_engine_keeps(jittered_feed: bytes, cuts: list[int]) -> None:  # noqa: F811
    tables, arrivals = _numbered(jittered_feed, cuts)
    whole, engine = _run_raw(jittered_feed)
    assert engine.counts["late"] > 0, "the jittered feed must exercise the late rule"
    assert arrivals.counts == {"no_time": engine.counts["no_time"], "late": engine.counts["late"]}
    kept, kept_engine = _engine_run(tables)
    assert kept_engine.counts["late"] == kept_engine.counts["no_time"] == 0
    assert kept.per_vessel() == whole.per_vessel()


def _run_raw(feed: bytes) -> tuple[Recorder, Engine]:
    rec = Recorder()
    engine = Engine([rec])
    for chunk in _chunks(feed, []):
        engine.process(chunk["positions"], chunk["statics"], chunk["events"])
    engine.finish()
    return rec, engine


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 40))
def test_each_bucket_alone_gives_each_vessel_the_sequence_of_the_whole_run(jittered_feed: bytes, buckets: int) -> None:  # noqa: F811
    tables, _ = _numbered(jittered_feed, [])
    whole, _ = _engine_run(tables)
    seen: dict[str, list[tuple[int, int, int]]] = {}
    for b in range(buckets):
        mine = {t: f.filter(bucket_expr(buckets) == b) for t, f in tables.items()}
        part, engine = _engine_run(mine)
        assert engine.counts["late"] == 0, "no kept row is late within a bucket"
        assert not seen.keys() & part.per_vessel().keys()
        seen |= part.per_vessel()
    assert seen == whole.per_vessel()


def test_the_split_keeps_every_detector_once_in_order() -> None:
    from engine.detectors import default_detectors
    from engine.geo.land import LandIndex
    from engine.geo.regions import engine_pack

    every = default_detectors(engine_pack("gulf-of-tonkin"), LandIndex.load())
    per_vessel, fleet = split_detectors(every)
    assert {d.name for d in fleet} == FLEET_DETECTORS, "a fleet detector was renamed: update FLEET_DETECTORS"
    assert [d.name for d in every if d in per_vessel] == [d.name for d in per_vessel]
    assert len(per_vessel) + len(fleet) == len(every)


@pytest.mark.parametrize("state_after", [1, 3])
def test_arrivals_continue_from_their_saved_state(jittered_feed: bytes, state_after: int) -> None:  # noqa: F811
    chunks = _chunks(jittered_feed, [len(jittered_feed) // 4, len(jittered_feed) // 2, 3 * len(jittered_feed) // 4])
    one = Arrivals()
    whole = [one.number(c) for c in chunks]
    first = Arrivals()
    parts = [first.number(c) for c in chunks[:state_after]]
    second = Arrivals.from_state(first.state())
    parts += [second.number(c) for c in chunks[state_after:]]
    for a, b in zip(whole, parts, strict=True):
        for t in TABLES:
            assert a[t].equals(b[t])
    assert second.state() == one.state()
