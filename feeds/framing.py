"""Framing: raw NMEA bytes -> batches of AIS messages (armored payloads with time, source and channel).

A :class:`Framer` is fed bytes in chunks of any size; it keeps the incomplete last line and the pending parts
of multi-part messages between calls, so the messages it yields do not depend on how the input was cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from feeds import nmea_kernel as nk
from feeds import ranges_kernel as rk
from feeds.jit import kernel

if TYPE_CHECKING:
    from feeds.framing_ranges import RangeFrame


@dataclass(frozen=True)
class MessageBatch:
    """Armored AIS payloads, one row per complete message, in the order the messages completed."""

    payload: np.ndarray  # uint8, the armored six-bit payloads of every message, back to back
    start: np.ndarray  # int64 offset of each message's payload in ``payload``
    length: np.ndarray  # int32 number of armored characters
    fill: np.ndarray  # int8 fill bits of the last part
    time: np.ndarray  # float64 unix seconds (UTC), NaN when the input carried no time
    source: np.ndarray  # int32 index into ``sources``; 0 is "unknown"
    channel: np.ndarray  # uint8 ASCII of the radio channel ('A', 'B', '1', '2'), 0 when absent
    line: np.ndarray  # int64 zero-based input line of the message's first part
    parts: np.ndarray  # int8 number of sentences the message was assembled from
    seq: np.ndarray  # int64 index of the message among all this framer has produced (completion order)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def text(self, i: int) -> str:
        """The armored payload of message ``i`` (for tests, logs and the pyais fallback)."""
        s = int(self.start[i])
        return bytes(self.payload[s : s + int(self.length[i])]).decode("ascii")

    @classmethod
    def concat(cls, batches: list[MessageBatch]) -> MessageBatch:
        """The messages of ``batches`` one after the other (deliveries of one or several framers), so that a live
        micro-batch is decoded once rather than per delivery (each decode builds its tables: a fixed cost).

        ``seq`` is renumbered from 0 in that order, each batch keeping its own gaps (what the stream runner's
        global numbering keeps too); the station names of several framers are merged into one ``sources`` list.
        """
        if len(batches) == 1:
            return batches[0]
        sources, offset = [""], {}  # a framer's list object -> where its names start in the merged list
        for b in batches:
            if id(b.sources) not in offset:
                offset[id(b.sources)] = len(sources) - 1
                sources.extend(b.sources[1:])
        payload_at = np.cumsum([0, *(b.payload.shape[0] for b in batches[:-1])])
        seq, seq_at = [], 0
        for b in batches:
            if len(b):
                seq.append(b.seq - b.seq[0] + seq_at)
                seq_at += int(b.seq[-1] - b.seq[0]) + 1
        return cls(
            payload=np.concatenate([b.payload for b in batches]),
            start=np.concatenate([b.start + at for b, at in zip(batches, payload_at, strict=True)]),
            length=np.concatenate([b.length for b in batches]),
            fill=np.concatenate([b.fill for b in batches]),
            time=np.concatenate([b.time for b in batches]),
            source=np.concatenate(
                [np.where(b.source > 0, b.source + offset[id(b.sources)], 0).astype(np.int32) for b in batches]
            ),  # fmt: skip
            channel=np.concatenate([b.channel for b in batches]),
            line=np.concatenate([b.line for b in batches]),
            parts=np.concatenate([b.parts for b in batches]),
            seq=np.concatenate(seq) if seq else np.zeros(0, np.int64),
            sources=sources,
        )


# The longest line kept: an NMEA sentence is at most 82 characters; a tag block, a $PGHP wrapper or several
# sentences on one line (all in ../shared/data/nmea) stay far below this. Longer is a feed without newlines.
MAX_LINE = 4096


def _not_deferred() -> tuple[np.ndarray, ...]:
    """frame()'s outputs for deferred parts (m_rec, part_i, part_h, part_t, info): unused when it assembles them."""
    return (np.zeros(1, np.int64), np.zeros((1, nk.P_COLUMNS), np.int64), np.zeros((1, 2), np.uint64),
            np.zeros(1, np.float64), np.zeros(nk.INFO_SIZE, np.int64))  # fmt: skip


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(nk.OUTCOMES + nk.NOTES, 0)


Segment = tuple[bytes | memoryview, int, int]  # whole lines data[start:end] to frame


