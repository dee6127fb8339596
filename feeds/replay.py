"""``file://path``: an NMEA log replayed as a live feed, paced by the times its lines carry.

At ``speed`` 1 a line is delivered when as much wall time has passed since the start as feed time has passed
since the first timed line (tag block ``c:``, timestamp prefixes, ``$PGHP``: whatever the framer reads);
``speed`` N goes N times faster and 0 as fast as possible. Lines without a time go with the line before them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from pathlib import Path

import numpy as np

from feeds.files import InputError, read_chunks
from feeds.framing import Framer
from feeds.sources import Chunk, Clock, FeedCounters, FeedError

log = logging.getLogger(__name__)

READ_BYTES = 1024 * 1024
TICK = 0.1  # wall seconds of feed delivered at once: at most ten deliveries a second, each on time within this
MAX_JUMP = 3600.0  # feed seconds: a time this far from the replay's clock is a gap or a garbled time: no wait


class ReplaySource:
    """Replays ``path`` (plain or gzip) paced by its own times; ``loop`` starts it again at the end.

    ``clock`` and ``sleep`` are injectable so pacing is tested without wall time.
    """

    def __init__(
        self,
        url: str,
        path: Path,
        *,
        speed: float = 1.0,
        loop: bool = False,
        clock: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        read_bytes: int = READ_BYTES,
        tick: float = TICK,
        max_jump: float = MAX_JUMP,
    ) -> None:
        if speed < 0 or math.isnan(speed):
            raise FeedError(f"{url}: speed must be 0 (as fast as possible) or more, got {speed}")
        self.url = url
        self.path = path
        self.speed = speed
        self.loop = loop
        self.clock = clock
        self.sleep = sleep
        self.read_bytes = read_bytes
        self.tick = tick
        self.max_jump = max_jump
        self.counters = FeedCounters(url)
        self._pieces: Iterator[tuple[bytes, float]] | None = None
        self._anchor: tuple[float, float] | None = None  # (feed time, wall time) the pacing counts from
        self._closed = False

    async def next_batch(self) -> Chunk | None:
        while not self._closed:
            if self._pieces is None:
                self._pieces = self._read() if self.speed == 0 else self._timed()
                self._anchor = None
            try:
                data, feed_time = next(self._pieces)
            except StopIteration:
                self._pieces = None
                if not self.loop:
                    return None
                self.counters.loops += 1
                continue
            except InputError as exc:
                raise FeedError(f"{self.url}: {exc}") from None
            await self._wait_for(feed_time)
            self.counters.bytes += len(data)
            return Chunk(data, self.clock())
        return None

    async def close(self) -> None:
        self._closed = True

    async def _wait_for(self, feed_time: float) -> None:
        if self.speed == 0 or math.isnan(feed_time):
            await self.sleep(0)  # let the other feeds run between deliveries
            return
        now = self.clock()
        if self._anchor is not None:
            expected = self._anchor[0] + (now - self._anchor[1]) * self.speed  # the replay's clock, in feed time
            if abs(feed_time - expected) > self.max_jump:
                log.info("%s: time jumps %.0f s; replay goes on from there without waiting", self.url,
                         feed_time - expected)  # fmt: skip
                self._anchor = None
        if self._anchor is None:
            self._anchor = (feed_time, now)
        target = self._anchor[1] + (feed_time - self._anchor[0]) / self.speed
        await self.sleep(max(0.0, target - now))

    def _read(self) -> Iterator[tuple[bytes, float]]:
        last = b"\n"
        for data in read_chunks(self.path, self.read_bytes):
            last = data[-1:]
            yield data, math.nan
        if last != b"\n":  # so the first line of the next loop is not glued to the last one
            yield b"\n", math.nan

    def _timed(self) -> Iterator[tuple[bytes, float]]:
        """Groups of whole lines, each with the feed time of its first line (NaN before the first timed line)."""
        timer = Framer()  # a private framer, only to read each line's time
        tail = b""
        last_time = math.nan
        for data in read_chunks(self.path, self.read_bytes):
            data = tail + data
            cut = data.rfind(b"\n") + 1
            data, tail = data[:cut], data[cut:]
            if data:
                last_time = yield from self._groups(timer, data, last_time)
        if tail:
            yield from self._groups(timer, tail + b"\n", last_time)

    def _groups(self, timer: Framer, data: bytes, last_time: float) -> Generator[tuple[bytes, float], None, float]:
        """Whole lines of ``data`` in groups spanning at most ``tick`` wall seconds; returns the last line's time."""
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
        times = line_times(timer, data, ends.shape[0], last_time)
        window = self.tick * self.speed
        n = ends.shape[0]
        i = 0
        while i < n:
            t0 = times[i]
            if math.isnan(t0):  # lines before the first timed line go at once
                timed = np.flatnonzero(~np.isnan(times[i:]))
                j = i + int(timed[0]) if timed.shape[0] else n
            else:
                later = np.flatnonzero(times[i + 1 :] > t0 + window)
                j = i + 1 + int(later[0]) if later.shape[0] else n
            yield data[int(ends[i - 1]) if i else 0 : int(ends[j - 1])], float(t0)
            i = j
        return float(times[-1]) if n else last_time


def line_times(timer: Framer, data: bytes, n_lines: int, last_time: float) -> np.ndarray:
    """The time of each of the ``n_lines`` whole lines of ``data``: its message's time, else the line before's.

    ``timer`` is a framer that has seen the lines before ``data`` (multi-part messages and ``$PGHP`` wrappers
    span lines); ``last_time`` is the time of the line before ``data``.
    """
    base = timer.lines
    batch = timer.feed(data)
    times = np.full(n_lines + 1, np.nan)
    times[0] = last_time
    rows = batch.line - base + 1  # a message completed here may have started in an earlier piece: not ours
    ours = (rows >= 1) & (rows <= n_lines)
    times[rows[ours]] = batch.time[ours]
    idx = np.where(np.isnan(times), 0, np.arange(n_lines + 1))
    np.maximum.accumulate(idx, out=idx)
    out: np.ndarray = times[idx][1:]
    return out
