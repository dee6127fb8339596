"""Framing a file in byte ranges on several threads, with the same messages as one :class:`feeds.framing.Framer`
fed the whole file.

The file is cut at line ends (:func:`line_ranges`); each range is framed on its own (:func:`frame_range`, any
thread: the kernel holds no GIL and no state) -- the byte scan, checksums, tag blocks, single-sentence messages,
the parts of multi-part messages kept aside with their record, line and payload. What crosses a cut is then joined
by :meth:`feeds.framing.Framer.take`, range after range in input order: the parts go through the framer's pending
table as the serial kernel puts them (so a message whose parts fall in two ranges, a tag-block group, a part that
expires or is evicted, all come out as they would serially), completed messages take their place among the range's
own by the record that completed them, and a $PGHP wrapper left pending by one range times the next range's first
AIS sentence. Line numbers, record ages and message order are counted on from the ranges before.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from feeds import nmea_kernel as nk
from feeds.framing import MAX_LINE

# Room after a range's payloads for the messages its parts complete: they hold at most the range's parts (no more
# than its own bytes) and the parts pending before it (a default framer's whole pending table at most; a framer
# with more slots copies the payloads into a larger buffer).
ROOM = 512 * nk.MAX_PARTS * nk.PART_CAP


@dataclass(frozen=True)
class RangeFrame:
    """One range framed on its own: its messages (in its own line numbers), its deferred parts and counts."""

    data: bytes | memoryview  # the whole input (station names are read from it)
    buffer: np.ndarray  # the payloads of its messages and parts, then room for the messages its parts complete
    used: int  # bytes of ``buffer`` used
    start: np.ndarray
    length: np.ndarray
    fill: np.ndarray
    time: np.ndarray
    src: np.ndarray  # uint64 station hashes
    channel: np.ndarray
    line: np.ndarray  # lines counted from the range's first
    parts: np.ndarray
    rec: np.ndarray  # each message's record, counted from the range's first
    part_i: np.ndarray  # the deferred parts (nk.P_* columns), their hashes and times
    part_h: np.ndarray
    part_t: np.ndarray
    info: np.ndarray  # nk.I_*: how the range met the $PGHP wrapper state, and how many parts it deferred
    wrapper_left: float  # the $PGHP time pending at the range's end
    src_hash: np.ndarray  # station names first seen: hash, offset in ``data``, length
    src_off: np.ndarray
    src_len: np.ndarray
    counts: np.ndarray
    notes: np.ndarray
    lines: int
    records: int


def line_ranges(data: bytes | memoryview, chunk_bytes: int) -> Iterator[tuple[int, int, int]]:
    """``(start, end, bytes read)`` of the lines a :class:`Framer` frames when ``data`` is fed to it in chunks of
    ``chunk_bytes``: each chunk's whole lines, to its last line feed (a line cut by the chunk's end goes with the
    next; a chunk without a line feed frames nothing), then the last line if it has no line feed (bytes read 0: the
    end). The batches, and so the tables made of them, are those of the serial framer chunk for chunk."""
    buf = np.frombuffer(data, np.uint8)
    start, n = 0, buf.shape[0]
    for cut in range(0, n, max(1, chunk_bytes)):
        end = min(n, cut + max(1, chunk_bytes))
        nl = nk.last_newline(buf[cut:end])
        line_end = cut + nl + 1 if nl >= 0 else start
        yield start, line_end, end - cut
        start = line_end
    yield start, n, 0


def frame_range(data: bytes | memoryview, start: int, end: int, *, keep_bad_checksums: bool = False,
                max_line: int = MAX_LINE) -> RangeFrame:  # fmt: skip
    """Frame ``data[start:end]`` (whole lines) on its own, its multi-part messages left for :meth:`Framer.take`."""
    buf = np.frombuffer(data, np.uint8)[start:end]
    n = end - start
    cap = n // 6 + 2
    out_pay = np.empty(2 * n + ROOM, np.uint8)  # only the bytes written are ever touched
    m_start, m_rec, m_line = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
    m_len, m_fill, m_time = np.empty(cap, np.int32), np.empty(cap, np.int8), np.empty(cap, np.float64)
    m_src, m_chan, m_parts = np.empty(cap, np.uint64), np.empty(cap, np.uint8), np.empty(cap, np.int8)
    r_hash, r_off, r_len = np.empty(cap, np.uint64), np.empty(cap, np.int64), np.empty(cap, np.int64)
    part_i, part_h, part_t = np.empty((cap, nk.P_COLUMNS), np.int64), np.empty((cap, 2), np.uint64), np.empty(cap)
    info = np.zeros(nk.INFO_SIZE, np.int64)
    counts, notes = np.zeros(len(nk.OUTCOMES), np.int64), np.zeros(len(nk.NOTES), np.int64)
    one = np.zeros(1, np.int64)  # a pending table of one slot that stays empty: parts are deferred, not put in it
    pending = (
        np.zeros(1, np.bool_), np.zeros(1, np.uint64), np.zeros(1, np.uint64), one, one, one, one, one, np.zeros(1),
        one, one, np.zeros((1, nk.MAX_PARTS), np.int64), np.zeros((1, nk.MAX_PARTS, nk.PART_CAP), np.uint8), one,
        np.full(1, np.nan),
    )  # fmt: skip
    nm, used, ns, lines, records = nk.frame(
        buf, n, keep_bad_checksums, max_line, 0, 0, 1, math.nan, *pending, out_pay, m_start, m_len, m_fill, m_time,
        m_src, m_chan, m_line, m_parts, r_hash, r_off, r_len, counts, notes, True, m_rec, part_i, part_h, part_t,
        info,
    )  # fmt: skip
    k = int(info[nk.I_PARTS])
    return RangeFrame(
        data=data,
        buffer=out_pay,
        used=int(used),
        start=m_start[:nm],
        length=m_len[:nm],
        fill=m_fill[:nm],
        time=m_time[:nm],
        src=m_src[:nm],
        channel=m_chan[:nm],
        line=m_line[:nm],
        parts=m_parts[:nm],
        rec=m_rec[:nm],
        part_i=part_i[:k],
        part_h=part_h[:k],
        part_t=part_t[:k],
        info=info,
        wrapper_left=float(pending[-1][0]),
        src_hash=r_hash[:ns],
        src_off=r_off[:ns] + start,
        src_len=r_len[:ns],
        counts=counts,
        notes=notes,
        lines=int(lines),
        records=int(records),
    )
