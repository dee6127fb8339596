"""``seawatch relay``: a station's feeds onto the NATS JetStream bus, losing nothing when the server is away.

Each feed (tcp://, udp://, file:// replayed at ``--speed``) is read as raw bytes; every delivery's whole lines
(never half a multi-part message: feeds/nats.py :func:`~feeds.nats.whole_messages`) become one bus message on
``STREAM.<source>`` with the receive time and the source in its headers and a message id unique to this relay
(``Nats-Msg-Id``). Each message is written to the spool on disk first (feeds/spool.py) and sent from there; it
leaves the spool once the server acknowledges it. A server that is away (a restart, a cut link) is retried with
backoff while the spool fills (bounded); a relay killed and started again resends what was not acknowledged, with
the same ids, and the server drops any copy it already had. The relay creates the stream when it is missing and
sets its limits (retention by age and size, the de-duplication window, the replicas) from the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path

from feeds.nats import MSG_ID, RECEIVED, SOURCE, StreamLimits, subject_token, whole_messages
from feeds.sources import Backoff, Chunk, FeedError, Source, open_feed
from feeds.spool import MAX_BYTES, Spool

log = logging.getLogger("seawatch.relay")
WINDOW = 256  # bus messages sent before waiting for their acknowledgements (each holds a delivery of lines)
ACK_TIMEOUT_S = 10.0  # a window not acknowledged within this is sent again (the ids make a repeat harmless)
MAX_HELD = 64 * 1024  # bytes of an unfinished multi-part message held for the next delivery, at most
MAX_MESSAGE = 256 * 1024  # bytes of lines per bus message, at most (nats-server refuses more than 1 MB by default)


@dataclass
class RelayOptions:
    feeds: list[str]
    nats: str = "nats://127.0.0.1:4222"  # or several servers of a cluster, comma-separated
    stream: str = "AIS"
    station: str | None = None  # the subject's source token (default: from each feed's URL)
    speed: float | None = None  # file:// replay speed
    spool: Path = Path(".seawatch-relay")
    spool_bytes: int = MAX_BYTES
    limits: StreamLimits = field(default_factory=StreamLimits)


def limits_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> StreamLimits:
    """The stream's limits from ``SEAWATCH_BUS_MAX_AGE_HOURS``, ``SEAWATCH_BUS_MAX_GB``,
    ``SEAWATCH_BUS_DUPLICATE_WINDOW_S`` and ``SEAWATCH_BUS_REPLICAS`` (defaults: :class:`StreamLimits`)."""
    base = StreamLimits()
    names = {"SEAWATCH_BUS_MAX_AGE_HOURS": "max_age_s", "SEAWATCH_BUS_MAX_GB": "max_bytes",
             "SEAWATCH_BUS_DUPLICATE_WINDOW_S": "duplicate_window_s", "SEAWATCH_BUS_REPLICAS": "replicas"}  # fmt: skip
    values: dict[str, float] = {}
    for env, attr in names.items():
        if env not in environ:
            continue
        try:
            x = float(environ[env])
        except ValueError:
            raise ValueError(f"{env}={environ[env]!r} is not a number; write e.g. {env}=24") from None
        if x <= 0:
            raise ValueError(f"{env} must be above 0, got {x}")
        values[attr] = x * 3600.0 if attr == "max_age_s" else x * 1024**3 if attr == "max_bytes" else x
    return StreamLimits(max_age_s=values.get("max_age_s", base.max_age_s),
                        max_bytes=int(values.get("max_bytes", base.max_bytes)),
                        duplicate_window_s=values.get("duplicate_window_s", base.duplicate_window_s),
                        replicas=int(values.get("replicas", base.replicas)))  # fmt: skip


async def ensure_stream(js: object, name: str, limits: StreamLimits) -> None:
    """Create the stream ``name`` (subjects ``name.>``) or bring its limits to ``limits``."""
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(name=name, subjects=[f"{name}.>"], max_age=limits.max_age_s, max_bytes=limits.max_bytes,
                          duplicate_window=limits.duplicate_window_s, num_replicas=limits.replicas)  # fmt: skip
    try:
        await js.stream_info(name)  # type: ignore[attr-defined]
    except NotFoundError:
        await js.add_stream(config)  # type: ignore[attr-defined]
        return
    await js.update_stream(config)  # type: ignore[attr-defined]


@dataclass
class RelayCounters:
    lines: int = 0  # lines put in the spool
    published: int = 0  # bus messages the server acknowledged
    duplicates: int = 0  # of which the server already had (a resend after a lost acknowledgement)
    failures: int = 0  # sends that failed (server away) and were tried again


class Relay:
    """Reads the feeds into the spool and sends the spool to the bus until ``stop`` (or the feeds end and the spool
    is sent)."""

    def __init__(self, options: RelayOptions) -> None:
        self.options = options
        self.spool = Spool(options.spool, max_bytes=options.spool_bytes)
        self.counters = RelayCounters()
        self.relay_id = secrets.token_hex(6)  # message ids unique to this run; a resend keeps the spooled ones
        self.sources: list[Source] = [open_feed(url, speed=options.speed) for url in options.feeds]
        self._spooled = asyncio.Event()
        self._feeds_done = False

    def _subject(self, url: str) -> str:
        name = self.options.station or url
        token = subject_token(name)
        if self.options.station and len(self.options.feeds) > 1:
            token = f"{token}-{self.options.feeds.index(url)}"
        return f"{self.options.stream}.{token}"

    async def _read(self, source: Source) -> None:
        subject = self._subject(source.url)
        token = subject.split(".", 1)[1]
        held = b""
        n = 0
        received = 0.0
        try:
            while (item := await source.next_batch()) is not None:
                if not isinstance(item, Chunk):
                    raise FeedError(f"{source.url}: the relay carries NMEA lines (tcp://, udp://, file://); a JSON "
                                    "feed goes to seawatch serve directly")  # fmt: skip
                data = held + item.data
                cut = whole_messages(data)
                if len(data) - cut > MAX_HELD:  # no newline for this long: not NMEA; the framer counts it
                    cut = len(data)
                if cut:
                    self._put(subject, f"{self.relay_id}-{token}-{n}", source.url, item.received, data[:cut])
                    n += 1
                held, received = data[cut:], item.received
            if held:  # the feed ended on an unfinished line or message: it goes as it is
                self._put(subject, f"{self.relay_id}-{token}-{n}", source.url, received, held + b"\n")
        finally:
            await source.close()

    def _put(self, subject: str, msg_id: str, url: str, received: float, data: bytes) -> None:
        """Spool ``data`` as one bus message, or several of at most ``MAX_MESSAGE`` bytes cut at whole messages
        (ids ``msg_id``, ``msg_id.1``, ...: a file replay's reads are a megabyte, the server's limit by default)."""
        part = 0
        while data:
            cut = len(data)
            if cut > MAX_MESSAGE:
                cut = whole_messages(data[:MAX_MESSAGE]) or data.rfind(b"\n", 0, MAX_MESSAGE) + 1 or MAX_MESSAGE
            piece, data = data[:cut], data[cut:]
            self.spool.append(subject, f"{msg_id}.{part}" if part else msg_id,
                              {RECEIVED: repr(received), SOURCE: url}, piece)  # fmt: skip
            self.counters.lines += piece.count(b"\n")
            part += 1
        self._spooled.set()

    async def _connect(self, stop: asyncio.Event) -> object | None:
        import nats

        backoff = Backoff(0.2, 5.0)
        while not stop.is_set():
            try:
                servers = [u.strip() for u in self.options.nats.split(",") if u.strip()]  # a cluster's servers
                nc = await nats.connect(servers, name="seawatch-relay", max_reconnect_attempts=-1,
                                        reconnect_time_wait=0.5, connect_timeout=2)  # fmt: skip
                js = nc.jetstream()
                await ensure_stream(js, self.options.stream, self.options.limits)
                return nc
            except (OSError, TimeoutError, nats.errors.Error) as exc:
                self.counters.failures += 1
                log.warning("NATS server %s not reachable (%s): spooling to %s, trying again", self.options.nats,
                            exc, self.options.spool)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff.next_delay())
        return None

    async def _send(self, stop: asyncio.Event) -> None:
        import nats

        nc = await self._connect(stop)
        if nc is None:
            return
        js = nc.jetstream()  # type: ignore[attr-defined]
        backoff = Backoff(0.2, 5.0)
        try:
            while not stop.is_set():
                records = self.spool.read(WINDOW)
                if not records:
                    if self._feeds_done:
                        return
                    self._spooled.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._spooled.wait(), 0.5)
                    continue
                try:
                    futures = [await js.publish_async(r.subject, r.payload, headers={MSG_ID: r.msg_id, **r.headers})
                               for r in records]  # fmt: skip
                    acks = await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT_S)
                except (OSError, TimeoutError, nats.errors.Error) as exc:
                    self.counters.failures += 1
                    self.spool.rewind()
                    log.warning("sending to %s failed (%s): kept in the spool, sent again", self.options.nats, exc)
                    if stop.is_set():
                        return
                    await asyncio.sleep(backoff.next_delay())
                    continue
                backoff.reset()
                self.spool.acknowledge(records[-1])
                self.counters.published += len(acks)
                self.counters.duplicates += sum(1 for a in acks if a.duplicate)
        finally:
            with contextlib.suppress(nats.errors.Error, OSError):
                await nc.close()  # type: ignore[attr-defined]

    async def run(self, stop: asyncio.Event) -> None:
        readers = [asyncio.create_task(self._read(s), name=f"relay {s.url}") for s in self.sources]
        sender = asyncio.create_task(self._send(stop), name="relay sender")
        stopper = asyncio.create_task(stop.wait())
        try:
            feeds = asyncio.gather(*readers, return_exceptions=True)
            await asyncio.wait([feeds, stopper], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
            for task in readers:
                task.cancel()
            results = await asyncio.gather(*readers, return_exceptions=True)
            for url, result in zip(self.options.feeds, results, strict=True):
                if isinstance(result, (FeedError, OSError)):
                    log.error("%s: feed stopped: %s", url, result)
            self._feeds_done = True
            self._spooled.set()
            await sender  # a stop sends no more; the feeds' end sends what the spool holds first
        finally:
            stopper.cancel()
            sender.cancel()
            self.spool.close()


def relay(options: RelayOptions) -> RelayCounters:
    """Run the relay until SIGINT/SIGTERM or the end of its feeds (file:// replays); its counters."""

    async def main() -> RelayCounters:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        r = Relay(options)
        await r.run(stop)
        return r.counters

    return asyncio.run(main())
