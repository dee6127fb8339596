"""The stream runner: live feed batches -> micro-batches -> the same engine as batch runs -> sinks.

Micro-batches close when they hold ``batch_messages`` messages or ``batch_seconds`` after their first delivery
was received (a delivery that came during a step does not wait a whole window after it), whichever comes first;
a batch whose window is over first takes what the feeds already hold, so batches stay large under a backlog. The
engine runs in a worker thread while the event loop keeps receiving; when it falls behind, the feeds' bounded
queue fills and the sources wait (backpressure, never an unbounded queue).

Nothing accepted is lost and no alert is duplicated across a crash:
- every micro-batch is written to the *journal* (Arrow IPC files, written then renamed) before the engine sees
  it — a write-ahead log of decoded rows;
- every ``snapshot_seconds`` the engine is snapshotted (atomically, engine/runner.py) with the journal position
  it covers, and older journal files are removed;
- on start, :meth:`StreamRunner.open` restores the snapshot and replays the journal after it, handing the
  replayed alerts to the sinks again. Alerts have stable ids and sinks upsert them, so a replayed alert updates
  itself instead of appearing twice.
Messages still in a framer (a line cut in two, a multi-part message waiting for its last part) when the process
dies were never accepted; they are the only input lost.

Rows get a global arrival number across feeds (``seq``), so the engine's ordering rules hold with many feeds.
A distress alert does not wait for the watermark: engine/fast_path.py announces it from the rows that arrived,
and withdraws an announcement that later evidence proves wrong (sinks upsert and withdraw by alert id).
The engine never imports models or api: scoring and the store are sinks the caller passes in.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from engine.decode import decode, empty_tables
from engine.fast_path import DistressFastPath
from engine.runner import Detector, Engine
from feeds.sources import FeedBatch

TABLES = ("positions", "statics", "events")
Clock = Callable[[], float]
LIVE_LATENESS_S = 0.5  # live rows are stamped on arrival (or carry a station's time): seconds out of order at most


@dataclass(frozen=True)
class StreamSettings:
    batch_messages: int = 20_000  # a micro-batch closes at this many messages ...
    batch_seconds: float = 0.2  # ... or this long after its first delivery was received (alert latency budget: 1 s)
    snapshot_seconds: float = 30.0  # how much journal a restart may replay
    lateness_s: float = LIVE_LATENESS_S


class Sink(Protocol):
    """Where each step's results go (the store, the scorer, metrics)."""

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        """The rows of one micro-batch and the alerts that are new or changed after it."""
        ...

    def withdraw(self, alert_ids: list[str]) -> None:
        """Alerts announced early (the distress fast path) that later evidence proved wrong: remove them."""
        ...


