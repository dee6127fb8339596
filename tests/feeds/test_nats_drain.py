"""The bus feed on a real nats-server drains a backlog without waiting: a fetch returns what the stream holds at
once, and only a fetch that finds nothing waits its ``FETCH_WAIT_S``.

A lead once measured the engine on the bus at 10 k msg/s against 149 k from the file (benchmarks/RESULTS.md, issue
16); the cause was Numba compiling its cache in the first command run, but a fetch that waited for its timeout
with messages there to read would look the same, and this test tells them apart: the wait is made long, and a
backlog of several fetches' worth must come through in a fraction of one wait.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import feeds.nats as bus
from tests.nats_server import nats_server

LINE = b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n"
WAIT_S = 5.0  # each fetch's wait while this test runs: one wait alone would fail the bound below


async def _drain(url: str, messages: int) -> tuple[float, int, int]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="AIS", subjects=["AIS.>"])
        for i in range(messages):
            await js.publish("AIS.test", LINE * 3, headers={bus.MSG_ID: f"m{i}"})
    finally:
        await nc.close()
    source = bus.NatsSource(f"{url}/AIS", fetch=64)
    started = time.perf_counter()
    got = lines = 0
    try:
        while got < messages:
            chunk = await asyncio.wait_for(source.next_batch(), 30)
            assert chunk is not None
            got += 1
            lines += chunk.data.count(b"\n")
            assert chunk.position == got, "stream sequences in order, none skipped"
    finally:
        await source.close()
    return time.perf_counter() - started, got, lines


def test_a_backlog_of_many_fetches_drains_without_a_fetch_wait(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(bus, "FETCH_WAIT_S", WAIT_S)
    with nats_server(tmp_path / "nats") as server:
        seconds, got, lines = asyncio.run(_drain(server.url, 640))  # 10 fetches of 64
    assert (got, lines) == (640, 3 * 640)
    assert seconds < WAIT_S / 2, f"draining took {seconds:.1f} s: a fetch waited with messages to read"
