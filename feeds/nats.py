"""NATS JetStream as the AIS bus: the stream relays publish to, and ``nats://host:port/STREAM``, the engine's feed.

A relay (``seawatch relay``, seawatch/relay_job.py) publishes the whole lines a station received, one NATS message
per delivery, on the subject ``STREAM.<source>``; the message carries when the lines were received and where
from in its headers, and a ``Nats-Msg-Id`` by which the server drops a message sent twice (a relay resending after
a lost acknowledgement). A message never ends inside a multi-part AIS message (:func:`whole_messages`), so the
engine frames every bus message as it came, whatever happened between two of them.

The engine reads the stream through a durable pull consumer (:class:`NatsSource`). The bus is its journal: the
engine's snapshot records the stream sequence it holds (engine/stream.py, ``journal=False``), the consumer is
placed just after it on every start, and messages are acknowledged (ack "all": one acknowledges every earlier one)
only once a snapshot holding them is on disk. A kill -9 anywhere resumes from the snapshot: nothing lost, nothing
run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from feeds.sources import Chunk, Clock, FeedCounters, FeedError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

log = logging.getLogger(__name__)

RECEIVED = "Seawatch-Received"  # header: unix seconds (UTC) the relay read the lines
SOURCE = "Seawatch-Source"  # header: the feed URL or station the lines came from
MSG_ID = "Nats-Msg-Id"  # JetStream's de-duplication header
DEFAULT_STREAM = "AIS"
DEFAULT_DURABLE = "seawatch-engine"
FETCH = 256  # bus messages asked for at once (each holds a delivery: up to hundreds of lines)
FETCH_WAIT_S = 1.0  # a fetch that finds nothing returns after this long (the runner's idle chores go on)
# unacknowledged messages are not sent again for this long: the engine acknowledges only after a snapshot, which a
# database outage may put off for minutes; a redelivery that comes anyway is recognised by its sequence and skipped
ACK_WAIT_S = 3600.0
UNAVAILABLE_RETRY_S = 0.5  # a bus without a leader for the request is asked again after this long (elections: s)
MAX_GROUP_LINES = 9  # an AIS message has at most 9 sentences (ITU-R M.1371 / IEC 61162): a longer "group" is broken
_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class StreamLimits:
    """How long and how much of the raw feed the stream keeps, and its de-duplication window.

    A week of a national feed (a few thousand messages a second, ~80 bytes each) is ~150 GB: the defaults keep a
    day or 20 GB, whichever is less, enough for an engine or a standby to come back after a long outage.
    """

    max_age_s: float = 24 * 3600.0
    max_bytes: int = 20 * 1024**3
    duplicate_window_s: float = 600.0  # a relay's resend after this long would not be recognised as a duplicate
    replicas: int = 1  # 3 on a 3-node cluster (RAFT): the stream survives the loss of a node


@dataclass(frozen=True)
class BusAddress:
    servers: tuple[str, ...]  # nats://host:port each: one server, or several of a cluster (any that answers is used)
    stream: str
    durable: str

    @property
    def url(self) -> str:
        """The feed URL naming all of it: ``nats://h1:4222,h2:4222/STREAM?durable=NAME``."""
        hosts = ",".join(s.removeprefix("nats://") for s in self.servers)
        return f"nats://{hosts}/{self.stream}?durable={self.durable}"


def bus_address(url: str) -> BusAddress:
    """``nats://host:port[,host:port...]/STREAM[?durable=NAME]`` -> the servers (a cluster's, comma-separated), the
    stream and the engine's durable consumer."""
    example = "e.g. nats://127.0.0.1:4222/AIS or nats://h1:4222,h2:4222/AIS"
    parts = urlsplit(url)
    if parts.scheme.lower() != "nats" or not parts.netloc:
        raise FeedError(f"{url}: a bus feed is nats://host:port/STREAM, {example}")
    servers = []
    for netloc in parts.netloc.split(","):
        one = urlsplit(f"nats://{netloc.strip()}")
        if not one.hostname:
            raise FeedError(f"{url}: a bus feed is nats://host:port/STREAM, {example}")
        try:
            port = one.port or 4222
        except ValueError:
            raise FeedError(f"{url}: the port must be a number 0-65535, {example}") from None
        servers.append(f"nats://{one.hostname}:{port}")
    stream = parts.path.strip("/") or DEFAULT_STREAM
    if not re.fullmatch(r"[A-Za-z0-9_-]+", stream):
        raise FeedError(f"{url}: stream name {stream!r} may hold letters, digits, '_' and '-' only, e.g. /AIS")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return BusAddress(tuple(dict.fromkeys(servers)), stream, query.get("durable", DEFAULT_DURABLE))


