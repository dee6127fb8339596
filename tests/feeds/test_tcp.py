"""TCP source, integration: real sockets on loopback against servers the tests start.

Every test compares what came through the live source with the framer run on the same bytes in one piece.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from feeds.framing import Framer, MessageBatch
from feeds.sources import Backoff, FeedSet
from feeds.tcp import TcpSource, enable_keepalive

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
NOW = 1_700_000_000.0
FAST = Backoff(base=0.01, cap=0.05)  # reconnects in milliseconds, so the tests stay quick
Handler = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def rows(batch: MessageBatch) -> list[tuple[str, float | None, str, int, int]]:
    out = []
    for i in range(len(batch)):
        t = float(batch.time[i])
        out.append(
            (
                batch.text(i),
                None if math.isnan(t) else round(t, 6),
                batch.sources[int(batch.source[i])],
                int(batch.channel[i]),
                int(batch.fill[i]),
            )
        )
    return out


def reference(data: bytes) -> list[tuple[str, float | None, str, int, int]]:
    """The framer on the whole input at once, with the same clock as the live feed."""
    return rows(Framer(clock=lambda: NOW).feed(data, final=True))


def nmea_files() -> list[Path]:
    return sorted(p for p in NMEA_DIR.glob("*") if p.is_file()) if NMEA_DIR.is_dir() else []


def lines_of(name: str) -> list[bytes]:
    data = (NMEA_DIR / name).read_bytes()
    return (data if data.endswith(b"\n") else data + b"\n").splitlines(keepends=True)


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    """A server on 127.0.0.1; ``handler`` gets the connection's number (0, 1, ...)."""
    count = 0

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        n, count = count, count + 1
        try:
            await handler(n, reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def send(writer: asyncio.StreamWriter, data: bytes, piece: int = 997) -> None:
    """Send in odd-sized pieces so lines are cut anywhere."""
    for i in range(0, len(data), piece):
        writer.write(data[i : i + piece])
        await writer.drain()


async def receive(source: TcpSource, expected: int, timeout: float = 20.0) -> list[tuple]:
    """Run the source through a FeedSet until ``expected`` messages came, then stop."""
    got: list[tuple] = []
    async with asyncio.timeout(timeout), FeedSet([source], clock=lambda: NOW) as feeds:
        async for batch in feeds:
            assert batch.messages is not None
            got.extend(rows(batch.messages))
            if len(got) >= expected:
                break
    return got


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep a connection open, silent, until the client goes."""
    await writer.drain()
    await reader.read()


# ------------------------------------------------------------------------------------------------------- tests
@needs_data
@pytest.mark.parametrize("path", nmea_files(), ids=lambda p: p.name)
def test_each_recording_through_tcp_equals_the_framer_in_one_piece(path: Path) -> None:
    data = path.read_bytes()
    data = data if data.endswith(b"\n") else data + b"\n"
    expected = reference(data)
    if not expected:
        pytest.skip(f"{path.name} holds no complete AIS message")

    async def once(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if n == 0:
            await send(writer, data)
        await hold(reader, writer)

    async def run() -> TcpSource:
        server, port = await serve(once)
        async with server:
            source = TcpSource(f"tcp://127.0.0.1:{port}", "127.0.0.1", port, clock=lambda: NOW, backoff=FAST)
            assert await receive(source, len(expected)) == expected
            return source

    source = asyncio.run(run())
    assert source.counters.messages == len(expected)
    assert source.counters.bytes == len(data)
    assert source.counters.connects == 1


@needs_data
def test_a_dropped_connection_is_reconnected_and_nothing_is_lost_or_duplicated() -> None:
    lines = lines_of("gpsd__sample.aivdm")
    k = len(lines) // 2
    data = b"".join(lines)
    expected = reference(data)

    async def halves(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if n == 0:
            await send(writer, b"".join(lines[:k]))  # then the server drops the connection
        elif n == 1:
            await send(writer, b"".join(lines[k:]))
            await hold(reader, writer)
        else:
            await hold(reader, writer)

    async def run() -> TcpSource:
        server, port = await serve(halves)
        async with server:
            source = TcpSource(f"tcp://127.0.0.1:{port}", "127.0.0.1", port, clock=lambda: NOW, backoff=FAST)
            assert await receive(source, len(expected)) == expected
            return source

    source = asyncio.run(run())
    assert (source.counters.connects, source.counters.reconnects) == (2, 1)


@needs_data
def test_a_line_cut_by_a_lost_connection_is_a_reject_not_glued_to_the_next() -> None:
    lines = lines_of("gpsd__sample.aivdm")
    k = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].startswith(b"!AIVDM,1,1,"))
    half = lines[k][: len(lines[k]) // 2]
    first, second = b"".join(lines[:k]) + half, b"".join(lines[k + 1 :])  # the live server resumes at a new line
    expected = reference(first + b"\n" + second)
    assert len(expected) == len(reference(b"".join(lines))) - 1
    whole = Framer()
    whole.feed(b"".join(lines), final=True)
    cut_off = Framer()
    cut_off.feed(first + b"\n" + second, final=True)
    assert cut_off.counts["malformed"] == whole.counts["malformed"] + 1

    async def cut(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if n == 0:
            await send(writer, first)
        elif n == 1:
            await send(writer, second)
            await hold(reader, writer)

    async def run() -> None:
        server, port = await serve(cut)
        async with server:
            source = TcpSource(f"tcp://127.0.0.1:{port}", "127.0.0.1", port, clock=lambda: NOW, backoff=FAST)
            assert await receive(source, len(expected)) == expected
            assert source.counters.rejects == {k: v for k, v in cut_off.counts.items() if k in source.counters.rejects}
            assert source.counters.rejects["malformed"] == cut_off.counts["malformed"]

    asyncio.run(run())


@needs_data
def test_a_silent_feed_is_detected_and_reconnected() -> None:
    lines = lines_of("gpsd__sample.aivdm")
    k = len(lines) // 3
    expected = reference(b"".join(lines))

    async def stall(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if n == 0:
            await send(writer, b"".join(lines[:k]))
        elif n == 1:
            await send(writer, b"".join(lines[k:]))
        await hold(reader, writer)  # connection 0 stays open and silent: only the silence timeout notices

    async def run() -> TcpSource:
        server, port = await serve(stall)
        async with server:
            source = TcpSource(
                f"tcp://127.0.0.1:{port}", "127.0.0.1", port, clock=lambda: NOW, backoff=FAST, silence=0.3
            )
            assert await receive(source, len(expected)) == expected
            return source

    source = asyncio.run(run())
    assert source.counters.silences == 1
    assert source.counters.reconnects == 1


def test_a_refused_connection_is_retried_with_growing_jittered_waits() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    source = TcpSource(f"tcp://127.0.0.1:{port}", "127.0.0.1", port, backoff=Backoff(base=1.0, cap=4.0))

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 5:
            await source.close()

    source.sleep = fake_sleep
    assert asyncio.run(source.next_batch()) is None
    assert source.counters.connect_failures == 5
    assert source.counters.connects == 0
    assert all(0 <= w <= c for w, c in zip(waits, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True))


def test_keepalive_is_on_for_the_feed_socket() -> None:
    async def quiet(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\n")
        await hold(reader, writer)

    async def run() -> int:
        server, port = await serve(quiet)
        async with server:
            source = TcpSource(f"tcp://127.0.0.1:{port}", "127.0.0.1", port)
            await source.next_batch()
            assert source._writer is not None
            sock = source._writer.get_extra_info("socket")
            on = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
            await source.close()
            return on

    assert asyncio.run(run()) == 1
    with socket.socket() as s:
        enable_keepalive(s)
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
