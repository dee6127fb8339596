"""Live AIS sources: the common :class:`Source` protocol, per-feed counters, the URL parser and :class:`FeedSet`.

A source is a small class with one method, ``next_batch``, that returns what the feed delivered next: raw NMEA
bytes with the time they were read (:class:`Chunk`), rows already decoded from a JSON feed (:class:`Records`),
or ``None`` when the feed has ended. :class:`FeedSet` runs several sources at once, frames each one's bytes with
its own :class:`~feeds.framing.Framer` and puts the results on one bounded queue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import SplitResult, parse_qs, urlsplit

import numpy as np
import polars as pl

from feeds import nmea_kernel as nk
from feeds.framing import Framer, MessageBatch

log = logging.getLogger(__name__)

Clock = Callable[[], float]
QUEUE_BATCHES = 64  # batches waiting for the engine before the sources wait: seconds of a national feed
# framer outcomes that are not a rejected input: messages, their parts, and lines that are fine to skip
_NOT_REJECTS = frozenset({"message", "part", "blank", "comment", "wrapper", "other_nmea", *nk.NOTES})


class FeedError(Exception):
    """A feed that cannot be opened or read; the message names the feed URL and the fix."""


@dataclass(frozen=True)
class Chunk:
    """Raw NMEA bytes as a feed delivered them (lines may be cut anywhere) and when they were read."""

    data: bytes
    received: float  # unix seconds, UTC
    position: int = -1  # where the chunk lies in a replayable feed (a NATS stream sequence); -1: nowhere


@dataclass(frozen=True)
class Records:
    """Rows a JSON feed delivered, already in the decoder's Positions and Statics columns."""

    positions: pl.DataFrame
    statics: pl.DataFrame
    received: float  # unix seconds, UTC
    messages: int  # feed messages turned into rows (a type 19 report gives a position and a static row)
    rejects: dict[str, int] = field(default_factory=dict)  # feed messages skipped, by reason


class Source(Protocol):
    """What :class:`FeedSet` runs: ``next_batch`` returns the next delivery, or ``None`` at the end of the feed."""

    url: str
    counters: FeedCounters

    async def next_batch(self) -> Chunk | Records | None: ...

    async def close(self) -> None: ...


@dataclass
class FeedCounters:
    """What one feed has done so far; :meth:`snapshot` is what /metrics shows."""

    url: str
    messages: int = 0  # AIS messages delivered to the engine
    bytes: int = 0  # bytes read from the network or file
    chunks: int = 0  # deliveries (reads, datagram groups, JSON batches)
    connects: int = 0  # connections made (TCP, websocket)
    reconnects: int = 0  # connections made again after a loss
    connect_failures: int = 0  # attempts that did not connect
    silences: int = 0  # connections dropped because no byte came for ``silence`` seconds
    queue_waits: int = 0  # deliveries that waited because the engine's queue was full (backpressure)
    dropped: int = 0  # datagrams dropped before reading (UDP only: its sender cannot be made to wait)
    loops: int = 0  # file replays started again from the beginning
    rejects: Counter[str] = field(default_factory=Counter)  # skipped input, by reason
    last_received: float = math.nan  # clock time of the last delivery holding messages
    last_message_time: float = math.nan  # newest message time seen (the feed's own clock)
    error: str | None = None  # why the feed stopped, when it stopped on an error

    def note_messages(self, n: int, received: float, times: np.ndarray) -> None:
        """Count ``n`` messages read at ``received`` whose own times are ``times`` (NaN = unknown)."""
        if n == 0:
            return
        self.messages += n
        self.last_received = received
        known = times[~np.isnan(times)]
        if known.shape[0]:
            newest = float(known.max())
            if math.isnan(self.last_message_time) or newest > self.last_message_time:
                self.last_message_time = newest

    def snapshot(self, now: float) -> dict[str, object]:
        """Plain numbers for metrics: counts, ``lag`` (now - newest message time) and ``idle`` (since last data)."""
        return {
            "url": self.url,
            "messages": self.messages,
            "bytes": self.bytes,
            "chunks": self.chunks,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "silences": self.silences,
            "queue_waits": self.queue_waits,
            "dropped": self.dropped,
            "loops": self.loops,
            "rejects": {k: v for k, v in sorted(self.rejects.items()) if v},
            "lag_seconds": _or_none(now - self.last_message_time),
            "idle_seconds": _or_none(now - self.last_received),
            "error": self.error,
        }


