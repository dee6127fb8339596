"""Sources: the URL parser, backoff, per-feed counters and FeedSet (in-memory sources: no sockets, no wall time)."""

from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

import numpy as np
import pytest

from feeds.framing import Framer, MessageBatch
from feeds.replay import ReplaySource
from feeds.sources import Backoff, Chunk, FeedBatch, FeedCounters, FeedError, FeedSet, Records, open_feed
from feeds.tcp import TcpSource
from feeds.udp import UdpSource
from feeds.websocket import AisStreamSource

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
# real sentences from ../shared/data/nmea/gpsd__sample.aivdm (no time of their own)
TYPE1 = b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\n"
TYPE5 = (
    b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n"
    b"!AIVDM,2,2,1,A,88888888880,2*25\n"
)
NOW = 1_700_000_000.0


def rows(batch: MessageBatch) -> list[tuple[str, float | None, str, int, int]]:
    """Whole message records, comparable across framers (time rounded to the microsecond)."""
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


class MemorySource:
    """Delivers the given chunks, then ends (or raises ``error``)."""

    def __init__(self, url: str, chunks: list[Chunk], error: Exception | None = None) -> None:
        self.url = url
        self.counters = FeedCounters(url)
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    async def next_batch(self) -> Chunk | Records | None:
        await asyncio.sleep(0)
        if self.chunks:
            chunk = self.chunks.pop(0)
            self.counters.bytes += len(chunk.data)
            return chunk
        if self.error is not None:
            raise self.error
        return None

    async def close(self) -> None:
        self.closed = True


async def collect(feeds: FeedSet, delay: float = 0.0) -> list[FeedBatch]:
    out = []
    async with feeds:
        async for b in feeds:
            out.append(b)
            if delay:
                await asyncio.sleep(delay)
    return out


def split(data: bytes, rng: random.Random, received: float = NOW) -> list[Chunk]:
    cuts = sorted(rng.sample(range(1, len(data)), min(20, len(data) - 1)))
    return [Chunk(data[a:b], received) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# ------------------------------------------------------------------------------------------------------ open_feed
def test_open_feed_builds_each_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "feed.nmea"
    log.write_bytes(TYPE1)
    monkeypatch.setenv("SEAWATCH_AISSTREAM_KEY", "k")
    tcp = open_feed("tcp://ais.example.org:5631?silence=30")
    assert isinstance(tcp, TcpSource)
    assert (tcp.host, tcp.port, tcp.silence) == ("ais.example.org", 5631, 30.0)
    udp = open_feed("udp://:10110")
    assert isinstance(udp, UdpSource)
    assert (udp.host, udp.port) == ("", 10110)
    rep = open_feed(f"file://{log}?speed=10&loop=1")
    assert isinstance(rep, ReplaySource)
    assert (rep.path, rep.speed, rep.loop) == (log, 10.0, True)
    assert isinstance(open_feed(f"file://{log}", speed=0), ReplaySource)
    wss = open_feed("wss://stream.aisstream.io/v0/stream?box=17,105,22,110")
    assert isinstance(wss, AisStreamSource)
    assert wss.address == "wss://stream.aisstream.io/v0/stream"
    assert wss.subscription() == {"APIKey": "k", "BoundingBoxes": [[[17.0, 105.0], [22.0, 110.0]]]}


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("tcp://host", "tcp://host:port"),
        ("tcp://:5631", "tcp://host:port"),
        ("udp://host", "udp://:port"),
        ("tcp://host:99999", "tcp://host:port"),
        ("nmea://host:1", "tcp://host:port"),
        ("file:///no/such/file.nmea", "give the path of an NMEA log"),
        ("tcp://h:1?silence=soon", "silence=10"),
    ],
)
def test_open_feed_errors_name_the_url_and_the_fix(url: str, names: str) -> None:
    with pytest.raises(FeedError) as info:
        open_feed(url)
    assert str(info.value).startswith(url)
    assert names in str(info.value)


def test_wss_without_a_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEAWATCH_AISSTREAM_KEY", raising=False)
    with pytest.raises(FeedError, match="set SEAWATCH_AISSTREAM_KEY"):
        open_feed("wss://stream.aisstream.io/v0/stream")


# -------------------------------------------------------------------------------------------------------- backoff
def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(7))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[3:]) > 2.0  # past the third attempt the ceiling is the cap, and jitter reaches above 2
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_backoff_refuses_a_cap_below_its_base() -> None:
    with pytest.raises(ValueError, match="base <= cap"):
        Backoff(base=5.0, cap=1.0)


# -------------------------------------------------------------------------------------------------------- FeedSet
@needs_data
def test_feedset_output_equals_the_framer_on_the_whole_file() -> None:
    data = (NMEA_DIR / "libais__tagblock.nmea").read_bytes() + (NMEA_DIR / "gpsd__sample.aivdm").read_bytes()
    whole = Framer(clock=lambda: NOW).feed(data, final=True)
    src = MemorySource("mem://a", split(data, random.Random(1)))
    got = asyncio.run(collect(FeedSet([src], clock=lambda: NOW)))
    assert [r for b in got if b.messages is not None for r in rows(b.messages)] == rows(whole)
    assert [int(s) for b in got if b.messages is not None for s in b.messages.seq] == list(range(len(whole)))
    assert src.counters.messages == len(whole)
    assert src.counters.chunks == 21
    assert src.closed


