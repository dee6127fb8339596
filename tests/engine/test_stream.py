"""The stream runner: live deliveries give the batch run's alerts (the distress fast path's announcements
included); a crash loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.alerts import alert_id
from engine.decode import decode_bytes
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import LATENESS_S, Engine
from engine.stream import IDLE_CHORES_S, StreamRunner, StreamSettings
from feeds.framing import Framer
from feeds.sources import FeedBatch, FeedSet, open_feed
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import SART, SHIP, Upserts, delivery, position_line

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
def late_distress(feed: Path) -> list[bytes]:
    """Distress evidence after the feed, out of time order within the lateness: an AIS-SART heard 100 s before the
    feed's end, then 300 s and 200 s before it (the fast path first announces the episode from the first of them
    and must withdraw that); and a report whose second copy (same vessel, time and place) says "AIS-SART active",
    which the engine drops as a copy."""
    d = decode_bytes(feed.read_bytes(), details=False)
    end_ms = max(int(t["t"].max().timestamp() * 1000) for t in (d.positions, d.statics, d.events) if t.height)  # type: ignore[union-attr]
    return [position_line(SART, 14, end_ms - 100_000), position_line(SART, 14, end_ms - 300_000),
            position_line(SART, 14, end_ms - 200_000), position_line(SHIP, 0, end_ms - 50_000),
            position_line(SHIP, 14, end_ms - 50_000)]  # fmt: skip


def first_guess(late_distress: list[bytes]) -> str:
    """The id of the SART's episode as first announced (from the evidence 100 s before the end)."""
    d = decode_bytes(late_distress[0], details=False)
    return alert_id("distress", SART, None, int(d.positions["t"].dt.epoch("us")[0]))


@pytest.fixture(scope="module")
def batch_alerts(feed: Path, late_distress: list[bytes], detectors) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    d = decode_bytes(feed.read_bytes() + b"".join(late_distress), details=False)
    engine = Engine(detectors())
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()


def deliveries(feed: Path, pieces: int = 30, then: list[bytes] = ()) -> list[FeedBatch]:  # type: ignore[assignment]
    """The feed as a live source delivers it: cut anywhere (here in ``pieces``), framed as it comes; then each of
    the lines ``then`` delivered on its own."""
    data = feed.read_bytes()
    framer, step = Framer(), len(data) // pieces + 1
    out = [
        FeedBatch(0, "file://feed", 0.0, messages=framer.feed(data[i : i + step])) for i in range(0, len(data), step)
    ]
    return [*out, FeedBatch(0, "file://feed", 0.0, messages=framer.finish()), *(delivery(line) for line in then)]


def test_a_real_replay_source_gives_the_same_messages(feed: Path) -> None:
    async def collect() -> list[FeedBatch]:
        async with FeedSet([open_feed(f"file://{feed}?speed=0")]) as feeds:
            return [b async for b in feeds]

    replayed = sum(len(b) for b in asyncio.run(collect()))
    assert replayed == sum(len(b) for b in deliveries(feed)) > 10_000


