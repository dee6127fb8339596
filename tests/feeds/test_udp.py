"""UDP source, integration: a real sender on loopback, datagrams of one or more NMEA lines (as AIS-catcher sends)."""

from __future__ import annotations

import asyncio
import math
import socket
from pathlib import Path

import pytest

from feeds.framing import Framer, MessageBatch
from feeds.sources import FeedError, FeedSet, open_feed
from feeds.udp import UdpSource

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
NOW = 1_700_000_000.0
TYPE1 = b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"  # gpsd__sample.aivdm line 10


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


def datagrams(lines: list[bytes]) -> list[bytes]:
    """One, two or three lines a datagram; every fourth one without its last line ending (it happens)."""
    out = []
    i = 0
    k = 0
    while i < len(lines):
        n = 1 + k % 3
        d = b"".join(lines[i : i + n])
        out.append(d.rstrip(b"\r\n") if k % 4 == 3 else d)
        i += n
        k += 1
    return out


async def until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


@needs_data
def test_datagrams_through_udp_equal_the_framer_in_one_piece() -> None:
    data = (NMEA_DIR / "libais__tagblock.nmea").read_bytes() + (NMEA_DIR / "gpsd__sample.aivdm").read_bytes()
    lines = data.splitlines(keepends=True)
    grams = datagrams(lines)
    expected = rows(Framer(clock=lambda: NOW).feed(b"".join(g if g.endswith(b"\n") else g + b"\n" for g in grams)))

    async def run() -> UdpSource:
        source = UdpSource("udp://127.0.0.1:0", "127.0.0.1", 0, clock=lambda: NOW)
        await source.open()
        got: list[tuple] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            async with asyncio.timeout(10), FeedSet([source], clock=lambda: NOW) as feeds:
                for g in grams:
                    tx.sendto(g, ("127.0.0.1", source.port))
                    await asyncio.sleep(0)  # let the listener read, as between a real receiver's datagrams
                async for batch in feeds:
                    assert batch.messages is not None
                    got.extend(rows(batch.messages))
                    if len(got) >= len(expected):
                        break
        assert got == expected
        return source

    source = asyncio.run(run())
    assert source.counters.messages == len(expected)
    assert source.counters.bytes == sum(len(g) for g in grams)
    assert source.counters.dropped == 0


BIG = b"!AIVDM," + b"x" * 30_000


@pytest.mark.parametrize(
    ("gram", "limit"),
    [
        (TYPE1, {"max_waiting": 2}),  # two datagrams held at most
        (BIG, {"max_waiting_bytes": 64_000}),  # big ones count by their bytes: two of 30 kB fit under 64 kB
    ],
)
def test_datagrams_beyond_the_waiting_limit_are_dropped_and_counted(gram: bytes, limit: dict[str, int]) -> None:
    async def run() -> tuple[bytes, UdpSource]:
        source = UdpSource("udp://127.0.0.1:0", "127.0.0.1", 0, clock=lambda: NOW, **limit)
        await source.open()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(5):
                tx.sendto(gram, ("127.0.0.1", source.port))
            await until(lambda: source.counters.bytes == 5 * len(gram))
        chunk = await source.next_batch()
        await source.close()
        assert chunk is not None
        return chunk.data, source

    data, source = asyncio.run(run())
    assert data == (gram + b"\n") * 2
    assert source.counters.dropped == 3
    assert source._waiting_bytes == 0  # what was handed over is no longer held


def test_a_busy_port_is_a_feed_error_naming_the_url_and_fix() -> None:
    async def run() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            source = open_feed(f"udp://127.0.0.1:{port}")
            assert isinstance(source, UdpSource)
            with pytest.raises(FeedError, match=rf"^udp://127.0.0.1:{port}: cannot listen .* choose a free port"):
                await source.open()

    asyncio.run(run())


def test_close_ends_a_waiting_listener() -> None:
    async def run() -> object:
        source = UdpSource("udp://127.0.0.1:0", "127.0.0.1", 0)
        waiting = asyncio.create_task(source.next_batch())
        await asyncio.sleep(0.01)
        await source.close()
        return await waiting

    assert asyncio.run(run()) is None
