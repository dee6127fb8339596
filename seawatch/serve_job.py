"""``seawatch serve`` and ``seawatch demo``: live feeds -> the stream runner -> the store -> the API and the map.

One asyncio loop runs the feeds (feeds/sources.py), the stream runner (engine/stream.py; the engine itself works
in a worker thread) and uvicorn serving the app (api/app.py). Two sinks take each micro-batch: the store gets
the alerts as they change and the vessels' thinned tracks; the scorer (models/) re-scores every vessel every
``score_seconds`` and writes the risk table. SIGINT/SIGTERM stop the feeds, finish the micro-batch in hand,
snapshot the engine and close the server; a restart resumes from the snapshot and its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from api.app import add_zones_listener, create_app, open_store
from api.geojson import zones_collection
from api.settings import Settings
from api.store import Store
from engine.detectors import default_detectors
from engine.detectors.geography import ZoneEntry
from engine.detectors.stations import station_report
from engine.durable import crash_point
from engine.geo.land import LandIndex
from engine.geo.regions import PackError, RegionPack, engine_pack, parse_pack
from engine.runner import Engine
from engine.stream import StreamRunner, StreamSettings
from feeds.sources import FeedSet
from models.features import FeatureAccumulator
from models.files import ModelFileError
from models.quality import NoisyBar, raised_bars, window_start
from models.registry import ModelWatcher, Registry
from models.scoring import Scorer
from seawatch.bus_job import AlertPublisher, bus_feeds, check_feeds
from seawatch.lease import Lease, LeaseLost

log = logging.getLogger("seawatch.serve")
SCORE_SECONDS = 5.0  # how often every vessel is re-scored: fresh enough for a watch floor, cheap at 100k vessels
# the store's hand-overs (a micro-batch's alerts and track points; withdrawals) under way while the engine steps on:
# the step after a batch overlaps its writes, and a store slower than the engine holds the engine back
STORE_WRITES_AHEAD = 2


@dataclass
class ServeOptions:
    feeds: list[str]
    host: str = "127.0.0.1"
    port: int = 8000
    state_dir: Path = Path(".seawatch")
    region: str = "gulf-of-tonkin"
    examples: bool = False  # alert on the region pack's example zones too (the demo)
    speed: float | None = None  # file:// replay speed
    models: Path | None = None
    stream: StreamSettings = field(default_factory=StreamSettings)
    score_seconds: float = SCORE_SECONDS
    api: bool = True  # False: an engine-only node (seawatch serve --no-api), no HTTP at all


def stream_settings(stream: StreamSettings, settings: Settings) -> StreamSettings:
    """The stream runner's settings from the service's: the alerts kept in memory (unless ``stream`` says), the
    eviction of silent vessels, and the micro-batch window (SEAWATCH_BATCH_MS)."""
    if stream.recent_alerts_s is None:
        stream = replace(stream, recent_alerts_s=settings.recent_alerts_hours * 3600.0)
    return replace(stream, evict_after_s=settings.evict_after_hours * 3600.0 or None,
                   batch_seconds=settings.batch_ms / 1000.0)  # fmt: skip


class StoreSink:
    """Alerts as they change, and positions for the tracks, into the store.

    The writes run in a thread of their own while the engine steps on (the track points of a 20,000-message batch
    take as long as the engine's step: half the engine thread's time was here). A micro-batch's rows are handed
    over in order and written in order; at most ``ahead`` hand-overs are under way, so a store slower than the
    engine makes the engine wait (backpressure) instead of queueing without bound. :meth:`caught_up` waits for the
    writes under way: the runner snapshots only once everything it gave is written. Like every sink, it is called
    from one thread at a time (the engine's).

    The database may be away (a PostgreSQL restart, a full disk, a locked file): writes that fail are kept in
    order, in memory, and tried again at the next hand-over once ``retry_first_s`` (doubling up to
    ``retry_max_s``) has passed; the service goes on and /healthz says so (:meth:`troubles`). Meanwhile
    :meth:`caught_up` is False, which puts off the engine's snapshots: the journal keeps every batch whose
    alerts are not stored yet, so a crash then loses nothing either (the restart replays them into the store).
    Upserts by alert id make writing a version twice harmless.
    """

    def __init__(self, store: Store, retry_first_s: float = 1.0, retry_max_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, ahead: int = STORE_WRITES_AHEAD) -> None:  # fmt: skip
        self.store = store
        self.retry_first_s, self.retry_max_s, self.clock = retry_first_s, retry_max_s, clock
        self.failures = 0  # writes that failed, for /metrics
        self._waiting: list[tuple[str, Any]] = []  # ("alerts" | "track" | "withdraw", what), in order
        self._held = threading.Lock()  # _waiting: handed over in the engine's thread, written in the writer's
        self._failing_since: float | None = None
        self._error = ""
        self._delay = retry_first_s
        self._next_try = 0.0
        self._ahead = max(1, ahead)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="seawatch-store")
        self._writes: deque[Future[bool]] = deque()  # hand-overs whose flush has not been waited for
        self._died: BaseException | None = None  # what killed a write (a crash point): nothing is written after

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        handed: list[tuple[str, Any]] = []
        if alerts.height:
            handed.append(("alerts", alerts))
        p = tables["positions"]
        if p.height:
            handed.append(("track", p.select("mmsi", "t", "lat", "lon", "sog", "cog").filter(
                pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan() & pl.col("t").is_not_null()
            )))  # fmt: skip
        self._hand(handed)

    def withdraw(self, alert_ids: list[str]) -> None:
        self._hand([("withdraw", list(alert_ids))])

    def _hand(self, items: list[tuple[str, Any]]) -> None:
        """Queue ``items`` and have the writer flush, after waiting until fewer than ``ahead`` flushes are under
        way; raises what a finished flush raised (not a database error: those are held and retried)."""
        with self._held:
            self._waiting.extend(items)
        while self._writes and (self._writes[0].done() or len(self._writes) >= self._ahead):
            self._writes.popleft().result()
        self._writes.append(self._writer.submit(self.flush))

    def caught_up(self) -> bool:
        """Whether everything given has been written (the engine snapshots only then), once the writes under way
        are done."""
        while self._writes:
            self._writes.popleft().result()
        return not self._waiting

    def close(self) -> None:
        """Wait for the writes under way, without raising what they raised (the store's owner closes it next)."""
        self._writer.shutdown(wait=True)

    def flush(self) -> bool:
        """Write what waits, in order, unless the last failure is too recent; whether all of it is written. Runs
        in the writer thread (one flush at a time)."""
        if self._died is not None:
            raise self._died
        if not self._waiting or self.clock() < self._next_try:
            return not self._waiting
        try:
            while self._waiting:
                what, rows = self._waiting[0]
                crash_point("store.write")
                if what == "alerts":
                    self.store.upsert_alerts(rows)
                elif what == "track":
                    self.store.add_track(rows)
                else:
                    self.store.withdraw_alerts(rows)
                with self._held:
                    self._waiting.pop(0)
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            if self._failing_since is None:
                self._failing_since = self.clock()
            self._error = str(exc).splitlines()[0]
            self._next_try = self.clock() + self._delay
            log.error("the store cannot be written (%s): %d write(s) held, tried again in %g s", self._error,
                      len(self._waiting), self._delay)  # fmt: skip
            self._delay = min(2 * self._delay, self.retry_max_s)
            return False
        except BaseException as exc:  # a bug, or a test's kill at its crash point: no write after it, and the
            # engine's thread raises it at its next hand-over or caught_up() (the service stops, as it did)
            self._died = exc
            raise
        if self._failing_since is not None:
            log.warning("the store is written again after %.0f s", self.clock() - self._failing_since)
        self._failing_since, self._delay, self._next_try = None, self.retry_first_s, 0.0
        return True

    def troubles(self) -> list[str]:
        if self._failing_since is None:
            return []
        held = sum(1 for what, _ in self._waiting if what == "alerts")
        return [f"database writes failing for {self.clock() - self._failing_since:.0f} s ({self._error}); "
                f"{held} alert batch(es) held in memory and in the journal, tried again"]  # fmt: skip


class ScoringSink:
    """Features of every vessel, and their scores written to the store every ``every`` seconds, with the analysts'
    latest decisions (a dismissed alert no longer counts, a confirmed one counts fully: models/indicators.py), the
    watchlists (a listed vessel gets a reason on its smuggling score, its row the lists' names, and its first
    sighting goes to the live stream: models/watchlist.py), the mutes in force (a muted alert no longer counts
    until the mute expires or is ended), and the raised bars of noisy detectors (``bar``, models/quality.py:
    recomputed from the window's decisions each scoring, so a bar rises with dismissals and falls with
    confirmations or as they age out).

    The scoring itself (the models' predictions and the vessels' upsert: a good part of a second on a busy machine)
    runs in a thread of its own on the inputs taken in the engine's thread, so alerts are not held up behind it.
    Each scoring reads the decisions, the mutes in force and the watchlists from the store; a watcher looks for new
    decisions and for a change in the mutes in force (one made, ended or expired) or in the watchlists every
    ``every`` seconds and, when no micro-batch brought a scoring since (a quiet feed, a replay that ended), scores
    the last inputs again: a decision, a mute or a list edit reaches the scores within one cycle, whoever made it
    (this process's API or another one's), and an expiry too.
    """

    def __init__(self, scorer: Scorer, engine: Engine, store: Store, land: LandIndex, every: float,
                 bar: NoisyBar | None = None, models: ModelWatcher | None = None,
                 call_between: Callable[[Callable[[Engine], None]], None] | None = None) -> None:  # fmt: skip
        self.scorer, self.engine, self.store, self.every, self.bar = scorer, engine, store, every, bar
        # the runner's way into the engine's thread: micro-batches that came within a cycle of the last scoring are
        # scored a cycle later through it, when no other batch follows them (a burst, then a quiet feed)
        self.call_between = call_between
        self._behind = threading.Event()  # a micro-batch's inputs not scored yet
        self._catching_up = threading.Event()
        self.models = models  # the registry's promoted model replaces the scorer's at the next scoring
        self.features = FeatureAccumulator(land)
        self.scored_at = 0.0
        self.vessels = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="seawatch-scoring")
        self._running: Future[None] | None = None
        self._submitting = threading.Lock()
        self._last: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame] | None = None
        self._decided = -1  # the store's decisions mark the latest scores were made with
        self._muted: tuple[int, ...] | None = None  # the mutes in force the latest scores were made with
        self._listed: tuple[int, int] | None = None  # the watchlists' mark the latest scores were made with
        self._closed = threading.Event()
        self.on_scores: list[Callable[[pl.DataFrame], None]] = []  # each scoring's table (the bus publishes changes)
        self._watcher = threading.Thread(target=self._watch_decisions, name="seawatch-decisions", daemon=True)
        self._watcher.start()

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        self.features.add(tables["positions"], tables["statics"])
        self._behind.set()
        if time.monotonic() - self.scored_at >= self.every and self._submit(self._inputs()):
            self._behind.clear()  # taken in the engine's thread, after every micro-batch consumed so far

    def _catch_up(self, _engine: Engine) -> None:
        """In the engine's thread: score the inputs the last micro-batches left unscored."""
        self._catching_up.clear()
        if self._behind.is_set() and self._submit(self._inputs()):
            self._behind.clear()

    def withdraw(self, alert_ids: list[str]) -> None:
        """Nothing to do: the scores are made of the engine's own alerts, which never hold an announced one."""

    def score(self) -> None:
        """Score now, after the scoring under way (at shutdown)."""
        with self._submitting:
            self._closed.set()
        self._pool.shutdown(wait=True)
        self._score(*self._inputs())

    def _inputs(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        return self.engine.alerts(), self.features.vessels(), self.features.days()

    def _submit(self, inputs: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> bool:
        """Score ``inputs`` in the scoring thread, unless a scoring is under way (the next cycle catches up)."""
        with self._submitting:
            if self._closed.is_set() or (self._running is not None and not self._running.done()):
                return False
            self.scored_at = time.monotonic()
            self._last = inputs
            self._running = self._pool.submit(self._score, *inputs)
            self._running.add_done_callback(_log_failure)
            return True

    def _watch_decisions(self) -> None:
        # looking costs one indexed max(): every second at most, so a decision waits for little more than a cycle
        while not self._closed.wait(min(self.every, 1.0)):
            if self._last is None or time.monotonic() - self.scored_at < self.every:
                continue  # nothing scored yet, or a micro-batch's scoring (which reads the decisions) is due
            if self._behind.is_set() and self.call_between is not None:
                if not self._catching_up.is_set():  # one request at a time while the engine is busy
                    self._catching_up.set()
                    self.call_between(self._catch_up)
                continue  # the catch-up reads the decisions too
            try:
                mark, muted = self.store.decisions_mark(), _mute_ids(self.store.mutes_in_force())
                listed = self.store.watchlists_mark()
            except SQLAlchemyError as exc:
                log.warning("could not look for new triage decisions and mutes (tried again in %g s): %s", self.every,
                            exc)  # fmt: skip
                continue
            changed = mark != self._decided or muted != self._muted or listed != self._listed
            if changed or (self.models is not None and self.models.changed()):
                self._submit(self._last)

    def _score(self, alerts: pl.DataFrame, vessels: pl.DataFrame, days: pl.DataFrame) -> None:
        if self.models is not None:
            self.scorer = self.models.scorer(self.scorer)
        mark = self.store.decisions_mark()  # before reading them: a decision made in between is read next cycle
        mutes = self.store.mutes_in_force()
        bars = None
        if self.bar is not None and self.bar.min_precision > 0:
            bars = raised_bars(self.store.triaged(window_start(datetime.now(UTC), self.bar)), self.bar)
        listed = self.store.watchlists_mark()  # before reading the entries, as the decisions' mark
        table, matches = self.scorer.score_listed(alerts, vessels, days, self.store.watchlist_entries_frame(),
                                                  decisions=self.store.decisions(), mutes=mutes, bars=bars)  # fmt: skip
        if table.height:
            self.store.upsert_vessels(table)
            for listener in self.on_scores:
                listener(table)
        self.store.record_sightings(matches)
        self.vessels = table.height
        self._decided, self._muted, self._listed = mark, _mute_ids(mutes), listed


def _mute_ids(mutes: pl.DataFrame) -> tuple[int, ...]:
    return tuple(sorted(mutes["mute_id"].to_list()))


def _log_failure(done: Future[None]) -> None:
    exc = done.exception()
    if exc is not None:
        log.error("scoring failed; the vessels' scores are not updated until it works again", exc_info=exc)


class RunnerMetrics(Collector):
    """The stream runner's and every feed's counters for /metrics."""

    def __init__(self, runner: StreamRunner, feeds: FeedSet, store_sink: StoreSink | None = None) -> None:
        self.runner, self.feeds, self.store_sink = runner, feeds, store_sink

    def collect(self) -> Iterator[Any]:
        s = self.runner.stats
        yield CounterMetricFamily("seawatch_stream_messages", "messages through the engine", value=s.messages)
        yield CounterMetricFamily("seawatch_stream_batches", "micro-batches through the engine", value=s.batches)
        yield CounterMetricFamily("seawatch_stream_snapshots", "engine snapshots written", value=s.snapshots)
        yield CounterMetricFamily("seawatch_stream_engine_seconds", "seconds spent in the engine",
                                  value=s.engine_seconds)  # fmt: skip
        yield GaugeMetricFamily("seawatch_stream_first_batch_timestamp_seconds", "when the engine finished its "
                                "first micro-batch since the start (unix time; 0: none yet)",
                                value=s.first_batch_at)  # fmt: skip
        yield GaugeMetricFamily("seawatch_stream_last_batch_timestamp_seconds", "when the engine finished its "
                                "latest micro-batch (unix time; 0: none yet)", value=s.last_batch_at)  # fmt: skip
        yield GaugeMetricFamily("seawatch_stream_alerts", "alerts known to the engine",
                                value=len(self.runner.engine.book))  # fmt: skip
        yield CounterMetricFamily("seawatch_stream_quarantined", "journal batches the engine failed on twice, "
                                  "moved to quarantine/", value=s.quarantined)  # fmt: skip
        yield CounterMetricFamily("seawatch_stream_alerts_pruned", "old alerts the engine let go (the store keeps "
                                  "them)", value=self.runner.engine.book.pruned)  # fmt: skip
        failed = CounterMetricFamily("seawatch_write_failures", "writes that failed and are retried", labels=["what"])
        for what in ("journal", "snapshot"):
            failed.add_metric([what], float(s.write_failures.get(what, 0)))
        failed.add_metric(["store"], float(self.store_sink.failures if self.store_sink is not None else 0))
        yield failed
        snap: dict[str, Any] = self.feeds.snapshot()
        yield GaugeMetricFamily("seawatch_feed_queue", "feed batches waiting for the engine",
                                value=snap["queue"]["size"])  # fmt: skip
        counted = (("messages", "messages received"), ("reconnects", "reconnections"),
                   ("silences", "silent spells detected"), ("queue_waits", "waits on a full queue"),
                   ("dropped", "datagrams dropped unread (UDP: the sender cannot be made to wait)"))  # fmt: skip
        for name, help_text in counted:
            fam = CounterMetricFamily(f"seawatch_feed_{name}", help_text, labels=["feed"])
            for feed in snap["feeds"]:
                fam.add_metric([feed["url"]], float(feed.get(name, 0)))
            yield fam
        lag = GaugeMetricFamily("seawatch_feed_lag_seconds", "now minus the newest message time", labels=["feed"])
        for feed in snap["feeds"]:
            if feed.get("lag_seconds") is not None:
                lag.add_metric([feed["url"]], float(feed["lag_seconds"]))
        yield lag
        rejects = CounterMetricFamily("seawatch_feed_rejects", "records rejected, by reason", labels=["feed", "reason"])
        for feed in snap["feeds"]:
            for reason, n in feed.get("rejects", {}).items():
                rejects.add_metric([feed["url"], reason], float(n))
        yield rejects


# A feed with nothing for this long is silent: a national feed carries thousands of messages a second and a single
# station dozens, so a minute of nothing is an outage or a broken link, not a quiet sea.
FEED_SILENT_S = 60.0
QUEUE_BEHIND = 0.8  # the engine is behind when its input queue is this full (the feeds then wait: backpressure)


def troubles(snapshot: dict[str, Any], silent_s: float = FEED_SILENT_S) -> list[str]:
    """What /healthz says is wrong with the live service, from :meth:`FeedSet.snapshot`: silent or failed feeds
    and an engine that does not keep up."""
    out = []
    for feed in snapshot["feeds"]:
        idle = feed.get("idle_seconds")
        if feed.get("error"):
            out.append(f"feed {feed['url']}: {feed['error']}")
        elif idle is None:
            out.append(f"feed {feed['url']} has sent nothing yet")
        elif idle > silent_s:
            out.append(f"feed {feed['url']} silent for {idle:.0f} s")
    queue = snapshot["queue"]
    if queue["maxsize"] and queue["size"] >= QUEUE_BEHIND * queue["maxsize"]:
        out.append(f"engine behind: {queue['size']} of {queue['maxsize']} feed batches waiting")
    return out


def with_api_zones(pack: RegionPack, collection: dict[str, Any]) -> RegionPack:
    """``pack`` with the zones analysts keep through the API (a FeatureCollection as the API hands it over).

    A stored zone the engine cannot build (kept before the API checked zones as the engine does) is left out and
    logged, naming it and the fix: one bad row must not stop the service, nor every restart after it.
    """
    usable = []
    for feature in collection["features"]:
        try:
            parse_pack({"type": "FeatureCollection", "features": [feature]}, "api", None)
        except PackError as exc:
            log.warning("zone %s left out, the engine cannot use it: %s", feature.get("id", "?"), exc)
            continue
        usable.append(feature)
    if not usable:
        return pack
    zones = parse_pack({**collection, "features": usable}, "api", None)
    return pack.with_zones(zones.zones, tuple(zones.feature_collection("zone")["features"]))


def _scorer(models: Path | None) -> Scorer:
    try:
        return Scorer.with_default_models(models)
    except ModelFileError as exc:
        if models is not None:
            raise
        log.warning("scores from the indicator model only: %s", exc)
        return Scorer()


async def serve(options: ServeOptions, settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Run everything until SIGINT/SIGTERM (or the feeds end and the server is stopped)."""
    store = await asyncio.to_thread(open_store, settings)
    land = LandIndex.load()
    examples = options.examples or settings.examples
    # the map draws the zones the engine watches; the admin API and the scorer share the model registry
    settings = settings.model_copy(update={"examples": examples,
                                           "models_dir": settings.registry_dir(options.state_dir)})  # fmt: skip
    base = engine_pack(options.region, examples=examples)
    pack = with_api_zones(base, zones_collection(store.zones()))
    scorer = _scorer(options.models)
    # the store sink goes in before the journal is replayed: a crash after a micro-batch was journaled but before
    # its alerts reached the store would lose them otherwise (upserts by alert id make the replay idempotent)
    store_sink = StoreSink(store, options.stream.retry_first_s, options.stream.retry_max_s)
    stream = stream_settings(options.stream, settings)
    if check_feeds(options.feeds):  # the bus is the journal (seawatch/bus_job.py)
        stream = replace(stream, journal=False)
    lease = Lease.for_feeds(options.feeds)  # one engine per bus consumer (seawatch/lease.py)
    if lease is not None:
        await lease.acquire()  # a standby waits here, loaded, and restores the snapshot once it leads
    runner = StreamRunner.open(default_detectors(pack, land), options.state_dir / "engine-state", [store_sink],
                               stream)  # fmt: skip
    models = ModelWatcher(Registry(settings.models_dir, options.models))
    scoring = ScoringSink(scorer, runner.engine, store, land, options.score_seconds, bar=settings.noisy_bar(),
                          models=models, call_between=runner.call_between)  # fmt: skip
    runner.sinks.append(scoring)
    publisher = AlertPublisher.for_feeds(options.feeds)
    if publisher is not None:
        await publisher.connect()
        runner.sinks.append(publisher)
        scoring.on_scores.append(publisher.scored)
    registry = CollectorRegistry()
    feeds = FeedSet(bus_feeds(options.feeds, runner, options.speed))
    registry.register(RunnerMetrics(runner, feeds, store_sink))
    # the receiving stations as the engine last published them (read from memory, any thread)
    app = create_app(settings, store=store, registry=registry,
                     stations=lambda: station_report(runner.engine.detectors),
                     liveness=lambda: [*troubles(feeds.snapshot()), *runner.troubles(),
                                       *store_sink.troubles(), *models.troubles()])  # fmt: skip

    def zones_changed(fc: dict[str, Any]) -> None:
        fresh = with_api_zones(base, fc)

        def swap(engine: Engine) -> None:
            for d in engine.detectors:
                if isinstance(d, ZoneEntry):
                    d.replace_zones(fresh)

        runner.call_between(swap)

    add_zones_listener(app, zones_changed)

    async def follow_zones() -> None:
        """Zones edited in another process (seawatch api on the same database) reach the engine too: at once when
        the store hears of the edit (api/store/changes.py), else at the next read, every ``zones_poll_s``."""
        edited = asyncio.Event()

        def heard(topics: frozenset[str]) -> None:  # the writing thread or the change follower's
            if "zones" in topics:
                loop.call_soon_threadsafe(edited.set)

        if settings.follow_changes:
            store.follow_changes()  # this process hears other processes' commits (the app's lifespan may too)
        store.changes.subscribe(heard)
        every = settings.zones_poll_s
        last = zones_collection(await asyncio.to_thread(store.zones))
        while not stop.is_set():
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(edited.wait())]
            await asyncio.wait(waits, timeout=every, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            edited.clear()
            try:
                now = zones_collection(await asyncio.to_thread(store.zones))
            except SQLAlchemyError as exc:
                log.warning("could not read the zones (tried again in %g s): %s", every, exc)
                continue
            if now != last:
                last = now
                zones_changed(now)

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=options.host, port=options.port, log_level="warning",
                                           lifespan="on"))  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def watch_stop() -> None:
        await stop.wait()
        server.should_exit = True

    async def keep_lease() -> None:
        if lease is None:
            return
        try:
            await lease.keep(stop)
        except LeaseLost as exc:  # another engine leads from this state now: no snapshot, no write, out at once
            log.error("%s", exc)
            os._exit(3)

    async def run_engine() -> None:
        async with feeds:
            await runner.run(feeds, stop)
        await asyncio.to_thread(scoring.score)

    async def serve_api() -> None:
        if options.api:
            await server.serve()
        else:  # the API runs elsewhere (seawatch api) on the same database
            await stop.wait()

    async def announce() -> None:
        while options.api and not server.started:
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()

    # what is loaded by now (libraries, the region pack, the land index: ~0.2 M objects) lives as long as the
    # process: frozen, the collector's full passes no longer walk it (160-290 ms each on this busy machine, a
    # stall of the engine's step and of every request in flight: benchmarks/RESULTS.md, Live service)
    gc.freeze()
    try:
        await asyncio.gather(serve_api(), run_engine(), watch_stop(), announce(), keep_lease(), follow_zones())
    finally:
        if lease is not None:
            await lease.release()
        if publisher is not None:
            await publisher.close()
        await asyncio.to_thread(store_sink.close)
        store.close()