def test_live_deliveries_give_the_batch_alerts(feed: Path, late_distress, detectors, batch_alerts,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:  # fmt: skip
    got = deliveries(feed, then=late_distress)
    sink = Upserts()
    runner = StreamRunner.open(detectors(), tmp_path, [sink], BATCH)

    async def run() -> None:
        async def source():  # type: ignore[no-untyped-def]
            for b in got:
                yield b

        await runner.run(source())

    asyncio.run(run())
    runner.finish()
    assert_frame_equal(runner.engine.alerts(), batch_alerts)
    assert_frame_equal(sink.table(), batch_alerts)  # every alert's last version, nothing announced left over
    assert runner.stats.snapshots == 1  # the clean stop snapshots


def test_a_crash_after_the_snapshot_replays_the_journal(feed: Path, late_distress, detectors, batch_alerts,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:  # fmt: skip
    got = deliveries(feed, then=late_distress)
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
    assert len([p for p in (tmp_path / "journal").iterdir() if p.name.isdigit()]) == 2 * third - third
    second = StreamRunner.open(detectors(), tmp_path, [sink], BATCH)
    assert second.stats.replayed_batches == third
    for b in got[2 * third :]:
        second.process([b])
    second.finish()
    assert_frame_equal(second.engine.alerts(), batch_alerts)
    assert_frame_equal(sink.table(), batch_alerts)  # nothing lost, no id twice, no announcement left over
    assert sink.withdrawn == [first_guess(late_distress)]  # one delivery a micro-batch: the first guess was made


def batches(runner: StreamRunner, got: list[FeedBatch], every: float, received: float | None) -> int:
    """Micro-batches of ``runner`` over ``got`` delivered ``every`` seconds (0: all held at once), received at
    ``received`` (None: as they are delivered)."""

    async def run() -> None:
        async def source():  # type: ignore[no-untyped-def]
            for b in got:
                yield replace(b, received=time.time() if received is None else received)
                if every:
                    await asyncio.sleep(every)

        await runner.run(source())

    asyncio.run(run())
    return runner.stats.batches


def test_micro_batches_close_on_time(feed: Path, detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(batch_seconds=0.05, batch_messages=10**9))
    assert batches(runner, deliveries(feed)[:3], 0.2, None) == 3  # slower than batch_seconds: one batch each


def test_a_window_opens_when_its_first_delivery_was_received(feed: Path, detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Deliveries that waited in the queue (received long ago) do not wait a window more: their batch closes with
    what the feeds hold, though the three come within one window of being taken."""
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(batch_seconds=60.0, batch_messages=10**9))
    assert batches(runner, deliveries(feed)[:3], 0.05, time.time() - 120.0) == 3


def test_a_delivery_with_distress_closes_its_batch_at_once(detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An AIS-SART's report does not wait out the window (60 s here): its micro-batch closes when it comes, and
    the fast path announces it after that step; ordinary reports wait for the window."""
    now = int(time.time() * 1000)
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(batch_seconds=60.0, batch_messages=10**9))
    got = [delivery(position_line(SHIP, 0, now)), delivery(position_line(SART, 14, now + 10)),
           delivery(position_line(SHIP, 0, now + 20))]  # fmt: skip
    started = time.monotonic()
    assert batches(runner, got, 0.3, None) == 2  # [ship, SART] at once; the last ship's waits for the end
    assert time.monotonic() - started < 5.0


def test_under_a_backlog_batches_stay_large(feed: Path, detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every window is over when its batch starts; the batch takes every delivery held before it closes."""
    got = deliveries(feed)[:12]
    settings = StreamSettings(batch_seconds=0.05, batch_messages=sum(len(b) for b in got[:6]))
    runner = StreamRunner.open(detectors(), tmp_path, [], settings)
    assert batches(runner, got, 0.0, time.time() - 120.0) == 2  # closed by the message count, not one by one


def test_chores_run_while_the_feeds_are_quiet(feed: Path, detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A chore asked for after the last delivery (a sink catching up, new zones) runs within IDLE_CHORES_S or so,
    in the runner's worker, though no micro-batch follows; not before the batch that was pending."""
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(batch_seconds=0.05, batch_messages=10**9))
    ran: list[tuple[float, int]] = []

    async def run() -> None:
        stop = asyncio.Event()

        async def source():  # type: ignore[no-untyped-def]
            for b in deliveries(feed)[:2]:
                yield replace(b, received=time.time())
            await stop.wait()  # a quiet feed: nothing more comes

        async def ask() -> None:
            while runner.stats.batches < 1:
                await asyncio.sleep(0.01)
            asked = time.monotonic()
            runner.call_between(lambda engine: ran.append((time.monotonic() - asked, runner.stats.batches)))
            for _ in range(int(5 * IDLE_CHORES_S / 0.05)):
                if ran:
                    break
                await asyncio.sleep(0.05)
            stop.set()

        await asyncio.gather(runner.run(source(), stop), ask())

    asyncio.run(run())
    assert len(ran) == 1
    took, batches_then = ran[0]
    assert took < 3 * IDLE_CHORES_S
    assert batches_then == runner.stats.batches  # no batch was needed to run it


def test_a_start_that_replayed_the_journal_snapshots_so_a_crash_loop_does_not_replay_more_each_time(  # type: ignore[no-untyped-def]
    feed: Path, detectors, tmp_path: Path
) -> None:
    got = deliveries(feed)
    slow = StreamSettings(snapshot_seconds=3600.0)  # killed far more often than it would snapshot
    runner = StreamRunner.open(detectors(), tmp_path, [], slow)
    for b in got[:4]:
        runner.process([b])
    del runner  # killed: 4 batches in the journal only
    replayed = []
    for b in got[4:7]:
        runner = StreamRunner.open(detectors(), tmp_path, [], slow)
        replayed.append(runner.stats.replayed_batches)
        runner.process([b])
        del runner  # killed again after one more batch
    assert replayed == [4, 1, 1]


def test_the_eviction_setting_applies_on_a_fresh_start_and_over_a_snapshot(detectors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(evict_after_s=3600.0))
    assert runner.engine.evict_after_us == 3_600_000_000
    runner.snapshot()
    again = StreamRunner.open(detectors(), tmp_path, [], StreamSettings(evict_after_s=None))
    assert again.engine.evict_after_us is None  # the operator's setting, not the snapshot's