def unavailable() -> tuple[type[Exception], ...]:
    """What JetStream raises while a cluster has no leader for what is asked (an election after a node died, or no
    quorum): the same request works once one is elected."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import ServiceUnavailableError

    return ServiceUnavailableError, NoRespondersError, NatsTimeout


def one_per_consumer(urls: Sequence[str]) -> list[str]:
    """The bus feeds ``urls`` with those naming the same stream and consumer made one (``--feed`` repeated for each
    server of a cluster): a URL listing all their servers, in the order given; a feed given once is kept as given."""
    given: dict[tuple[str, str], list[str]] = {}
    for url in urls:
        a = bus_address(url)
        given.setdefault((a.stream, a.durable), []).append(url)
    out = []
    for (stream, durable), same in given.items():
        servers = dict.fromkeys(s for url in same for s in bus_address(url).servers)
        out.append(same[0] if len(same) == 1 else BusAddress(tuple(servers), stream, durable).url)
    return out


def subject_token(source: str) -> str:
    """A NATS subject token naming a source (a station name or a feed URL): no dots, spaces or wildcards."""
    parts = urlsplit(source)
    name = (parts.netloc + parts.path) if parts.scheme else source
    token = _TOKEN.sub("_", name).strip("_")
    return token or "unknown"


def _part(line: bytes) -> tuple[int, int] | None:
    """(fragment number, fragment count) of an AIS sentence line (after any tag block), or None."""
    body = line[line.rfind(b"\\") + 1 :] if line.startswith(b"\\") else line
    fields = body.split(b",", 3)
    if len(fields) < 4 or fields[0][-3:] not in (b"VDM", b"VDO"):
        return None
    try:
        return int(fields[2]), int(fields[1])
    except ValueError:
        return None


def whole_messages(data: bytes) -> int:
    """How many bytes of ``data`` hold whole lines and whole AIS messages: the cut stops before a multi-part
    message whose last part has not come yet (sent with the next delivery), and before a line without a newline.

    Only the last few lines are looked at: a group is at most ``MAX_GROUP_LINES`` sentences long, so a longer run
    of first parts is broken input, cut anyway (the framer counts it)."""
    end = data.rfind(b"\n") + 1
    cut = end
    for _ in range(MAX_GROUP_LINES):
        if cut == 0:
            return 0  # every line is an unfinished message's part: all of it waits
        start = data.rfind(b"\n", 0, cut - 1) + 1
        part = _part(data[start:cut].rstrip(b"\r\n"))
        if part is None or part[0] >= part[1]:
            return cut  # the line ends a message (or is no sentence): cut after it
        cut = start
    return end


class NatsSource:
    """``nats://host:port/STREAM``: the stream's messages from sequence ``after + 1`` on, as :class:`Chunk` s; those
    in ``skip`` (a batch the engine failed on, quarantined) come empty, with their position.

    Each chunk's ``position`` is the message's stream sequence; :meth:`acknowledge` (any thread) acknowledges every
    message up to a position once a snapshot holds it. The consumer is made again at every start, just after the
    snapshot's position: messages delivered to a process that died are sent again at once, in order.
    """

    def __init__(self, url: str, *, after: int = 0, skip: Collection[int] = (), clock: Clock = time.time,
                 fetch: int = FETCH) -> None:  # fmt: skip
        self.url = url
        self.address = bus_address(url)
        self.after = after
        self.skip = frozenset(s for s in skip if s > after)  # quarantined messages (engine/quarantine.py): passed over
        self.clock = clock
        self.fetch = fetch
        self.counters = FeedCounters(url)
        self.redelivered = 0  # messages the server sent again that the engine already had (skipped)
        self.passed = 0  # quarantined messages passed over (handed on empty: acknowledged with the rest)
        self._nc: Client | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._held: deque[Msg] = deque()
        self._replies: deque[tuple[int, str]] = deque()  # (stream sequence, reply subject) not yet acknowledged
        self._last = after  # the highest stream sequence handed to the engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acks: set[asyncio.Task[None]] = set()
        self._unavailable_since: float | None = None  # monotonic time the bus stopped answering (None: it answers)

    async def _connect(self) -> None:
        import nats

        self._loop = asyncio.get_running_loop()
        try:
            nc = await nats.connect(list(self.address.servers), name="seawatch-engine", max_reconnect_attempts=-1,
                                    connect_timeout=5)  # fmt: skip
        except (OSError, TimeoutError, nats.errors.NoServersError) as exc:
            where = ", ".join(self.address.servers)
            raise FeedError(f"{self.url}: cannot reach a NATS server at {where} ({exc}); start it "
                            f"(nats-server -js) or give its address") from None  # fmt: skip
        self._nc = nc
        while True:
            try:
                await self._subscribe(nc.jetstream())
                break
            except unavailable() as exc:  # a cluster electing a leader (its own, the stream's): wait for it
                self._waiting(exc)
                await asyncio.sleep(UNAVAILABLE_RETRY_S)
        self._unavailable_since = None
        self.counters.connects += 1

    async def _subscribe(self, js: JetStreamContext) -> None:
        """The engine's durable consumer made again just after ``after``, and a pull subscription on it."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        a = self.address
        try:
            await js.stream_info(a.stream)
        except NotFoundError:
            raise FeedError(f"{self.url}: the server has no stream {a.stream!r}; start a relay with --stream "
                            f"{a.stream} (it creates the stream) or name the right one") from None  # fmt: skip
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(a.stream, a.durable)
        start: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
        if self.after > 0:
            start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self.after + 1}
        config = ConsumerConfig(durable_name=a.durable, ack_policy=AckPolicy.ALL, ack_wait=ACK_WAIT_S,
                                max_ack_pending=-1, max_deliver=-1, **start)  # fmt: skip
        self._sub = await js.pull_subscribe(f"{a.stream}.>", durable=a.durable, stream=a.stream, config=config)

    def _waiting(self, exc: BaseException) -> None:
        """Say once per outage that the bus does not answer and the feed waits for it."""
        if self._unavailable_since is None:
            self._unavailable_since = time.monotonic()
            log.warning("%s: the bus does not answer (%s: a cluster electing a leader, or without a quorum); the "
                        "feed waits for it, trying every %g s", self.url, type(exc).__name__ or exc,
                        UNAVAILABLE_RETRY_S)  # fmt: skip

    async def next_batch(self) -> Chunk | None:
        if self._sub is None:
            await self._connect()
        assert self._sub is not None
        while True:
            while self._held:
                msg = self._held.popleft()
                seq = msg.metadata.sequence.stream
                if seq <= self._last:
                    self.redelivered += 1
                    continue
                self._last = seq
                self._replies.append((seq, msg.reply))
                if seq in self.skip:  # its position only, so that a snapshot holds it and it is acknowledged
                    self.passed += 1
                    return Chunk(b"", self.clock(), seq)
                data = msg.data
                headers = msg.headers or {}
                try:
                    received = float(headers.get(RECEIVED, ""))
                except ValueError:
                    received = self.clock()
                self.counters.bytes += len(data)
                return Chunk(data, received, seq)
            try:
                got = await self._sub.fetch(self.fetch, timeout=FETCH_WAIT_S)
            except TimeoutError:  # nats' own, or asyncio's from inside fetch when the loop is slow: nothing came
                continue
            except unavailable() as exc:  # the consumer's leader lost (a cluster's node died): a new one is elected
                self._waiting(exc)
                await asyncio.sleep(UNAVAILABLE_RETRY_S)
                continue
            if self._unavailable_since is not None:
                log.warning("%s: the bus answers again after %.1f s", self.url,
                            time.monotonic() - self._unavailable_since)  # fmt: skip
                self._unavailable_since = None
            self._held.extend(got)

    def acknowledge(self, position: int) -> None:
        """Acknowledge every message up to stream sequence ``position`` (from any thread: the runner's)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ack, position)

    def _ack(self, position: int) -> None:
        last: str | None = None
        while self._replies and self._replies[0][0] <= position:
            last = self._replies.popleft()[1]
        if last is not None and self._nc is not None:
            task = asyncio.ensure_future(self._nc.publish(last, b"+ACK"))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)

    async def close(self) -> None:
        if self._nc is None:
            return
        nc, self._nc = self._nc, None
        await asyncio.sleep(0)  # acknowledgements scheduled by the last snapshot go first
        await asyncio.gather(*self._acks, return_exceptions=True)
        with contextlib.suppress(Exception):  # noqa: BLE001  # closing a connection that already failed
            # the server's answer says it has the last acknowledgement (2 s was too short on a loaded machine: the
            # clean stop's acknowledgement was lost; harmless, a start is placed after the snapshot, but untidy)
            await nc.flush(timeout=10)
        await nc.close()


def on_snapshot(source: NatsSource) -> Callable[[dict[str, int]], None]:
    """The runner's snapshot callback for ``source``: acknowledge what the snapshot holds of it."""

    def done(positions: dict[str, int]) -> None:
        if source.url in positions:
            source.acknowledge(positions[source.url])

    return done
