"""Crash safety of the live engine (issue 14): a crash at every write point of the journal, the snapshot and the
store, then a restart, loses no alert and doubles none; a poison batch is quarantined and the engine goes on; a
full disk and a database away make the service degrade and recover without losing data; old alerts leave the
engine's memory and the sinks still hold the batch run's alerts.

A crash is a :class:`Killed` raised at a named :func:`engine.durable.crash_point`: a ``BaseException``, so no
``except OSError`` clean-up runs, as none would in a killed process; the runner is then dropped and a new one
opened on the same folder and database, as a restarted process would.
"""

from __future__ import annotations

import errno
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from api.store import Store
from engine.decode import decode
from engine.detectors import default_detectors
from engine.durable import set_crash_hook
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import LATENESS_S, Step
from engine.stream import StreamRunner, StreamSettings
from feeds.framing import Framer
from feeds.sources import FeedBatch
from seawatch.serve_job import StoreSink
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import Upserts, batch_alerts_of, delivery, position_line

SETTINGS = StreamSettings(lateness_s=LATENESS_S, snapshot_seconds=1e9, retry_first_s=0.001, retry_max_s=0.004)
SNAPSHOT_EVERY = 4  # the drivers below snapshot after every 4th batch: crashes land between and inside snapshots
POISON = 999_000_999  # an MMSI the test's poison detector cannot take


class Killed(BaseException):
    """The process dies here (not an Exception: nothing catches it, no clean-up runs)."""


class Poison:
    """A detector that fails on any step holding a fix of :data:`POISON`, as a bug would on a malformed row."""

    name = "poison"

    def process(self, step: Step) -> list[pl.DataFrame]:
        if bool((step.fixes.mmsi == POISON).any()):
            raise IndexError("index 7 is out of bounds for axis 0 with size 7")
        return []

    def snapshot(self) -> dict[str, np.ndarray]:
        return {}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return simulate(SimConfig(hours=6, vessels=60, seed=31, injections_per_day=12)).feed


@pytest.fixture(scope="module")
def detectors() -> Callable[[], list]:
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    return lambda: [*default_detectors(pack, land), Poison()]


@pytest.fixture(scope="module")
def batch_alerts(feed: bytes, detectors) -> pl.DataFrame:
    return batch_alerts_of(feed, detectors())


def deliveries(feed: bytes, pieces: int = 16) -> list[FeedBatch]:
    framer, step = Framer(), len(feed) // pieces + 1
    cuts = range(0, len(feed), step)
    out = [FeedBatch(0, "file://feed", 0.0, messages=framer.feed(feed[i : i + step])) for i in cuts]
    return [*out, FeedBatch(0, "file://feed", 0.0, messages=framer.finish())]


@contextmanager
def crash_hook(hook: Callable[[str], None]) -> Iterator[None]:
    set_crash_hook(hook)
    try:
        yield
    finally:
        set_crash_hook(None)