@dataclass
class StreamStats:
    batches: int = 0
    messages: int = 0
    rows: int = 0
    replayed_batches: int = 0
    snapshots: int = 0
    engine_seconds: float = 0.0
    last_batch_at: float = 0.0
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
        self._chores: queue.SimpleQueue[Callable[[Engine], None]] = queue.SimpleQueue()
        self.fast_path = DistressFastPath.of(engine)
        (self.state_dir / "journal").mkdir(parents=True, exist_ok=True)

    def call_between(self, chore: Callable[[Engine], None]) -> None:
        """Run ``chore(engine)`` before the next micro-batch, in the engine's thread (e.g. new zones)."""
        self._chores.put(chore)

    @classmethod
    def open(cls, detectors: Sequence[Detector], state_dir: Path, sinks: Sequence[Sink] = (),
             settings: StreamSettings | None = None, clock: Clock = time.monotonic) -> StreamRunner:  # fmt: skip
        """A runner that continues from ``state_dir`` (snapshot + journal) or starts afresh when it is empty."""
        settings = settings or StreamSettings()
        state_dir = Path(state_dir)
        meta_path = state_dir / "stream.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            engine = Engine.restore(state_dir / "engine", detectors)
            runner = cls(engine, state_dir, sinks, settings, clock)
            runner._next_seq, runner._journal_next = meta["next_seq"], meta["journal_next"]
        else:
            runner = cls(Engine(detectors, lateness_s=settings.lateness_s), state_dir, sinks, settings, clock)
        runner._replay()
        return runner

    def _journal_files(self) -> list[tuple[int, Path]]:
        files = []
        for p in (self.state_dir / "journal").glob("*.positions.arrow"):
            files.append((int(p.name.split(".")[0]), p))
        return sorted(files)

    def _replay(self) -> None:
        for n, _ in self._journal_files():
            if n < self._journal_next:
                continue  # already in the snapshot (a crash between the snapshot and the clean-up)
            tables = {t: pl.read_ipc(self.state_dir / "journal" / f"{n:012d}.{t}.arrow")
                      for t in TABLES}  # fmt: skip
            self._step(tables)
            self._journal_next = n + 1
            self._next_seq = max(self._next_seq, _max_seq(tables) + 1)
            self.stats.replayed_batches += 1

    async def run(self, deliveries: AsyncIterator[FeedBatch], stop: asyncio.Event | None = None) -> None:
        """Consume ``deliveries`` until they end or ``stop`` is set; then snapshot (a clean stop replays nothing)."""
        stop = stop or asyncio.Event()
        stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        iterator = deliveries.__aiter__()
        nxt: asyncio.Future[Any] | None = None
        pending: list[FeedBatch] = []
        count, opened = 0, 0.0
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(iterator.__anext__())
                timeout = None if not pending else max(0.0, opened + self.settings.batch_seconds - self.clock())
                done, _ = await asyncio.wait([nxt, stopper], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
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
                if stopper.done():
                    break
                if pending and self.clock() - opened >= self.settings.batch_seconds:
                    nxt, count = await self._take_held(iterator, nxt, pending, count)
                if pending and (count >= self.settings.batch_messages
                                or self.clock() - opened >= self.settings.batch_seconds):  # fmt: skip
                    await asyncio.to_thread(self.process, pending)
                    pending, count = [], 0
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
        """Decode, journal and run one micro-batch; returns the alerts new or changed (also given to the sinks)."""
        while not self._chores.empty():
            self._chores.get()(self.engine)
        tables = self._number(_decode_all(deliveries))
        n = self._journal_next
        for name in TABLES:
            final = self.state_dir / "journal" / f"{n:012d}.{name}.arrow"
            tmp = final.with_suffix(".tmp")
            tables[name].write_ipc(tmp)
            os.replace(tmp, final)
        self._journal_next = n + 1
        self.stats.messages += sum(_size(d) for d in deliveries)
        alerts = self._step(tables)
        if self.clock() - self._snapshot_at >= self.settings.snapshot_seconds:
            self.snapshot()
        return alerts

    def finish(self) -> pl.DataFrame:
        """End of a finite input: release every waiting row (:meth:`Engine.finish`) and hand the sinks the alerts
        new or changed; afterwards they hold exactly the engine's alerts, the batch run's."""
        tables = _decode_all([])[0]
        return self._publish(tables, self.engine.finish())

    def _step(self, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
        started = time.perf_counter()
        alerts = self._publish(tables, self.engine.process(tables["positions"], tables["statics"], tables["events"]))
        spent = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.rows += sum(t.height for t in tables.values())
        self.stats.engine_seconds += spent
        self.stats.last_batch_at = time.time()
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

    def snapshot(self) -> None:
        """Snapshot the engine with the journal position it covers, then drop the journal it makes unneeded."""
        self.engine.snapshot(self.state_dir / "engine")
        meta = {"next_seq": self._next_seq, "journal_next": self._journal_next}
        tmp = self.state_dir / "stream.json.tmp"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.state_dir / "stream.json")
        for n, _ in self._journal_files():
            if n < self._journal_next:
                for name in TABLES:
                    (self.state_dir / "journal" / f"{n:012d}.{name}.arrow").unlink(missing_ok=True)
        self._snapshot_at = self.clock()
        self.stats.snapshots += 1


def _size(d: FeedBatch) -> int:
    if d.messages is not None:
        return len(d.messages)
    return int(d.records.messages) if d.records is not None else 0


def _max_seq(tables: dict[str, pl.DataFrame]) -> int:
    return max((int(t["seq"].max()) for t in tables.values() if t.height), default=-1)  # type: ignore[arg-type]


def _decode_all(deliveries: Sequence[FeedBatch]) -> list[dict[str, pl.DataFrame]]:
    """The tables of each delivery (empty tables where a delivery has none), in the decoder's schema."""
    empty = empty_tables()
    parts = []
    for d in deliveries:
        if d.messages is not None:
            decoded = decode(d.messages, details=False)
            parts.append({name: getattr(decoded, name) for name in TABLES})
        elif d.records is not None:
            parts.append({
                "positions": d.records.positions.select(empty.positions.columns),
                "statics": d.records.statics.select(empty.statics.columns),
                "events": empty.events,
            })  # fmt: skip
    return parts or [{name: getattr(empty, name) for name in TABLES}]
