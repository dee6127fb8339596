"""The live runner's due snapshot is written behind the engine (issue 13 item 5): the engine steps on while it is
synced, what needs it on disk (the journal's clean-up, a feed's acknowledgement) waits for it, and a crash in
the middle of that background write still restarts to the uninterrupted run's alerts.

A slow disk is a crash hook that blocks in the snapshot thread; a crash is :class:`Killed` raised there (the
engine thread sees it at its next snapshot, as it would see any error of the write).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from api.store import Store
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.stream import StreamRunner
from feeds.sources import FeedBatch
from seawatch.serve_job import StoreSink
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import batch_alerts_of
from tests.engine.test_crash_safety import SETTINGS, Killed, crash_hook, deliveries, same_alerts


@pytest.fixture(scope="module")
def feed() -> bytes:
    return simulate(SimConfig(hours=6, vessels=60, seed=31, injections_per_day=12)).feed


@pytest.fixture(scope="module")
def detectors() -> Callable[[], list]:
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    return lambda: default_detectors(pack, land)


@pytest.fixture(scope="module")
def batch_alerts(feed: bytes, detectors) -> pl.DataFrame:
    return batch_alerts_of(feed, detectors())


BEHIND = dataclasses.replace(SETTINGS, snapshot_seconds=0.0)  # a snapshot is due after every micro-batch


def in_snapshot_thread() -> bool:
    return threading.current_thread().name.startswith("seawatch-snapshot")


def numbered(feed: bytes) -> list[FeedBatch]:
    """The feed's deliveries with a replayable position each (1, 2, ...), as a NATS stream's."""
    return [dataclasses.replace(d, position=i + 1) for i, d in enumerate(deliveries(feed))]


def test_the_engine_steps_while_a_slow_snapshot_is_written(feed: bytes, detectors, tmp_path: Path) -> None:
    """The first due snapshot blocks at its last write point: the engine runs 5 more micro-batches meanwhile, no
    second snapshot starts (skipped, not waited for), the journal keeps every batch and the feed is acknowledged
    nothing; once the write ends, the journal it covers goes and the feed is acknowledged what it holds."""
    got = numbered(feed)
    release, blocked = threading.Event(), threading.Event()
    writes = Counter[str]()

    def slow_disk(name: str) -> None:
        if in_snapshot_thread():
            writes[name] += 1
            if name == "snapshot.replaced":
                blocked.set()
                assert release.wait(60), "the test never released the snapshot write"

    acknowledged: list[dict[str, int]] = []
    with crash_hook(slow_disk):
        runner = StreamRunner.open(detectors(), tmp_path / "state", [], BEHIND)
        runner.on_snapshot.append(acknowledged.append)
        runner.process([got[0]])  # its snapshot is written behind
        assert blocked.wait(60), "the background snapshot never reached its write points"
        for d in got[1:6]:
            runner.process([d])
        assert runner.stats.batches == 6, "the engine stood still while the snapshot was written"
        assert writes["snapshot.write"] == 1, "a second snapshot started while the first was being written"
        assert acknowledged == [], "the feed was acknowledged before the snapshot was on disk"
        assert [n for n, _ in runner._journal_files()] == list(range(6)), "the journal was cut before the snapshot"
        release.set()
        assert runner.snapshot()  # waits for the one being written, then writes one of all 6 batches
    assert acknowledged[0] == {"file://feed": 1}, "the first snapshot holds the first delivery"
    assert acknowledged[-1] == {"file://feed": 6}
    assert runner._journal_files() == []
    assert runner.stats.snapshots == 2  # the slow one and the last (open()'s of the empty engine is not counted)


@pytest.mark.parametrize("point", ["snapshot.write", "snapshot.written", "snapshot.old_moved", "snapshot.replaced",
                                   "journal.prune"])  # fmt: skip
def test_a_crash_during_a_background_snapshot_restarts_to_the_batch_alerts(
    feed: bytes, detectors, batch_alerts, point: str, tmp_path: Path
) -> None:
    """The third background snapshot is killed at ``point``; the restarted runner (recovering the snapshot folder,
    replaying the journal) ends with the uninterrupted run's alerts in the store, none lost, none doubled."""
    got, url, state = numbered(feed), f"sqlite:///{tmp_path / 'seawatch.db'}", tmp_path / "state"
    seen = Counter[str]()

    def hook(name: str) -> None:
        if in_snapshot_thread():
            seen[name] += 1
            if name == point and seen[name] == 3:
                raise Killed(point)

    store = Store(url)
    sink = StoreSink(store, 0.0, 0.0)
    with crash_hook(hook), pytest.raises(Killed):
        first = StreamRunner.open(detectors(), state, [sink], BEHIND)
        for d in got:
            first.process([d])
        first.snapshot()
    sink.close()  # its writes under way end before the restart (the kill came after them, in this timeline)
    store.close()
    assert seen[point] == 3
    store = Store(url)  # the restarted process
    second = StreamRunner.open(detectors(), state, [StoreSink(store, 0.0, 0.0)], BEHIND)
    assert not list(state.glob(".engine-*")) and not (state / ".engine.old").exists()
    for d in got[second._journal_next :]:
        second.process([d])
    second.finish()
    second.snapshot()
    same_alerts(store, batch_alerts)
