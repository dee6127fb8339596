"""The stream runner: live feed batches -> micro-batches -> the same engine as batch runs -> sinks.

Micro-batches close when they hold ``batch_messages`` messages or ``batch_seconds`` after their first delivery
was received (a delivery that came during a step does not wait a whole window after it), whichever comes first,
or at once when a delivery holds a message whose header may be distress evidence (engine/fast_path.py);
a batch whose window is over first takes what the feeds already hold, so batches stay large under a backlog. The
engine runs in a worker thread while the event loop keeps receiving; when it falls behind, the feeds' bounded
queue fills and the sources wait (backpressure, never an unbounded queue).

Nothing accepted is lost and no alert is duplicated across a crash, at any instant (tests inject one at every
:func:`~engine.durable.crash_point`):
- every micro-batch is written to the *journal* before any sink is given what the engine made of it (the
  engine steps meanwhile, in memory only) — a write-ahead log of decoded rows: its three Arrow IPC files go into
  a temporary folder, are synced, and the folder is renamed to the batch's number (then the journal folder
  synced): a batch is in the journal whole or not at all;
- every ``snapshot_seconds`` the engine is snapshotted (atomically and durably, engine/runner.py) *with* the
  journal position it covers, in one folder; then the journal it makes unneeded is removed. The state is copied
  between micro-batches and written in a thread of its own while the engine steps on; the journal's clean-up and
  the feeds' acknowledgements (``on_snapshot``) wait until it is on disk. The snapshot waits while a sink has not
  written everything it was given (the database down): the journal then holds it;
- on start, :meth:`StreamRunner.open` puts back the snapshot a crash may have left half-replaced, restores it and
  replays the journal after it, handing the replayed alerts to the sinks again. Alerts have stable ids and sinks
  upsert them, so a replayed alert updates itself instead of appearing twice.
Messages still in a framer (a line cut in two, a multi-part message waiting for its last part) when the process
dies were never accepted; they are the only input lost.

The service degrades rather than stops:
- a *poison* batch (the engine raises on it) leaves the engine's state half-changed: the runner goes back to the
  snapshot and replays the journal; when the batch fails again there, it is moved to ``quarantine/`` (kept, with
  the error), counted and reported (:meth:`StreamRunner.troubles`), and the engine goes on without it;
- a journal write that fails (a full disk) is retried with backoff while the feeds wait (backpressure); a
  snapshot that fails is retried later, the journal keeping everything meanwhile.

Rows get a global arrival number across feeds (``seq``), so the engine's ordering rules hold with many feeds.
A distress alert does not wait for the watermark: engine/fast_path.py announces it from the rows that arrived,
and withdraws an announcement that later evidence proves wrong (sinks upsert and withdraw by alert id).
The engine never imports models or api: scoring and the store are sinks the caller passes in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from engine.alerts import empty_alerts
from engine.deliveries import TABLES, decode_all, may_be_distress
from engine.durable import crash_point, fsync_dir, fsync_file
from engine.fast_path import DistressFastPath
from engine.quarantine import quarantine_delivered, quarantined_positions, recent_quarantines
from engine.runner import EVICT_AFTER_S, Captured, Detector, Engine, write_snapshot
from feeds.sources import FeedBatch

log = logging.getLogger("seawatch.stream")
Clock = Callable[[], float]
LIVE_LATENESS_S = 0.5  # live rows are stamped on arrival (or carry a station's time): seconds out of order at most
REPLAY_SNAPSHOT_BATCHES = 1  # a start that replayed this many journal batches snapshots at once (open())
IDLE_CHORES_S = 1.0  # while no delivery comes, the chores asked for (call_between) run after this long
QUARANTINE_REPORTED_S = 3600.0  # a quarantined batch is a health reason this long: someone should look at it


@dataclass(frozen=True)
class StreamSettings:
    # a micro-batch closes at this many messages ... (reached only under a backlog: a live feed's window closes
    # first. Each step has fixed costs (the detectors' per-step work, table building, a journal sync), so a backlog
    # drains faster in larger steps: 20,000 gave ~115 k msg/s through `seawatch serve`, 60,000 ~180-250 k; a
    # distress message in a backlog waits for the backlog ahead of it, which drains sooner. benchmarks/RESULTS.md)
    batch_messages: int = 60_000
    batch_seconds: float = 0.1  # ... or this long after its first delivery was received (SEAWATCH_BATCH_MS)
    snapshot_seconds: float = 30.0  # how much journal a restart may replay
    lateness_s: float = LIVE_LATENESS_S
    # a failed write (journal, snapshot) is tried again after this, doubling up to retry_max_s: a full disk is
    # freed by an operator in minutes, and trying every second would fill the log instead
    retry_first_s: float = 1.0
    retry_max_s: float = 60.0
    recent_alerts_s: float | None = None  # the engine keeps alerts with evidence this recent (None: all)
    evict_after_s: float | None = EVICT_AFTER_S  # a vessel silent this long gives up its per-vessel payloads
    # (engine/runner.py: alerts do not change; None: never)
    # False: the feed is the journal (a NATS stream: feeds/nats.py). Batches are not written here; each snapshot
    # records how far into every feed it holds (``positions``) and the feed acknowledges up to there once it is on
    # disk (``on_snapshot``); a restart asks the feed for what comes after.
    journal: bool = True


class Sink(Protocol):
    """Where each step's results go (the store, the scorer, metrics)."""

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        """The rows of one micro-batch and the alerts that are new or changed after it."""
        ...

    def withdraw(self, alert_ids: list[str]) -> None:
        """Alerts announced early (the distress fast path) that later evidence proved wrong: remove them."""
        ...

    # optional: ``caught_up() -> bool``, whether everything given is written (after waiting for the writes under
    # way, for a sink that writes in a thread of its own); the runner snapshots only when every sink is caught up


