"""A poison batch from the bus (a real nats-server): the engine fails on a micro-batch of its NATS feed; the batch is
quarantined with its stream sequences and the runner stops; the next start reads the bus again from the snapshot,
passes over the quarantined messages and goes on; every message, the quarantined ones too, ends acknowledged, so
the bus does not deliver them again; the alerts are the batch run's over the messages not quarantined."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import feeds.nats as bus
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import LATENESS_S
from engine.stream import StreamRunner, StreamSettings
from feeds.sources import FeedSet
from seawatch.bus_job import bus_feeds
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import Upserts, batch_alerts_of, position_line
from tests.engine.test_crash_safety import POISON, Poison
from tests.nats_server import nats_server

MESSAGES = 8  # bus messages the scenario goes in: 15 min each, longer than the lateness, so each releases itself
BUS = StreamSettings(journal=False, lateness_s=LATENESS_S, snapshot_seconds=0.0, batch_messages=1)  # a message a batch
ACK_S = 20.0  # the server applies an acknowledgement a moment after it came (seconds on a loaded machine)


def bus_messages(feed: bytes, poisoned: int) -> list[bytes]:
    """The scenario in ``MESSAGES`` whole-line pieces, the poison row first in piece ``poisoned`` (1-based: its
    stream sequence), stamped as the piece's first line so that the piece's own later rows release it in the same
    step."""
    lines = feed.splitlines(keepends=True)
    step = len(lines) // MESSAGES + 1
    pieces = [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]
    first = pieces[poisoned - 1]
    at = int(re.search(rb"c:(\d+)", first).group(1))  # type: ignore[union-attr]
    pieces[poisoned - 1] = position_line(POISON, 0, at * 1000) + first
    for piece in pieces:
        assert bus.whole_messages(piece) == len(piece), "a piece ends inside a multi-part message"
    return pieces


async def publish(url: str, pieces: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="AIS", subjects=["AIS.>"])
        for i, piece in enumerate(pieces):
            await js.publish("AIS.test", piece, headers={bus.MSG_ID: f"m{i}", bus.RECEIVED: str(time.time())})
    finally:
        await nc.close()


async def run(runner: StreamRunner, url: str, until: int) -> bus.NatsSource:
    """The runner on the bus feed ``url`` until its position reaches ``until`` (then a clean stop)."""
    feeds = FeedSet(bus_feeds([url], runner))
    stop = asyncio.Event()

    async def watch() -> None:
        while runner.positions.get(url, 0) < until:
            await asyncio.sleep(0.02)
        stop.set()

    watching = asyncio.ensure_future(watch())
    try:
        async with feeds:
            await asyncio.wait_for(runner.run(feeds, stop), 120)
    finally:
        watching.cancel()
    source = feeds.sources[0]
    assert isinstance(source, bus.NatsSource)
    return source


async def acked(url: str, last: int) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + ACK_S
        while True:
            floor = int((await js.consumer_info("AIS", bus.DEFAULT_DURABLE)).ack_floor.stream_seq)
            if floor >= last or time.monotonic() > deadline:
                return floor
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def detectors() -> Callable[[], list[Any]]:
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    return lambda: [*default_detectors(pack, land), Poison()]


@pytest.mark.parametrize("poisoned", [3, MESSAGES], ids=["amid", "last"])
def test_a_poison_batch_from_the_bus_is_quarantined_passed_over_and_acknowledged(
    tmp_path: Path, detectors: Callable[[], list[Any]], poisoned: int
) -> None:
    """The last message poisoned: nothing after it carries the position on, the passed-over message does."""
    pieces = bus_messages(simulate(SimConfig(hours=2, vessels=20, seed=31, injections_per_day=12)).feed, poisoned)
    sink = Upserts()  # kept across the starts, as the store is
    with nats_server(tmp_path / "nats") as server:
        url = f"{server.url}/AIS"
        asyncio.run(publish(server.url, pieces))
        first = StreamRunner.open(detectors(), tmp_path / "state", [sink], BUS)
        with pytest.raises(RuntimeError, match="quarantined in .*a restart resumes from the last snapshot"):
            asyncio.run(run(first, url, len(pieces)))
        (held,) = (tmp_path / "state" / "quarantine").iterdir()
        positions = json.loads((held / "positions.json").read_text())[url]
        assert positions == [poisoned] and "IndexError" in (held / "error.txt").read_text()
        assert POISON in pl.read_ipc(held / "positions.arrow")["mmsi"].to_list()

        again = StreamRunner.open(detectors(), tmp_path / "state", [sink], BUS)
        (trouble,) = again.troubles()
        assert "failed on 1 batch(es), quarantined" in trouble and str(held) in trouble
        source = asyncio.run(run(again, url, len(pieces)))
        floor = asyncio.run(acked(server.url, len(pieces)))
    again.finish()  # the rows still within the lateness: the batch run's end releases them too
    assert source.passed == len(positions), "the quarantined messages are passed over, not run"
    assert again.stats.quarantined == 1, "nothing else failed"
    assert floor == len(pieces), "every message is acknowledged, the quarantined ones too: none comes again"
    kept = b"".join(p for seq, p in enumerate(pieces, 1) if seq not in positions)
    want = batch_alerts_of(kept, detectors())
    assert want.height >= 5, "the scenario has alerts"
    assert_frame_equal(sink.table(), want)
