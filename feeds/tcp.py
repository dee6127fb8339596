"""``tcp://host:port``: an NMEA-over-TCP client that stays connected.

It reconnects with capped exponential backoff and full jitter, turns TCP keepalive on, and treats a connection
that delivers nothing for ``silence`` seconds as dead (AIS servers that stall keep the socket open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from feeds.sources import Backoff, Chunk, Clock, FeedCounters

log = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
CONNECT_TIMEOUT = 10.0  # seconds to wait for a TCP handshake before counting a failure and backing off
# Linux starts keepalive probes after 2 h idle by default; a watch floor wants a dead peer found in minutes
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 5


def enable_keepalive(sock: socket.socket) -> None:
    """Turn TCP keepalive on, with the idle/interval/count the platform lets us set."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        opt = getattr(socket, name, None)
        if opt is not None:
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)


class TcpSource:
    """Reads NMEA bytes from a TCP server, reconnecting until :meth:`close`.

    A line cut by a lost connection is ended there (a newline is put before the next connection's bytes), so it
    is counted as a reject instead of being glued onto the next connection's first line.
    """

    def __init__(
        self,
        url: str,
        host: str,
        port: int,
        *,
        silence: float = 60.0,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        read_bytes: int = READ_BYTES,
    ) -> None:
        self.url = url
        self.host = host
        self.port = port
        self.silence = silence  # 0 = never give up on a quiet connection
        self.backoff = backoff if backoff is not None else Backoff()
        self.clock = clock
        self.sleep = sleep
        self.read_bytes = read_bytes
        self.counters = FeedCounters(url)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closed = False
        self._lost = False  # a connection was lost: wait before the next attempt
        self._mid_line = False  # the last bytes read did not end a line
        self._cut = False  # the next connection's first bytes must start a new line

    async def next_batch(self) -> Chunk | None:
        while not self._closed:
            if self._reader is None and not await self._connect():
                continue
            assert self._reader is not None
            try:
                if self.silence > 0:
                    data = await asyncio.wait_for(self._reader.read(self.read_bytes), self.silence)
                else:
                    data = await self._reader.read(self.read_bytes)
            except TimeoutError:
                self.counters.silences += 1
                log.warning(
                    "%s: no data for %.0f s; reconnecting (if the feed is quiet by nature, raise ?silence=)",
                    self.url,
                    self.silence,
                )
                await self._drop()
                continue
            except OSError as exc:
                log.warning("%s: connection lost (%s); reconnecting", self.url, exc)
                await self._drop()
                continue
            if not data:
                if not self._closed:
                    log.warning("%s: the server closed the connection; reconnecting", self.url)
                await self._drop()
                continue
            self.backoff.reset()
            self.counters.bytes += len(data)
            received = self.clock()
            if self._cut:
                data = b"\n" + data
                self._cut = False
            self._mid_line = not data.endswith(b"\n")
            return Chunk(data, received)
        return None

    async def close(self) -> None:
        self._closed = True
        await self._drop()

    async def _connect(self) -> bool:
        if self._lost:
            await self.sleep(self.backoff.next_delay())
        if self._closed:
            return False
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.counters.connect_failures += 1
            self._lost = True
            log.warning(
                "%s: cannot connect (%s); retrying with backoff (check the host and port, and that the AIS server "
                "is up and lets this machine in)",
                self.url,
                str(exc) or "timed out",
            )
            return False
        sock = writer.get_extra_info("socket")
        if sock is not None:
            enable_keepalive(sock)
        if self.counters.connects:
            self.counters.reconnects += 1
        self.counters.connects += 1
        self._reader, self._writer = reader, writer
        log.info("%s: connected", self.url)
        return True

    async def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        self._lost = True
        if self._mid_line:
            self._cut = True
            self._mid_line = False
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):  # the peer may already be gone; the socket is closed either way
            await writer.wait_closed()