@dataclass
class StreamStats:
    batches: int = 0
    messages: int = 0
    rows: int = 0
    replayed_batches: int = 0
    snapshots: int = 0
    engine_seconds: float = 0.0
    first_batch_at: float = 0.0  # unix time the first micro-batch since the start was done (0: none yet)
    last_batch_at: float = 0.0
    quarantined: int = 0  # journal batches the engine failed on twice, moved to quarantine/
    write_failures: dict[str, int] = field(default_factory=dict)  # failed writes by what: journal, snapshot
    history: list[float] = field(default_factory=list)  # recent engine step durations (s), for /metrics


class StreamRunner:
    """Runs an :class:`Engine` over live deliveries, with a journal and snapshots in ``state_dir``."""

    def __init__(self, engine: Engine, state_dir: Path, sinks: Sequence[Sink] = (),
                 settings: StreamSettings | None = None, clock: Clock = time.monotonic) -> None:  # fmt: skip
        self.engine = engine
        self.state_dir = Path(state_dir)
        self.sinks = list(sinks)
        self.settings = settings or StreamSettings()
        self.clock = clock
        self.stats = StreamStats()
        self._next_seq = 0
        self._journal_next = 0  # number of the next journal file
        self._snapshot_at = clock()
        self._snapshot_retry = self.settings.retry_first_s
        self._chores: queue.SimpleQueue[Callable[[Engine], None]] = queue.SimpleQueue()
        self._problems: dict[str, str] = {}  # what is wrong now, by what: journal, snapshot
        self._quarantined_at = -float("inf")
        self._last_quarantine = ""
        self.stopping = threading.Event()  # set at a stop: a write being retried gives up
        self.positions: dict[str, int] = {}  # by feed URL: the last position the engine holds (replayable feeds)
        self.on_snapshot: list[Callable[[dict[str, int]], None]] = []  # called with the positions a snapshot holds
        self.fast_path = DistressFastPath.of(engine)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="seawatch-journal")  # one batch at a time, in order
        self._snapshotter = ThreadPoolExecutor(1, thread_name_prefix="seawatch-snapshot")
        self._snapshot_writing: Future[bool] | None = None  # the due snapshot being written (process())
        engine.keep_alerts(self.settings.recent_alerts_s)
        # the setting, not what a snapshot was taken with: an operator's change applies at the next start
        evict = self.settings.evict_after_s
        engine.evict_after_us = None if evict is None else int(evict * 1e6)
        for folder in (self.journal, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def journal(self) -> Path:
        return self.state_dir / "journal"

    @property
    def quarantine(self) -> Path:
        return self.state_dir / "quarantine"

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / "engine"

    def call_between(self, chore: Callable[[Engine], None]) -> None:
        """Run ``chore(engine)`` between micro-batches, in the engine's thread (e.g. new zones): before the next one,
        or within ``IDLE_CHORES_S`` while the feeds are quiet."""
        self._chores.put(chore)

    def _run_chores(self) -> None:
        while not self._chores.empty():
            self._chores.get()(self.engine)

    @classmethod
    def open(cls, detectors: Sequence[Detector], state_dir: Path, sinks: Sequence[Sink] = (),
             settings: StreamSettings | None = None, clock: Clock = time.monotonic) -> StreamRunner:  # fmt: skip
        """A runner that continues from ``state_dir`` (snapshot + journal) or starts afresh when it is empty.

        A fresh start writes a snapshot of the empty engine at once: going back to the last snapshot (after a
        poison batch) then always has one to go back to. After replaying ``REPLAY_SNAPSHOT_BATCHES`` or more of the
        journal's batches it snapshots too (when the sinks have what it gave them): a service killed more often
        than ``snapshot_seconds`` would otherwise replay a longer journal at every start."""
        settings = settings or StreamSettings()
        state_dir = Path(state_dir)
        if Engine.recover(state_dir / "engine"):
            engine = Engine.restore(state_dir / "engine", detectors)
            runner = cls(engine, state_dir, sinks, settings, clock)
            runner._position(engine.extra or _legacy_position(state_dir))
        else:
            runner = cls(Engine(detectors, lateness_s=settings.lateness_s), state_dir, sinks, settings, clock)
            runner._write_snapshot(*runner._state())
        for leftover in runner.journal.glob(".tmp-*"):  # a batch whose write a crash cut short: never accepted
            shutil.rmtree(leftover, ignore_errors=True)
        recent = recent_quarantines(runner.quarantine, QUARANTINE_REPORTED_S)  # before a stop: still to report
        if recent:
            runner.stats.quarantined = len(recent)
            runner._quarantined_at, runner._last_quarantine = clock() - recent[0][0], recent[0][1]
        runner._replay()
        if runner.stats.replayed_batches >= REPLAY_SNAPSHOT_BATCHES:
            runner.snapshot()
        return runner

    def _position(self, meta: dict[str, Any]) -> None:
        self._next_seq = max(self._next_seq, int(meta.get("next_seq", 0)))
        self._journal_next = int(meta.get("journal_next", 0))
        self.positions = {str(url): int(p) for url, p in meta.get("positions", {}).items()}

    def _journal_files(self) -> list[tuple[int, Path]]:
        """The journal's batches in order: a folder each (``000000000012/``), or three files of an older version
        (``000000000012.positions.arrow`` ...), by number."""
        found: dict[int, Path] = {}
        for p in self.journal.iterdir():
            head = p.name.split(".")[0]
            if head.isdigit() and (p.is_dir() or p.name.endswith(".positions.arrow")):
                found[int(head)] = p
        return sorted(found.items())

    def _read_batch(self, n: int, where: Path) -> dict[str, pl.DataFrame]:
        if where.is_dir():
            return {t: pl.read_ipc(where / f"{t}.arrow") for t in TABLES}
        return {t: pl.read_ipc(self.journal / f"{n:012d}.{t}.arrow") for t in TABLES}

    def _replay(self) -> None:
        """Run the journal's batches after the engine's position; a batch the engine fails on is quarantined and
        the engine goes back to the snapshot to replay the rest without it."""
        while True:
            try:
                for n, where in self._journal_files():
                    if n < self._journal_next:
                        continue  # already in the snapshot (a crash between the snapshot and the clean-up)
                    tables = self._read_batch(n, where)
                    self._step(tables, n)
                    self._journal_next = n + 1
                    self._next_seq = max(self._next_seq, _max_seq(tables) + 1)
                    self.stats.replayed_batches += 1
                # a new batch never takes the number of a quarantined one (it is kept under that number)
                held = [int(p.name) for p in self.quarantine.iterdir() if p.name.isdigit()]
                self._journal_next = max([self._journal_next, *(h + 1 for h in held)])
                return
            except _EngineFailed as failed:
                self._quarantine(failed.batch, failed.cause)
                self._rewind()

    def _rewind(self) -> None:
        """Back to the last snapshot (the engine's state after a failed step cannot be trusted)."""
        self._settle()  # a snapshot being written is the last one once it is in place
        self._position(self.engine.reload(self.snapshot_path))
        if self.fast_path is not None:
            self.fast_path.resume()

    def _quarantine(self, n: int, cause: BaseException) -> None:
        """Move batch ``n`` out of the journal into quarantine/, with the error, and report it."""
        crash_point("quarantine.move")
        target = self.quarantine / f"{n:012d}"
        where = dict(self._journal_files()).get(n)
        if where is not None and where.is_dir():
            shutil.rmtree(target, ignore_errors=True)  # a move a crash cut short, done again
            os.replace(where, target)
        else:  # an older journal's three files
            target.mkdir(parents=True, exist_ok=True)
            for t in TABLES:
                os.replace(self.journal / f"{n:012d}.{t}.arrow", target / f"{t}.arrow")
        (target / "error.txt").write_text(f"{type(cause).__name__}: {cause}\n")
        fsync_dir(self.journal)
        fsync_dir(self.quarantine)
        self._count_quarantined(target, cause)
        log.error("the engine failed twice on journal batch %d: moved to %s, the engine goes on without it; "
                  "look at it, fix the engine and feed it again if it matters", n, target, exc_info=cause)  # fmt: skip

    def _quarantine_delivered(self, tables: dict[str, pl.DataFrame], deliveries: Sequence[FeedBatch],
                              cause: BaseException) -> Path:  # fmt: skip
        """A feed that is its own journal: keep the failed batch with its feed positions (engine/quarantine.py)."""
        target = quarantine_delivered(self.quarantine, tables, deliveries, cause)
        self._count_quarantined(target, cause)
        log.error("the engine failed on a micro-batch of its feed: kept in %s with its feed positions, which the "
                  "next start passes over", target, exc_info=cause)  # fmt: skip
        return target

    def _count_quarantined(self, target: Path, cause: BaseException) -> None:
        """Count a batch moved to ``target`` and remember it for :meth:`troubles`."""
        self.stats.quarantined += 1
        self._quarantined_at = self.clock()
        self._last_quarantine = f"{target} ({type(cause).__name__}: {cause})"

    def quarantined_positions(self) -> dict[str, set[int]]:
        """The feed positions of the batches of a feed without a journal quarantined here, by feed URL."""
        return quarantined_positions(self.quarantine)

    def troubles(self) -> list[str]:
        """What is wrong with the stream now, in words (for /healthz): writes failing, batches quarantined."""
        out = list(self._problems.values())
        if self.clock() - self._quarantined_at < QUARANTINE_REPORTED_S:
            out.append(f"the engine failed on {self.stats.quarantined} batch(es), quarantined (latest: "
                       f"{self._last_quarantine})")  # fmt: skip
        return out

    async def run(self, deliveries: AsyncIterator[FeedBatch], stop: asyncio.Event | None = None) -> None:
        """Consume ``deliveries`` until they end or ``stop`` is set; then snapshot (a clean stop replays nothing)."""
        stop = stop or asyncio.Event()
        stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        stopper.add_done_callback(lambda _: self.stopping.set())  # a write being retried in the worker gives up
        iterator = deliveries.__aiter__()
        nxt: asyncio.Future[Any] | None = None
        pending: list[FeedBatch] = []
        count, opened, urgent = 0, 0.0, False
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(iterator.__anext__())
                closes = opened + self.settings.batch_seconds - self.clock()
                timeout = IDLE_CHORES_S if not pending else max(0.0, closes)
                done, _ = await asyncio.wait([nxt, stopper], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not done and not pending and not self._chores.empty():  # quiet feeds: the chores wait no longer
                    await asyncio.to_thread(self._run_chores)
                if nxt in done:
                    got, nxt = nxt, None
                    try:
                        item = got.result()
                    except StopAsyncIteration:
                        break
                    if not pending:  # the window opens when the delivery was received (the feeds' wall clock)
                        opened = self.clock() - max(0.0, time.time() - item.received)
                    pending.append(item)
                    count += _size(item)
                    urgent = urgent or may_be_distress(item)
                if stopper.done():
                    break
                if pending and (urgent or self.clock() - opened >= self.settings.batch_seconds):
                    nxt, count = await self._take_held(iterator, nxt, pending, count)
                if pending and (urgent or count >= self.settings.batch_messages
                                or self.clock() - opened >= self.settings.batch_seconds):  # fmt: skip
                    await asyncio.to_thread(self.process, pending)
                    pending, count, urgent = [], 0, False
        finally:
            stopper.cancel()
            if nxt is not None:
                nxt.cancel()
        if pending:
            await asyncio.to_thread(self.process, pending)
        await asyncio.to_thread(self.snapshot)

    async def _take_held(self, iterator: AsyncIterator[FeedBatch], nxt: asyncio.Future[Any] | None,
                         pending: list[FeedBatch], count: int) -> tuple[asyncio.Future[Any] | None, int]:  # fmt: skip
        """Add to ``pending`` (``count`` messages) the deliveries the feeds already hold, up to ``batch_messages``,
        without waiting; returns the delivery asked for and not yet there, and the new count.

        A micro-batch whose window is over takes them before it closes. Windows open when a delivery was received,
        so under a backlog every window is over by the time its batch starts: without this, each batch would close
        with one delivery, and the per-batch cost make the backlog grow.
        """
        while count < self.settings.batch_messages:
            if nxt is None:
                nxt = asyncio.ensure_future(iterator.__anext__())
            await asyncio.sleep(0)  # one turn of the loop: a delivery already queued is handed over in it
            if not nxt.done() or nxt.exception() is not None:
                break  # none held; or the end of the deliveries, which the caller's loop sees
            pending.append(nxt.result())
            count += _size(pending[-1])
            nxt = None
        return nxt, count

    def process(self, deliveries: Sequence[FeedBatch]) -> pl.DataFrame:
        """Decode, journal and run one micro-batch; returns the alerts new or changed (also given to the sinks).

        The engine steps while the batch is written to the journal (its syncs wait on the disk: 5-500 ms on this
        machine, as long as a step or longer); no sink is given anything of the batch before it is in the journal,
        so a crash still loses only what the journal never held, and no sink holds anything of that."""
        self._run_chores()
        tables = self._number(decode_all(deliveries))
        n = self._journal_next
        written: Future[None] | None = None
        if self.settings.journal:
            written = self._writer.submit(self._retrying, "journal", lambda: self._write_batch(n, tables))
        self._journal_next = n + 1
        self.stats.messages += sum(_size(d) for d in deliveries)
        for d in deliveries:
            if d.position >= 0:
                self.positions[d.url] = max(self.positions.get(d.url, 0), d.position)
        try:
            alerts = self._step(tables, n, before_publish=written.result if written is not None else None)
        except _EngineFailed as failed:
            if written is not None:
                written.result()  # in the journal before it is replayed from there (below)
            if not self.settings.journal:  # nothing here to replay it from: quarantined, a restart passes over it
                where = self._quarantine_delivered(tables, deliveries, failed.cause)
                raise RuntimeError(f"the engine failed on a micro-batch of its feed ({failed.cause}), quarantined in "
                                   f"{where}; a restart resumes from the last snapshot and reads the feed again "
                                   "without it") from failed.cause  # fmt: skip
            log.warning("the engine failed on batch %d (%s): back to the snapshot to replay the journal", n,
                        failed.cause)  # fmt: skip
            self._rewind()
            self._replay()  # fails on batch n again (then quarantines it) or not (the failure was passing)
            alerts = empty_alerts()
        if self.clock() - self._snapshot_at >= self.settings.snapshot_seconds:
            # a bus feed (no journal here) keeps its snapshot in line: its acknowledgements ride on it. Behind, they
            # were lost under load because the NATS feed stopped on a fetch timeout (fixed there, 7539ff1); a bus
            # feed's snapshot behind is not measured yet
            self._snapshot_behind() if self.settings.journal else self.snapshot()
        return alerts

    def _write_batch(self, n: int, tables: dict[str, pl.DataFrame]) -> None:
        """Batch ``n`` into the journal, whole or not at all (see the module's docstring)."""
        tmp = self.journal / f".tmp-{n:012d}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            for name in TABLES:
                crash_point("journal.write")
                tables[name].write_ipc(tmp / f"{name}.arrow")
                fsync_file(tmp / f"{name}.arrow")
            fsync_dir(tmp)
            crash_point("journal.written")
            os.replace(tmp, self.journal / f"{n:012d}")
            fsync_dir(self.journal)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        crash_point("journal.committed")

    def _retrying(self, what: str, write: Callable[[], None]) -> None:
        """``write()`` until it works, waiting longer each time (the feeds wait meanwhile); a stop gives up."""
        delay = self.settings.retry_first_s
        while True:
            try:
                write()
            except OSError as exc:
                self.stats.write_failures[what] = self.stats.write_failures.get(what, 0) + 1
                self._problems[what] = f"{what} write failing ({exc}); the feeds wait, tried again every {delay:g} s"
                log.error("cannot write the %s (%s): tried again in %g s, the feeds waiting", what, exc, delay)
                if self.stopping.wait(delay):
                    raise
                delay = min(2 * delay, self.settings.retry_max_s)
                continue
            if self._problems.pop(what, None) is not None:
                log.warning("the %s is written again", what)
            return

    def finish(self) -> pl.DataFrame:
        """End of a finite input: release every waiting row (:meth:`Engine.finish`) and hand the sinks the alerts
        new or changed; afterwards they hold exactly the engine's alerts, the batch run's."""
        tables = decode_all([])[0]
        alerts = self._publish(tables, self.engine.finish())
        self._waiting_sinks()  # the sinks that write in a thread of their own have written it all
        return alerts

    def _step(self, tables: dict[str, pl.DataFrame], batch: int = -1,
              before_publish: Callable[[], Any] | None = None) -> pl.DataFrame:  # fmt: skip
        """Run the engine on ``tables`` and hand the sinks what came of it, after ``before_publish()`` returned."""
        started = time.perf_counter()
        try:
            stepped = self.engine.process(tables["positions"], tables["statics"], tables["events"])
        except Exception as exc:  # noqa: BLE001  # whatever a batch makes the engine raise: that is a poison batch
            raise _EngineFailed(batch, exc) from exc
        if before_publish is not None:
            before_publish()
        alerts = self._publish(tables, stepped)
        spent = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.rows += sum(t.height for t in tables.values())
        self.stats.engine_seconds += spent
        self.stats.last_batch_at = time.time()
        self.stats.first_batch_at = self.stats.first_batch_at or self.stats.last_batch_at
        self.stats.history = [*self.stats.history[-99:], spent]
        return alerts

    def _publish(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> pl.DataFrame:
        """Hand a step's rows and alerts (with the fast path's announcements and withdrawals) to the sinks."""
        withdrawn: list[str] = []
        if self.fast_path is not None:
            alerts, withdrawn = self.fast_path.after_step(alerts)
        for sink in self.sinks:
            sink.consume(tables, alerts)
            if withdrawn:
                sink.withdraw(withdrawn)
        return alerts

    def _number(self, parts: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
        """Global arrival numbers: each feed's framer numbers its messages from 0 and the engine needs one order
        for all. Within a delivery the framer's order (across the three tables) is kept; deliveries follow each
        other in the order they came."""
        out: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLES}
        for part in parts:
            low = min((int(t["seq"].min()) for t in part.values() if t.height), default=0)  # type: ignore[arg-type]
            top = _max_seq(part)
            for name in TABLES:
                out[name].append(part[name].with_columns(seq=pl.col("seq") - low + self._next_seq))
            self._next_seq += max(0, top - low + 1)
        return {name: pl.concat(frames, how="vertical") for name, frames in out.items()}

    def snapshot(self) -> bool:
        """Snapshot the engine with the journal position it covers, then drop the journal it makes unneeded; returns
        once it is on disk (after the one being written, if any). Whether a snapshot was written.

        Not while a sink holds what it could not write yet (the store down): the journal keeps it for a restart.
        A failed write (a full disk) is reported and tried again later, after a longer wait each time."""
        self._settle()
        state = self._capture()
        return state is not None and self._write(*state)

    def _snapshot_behind(self) -> None:
        """The due snapshot, written while the engine steps on: its state is copied here, between micro-batches,
        and written, synced and renamed in the snapshot thread, which then drops the journal it covers and tells
        ``on_snapshot`` (a feed acknowledges only what a snapshot on disk holds). Syncing 16 files took 62-417 ms
        on this machine, the engine stood still meanwhile and the alerts of those batches waited.

        When the previous snapshot is still being written, this one is skipped, not waited for: waiting would
        stop the engine again, and the next batch tries once more (the journal keeps everything meanwhile)."""
        if self._snapshot_writing is not None and not self._snapshot_writing.done():
            return
        self._settle()  # what went wrong in the last write (not a full disk: that is retried) surfaces here
        state = self._capture()
        if state is not None:
            self._snapshot_writing = self._snapshotter.submit(self._write, *state)

    def _settle(self) -> None:
        """Wait for the snapshot being written, if any; raise what it raised."""
        writing, self._snapshot_writing = self._snapshot_writing, None
        if writing is not None:
            writing.result()

    def _capture(self) -> tuple[Captured, dict[str, int]] | None:
        """The engine's state with the journal position it covers and the feeds' positions (None: a sink has not
        written everything yet, see :meth:`snapshot`); the next snapshot is due ``snapshot_seconds`` from now."""
        waiting = self._waiting_sinks()
        if waiting:
            log.info("snapshot put off: %s has not written everything yet", ", ".join(waiting))
            return None
        return self._state()

    def _waiting_sinks(self) -> list[str]:
        """The sinks that have not written everything they were given (the store down), once those that write in a
        thread of their own (seawatch/serve_job.py StoreSink) have done what they had under way."""
        return [type(s).__name__ for s in self.sinks if not getattr(s, "caught_up", lambda: True)()]

    def _state(self) -> tuple[Captured, dict[str, int]]:
        positions = dict(self.positions)
        state = self.engine.capture({"next_seq": self._next_seq, "journal_next": self._journal_next,
                                     "positions": positions})  # fmt: skip
        self._snapshot_at = self.clock()
        return state, positions

    def _write(self, state: Captured, positions: dict[str, int]) -> bool:
        """Write ``state`` (:meth:`_write_snapshot`); a failed write is reported and tried again later."""
        try:
            self._write_snapshot(state, positions)
        except OSError as exc:
            self.stats.write_failures["snapshot"] = self.stats.write_failures.get("snapshot", 0) + 1
            delay = self._snapshot_retry
            self._problems["snapshot"] = f"snapshot write failing ({exc}); the journal grows, next try in {delay:g} s"
            log.error("cannot write the engine snapshot (%s): the journal keeps everything, tried again in %g s",
                      exc, delay)  # fmt: skip
            self._snapshot_at = self.clock() - self.settings.snapshot_seconds + delay
            self._snapshot_retry = min(2 * delay, self.settings.retry_max_s)
            return False
        if self._problems.pop("snapshot", None) is not None:
            log.warning("the engine snapshot is written again")
        self._snapshot_retry = self.settings.retry_first_s
        self.stats.snapshots += 1
        return True

    def _write_snapshot(self, state: Captured, positions: dict[str, int]) -> None:
        """Put ``state`` on disk; only then drop the journal it covers and tell ``on_snapshot`` the feeds'
        ``positions`` it holds."""
        write_snapshot(state, self.snapshot_path)
        covered = int(state.meta["extra"]["journal_next"])
        for n, where in self._journal_files():
            if n < covered:
                crash_point("journal.prune")
                if where.is_dir():
                    shutil.rmtree(where)
                else:
                    for name in TABLES:
                        (self.journal / f"{n:012d}.{name}.arrow").unlink(missing_ok=True)
        (self.state_dir / "stream.json").unlink(missing_ok=True)  # an older version's position, now in the snapshot
        for done in self.on_snapshot:
            done(positions)


class _EngineFailed(Exception):
    """The engine raised on journal batch ``batch`` (-1: not a journal batch)."""

    def __init__(self, batch: int, cause: Exception) -> None:
        super().__init__(f"batch {batch}: {cause}")
        self.batch, self.cause = batch, cause


def _legacy_position(state_dir: Path) -> dict[str, Any]:
    """The journal position an older version kept beside its snapshot (``stream.json``), if any."""
    meta = state_dir / "stream.json"
    return dict(json.loads(meta.read_text())) if meta.is_file() else {}


def _size(d: FeedBatch) -> int:
    if d.messages is not None:
        return len(d.messages)
    return int(d.records.messages) if d.records is not None else 0


def _max_seq(tables: dict[str, pl.DataFrame]) -> int:
    return max((int(t["seq"].max()) for t in tables.values() if t.height), default=-1)  # type: ignore[arg-type]
