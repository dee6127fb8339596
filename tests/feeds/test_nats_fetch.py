"""The bus feed on a real nats-server: a fetch that times out is "nothing yet", whichever timeout nats-py raises.

nats-py raises its own ``nats.errors.TimeoutError`` when a fetch finds nothing, but a bare ``asyncio.TimeoutError``
when the fetch's deadline is spent before it can ask again (a slow event loop, a loaded machine): that one stopped
the feed with an empty message ("feed stopped:"), and the acknowledgements after it were lost. Here the deadline is
made too short for any fetch to ask, so every fetch ends that second way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import feeds.nats as bus
from tests.nats_server import nats_server


async def _publish_later(url: str, delay: float) -> None:
    import nats

    await asyncio.sleep(delay)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.publish("AIS.test", b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\n")
    finally:
        await nc.close()


async def _feed(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, bytes]:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name="AIS", subjects=["AIS.>"])
    finally:
        await nc.close()
    source = bus.NatsSource(f"{url}/AIS")
    monkeypatch.setattr(bus, "FETCH_WAIT_S", 1e-9)  # every fetch's deadline is spent before it asks the server
    task = asyncio.ensure_future(source.next_batch())
    await asyncio.sleep(1.0)  # many fetches have timed out by now
    still_waiting = not task.done()
    monkeypatch.setattr(bus, "FETCH_WAIT_S", 0.5)
    await _publish_later(url, 0.0)
    try:
        chunk = await asyncio.wait_for(task, 15) if still_waiting else None
    finally:
        await source.close()
    return still_waiting, chunk.data if chunk is not None else b""


def test_a_fetch_deadline_spent_in_a_slow_loop_is_nothing_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with nats_server(tmp_path / "nats") as server:
        still_waiting, data = asyncio.run(_feed(server.url, monkeypatch))
    assert still_waiting, "the feed stopped on a fetch's timeout"
    assert data.startswith(b"!AIVDM,1,1,,A,13u?etPv2;0n")