def test_untimestamped_lines_get_the_arrival_time_not_the_framing_time() -> None:
    src = MemorySource("mem://a", [Chunk(TYPE1, NOW - 30.0), Chunk(TYPE5, NOW - 20.0)])
    got = asyncio.run(collect(FeedSet([src], clock=lambda: NOW)))
    assert [float(b.messages.time[0]) for b in got if b.messages is not None] == [NOW - 30.0, NOW - 20.0]
    assert src.counters.last_received == NOW - 20.0
    assert src.counters.snapshot(NOW)["lag_seconds"] == 20.0


def test_a_full_queue_makes_sources_wait_and_nothing_is_dropped() -> None:
    n = 50
    a = MemorySource("mem://a", [Chunk(TYPE1, NOW + i) for i in range(n)])
    b = MemorySource("mem://b", [Chunk(TYPE5, NOW + i) for i in range(n)])
    feeds = FeedSet([a, b], maxsize=2, clock=lambda: NOW)
    got = asyncio.run(collect(feeds, delay=0.001))
    assert sum(len(x) for x in got if x.url == "mem://a") == n
    assert sum(len(x) for x in got if x.url == "mem://b") == n
    assert a.counters.queue_waits > 0
    assert b.counters.queue_waits > 0
    # each feed's order is kept
    assert [x.received for x in got if x.feed == 0] == [NOW + i for i in range(n)]


def test_rejects_are_counted_by_reason_per_feed() -> None:
    bad = b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*00\nthis is not nmea\n"
    a = MemorySource("mem://a", [Chunk(bad + TYPE1, NOW)])
    b = MemorySource("mem://b", [Chunk(TYPE1, NOW)])
    feeds = FeedSet([a, b], clock=lambda: NOW)
    asyncio.run(collect(feeds))
    assert dict(a.counters.rejects) == {"bad_checksum": 1, "not_nmea": 1}
    assert dict(b.counters.rejects) == {}
    snap = feeds.snapshot()
    assert snap["queue"] == {"size": 0, "maxsize": 64}
    feed_a = snap["feeds"][0]  # type: ignore[index]
    assert feed_a["url"] == "mem://a"
    assert feed_a["messages"] == 1
    assert feed_a["rejects"] == {"bad_checksum": 1, "not_nmea": 1}
    assert feed_a["error"] is None


def test_a_failing_feed_stops_alone_with_its_error_recorded() -> None:
    failing = MemorySource("mem://bad", [Chunk(TYPE1, NOW)], error=FeedError("mem://bad: gone; plug it back in"))
    good = MemorySource("mem://good", [Chunk(TYPE1, NOW), Chunk(TYPE1, NOW)])
    got = asyncio.run(collect(FeedSet([failing, good], clock=lambda: NOW)))
    assert sum(len(b) for b in got) == 3
    assert failing.counters.error == "mem://bad: gone; plug it back in"
    assert good.counters.error is None


def test_a_bug_in_a_source_is_raised_not_hidden() -> None:
    broken = MemorySource("mem://bug", [], error=ZeroDivisionError("bug"))
    with pytest.raises(ZeroDivisionError):
        asyncio.run(collect(FeedSet([broken])))


def test_records_are_passed_through_and_counted() -> None:
    import polars as pl

    from feeds.websocket import POSITIONS_SCHEMA, STATICS_SCHEMA

    pos = pl.DataFrame({"mmsi": [1], "t": [int(NOW * 1e6)]}, schema={"mmsi": pl.Int64, "t": pl.Int64}).with_columns(
        pl.col("t").cast(pl.Datetime("us", "UTC"))
    )
    empty = pl.DataFrame(schema=STATICS_SCHEMA)
    rec = Records(positions=pos, statics=empty, received=NOW + 5, messages=1, rejects={"not_json": 2})

    class JsonSource(MemorySource):
        async def next_batch(self) -> Chunk | Records | None:
            await asyncio.sleep(0)
            if self.chunks:
                self.chunks.pop()
                return rec
            return None

    src = JsonSource("mem://json", [Chunk(b"", NOW)])
    got = asyncio.run(collect(FeedSet([src], clock=lambda: NOW + 5)))
    assert [b.records for b in got] == [rec]
    assert src.counters.messages == 1
    assert dict(src.counters.rejects) == {"not_json": 2}
    assert src.counters.snapshot(NOW + 5)["lag_seconds"] == 5.0
    assert set(POSITIONS_SCHEMA) >= {"mmsi", "t"}


def test_feedset_needs_a_source() -> None:
    with pytest.raises(ValueError, match="at least one source"):
        FeedSet([])


def test_counters_keep_the_newest_message_time() -> None:
    c = FeedCounters("mem://a")
    c.note_messages(2, NOW, np.array([NOW - 10, math.nan]))
    c.note_messages(1, NOW + 1, np.array([NOW - 50]))
    assert (c.messages, c.last_message_time, c.last_received) == (3, NOW - 10, NOW + 1)