class Framer:
    """Turns NMEA text into :class:`MessageBatch` es, remembering what spans chunk boundaries.

    ``keep_bad_checksums`` keeps sentences whose checksum is wrong (counted as a note) instead of dropping
    them. ``max_pending`` bounds the multi-part assembly table; a part older than ``max_age`` records is an
    orphan. ``clock`` gives the receive time of messages whose input carries none (live feeds). A line longer than
    ``max_line`` bytes is dropped whole and counted (``line_too_long``): a feed that never sends a newline cannot
    grow the framer's memory.
    """

    def __init__(
        self,
        *,
        keep_bad_checksums: bool = False,
        max_pending: int = 512,
        max_age: int = 10_000,
        clock: Callable[[], float] | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1 byte, got {max_line}")
        self.max_line = max_line
        self._discarding = False  # dropping the rest of a line that grew past max_line, up to its newline
        self.keep_bad_checksums = keep_bad_checksums
        self.max_age = max_age
        self.clock = clock
        self.sources: list[str] = [""]
        self._source_ids: dict[int, int] = {0: 0}
        self._known = np.zeros(1, np.uint64)  # sorted source hashes, and their indices into sources
        self._known_ids = np.zeros(1, np.int32)
        self._tail = b""
        self._lines = 0
        self._records = 0
        self._messages = 0
        self._counts = np.zeros(len(nk.OUTCOMES), np.int64)
        self._notes = np.zeros(len(nk.NOTES), np.int64)
        p = max_pending
        self._state = (
            np.zeros(p, np.bool_),  # used
            np.zeros(p, np.uint64),  # group id hash
            np.zeros(p, np.uint64),  # source hash
            np.zeros(p, np.int64),  # channel
            np.zeros(p, np.int64),  # sequence id
            np.zeros(p, np.int64),  # fragment count
            np.zeros(p, np.int64),  # mask of parts received
            np.zeros(p, np.int64),  # record index of the first part
            np.zeros(p, np.float64),  # time
            np.zeros(p, np.int64),  # line of the first part
            np.zeros(p, np.int64),  # fill bits of the last part
            np.zeros((p, nk.MAX_PARTS), np.int64),  # part lengths
            np.zeros((p, nk.MAX_PARTS, nk.PART_CAP), np.uint8),  # part payloads
            np.zeros(1, np.int64),  # high-water mark of used slots
            np.full(1, np.nan),  # pending $PGHP time
        )

    @property
    def lines(self) -> int:
        """Input lines framed so far."""
        return self._lines

    @property
    def records(self) -> int:
        """Sentence records seen so far (a line may hold several sentences, each with its tag block)."""
        return self._records

    @property
    def counts(self) -> dict[str, int]:
        """Outcome of every sentence record so far, plus notes; pending parts are not yet counted."""
        out = {name: int(v) for name, v in zip(nk.OUTCOMES, self._counts, strict=True)}
        out.update({name: int(v) for name, v in zip(nk.NOTES, self._notes, strict=True)})
        return out

    @property
    def pending_parts(self) -> int:
        used, mask = self._state[0], self._state[6]
        return int(sum(bin(int(m)).count("1") for m in mask[used]))

    def feed(self, data: bytes | memoryview, *, final: bool = False, received: float | None = None) -> MessageBatch:
        """Frame ``data``; the incomplete last line waits for the next call unless ``final``.

        ``received`` (unix seconds, UTC) is when a live feed read ``data``: messages whose input carries no time
        get it, in place of ``clock()``, so a chunk that waited in a queue is stamped with its arrival.

        ``data`` is framed where it lies (no copy of a chunk of many MB; it may be a view of a mapped file): the
        line cut at the end of the previous call is completed on its own, then the whole lines of ``data`` follow.
        """
        segments: list[Segment] = []
        buf = np.frombuffer(data, np.uint8)
        start = 0
        if self._discarding:
            nl = nk.first_newline(buf)
            if nl < 0 and not final:
                return self._frame(segments, received)
            start, self._discarding = (len(buf) if nl < 0 else nl + 1), False
        elif self._tail:
            nl = nk.first_newline(buf)
            if nl < 0 and not final:
                if len(self._tail) + len(buf) > self.max_line:
                    self._drop_long_line()
                else:
                    self._tail += bytes(data)
                return self._frame(segments, received)
            start = len(buf) if nl < 0 else nl + 1
            head = self._tail + bytes(data[:start])
            segments.append((head, 0, len(head)))
            self._tail = b""
        end = len(buf) if final else max(start, nk.last_newline(buf) + 1)
        if end > start:
            segments.append((data, start, end))
        if len(buf) - end > self.max_line:  # the cut line is already too long: it is dropped up to its newline
            self._drop_long_line()
        else:
            self._tail = bytes(data[end:])
        batch = self._frame(segments, received)
        if final:
            nk.flush_pending(self._state[0], self._state[6], self._state[13], self._counts)
        return batch

    def _drop_long_line(self) -> None:
        """Count the line being cut as ``line_too_long`` and drop it up to its newline (as the kernel drops one
        seen whole)."""
        self._counts[nk.O_LINE_TOO_LONG] += 1
        self._lines += 1
        self._records += 1
        self._tail = b""
        self._discarding = True

    def finish(self) -> MessageBatch:
        """End of input: frame what is left and count parts still pending as orphans."""
        return self.feed(b"", final=True)

    def _frame(self, segments: list[Segment], received: float | None = None) -> MessageBatch:
        """Frame the whole lines ``data[start:end]`` of each segment, in turn, into one batch."""
        n = sum(end - start for _, start, end in segments)
        slots = self._state[0].shape[0]
        cap_msgs = n // 6 + 2
        out_pay = np.empty(n + slots * nk.MAX_PARTS * nk.PART_CAP, np.uint8)
        m_start = np.empty(cap_msgs, np.int64)
        m_len = np.empty(cap_msgs, np.int32)
        m_fill = np.empty(cap_msgs, np.int8)
        m_time = np.empty(cap_msgs, np.float64)
        m_src = np.empty(cap_msgs, np.uint64)
        m_chan = np.empty(cap_msgs, np.uint8)
        m_line = np.empty(cap_msgs, np.int64)
        m_parts = np.empty(cap_msgs, np.int8)
        r_hash = np.empty(cap_msgs, np.uint64)
        r_off = np.empty(cap_msgs, np.int64)
        r_len = np.empty(cap_msgs, np.int64)
        feed_time = self.clock() if self.clock is not None else math.nan
        if received is not None:
            feed_time = received
        nm = pay = 0
        for data, start, end in segments:
            buf = np.frombuffer(data, np.uint8)[start:end]
            got, used, ns, lines, recs = nk.frame(
                buf,
                end - start,
                self.keep_bad_checksums,
                self.max_line,
                self._lines,
                self._records,
                self.max_age,
                feed_time,
                *self._state,
                out_pay[pay:],
                m_start[nm:],
                m_len[nm:],
                m_fill[nm:],
                m_time[nm:],
                m_src[nm:],
                m_chan[nm:],
                m_line[nm:],
                m_parts[nm:],
                r_hash,
                r_off,
                r_len,
                self._counts,
                self._notes,
                False,  # parts assembled here, in the pending table
                *_not_deferred(),
            )
            m_start[nm : nm + got] += pay  # the kernel counts payload offsets from where it was told to write
            self._lines += lines
            self._records += recs
            self._register_sources(data, r_hash[:ns], r_off[:ns] + start, r_len[:ns])
            nm += got
            pay += used
        seq = np.arange(self._messages, self._messages + nm, dtype=np.int64)
        self._messages += nm
        return MessageBatch(
            payload=out_pay[:pay],
            start=m_start[:nm],
            length=m_len[:nm],
            fill=m_fill[:nm],
            time=m_time[:nm],
            source=self._source_index(m_src[:nm]),
            channel=m_chan[:nm],
            line=m_line[:nm],
            parts=m_parts[:nm],
            seq=seq,
            sources=self.sources,
        )

    def take(self, framed: RangeFrame) -> MessageBatch:
        """The messages of a byte range framed on its own (:func:`feeds.framing_ranges.frame_range`, in any thread),
        as :meth:`feed` would give them had it been fed the input up to the range's end: ranges must be taken in
        input order, each cut at a line's end. Its multi-part messages are assembled here with the parts still
        pending from earlier ranges, and a $PGHP wrapper left pending at the previous range's end gives its time to
        the range's first AIS sentence; what is left pending goes on to the next range. Serial and cheap: only the
        parts (~4 % of the sentences) are looked at one by one. ``framed`` is used up (its times are set here)."""
        if self._tail or self._discarding:
            raise ValueError("a framed range follows a cut line: ranges and fed chunks cannot be mixed mid-line")
        self._hand_over_wrapper(framed)
        st = self._state
        n_parts = int(framed.info[nk.I_PARTS])
        cap = n_parts + 1
        a_start, a_line, a_rec = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)
        a_len, a_fill, a_time = np.empty(cap, np.int32), np.empty(cap, np.int8), np.empty(cap, np.float64)
        a_src, a_chan, a_parts = np.empty(cap, np.uint64), np.empty(cap, np.uint8), np.empty(cap, np.int8)
        buffer = framed.buffer  # the completed messages go after the range's payloads
        room = int(framed.part_i[:n_parts, nk.P_LEN].sum()) + st[0].shape[0] * nk.MAX_PARTS * nk.PART_CAP
        if buffer.shape[0] < framed.used + room:
            buffer = np.concatenate([buffer[: framed.used], np.empty(room, np.uint8)])
        na, a_used = rk.assemble(
            framed.part_i, framed.part_h, framed.part_t, n_parts, self._records, self._lines, buffer, self.max_age,
            *st[:14], self._counts, buffer[framed.used :], a_start, a_len, a_fill, a_time, a_src, a_chan, a_line,
            a_parts, a_rec,
        )  # fmt: skip
        n = framed.start.shape[0] + na
        o_start, o_line = np.empty(n, np.int64), np.empty(n, np.int64)
        o_len, o_fill, o_time = np.empty(n, np.int32), np.empty(n, np.int8), np.empty(n, np.float64)
        o_src, o_chan, o_parts = np.empty(n, np.uint64), np.empty(n, np.uint8), np.empty(n, np.int8)
        rk.interleave(
            framed.rec, self._records, self._lines, framed.start, framed.length, framed.fill, framed.time, framed.src,
            framed.channel, framed.line, framed.parts, a_rec, na, a_start + framed.used, a_len, a_fill, a_time, a_src,
            a_chan, a_line, a_parts, o_start, o_len, o_fill, o_time, o_src, o_chan, o_line, o_parts,
        )  # fmt: skip
        self._register_sources(framed.data, framed.src_hash, framed.src_off, framed.src_len)
        self._counts += framed.counts
        self._notes += framed.notes
        self._lines += framed.lines
        self._records += framed.records
        seq = np.arange(self._messages, self._messages + n, dtype=np.int64)
        self._messages += n
        return MessageBatch(
            payload=buffer[: framed.used + a_used],
            start=o_start,
            length=o_len,
            fill=o_fill,
            time=o_time,
            source=self._source_index(o_src),
            channel=o_chan,
            line=o_line,
            parts=o_parts,
            seq=seq,
            sources=self.sources,
        )

    def _hand_over_wrapper(self, framed: RangeFrame) -> None:
        """A $PGHP time pending at the previous range's end times this range's first AIS sentence if nothing before
        it in the range would have (no tag-block time, no wrapper of its own); the range's own pending wrapper, if
        it met a wrapper or an AIS sentence, is the one handed on."""
        info, pending = framed.info, self._state[14]  # the pending $PGHP time
        wrapper = float(pending[0])
        if info[nk.I_FIRST_TAKES] and not math.isnan(wrapper):
            if info[nk.I_FIRST_KIND] == nk.FIRST_MESSAGE:
                framed.time[info[nk.I_FIRST_INDEX]] = wrapper
            elif info[nk.I_FIRST_KIND] == nk.FIRST_PART:
                framed.part_t[info[nk.I_FIRST_INDEX]] = wrapper
        if info[nk.I_ANY_AIS] or info[nk.I_ANY_WRAPPER]:
            pending[0] = framed.wrapper_left

    def _register_sources(self, data: bytes | memoryview, hashes: np.ndarray, off: np.ndarray, ln: np.ndarray) -> None:
        if hashes.shape[0] == 0:
            return
        pos = np.searchsorted(self._known, hashes).clip(max=self._known.shape[0] - 1)
        new = np.flatnonzero(self._known[pos] != hashes)  # only hashes never seen before reach Python
        if new.shape[0] == 0:
            return
        uniq, first = np.unique(hashes[new], return_index=True)
        for h, i in zip(uniq.tolist(), new[first].tolist(), strict=True):
            name = bytes(data[off[i] : off[i] + ln[i]]).decode("ascii", "replace")
            self._source_ids[h] = len(self.sources)
            self.sources.append(name)
        order = sorted(self._source_ids)
        self._known = np.array(order, np.uint64)
        self._known_ids = np.array([self._source_ids[h] for h in order], np.int32)

    def _source_index(self, hashes: np.ndarray) -> np.ndarray:
        """Each message's index into ``sources`` from its source hash (0 for a hash not registered: cannot happen,
        every source is registered before use). One compiled pass: the numpy search, clip, gather and compare it
        replaces cost ~35-50 ms of the command's own thread a simulated week (benchmarks/RESULTS.md, issue 13)."""
        ids = np.empty(hashes.shape[0], np.int32)
        if hashes.shape[0]:  # an empty batch loads no kernel
            _source_ids(self._known, self._known_ids, np.ascontiguousarray(hashes, np.uint64), ids)
        return ids


@kernel
def _source_ids(known, known_ids, hashes, out):
    """out[i] := known_ids[k] where known[k] == hashes[i] (``known`` sorted), else 0. A station's sentences come in
    runs, so a hash equal to the one before takes its index without a search."""
    n = known.shape[0]
    last_h = np.uint64(0)
    last_id = 0
    for i in range(hashes.shape[0]):
        h = hashes[i]
        if i > 0 and h == last_h:
            out[i] = last_id
            continue
        lo, hi = 0, n
        while lo < hi:  # the first known hash >= h
            mid = (lo + hi) // 2
            if known[mid] < h:
                lo = mid + 1
            else:
                hi = mid
        last_id = known_ids[lo] if lo < n and known[lo] == h else 0
        last_h = h
        out[i] = last_id
