"""The leader lease on a real nats-server: a leader that cannot renew says why it stopped (its entry expired while
it was not heard, or another engine holds it, named)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from seawatch.lease import Lease, LeaseLost
from tests.nats_server import nats_server

TTL_S = 1.0


async def _renewal_after_pause(url: str, taker: str | None) -> str:
    """``a`` leads, then is not heard for longer than the lease (a pause); ``taker`` (if any) leads meanwhile; the
    message of ``a``'s first renewal after the pause."""
    a = Lease([url], "AIS-seawatch-engine", holder="host-a:1", ttl_s=TTL_S, poll_s=0.05)
    b = Lease([url], "AIS-seawatch-engine", holder=taker or "", ttl_s=TTL_S, poll_s=0.05)
    try:
        await a.acquire()
        if taker is not None:
            await asyncio.wait_for(b.acquire(), 10 * TTL_S)  # waits for a's entry to expire, then leads
        else:
            await asyncio.sleep(3 * TTL_S)  # the bucket's TTL removes the entry nobody renews
        with pytest.raises(LeaseLost) as lost:
            await asyncio.wait_for(a.keep(asyncio.Event()), 5 * TTL_S)
        return str(lost.value)
    finally:
        await a.release()
        await b.release()


def test_a_leader_that_was_not_heard_for_the_lease_time_says_its_lease_expired(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as server:
        said = asyncio.run(_renewal_after_pause(server.url, taker=None))
    assert "expired" in said and "not heard for 1 s" in said and "another engine" not in said


def test_a_leader_whose_lease_another_engine_took_names_that_engine(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as server:
        said = asyncio.run(_renewal_after_pause(server.url, taker="host-b:2"))
    assert "taken by another engine (host-b:2)" in said