def stored(store: Store) -> pl.DataFrame:
    """The store's alerts as (alert_id, end, score), one row each, by id."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT alert_id, "end", score FROM alerts ORDER BY alert_id')).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=["alert_id", "end", "score"], orient="row")


def expected(batch: pl.DataFrame) -> pl.DataFrame:
    return batch.select("alert_id", "end", "score").sort("alert_id")


def same_alerts(store: Store, batch: pl.DataFrame) -> None:
    got, want = stored(store), expected(batch)
    lost = set(want["alert_id"]) - set(got["alert_id"])
    extra = set(got["alert_id"]) - set(want["alert_id"])
    assert not lost and not extra, f"{len(lost)} alert(s) lost, {len(extra)} not in the uninterrupted run"
    assert got["alert_id"].is_unique().all()
    ends = got["end"].cast(pl.String).str.slice(0, 19).to_list()
    assert ends == want["end"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list(), "a stored alert is not its last version"
    assert got["score"].to_list() == pytest.approx(want["score"].to_list())


def drive(runner: StreamRunner, got: list[FeedBatch], start: int) -> None:
    """Deliveries ``start`` on, one micro-batch each, a snapshot after every SNAPSHOT_EVERY-th batch."""
    for i in range(start, len(got)):
        runner.process([got[i]])
        if i % SNAPSHOT_EVERY == SNAPSHOT_EVERY - 1:
            runner.snapshot()


def run_with_crash(tmp: Path, got: list[FeedBatch], detectors, point: str, hit: int) -> Store:
    """Run ``got`` with a crash at the ``hit``-th pass through ``point``, restart and finish; the store."""
    url = f"sqlite:///{tmp / 'seawatch.db'}"
    state = tmp / "state"
    seen = Counter[str]()
    dead = False

    def hook(name: str) -> None:  # from the kill on, every thread of the process dies at its next write point
        nonlocal dead
        seen[name] += 1
        if dead or (name == point and seen[name] == hit):
            dead = True
            raise Killed(point)

    store = Store(url)
    sink = StoreSink(store, 0.0, 0.0)  # its writes run in a thread of their own
    with crash_hook(hook):
        with pytest.raises(Killed):
            first = StreamRunner.open(detectors(), state, [sink], SETTINGS)
            drive(first, got, 0)
            first.snapshot()
        sink.close()  # the write under way at the kill ends (a database transaction is whole or not at all)
    store.close()
    if point == "snapshot.old_moved":  # the only snapshot left is the old one, beside where it belongs
        assert not (state / "engine").exists() and (state / ".engine.old" / "engine.json").is_file()
    store = Store(url)  # the restarted process
    second = StreamRunner.open(detectors(), state, [StoreSink(store, 0.0, 0.0)], SETTINGS)
    assert not list(state.glob(".engine-*")) and not (state / ".engine.old").exists()
    assert not list((state / "journal").glob(".tmp-*"))
    # one delivery per batch, numbered from 0: a delivery whose batch never reached the journal was never
    # accepted, and its feed sends it again (a relay re-sends what was not acknowledged)
    drive(second, got, second._journal_next)
    second.finish()
    return store


def write_points(got: list[FeedBatch], detectors, tmp: Path) -> Counter[str]:
    seen = Counter[str]()
    store = Store(f"sqlite:///{tmp / 'seawatch.db'}")
    sink = StoreSink(store, 0.0, 0.0)
    with crash_hook(lambda name: seen.update([name])):
        runner = StreamRunner.open(detectors(), tmp / "state", [sink], SETTINGS)
        drive(runner, got, 0)
        sink.close()
    store.close()
    return seen


def test_a_crash_at_any_write_point_loses_no_alert_and_doubles_none(feed: bytes, detectors, batch_alerts,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    got = deliveries(feed)
    points = write_points(got, detectors, tmp_path / "count")
    assert set(points) >= {"journal.write", "journal.written", "journal.committed", "snapshot.write",
                           "snapshot.written", "snapshot.old_moved", "snapshot.replaced", "journal.prune",
                           "store.write"}  # fmt: skip
    for point, n in sorted(points.items()):
        for hit in sorted({2, n // 2 + 1}):  # early (before the first snapshot for most) and in the middle
            store = run_with_crash(tmp_path / f"{point}-{hit}", got, detectors, point, hit)
            try:
                same_alerts(store, batch_alerts)
            except AssertionError as exc:
                raise AssertionError(f"crash at {point} (pass {hit} of {n}): {exc}") from None
            finally:
                store.close()


def test_a_poison_batch_is_quarantined_and_the_engine_goes_on(feed: bytes, detectors, tmp_path: Path) -> None:
    """Batch 6 holds a row the engine fails on: it fails live, then again when replayed from the snapshot, is
    moved to quarantine/ and reported; the engine goes on and gives what it would have without that batch."""
    got = deliveries(feed)
    j = 6
    assert got[j].messages is not None
    t0 = int(decode(got[j].messages, details=False).positions["t"].dt.epoch("ms").min())  # type: ignore[arg-type]
    poison = delivery(position_line(POISON, 0, t0))
    sink, clean_sink = Upserts(), Upserts()
    runner = StreamRunner.open(detectors(), tmp_path / "a", [sink], SETTINGS)
    clean = StreamRunner.open(detectors(), tmp_path / "b", [clean_sink], SETTINGS)
    for i, d in enumerate(got):
        runner.process([poison, d] if i == j else [d])  # first: it would be late after the batch
        if i != j:
            clean.process([d])
        if i == 3:
            runner.snapshot()
    runner.finish()
    clean.finish()
    assert runner.stats.quarantined == 1
    held = tmp_path / "a" / "quarantine" / f"{j:012d}"
    assert sorted(p.name for p in held.iterdir()) == ["error.txt", "events.arrow", "positions.arrow", "statics.arrow"]
    assert "IndexError: index 7 is out of bounds" in (held / "error.txt").read_text()
    assert POISON in pl.read_ipc(held / "positions.arrow")["mmsi"].to_list()
    (trouble,) = runner.troubles()
    assert trouble.startswith("the engine failed on 1 batch(es), quarantined (latest: ") and "IndexError" in trouble
    assert_frame_equal(runner.engine.alerts(), clean.engine.alerts())
    assert_frame_equal(sink.table(), clean_sink.table())
    again = StreamRunner.open(detectors(), tmp_path / "a", [], SETTINGS)  # a restart does not meet it again
    assert again.stats.quarantined == 0 and again._journal_next > j


def test_a_full_disk_degrades_and_recovers_without_losing_data(feed: bytes, detectors, batch_alerts,
                                                              tmp_path: Path) -> None:  # fmt: skip
    """ENOSPC on the journal (three tries of one batch) and on two snapshots: the batch waits and goes in, the
    snapshot comes later; /healthz's reasons say so meanwhile and are gone after."""
    got = deliveries(feed)
    sink = Upserts()
    runner = StreamRunner.open(detectors(), tmp_path, [sink], SETTINGS)
    full = {"journal.write": 3, "snapshot.write": 2}
    said: list[str] = []

    def disk(name: str) -> None:
        if runner.stats.batches >= 5 and full.get(name, 0) > 0:
            full[name] -= 1
            said.extend(runner.troubles())
            raise OSError(errno.ENOSPC, "No space left on device")

    with crash_hook(disk):
        drive(runner, got, 0)
    runner.finish()
    assert full == {"journal.write": 0, "snapshot.write": 0}
    assert runner.stats.write_failures == {"journal": 3, "snapshot": 2}
    assert any(s.startswith("journal write failing ([Errno 28] No space left on device)") for s in said)
    assert runner.troubles() == []
    assert runner.stats.snapshots >= 1
    assert_frame_equal(sink.table(), batch_alerts)
    assert not list((tmp_path / "journal").glob(".tmp-*"))


