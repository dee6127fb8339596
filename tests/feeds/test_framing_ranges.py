"""Framing byte ranges on their own and joining them (feeds.framing_ranges, Framer.take) gives what one framer fed the
whole input gives, for any cut: the same messages in the same order (payload, time, station, channel, line, parts,
fill, seq), the same counts. On the real recordings of ``../shared/data/nmea`` and on their multi-part, tag-block
group and $PGHP wrapper lines shuffled (orphans, repeated parts, groups and wrappers split by a cut), with small
pending tables and short ages so that parts expire and are evicted across the cuts."""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.framing import Framer, MessageBatch
from feeds.framing_ranges import frame_range, line_ranges

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not in {NMEA_DIR}")
STATEFUL = re.compile(rb"!..VD[MO],[2-9],|PGHP|\\g:")  # a part of a multi-part message, a wrapper, a group


@cache
def recordings() -> bytes:
    files = sorted(p for p in NMEA_DIR.glob("*") if p.is_file())
    return b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in files)


@cache
def stateful_lines() -> tuple[bytes, ...]:
    """Every real line that meets the framer's state, and the line after each (the sentence a wrapper times)."""
    lines = recordings().split(b"\n")
    return tuple(dict.fromkeys(ln for i, line in enumerate(lines) if STATEFUL.search(line) for ln in lines[i : i + 2]))


def record(batch: MessageBatch) -> list[tuple]:
    """Every message as the tables see it (station by name: its index depends on when the framer first met it)."""
    return [
        (batch.text(i), None if math.isnan(t) else t, batch.sources[s], c, ln, p, f, q)
        for i, (t, s, c, ln, p, f, q) in enumerate(
            zip(batch.time.tolist(), batch.source.tolist(), batch.channel.tolist(), batch.line.tolist(),
                batch.parts.tolist(), batch.fill.tolist(), batch.seq.tolist(), strict=True)
        )
    ]  # fmt: skip


def framed_in_ranges(data: bytes, cuts: list[int], **options) -> tuple[list[tuple], Framer]:
    """``data`` cut at the line ends at or after ``cuts``, each range framed on its own, then joined in order."""
    ends = sorted({min(len(data), data.find(b"\n", c) + 1 or len(data)) for c in cuts} | {len(data)})
    framer, batches, start = Framer(**options), [], 0
    for end in ends:
        if end > start:
            framed = frame_range(data, start, end, keep_bad_checksums=framer.keep_bad_checksums,
                                 max_line=framer.max_line)  # fmt: skip
            batches.append(framer.take(framed))
            start = end
    batches.append(framer.finish())
    return [m for b in batches for m in record(b)], framer


def assert_as_serial(data: bytes, cuts: list[int], **options) -> None:
    serial = Framer(**options)
    want = record(serial.feed(data, final=True))
    got, framer = framed_in_ranges(data, cuts, **options)
    assert got == want
    assert (framer.counts, framer.lines, framer.records) == (serial.counts, serial.lines, serial.records)


@needs_data
@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10**8), max_size=40), scale=st.sampled_from([1, 30, 1000]))
def test_recordings_framed_in_ranges_equal_one_framer(cuts, scale):
    data = recordings()
    assert_as_serial(data, [c // scale % len(data) for c in cuts])  # scale: cuts spread or bunched at the start


@needs_data
@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=20),
    max_pending=st.sampled_from([1, 2, 4, 512]),
    max_age=st.sampled_from([1, 3, 10, 10_000]),
    max_line=st.sampled_from([60, 4096]),  # 60: many real lines too long, dropped
    keep_bad=st.booleans(),
)
def test_shuffled_parts_groups_and_wrappers_equal_one_framer(picks, cuts, max_pending, max_age, max_line, keep_bad):
    lines = stateful_lines()
    data = b"".join(lines[p % len(lines)] + b"\n" for p in picks)
    assert_as_serial(data, [c % len(data) for c in cuts], max_pending=max_pending, max_age=max_age, max_line=max_line,
                     keep_bad_checksums=keep_bad)  # fmt: skip


@needs_data
def test_every_cut_of_a_grouped_multipart_stretch():
    """Each line end of a stretch with tag-block groups, wrappers and multi-part messages, as a cut of its own."""
    lines = stateful_lines()
    kinds = (b"\\g:", b"PGHP", b"VDM,2,")  # in the recordings' order, some of each kind
    data = b"".join(ln + b"\n" for kind in kinds for ln in [ln for ln in lines if kind in ln][:70])
    assert all(data.count(kind) >= 20 for kind in kinds)
    for at in range(0, len(data), 97):
        assert_as_serial(data, [at, at + 500])


def test_line_ranges_are_the_lines_a_framer_frames_chunk_by_chunk():
    data = b"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B\n" * 3 + b"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B"
    for size in (1, 7, 50, 51, 52, 120, 1000):
        ranges = list(line_ranges(data, size))
        framer = Framer()
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        fed = [framer.feed(chunk) for chunk in chunks] + [framer.feed(b"", final=True)]
        assert [n for _, _, n in ranges] == [len(c) for c in chunks] + [0]
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        joined = Framer()
        assert [record(joined.take(frame_range(data, s, e))) for s, e, _ in ranges] == [record(b) for b in fed]
    assert list(line_ranges(b"", 10)) == [(0, 0, 0)]


def test_a_wrapper_at_a_range_end_times_the_next_ranges_first_sentence():
    wrapper = b"$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B\n"
    sentence = b"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B\n"
    data = wrapper + sentence + wrapper + b"# a comment\n" + sentence
    got, _ = framed_in_ranges(data, [len(wrapper), len(wrapper + sentence + wrapper)])
    assert [m[1] for m in got] == [1276256771.39, 1276256771.39]
    assert_as_serial(data, list(range(len(data))))


def test_take_refuses_a_range_after_a_cut_line():
    framer = Framer()
    framer.feed(b"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B\n!AIVDM,1,1")
    with pytest.raises(ValueError, match="cut line"):
        framer.take(frame_range(b"\n", 0, 1))
    assert np.isnan(Framer().take(frame_range(b"", 0, 0)).time).all()
