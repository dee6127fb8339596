"""The API benchmarks' load generator (benchmarks/loadgen.py) against a real HTTP server on loopback that stalls
for half a second: the open loop counts every request due during the stall as late (latency from its intended
send time), the closed loop sees one slow request (coordinated omission), and the rate is the one asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from benchmarks.loadgen import closed_loop, open_loop

STALL_FROM_S, STALL_S = 0.5, 0.5  # the server answers nothing from 0.5 s to 1 s after it starts


@asynccontextmanager
async def stalling_server(answers_per_connection: int = 10**9) -> AsyncIterator[str]:
    """An HTTP/1.1 keep-alive server answering every GET with ``ok``, except during the stall; it closes a
    connection once it gave it ``answers_per_connection`` answers (as uvicorn closes an idle one)."""
    gate = asyncio.Event()
    gate.set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(answers_per_connection):
                await reader.readuntil(b"\r\n\r\n")
                await gate.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def stall() -> None:
        await asyncio.sleep(STALL_FROM_S)
        gate.clear()
        await asyncio.sleep(STALL_S)
        gate.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stalling = asyncio.create_task(stall())
    try:
        yield f"http://127.0.0.1:{port}/api/v1/vessels"
    finally:
        stalling.cancel()
        server.close()


def test_the_open_loop_counts_a_stall_for_every_request_due_in_it() -> None:
    async def run() -> dict[str, float]:
        async with stalling_server() as url:
            return (await open_loop(url, rate=200.0, seconds=2.0, warmup_s=0.0)).summary()

    got = asyncio.run(run())
    assert got["requests"] == 400 and got["errors"] == 0  # every request due was sent, and answered
    # a quarter of the requests were due during the stall: each waited for its end, from 0 to 0.5 s
    assert got["p90"] > 150.0
    assert got["max"] > 400.0
    assert got["p50"] < 50.0


def test_the_closed_loop_hides_the_same_stall() -> None:
    async def run() -> dict[str, float]:
        async with stalling_server() as url:
            return (await closed_loop(url, clients=1, seconds=2.0)).summary()

    got = asyncio.run(run())
    assert got["errors"] == 0 and got["requests"] > 100
    assert got["max"] > 400.0  # the stall is there, once
    assert got["p90"] < 50.0  # and nowhere in the percentiles


def test_a_connection_the_server_closed_is_opened_again_not_counted_as_an_error() -> None:
    async def run() -> dict[str, float]:
        async with stalling_server(answers_per_connection=3) as url:
            return (await open_loop(url, rate=100.0, seconds=1.5, warmup_s=0.0)).summary()

    got = asyncio.run(run())
    assert got["requests"] == 150 and got["errors"] == 0
