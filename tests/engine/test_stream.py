"""The stream runner: live deliveries give the batch run's alerts; a crash loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.decode import decode_bytes
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import LATENESS_S, Engine
from engine.stream import StreamRunner, StreamSettings
from feeds.framing import Framer
from feeds.sources import FeedBatch, FeedSet, open_feed
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate

BATCH = StreamSettings(lateness_s=LATENESS_S, snapshot_seconds=1e9)  # the batch run's lateness: same alerts


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "feed.nmea"
    path.write_bytes(simulate(SimConfig(hours=6, vessels=60, seed=31, injections_per_day=12)).feed)
    return path


@pytest.fixture(scope="module")
def detectors():  # type: ignore[no-untyped-def]
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    return lambda: default_detectors(pack, land)


@pytest.fixture(scope="module")
def batch_alerts(feed: Path, detectors) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    d = decode_bytes(feed.read_bytes(), details=False)
    engine = Engine(detectors())
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()


def deliveries(feed: Path, pieces: int = 30) -> list[FeedBatch]:
    """The feed as a live source delivers it: cut anywhere (here in ``pieces``), framed as it comes."""
    data = feed.read_bytes()
    framer, step = Framer(), len(data) // pieces + 1
    out = [
        FeedBatch(0, "file://feed", 0.0, messages=framer.feed(data[i : i + step])) for i in range(0, len(data), step)
    ]
    return [*out, FeedBatch(0, "file://feed", 0.0, messages=framer.finish())]


def test_a_real_replay_source_gives_the_same_messages(feed: Path) -> None:
    async def collect() -> list[FeedBatch]:
        async with FeedSet([open_feed(f"file://{feed}?speed=0")]) as feeds:
            return [b async for b in feeds]

    replayed = sum(len(b) for b in asyncio.run(collect()))
    assert replayed == sum(len(b) for b in deliveries(feed)) > 10_000


class Upserts:
    """A sink that keeps the latest version of every alert it is given, as a store would."""

    def __init__(self) -> None:
        self.alerts: dict[str, dict] = {}
        self.rows = 0

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        self.rows += tables["positions"].height
        for row in alerts.iter_rows(named=True):
            self.alerts[row["alert_id"]] = row


def test_live_deliveries_give_the_batch_alerts(feed: Path, detectors, batch_alerts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    got = deliveries(feed)
    sink = Upserts()
    runner = StreamRunner.open(detectors(), tmp_path, [sink], BATCH)

    async def run() -> None:
        async def source():  # type: ignore[no-untyped-def]
            for b in got:
                yield b

        await runner.run(source())

    asyncio.run(run())
    final = runner.engine.finish()
    for row in final.iter_rows(named=True):
        sink.alerts[row["alert_id"]] = row
    assert_frame_equal(runner.engine.alerts(), batch_alerts)
    assert set(sink.alerts) == set(batch_alerts["alert_id"].to_list())
    assert runner.stats.snapshots == 1  # the clean stop snapshots


def test_a_crash_after_the_snapshot_replays_the_journal(feed: Path, detectors, batch_alerts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    got = deliveries(feed)
    third = len(got) // 3
    assert third >= 5
    sink = Upserts()
    first = StreamRunner.open(detectors(), tmp_path, [sink], BATCH)
    for b in got[:third]:
        first.process([b])
    first.snapshot()
    for b in got[third : 2 * third]:
        first.process([b])  # journaled, not in the snapshot
    del first  # the process dies: no clean stop
    assert len(list((tmp_path / "journal").glob("*.positions.arrow"))) == 2 * third - third
    second = StreamRunner.open(detectors(), tmp_path, [sink], BATCH)
    assert second.stats.replayed_batches == third
    for b in got[2 * third :]:
        second.process([b])
    for row in second.engine.finish().iter_rows(named=True):
        sink.alerts[row["alert_id"]] = row
    assert_frame_equal(second.engine.alerts(), batch_alerts)
    assert set(sink.alerts) == set(batch_alerts["alert_id"].to_list())  # nothing lost, no id twice


def test_micro_batches_close_on_time(feed: Path, detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    got = deliveries(feed)[:3]
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(batch_seconds=0.05, batch_messages=10**9))

    async def run() -> None:
        async def slow():  # type: ignore[no-untyped-def]
            for b in got:
                yield b
                await asyncio.sleep(0.2)  # slower than batch_seconds: each delivery is its own micro-batch

        await runner.run(slow())

    asyncio.run(run())
    assert runner.stats.batches == 3