def test_a_database_away_degrades_holds_the_journal_and_recovers(feed: bytes, detectors, batch_alerts,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    """The store's writes fail from batch 5 to batch 9: the sink holds them, says so, and puts off the snapshot
    (the journal keeps the batches); the process dies at batch 9 and the restart stores everything."""
    got = deliveries(feed)
    url = f"sqlite:///{tmp_path / 'seawatch.db'}"
    store = Store(url)
    sink = StoreSink(store, 0.0, 0.0)
    runner = StreamRunner.open(detectors(), tmp_path / "state", [sink], SETTINGS)
    down = {"on": False}
    upsert = store.upsert_alerts

    def flaky(df: pl.DataFrame) -> int:
        if down["on"]:
            raise sa.exc.OperationalError("INSERT INTO alerts", {}, Exception("unable to open database file"))
        return upsert(df)

    store.upsert_alerts = flaky  # type: ignore[method-assign]
    for i, d in enumerate(got[:10]):
        down["on"] = i >= 5
        runner.process([d])
        if i == 7:
            assert not runner.snapshot(), "no snapshot while the store holds alerts it could not write"
    (trouble,) = sink.troubles()
    assert trouble.startswith("database writes failing for ") and "unable to open database file" in trouble
    assert not sink.caught_up() and sink.failures >= 5
    journal = sorted(int(p.name) for p in (tmp_path / "state" / "journal").iterdir() if p.name.isdigit())
    assert journal[0] <= 5  # what the store has not got is still in the journal
    store.close()
    del runner  # the process dies with writes held
    store = Store(url)
    again = StreamRunner.open(detectors(), tmp_path / "state", [StoreSink(store, 0.0, 0.0)], SETTINGS)
    drive(again, got, again._journal_next)
    again.finish()
    same_alerts(store, batch_alerts)
    store.close()


def test_the_store_recovers_in_the_same_process(feed: bytes, detectors, batch_alerts, tmp_path: Path) -> None:
    got = deliveries(feed)
    store = Store(f"sqlite:///{tmp_path / 'seawatch.db'}")
    sink = StoreSink(store, 0.0, 0.0)
    runner = StreamRunner.open(detectors(), tmp_path / "state", [sink], SETTINGS)
    upsert, calls = store.upsert_alerts, {"n": 0}

    def flaky(df: pl.DataFrame) -> int:
        calls["n"] += 1
        if 3 <= calls["n"] <= 8:
            raise sa.exc.OperationalError("INSERT INTO alerts", {}, Exception("database is locked"))
        return upsert(df)

    store.upsert_alerts = flaky  # type: ignore[method-assign]
    drive(runner, got, 0)
    runner.finish()
    assert sink.caught_up() and sink.troubles() == [] and sink.failures == 6
    same_alerts(store, batch_alerts)
    store.close()


def test_old_alerts_leave_the_engine_and_the_sinks_keep_the_batch_alerts(feed: bytes, detectors, batch_alerts,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    sink = Upserts()
    settings = StreamSettings(lateness_s=LATENESS_S, snapshot_seconds=1e9, recent_alerts_s=3600.0)
    runner = StreamRunner.open(detectors(), tmp_path, [sink], settings)
    got = deliveries(feed)
    for i, d in enumerate(got):
        runner.process([d])
        if i == len(got) // 2:  # a restart in the middle keeps the setting and the pruned book
            runner.snapshot()
            runner = StreamRunner.open(detectors(), tmp_path, [sink], settings)
    runner.finish()
    assert_frame_equal(sink.table(), batch_alerts)
    assert 0 < len(runner.engine.book) < batch_alerts.height
    assert runner.engine.book.pruned > 0
    ends = runner.engine.alerts()["end"].dt.epoch("us")
    assert int(ends.min()) >= runner.engine._max_t - 3600 * 10**6  # type: ignore[arg-type]
