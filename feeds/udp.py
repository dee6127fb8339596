"""``udp://:port`` / ``udp://host:port``: a listener for AIS-catcher-style datagrams of one or more NMEA lines."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque

from feeds.sources import Chunk, Clock, FeedCounters, FeedError

log = logging.getLogger(__name__)

MAX_WAITING = 65_536  # datagrams held between reads: ~20 s of a busy national feed; beyond, they are dropped
# ... and bytes: datagrams may be up to 64 KiB, so a count alone would let a sender fill 4 GB; 32 MiB is ~80 s of
# a busy national feed's ~400 KB/s (5,000 sentences of ~80 bytes a second)
MAX_WAITING_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024  # datagrams joined into one delivery at most
# the kernel's default receive buffer (~200 KB on Linux) holds only ~100 small datagrams, since each costs a
# full buffer's accounting: a burst while the engine works would be lost before we see it (capped by rmem_max)
RECEIVE_BUFFER = 4 * 1024 * 1024


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, source: UdpSource) -> None:
        self.source = source

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.source._received(data)

    def error_received(self, exc: Exception) -> None:
        log.warning("%s: receive error (%s); listening on", self.source.url, exc)


class UdpSource:
    """Listens for datagrams; each delivery joins the datagrams that arrived since the last one.

    A datagram that does not end its last line gets a newline, so datagrams never run into each other. UDP
    cannot make the sender wait: when ``max_waiting`` datagrams or ``max_waiting_bytes`` bytes are already held,
    new ones are dropped and counted (``dropped``).
    """

    def __init__(
        self,
        url: str,
        host: str,
        port: int,
        *,
        clock: Clock = time.time,
        max_waiting: int = MAX_WAITING,
        max_waiting_bytes: int = MAX_WAITING_BYTES,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.url = url
        self.host = host
        self.port = port
        self.clock = clock
        self.max_waiting = max_waiting
        self.max_waiting_bytes = max_waiting_bytes
        self.chunk_bytes = chunk_bytes
        self._waiting_bytes = 0
        self.counters = FeedCounters(url)
        self._waiting: deque[tuple[bytes, float]] = deque()
        self._ready = asyncio.Event()
        self._transport: asyncio.DatagramTransport | None = None
        self._closed = False

    async def open(self) -> None:
        """Bind the port (done by the first ``next_batch`` otherwise); ``port`` is then the bound one."""
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Listener(self), local_addr=(self.host or "0.0.0.0", self.port)
            )
        except OSError as exc:
            raise FeedError(
                f"{self.url}: cannot listen on UDP {self.host or '0.0.0.0'}:{self.port} ({exc}); "
                "choose a free port, or stop the program that holds it"
            ) from None
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    async def next_batch(self) -> Chunk | None:
        await self.open()
        while not self._waiting:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        received = self._waiting[0][1]
        parts: list[bytes] = []
        size = 0
        while self._waiting and size < self.chunk_bytes:
            data, _ = self._waiting.popleft()
            parts.append(data)
            size += len(data)
        self._waiting_bytes -= size
        return Chunk(b"".join(parts), received)

    async def close(self) -> None:
        self._closed = True
        self._ready.set()
        if self._transport is not None:
            self._transport.close()

    def _received(self, data: bytes) -> None:
        if not data:
            return
        self.counters.bytes += len(data)
        if len(self._waiting) >= self.max_waiting or self._waiting_bytes + len(data) > self.max_waiting_bytes:
            if not self.counters.dropped:
                log.warning(
                    "%s: the engine is not keeping up; datagrams are being dropped (counted as 'dropped')", self.url
                )
            self.counters.dropped += 1
            return
        if not data.endswith(b"\n"):
            data += b"\n"
        self._waiting.append((data, self.clock()))
        self._waiting_bytes += len(data)
        self._ready.set()