def _or_none(x: float) -> float | None:
    return None if math.isnan(x) else x


class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base * 2**n)].

    Full jitter spreads the reconnects of many clients after a server restart (AWS Architecture Blog,
    "Exponential Backoff And Jitter", 2015). ``reset`` after a connection that delivered data.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self.rng = rng if rng is not None else random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(self.attempt, 62))
        self.attempt += 1
        return self.rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True)
class FeedBatch:
    """One delivery of one feed, as the engine receives it: framed NMEA messages or decoded JSON rows."""

    feed: int  # index of the feed in the FeedSet
    url: str
    received: float
    messages: MessageBatch | None = None
    records: Records | None = None
    position: int = -1  # the feed's position after this delivery (a NATS stream sequence); -1: not replayable

    def __len__(self) -> int:
        if self.messages is not None:
            return len(self.messages)
        return self.records.messages if self.records is not None else 0


@dataclass(frozen=True)
class _End:
    feed: int
    error: BaseException | None


class FeedSet:
    """Runs sources concurrently into one bounded queue; iterate it (``async for``) to get :class:`FeedBatch` es.

    A full queue makes the sources wait (counted as ``queue_waits``); nothing is dropped. A feed that fails with a
    :class:`FeedError` or an OS error stops alone: its counters hold the error and the other feeds go on.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        maxsize: int = QUEUE_BATCHES,
        clock: Clock = time.time,
        keep_bad_checksums: bool = False,
    ) -> None:
        if not sources:
            raise ValueError("FeedSet needs at least one source; give one or more feed URLs")
        self.sources = list(sources)
        self.clock = clock
        self.queue: asyncio.Queue[FeedBatch | _End] = asyncio.Queue(maxsize)
        self.framers = [Framer(keep_bad_checksums=keep_bad_checksums, clock=clock) for _ in self.sources]
        self._tasks: list[asyncio.Task[None]] = []
        self._enders: set[asyncio.Task[None]] = set()
        self._ended = 0

    @property
    def counters(self) -> list[FeedCounters]:
        return [s.counters for s in self.sources]

    def snapshot(self) -> dict[str, object]:
        """Every feed's counters and the queue's depth, as plain values for /metrics."""
        now = self.clock()
        return {
            "queue": {"size": self.queue.qsize(), "maxsize": self.queue.maxsize},
            "feeds": [c.snapshot(now) for c in self.counters],
        }

    def start(self) -> None:
        """Start one task per source (inside a running event loop)."""
        if self._tasks:
            return
        for i, src in enumerate(self.sources):
            task = asyncio.create_task(self._pump(i, src), name=f"feed {src.url}")
            task.add_done_callback(functools.partial(self._on_done, i))
            self._tasks.append(task)

    async def close(self) -> None:
        """Stop every source and wait for their tasks to end."""
        for task in (*self._tasks, *self._enders):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._enders, return_exceptions=True)
        for src in self.sources:
            await src.close()

    async def __aenter__(self) -> FeedSet:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> FeedSet:
        return self

    async def __anext__(self) -> FeedBatch:
        self.start()
        while self._ended < len(self.sources):
            item = await self.queue.get()
            if isinstance(item, FeedBatch):
                return item
            self._ended += 1
            if item.error is not None:  # a bug, not a feed problem: let it surface
                raise item.error
        raise StopAsyncIteration

    def _on_done(self, i: int, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        ender = asyncio.ensure_future(self.queue.put(_End(i, task.exception())))
        self._enders.add(ender)
        ender.add_done_callback(self._enders.discard)

    async def _pump(self, i: int, src: Source) -> None:
        counters = src.counters
        framer = self.framers[i]
        try:
            while (item := await src.next_batch()) is not None:
                counters.chunks += 1
                if isinstance(item, Chunk):
                    await self._put(counters, self._framed(i, framer.feed(item.data, received=item.received), item))
                else:
                    counters.rejects.update(item.rejects)
                    counters.note_messages(item.messages, item.received, _times(item))
                    if item.messages:
                        await self._put(counters, FeedBatch(i, src.url, item.received, records=item))
            await self._put(counters, self._framed(i, framer.finish(), Chunk(b"", self.clock())))
        except (FeedError, OSError) as exc:
            counters.error = str(exc)
            log.error("%s: feed stopped: %s", src.url, exc)
        finally:
            await src.close()

    def _framed(self, i: int, batch: MessageBatch, chunk: Chunk) -> FeedBatch | None:
        src = self.sources[i]
        for reason, n in self.framers[i].counts.items():  # the framer's counts are cumulative: copy, not add
            if n and reason not in _NOT_REJECTS:
                src.counters.rejects[reason] = n
        src.counters.note_messages(len(batch), chunk.received, batch.time)
        if not len(batch) and chunk.position < 0:
            return None
        # a positioned chunk without a message (all of it rejected, or quarantined before) still moves the feed's
        # position on: a snapshot holds it and the feed acknowledges it instead of sending it again at every start
        return FeedBatch(i, src.url, chunk.received, messages=batch, position=chunk.position)

    async def _put(self, counters: FeedCounters, batch: FeedBatch | None) -> None:
        if batch is None:
            return
        if self.queue.full():
            counters.queue_waits += 1
        await self.queue.put(batch)


def _times(records: Records) -> np.ndarray:
    t = pl.concat([records.positions["t"], records.statics["t"]])
    return (t.dt.epoch("us").cast(pl.Float64) / 1e6).fill_null(math.nan).to_numpy()


def open_feed(
    url: str,
    *,
    speed: float | None = None,
    loop: bool | None = None,
    silence: float | None = None,
    clock: Clock = time.time,
) -> Source:
    """The source a feed URL names; keyword arguments override nothing the URL's query sets explicitly.

    ``tcp://host:port[?silence=S]``, ``udp://[host]:port``, ``file://path[?speed=N&loop=1]`` (speed 0 = as fast as
    possible), ``wss://host/path[?box=lat1,lon1,lat2,lon2]`` (aisstream.io JSON; the key from
    ``SEAWATCH_AISSTREAM_KEY``), ``nats://host:port/STREAM`` (a JetStream stream relays publish to: feeds/nats.py).
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    if scheme == "tcp":
        from feeds.tcp import TcpSource

        host, port = _host_port(url, parts, need_host=True)
        return TcpSource(url, host, port, silence=_num(url, query, "silence", silence, 60.0), clock=clock)
    if scheme == "udp":
        from feeds.udp import UdpSource

        host, port = _host_port(url, parts, need_host=False)
        return UdpSource(url, host, port, clock=clock)
    if scheme == "file":
        from feeds.replay import ReplaySource

        path = Path(parts.netloc + parts.path)
        if not path.is_file():
            raise FeedError(f"{url}: no such file {path}; give the path of an NMEA log, e.g. file://data/feed.nmea")
        rep_loop = query["loop"] not in ("0", "false", "no") if "loop" in query else bool(loop)
        return ReplaySource(url, path, speed=_num(url, query, "speed", speed, 1.0), loop=rep_loop, clock=clock)
    if scheme == "nats":
        from feeds.nats import NatsSource

        return NatsSource(url, clock=clock)
    if scheme in ("ws", "wss"):
        from feeds.websocket import AisStreamSource

        return AisStreamSource.from_url(url, silence=_num(url, query, "silence", silence, 60.0), clock=clock)
    raise FeedError(
        f"{url}: unknown feed kind {scheme!r}; use tcp://host:port, udp://:port, file://path, wss://... (aisstream) or "
        "nats://host:port/STREAM"
    )


def _host_port(url: str, parts: SplitResult, *, need_host: bool) -> tuple[str, int]:
    try:
        port = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        port = None
    if port is None or (need_host and not parts.hostname):
        form = "tcp://host:port" if need_host else "udp://:port or udp://host:port"
        raise FeedError(f"{url}: needs a {'host and ' if need_host else ''}port (0-65535); write it as {form}")
    return parts.hostname or "", port


def _num(url: str, query: dict[str, str], key: str, given: float | None, default: float) -> float:
    if key in query:
        try:
            value = float(query[key])
        except ValueError:
            raise FeedError(f"{url}: {key}={query[key]!r} is not a number; write e.g. {key}=10") from None
    else:
        value = default if given is None else given
    if value < 0 or math.isnan(value):
        raise FeedError(f"{url}: {key} must be 0 or more, got {value}")
    return value
