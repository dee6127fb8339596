"""File replay: pacing by the lines' own times with an injected clock and sleep (no wall time), looping, and
the same messages as the framer on the whole file.

The synthetic logs below wrap a real sentence (gpsd__sample.aivdm line 10) in tag blocks with chosen ``c:`` times
to reach exact pacing cases; tag-block checksums are left out, which the framer notes but accepts.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from feeds.framing import Framer, MessageBatch
from feeds.replay import ReplaySource, line_times
from feeds.sources import FeedError, FeedSet, open_feed

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
NOW = 1_700_000_000.0
TYPE1 = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"


class FakeClock:
    """A clock that moves only when slept on; it records every sleep."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


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


def tagged(*times: float) -> bytes:
    return "".join(f"\\c:{t:.0f}\\{TYPE1}\n" for t in times).encode()


async def deliveries(source: ReplaySource, clock: FakeClock) -> list[tuple[float, bytes]]:
    """(wall time, bytes) of every delivery until the end of the file."""
    out = []
    while (chunk := await source.next_batch()) is not None:
        out.append((chunk.received - NOW, chunk.data))
    return out


def replay(path: Path, clock: FakeClock, **kw: float | bool) -> ReplaySource:
    return ReplaySource(f"file://{path}", path, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------ pacing
@pytest.mark.parametrize(("speed", "at"), [(1.0, [0.0, 5.0, 65.0]), (10.0, [0.0, 0.5, 6.5])])
def test_lines_are_delivered_when_their_own_time_comes(tmp_path: Path, speed: float, at: list[float]) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(tagged(1000, 1000, 1005, 1065))
    clock = FakeClock()
    got = asyncio.run(deliveries(replay(path, clock, speed=speed), clock))
    assert [t for t, _ in got] == pytest.approx(at)
    assert [d.count(b"\n") for _, d in got] == [2, 1, 1]
    assert b"".join(d for _, d in got) == path.read_bytes()
    assert sum(clock.sleeps) == pytest.approx(65.0 / speed)


def test_untimed_lines_go_with_the_line_before_and_leading_ones_at_once(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(f"{TYPE1}\n".encode() + tagged(1000) + f"{TYPE1}\n".encode() + tagged(1030))
    clock = FakeClock()
    got = asyncio.run(deliveries(replay(path, clock), clock))
    assert [(t, d.count(b"\n")) for t, d in got] == [(0.0, 1), (0.0, 2), (30.0, 1)]


def test_lines_arriving_within_a_tick_are_delivered_together(tmp_path: Path) -> None:
    t0 = 1_600_000_000_000  # c: in milliseconds
    path = tmp_path / "feed.nmea"
    path.write_bytes("".join(f"\\c:{t0 + ms}\\{TYPE1}\n" for ms in (0, 40, 80, 500)).encode())
    clock = FakeClock()
    got = asyncio.run(deliveries(replay(path, clock), clock))
    assert [(t, d.count(b"\n")) for t, d in got] == [(0.0, 3), (pytest.approx(0.5), 1)]


def test_a_jump_in_time_is_not_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(tagged(1000, 1010, 1000 + 86_400, 1000 + 86_410, 1020))  # a day's gap, then one back
    clock = FakeClock()
    got = asyncio.run(deliveries(replay(path, clock), clock))
    # the day-later line is delivered at once and the replay goes on from it; the line back in time is late: at once
    assert [(t, d.count(b"\n")) for t, d in got] == [(0.0, 1), (10.0, 1), (10.0, 1), (20.0, 2)]


def test_speed_zero_never_waits(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(tagged(1000, 5000, 90_000))
    clock = FakeClock()
    got = asyncio.run(deliveries(replay(path, clock, speed=0), clock))
    assert b"".join(d for _, d in got) == path.read_bytes()
    assert clock.sleeps == [0]


def test_looping_starts_again_and_repaces(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(tagged(1000, 1002)[:-1])  # no line ending at the end: the loop must add one
    clock = FakeClock()
    source = replay(path, clock, loop=True)

    async def run() -> list[tuple[float, bytes]]:
        out = []
        while source.counters.loops < 2:
            chunk = await source.next_batch()
            assert chunk is not None
            out.append((chunk.received - NOW, chunk.data))
        await source.close()
        assert await source.next_batch() is None
        return out

    got = asyncio.run(run())
    assert [t for t, _ in got] == pytest.approx([0.0, 2.0, 2.0, 4.0, 4.0])  # the third loop has begun
    assert b"".join(d for _, d in got[:2]) == path.read_bytes() + b"\n"
    assert got[2][1] == got[0][1]


def test_line_times_follow_multipart_messages_and_gatehouse_wrappers() -> None:
    data = (
        b"$PGHP,1,2013,3,18,9,19,9,499,219,,2190048,1,28*23\n"  # AisLib__replay_dump.txt lines 1-2
        b"!BSVDM,1,1,,B,14VliT002O0q2DBP:dAu7JRD0<0s,0*28\n"
        b"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n"
        b"!AIVDM,2,2,1,A,88888888880,2*25\n"
    )
    t = line_times(Framer(), data, 4, math.nan)
    gh = 1363598349.499  # 2013-03-18 09:19:09.499 UTC
    assert np.isnan(t[0])  # the wrapper's time belongs to the next line
    assert t[1:] == pytest.approx([gh, gh, gh])


# ------------------------------------------------------------------------------------------- same messages
@needs_data
@pytest.mark.parametrize("speed", [0.0, 1.0])
@pytest.mark.parametrize(
    "name", ["libais__tagblock.nmea", "AisLib__replay_dump.txt", "risky__exact-earth-augmented-2.txt"]
)
def test_replay_gives_the_framer_s_messages(name: str, speed: float) -> None:
    path = NMEA_DIR / name
    expected = rows(Framer(clock=lambda: NOW).feed(path.read_bytes(), final=True))
    clock = FakeClock()

    async def run() -> list[tuple]:
        source = replay(path, clock, speed=speed, read_bytes=4096)  # small reads: lines cut between reads
        got: list[tuple] = []
        async with FeedSet([source], clock=clock) as feeds:
            async for batch in feeds:
                assert batch.messages is not None
                got.extend(rows(batch.messages))
        return got

    got = asyncio.run(run())
    assert [(p, s, c, f) for p, _, s, c, f in got] == [(p, s, c, f) for p, _, s, c, f in expected]
    # lines with a time keep it; the others are stamped when the replay delivered them
    for (_, t, *_), (_, t_ref, *_) in zip(got, expected, strict=True):
        assert t == t_ref or (t_ref == NOW and t is not None and t >= NOW)


def test_open_feed_refuses_a_negative_speed(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea"
    path.write_bytes(tagged(1000))
    with pytest.raises(FeedError, match=r"speed must be 0 or more"):
        open_feed(f"file://{path}?speed=-1")


def test_a_file_that_breaks_while_replaying_is_a_feed_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.nmea.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    clock = FakeClock()
    with pytest.raises(FeedError, match=r"^file://.*feed\.nmea\.gz: .*gz"):
        asyncio.run(deliveries(replay(path, clock, speed=0), clock))
