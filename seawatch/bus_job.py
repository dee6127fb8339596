"""``seawatch serve --feed nats://host:port/STREAM``: the engine on the NATS JetStream bus.

Two pieces wire the bus into the live service (seawatch/serve_job.py):
- :func:`bus_feeds` opens the feeds and, for a ``nats://`` feed, places its consumer just after the position the
  engine's snapshot holds and has every snapshot acknowledge up to there (feeds/nats.py); the stream runner then
  keeps no journal of its own (engine/stream.py ``journal=False``): the bus is the journal. A bus feed is alone or
  with other bus feeds: a local feed would need the local journal, which the bus feed's replay would double.
- :class:`AlertPublisher` publishes every alert new or changed on ``seawatch.alerts.<kind>`` and every withdrawal
  on ``seawatch.alerts.withdrawn``, as JSON with DESIGN's alert columns, for other systems to subscribe to. An
  alert may come again with the same ``alert_id`` (a newer version, or a restart replaying the bus since the last
  snapshot): consumers keep the latest by ``alert_id``, as the store does. A vessel whose scores or band changed
  at a scoring comes on ``seawatch.alerts.score`` (mmsi, the two scores, the band, the reasons).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from engine.stream import StreamRunner
from feeds.nats import NatsSource, bus_address, on_snapshot, one_per_consumer
from feeds.sources import FeedError, Source, open_feed

if TYPE_CHECKING:
    from nats.aio.client import Client

log = logging.getLogger("seawatch.bus")
ALERTS_SUBJECT = "seawatch.alerts"
ALERT_COLUMNS = ("alert_id", "kind", "mmsi", "other_mmsi", "start", "end", "lat", "lon", "score", "reasons")
SCORE_COLUMNS = ("mmsi", "smuggling_score", "fire_score", "band", "reasons")


def is_bus(url: str) -> bool:
    return url.lower().startswith("nats://")


def check_feeds(urls: list[str]) -> bool:
    """Whether the feeds are on the bus (then all of them must be); a clear error for a mix."""
    bus = [u for u in urls if is_bus(u)]
    if bus and len(bus) != len(urls):
        raise FeedError(f"{bus[0]} is a bus feed and cannot be mixed with {[u for u in urls if not is_bus(u)]}: "
                        "the bus is the engine's journal; relay the other feeds onto it (seawatch relay)")  # fmt: skip
    return bool(bus)


def bus_feeds(urls: list[str], runner: StreamRunner, speed: float | None = None) -> list[Source]:
    """The feeds' sources; bus feeds start after what the runner's snapshot holds, pass over the messages of batches
    the engine failed on (quarantined: engine/quarantine.py) and are acknowledged by its snapshots."""
    sources: list[Source] = []
    quarantined = runner.quarantined_positions()
    for url in one_per_consumer([u for u in urls if is_bus(u)]):
        consumer = _consumer(url)
        skip = {p for held, ps in quarantined.items() if _consumer(held) == consumer for p in ps}
        bus = NatsSource(url, after=held_position(runner.positions, url), skip=skip)
        runner.on_snapshot.append(on_snapshot(bus))
        sources.append(bus)
    return sources + [open_feed(url, speed=speed) for url in urls if not is_bus(url)]


def held_position(positions: dict[str, int], url: str) -> int:
    """The stream position a snapshot holds for the bus feed ``url``: the one it holds for the same stream and
    consumer, whatever servers named them then (a cluster's list changed, or given in another order)."""
    a = bus_address(url)
    same = [p for held, p in positions.items() if _consumer(held) == (a.stream, a.durable)]
    return max(same, default=0)


def _consumer(url: str) -> tuple[str, str] | None:
    if not is_bus(url):
        return None
    try:
        a = bus_address(url)
    except FeedError:
        return None
    return a.stream, a.durable


def alert_messages(alerts: pl.DataFrame) -> list[tuple[str, bytes]]:
    """(subject, JSON) for each alert row: DESIGN's columns, times in ISO 8601 UTC."""
    rows = alerts.select([c for c in ALERT_COLUMNS if c in alerts.columns]).to_dicts()
    return [(f"{ALERTS_SUBJECT}.{row['kind']}", json.dumps(row, default=_iso).encode()) for row in rows]


def _iso(x: Any) -> str:
    if isinstance(x, datetime):
        return x.isoformat()
    raise TypeError(f"{type(x).__name__} is not JSON")


class AlertPublisher:
    """A stream runner sink: alerts and withdrawals onto the bus (core NATS; called in the engine's thread)."""

    def __init__(self, servers: Sequence[str]) -> None:
        self.servers = list(servers)
        self.published = 0
        self._nc: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._scores = pl.DataFrame(schema={"mmsi": pl.Int64, "smuggling_score": pl.Float64, "fire_score": pl.Float64,
                                            "band": pl.String})  # fmt: skip  # as last published

    @classmethod
    def for_feeds(cls, urls: list[str]) -> AlertPublisher | None:
        """The publisher on the first bus feed's servers (all those given for its consumer), or None."""
        bus = one_per_consumer([u for u in urls if is_bus(u)])
        return cls(bus_address(bus[0]).servers) if bus else None

    async def connect(self) -> None:
        import nats

        self._loop = asyncio.get_running_loop()
        self._nc = await nats.connect(self.servers, name="seawatch-alerts", max_reconnect_attempts=-1)

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        if alerts.height:
            self._post(alert_messages(alerts))

    def withdraw(self, alert_ids: list[str]) -> None:
        self._post([(f"{ALERTS_SUBJECT}.withdrawn", json.dumps({"alert_id": i}).encode()) for i in alert_ids])

    def scored(self, table: pl.DataFrame) -> None:
        """A scoring's vessels table (the scoring thread): publish the vessels whose scores or band changed."""
        now = table.select(SCORE_COLUMNS).with_columns(pl.col("mmsi").cast(pl.Int64))
        keys = ["mmsi", "smuggling_score", "fire_score", "band"]
        changed = now.join(self._scores, on=keys, how="anti", nulls_equal=True)
        self._scores = pl.concat([self._scores.join(changed.select("mmsi"), on="mmsi", how="anti"),
                                  changed.select(keys).cast(self._scores.schema)])  # fmt: skip
        if changed.height:
            self._post([(f"{ALERTS_SUBJECT}.score", json.dumps(row).encode()) for row in changed.to_dicts()])

    def _post(self, messages: list[tuple[str, bytes]]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._send, messages)

    def _send(self, messages: list[tuple[str, bytes]]) -> None:
        if self._nc is None:
            return
        nc = self._nc

        async def send() -> None:
            for subject, data in messages:
                await nc.publish(subject, data)
            self.published += len(messages)

        task = asyncio.ensure_future(send())
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def close(self) -> None:
        await asyncio.sleep(0)
        await asyncio.gather(*self._sends, return_exceptions=True)
        if self._nc is not None:
            nc, self._nc = self._nc, None
            with contextlib.suppress(Exception):  # noqa: BLE001  # a connection that already failed
                await nc.flush(timeout=2)
            await nc.close()
