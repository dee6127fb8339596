"""Framing: real NMEA sentences -> whole expected message records, outcome counts, stream = batch, robustness.

The sentences written here as literals are copied from the real recordings in ``../shared/data/nmea`` (checked by
``test_literal_sentences_are_real``); a few tests wrap them in a synthetic prefix or tag block to reach a case
the recordings lack (ISO prefixes, ``c:`` in milliseconds), and say so.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache, reduce
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decode import Decoded, decode
from feeds import nmea_kernel as nk
from feeds.framing import Framer, MessageBatch

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
# lines holding more than one sentence record (a line ending written out as text, or tag block + sentence twice)
MULTI_RECORD_FILES = {"AisLib__ais250.txt", "ais-tools__bad-type5.nmea", "ais-tools__spire-test.nmea"}


# ---------------------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Msg:
    """One framed message as a whole record: what the tests compare."""

    payload: str
    t: float | None = None
    source: str = ""
    channel: str = ""
    line: int = 0
    parts: int = 1
    fill: int = 0


def messages(batch: MessageBatch) -> list[Msg]:
    out = []
    for i in range(len(batch)):
        t = float(batch.time[i])
        ch = int(batch.channel[i])
        out.append(
            Msg(
                payload=batch.text(i),
                t=None if math.isnan(t) else round(t, 6),
                source=batch.sources[int(batch.source[i])],
                channel=chr(ch) if ch else "",
                line=int(batch.line[i]),
                parts=int(batch.parts[i]),
                fill=int(batch.fill[i]),
            )
        )
    return out


def outcome_total(counts: dict[str, int]) -> int:
    return sum(counts[name] for name in nk.OUTCOMES)


def frame(text: str | bytes, **options) -> tuple[list[Msg], dict[str, int]]:
    """Frame a whole input; checks that every sentence record ended in exactly one outcome."""
    framer = Framer(**options)
    data = text.encode("latin-1") if isinstance(text, str) else text
    batch = framer.feed(data, final=True)
    assert framer.pending_parts == 0
    assert outcome_total(framer.counts) == framer.records  # every record: one outcome, no more, no less
    return messages(batch), {k: v for k, v in framer.counts.items() if v}


def lines(*sentences: str) -> str:
    return "".join(s + "\n" for s in sentences)


def checksum(body: str) -> str:
    return f"{reduce(lambda a, c: a ^ c, body.encode('latin-1'), 0):02X}"


def tagged(fields: str, sentence: str) -> str:
    """A synthetic NMEA 4.10 tag block (with a correct checksum) in front of a real sentence."""
    return f"\\{fields}*{checksum(fields)}\\{sentence}"


def payload_of(line: str) -> str:
    """The payload field of the (last) sentence of a line."""
    return line.split("\\")[-1].split("*")[0].split(",")[5]


def utc(*args: int) -> float:
    """Unix seconds of a UTC date; the last argument, if a 7th is given, is milliseconds."""
    ms = args[6] if len(args) > 6 else 0
    return round(datetime(*args[:6], ms * 1000, tzinfo=UTC).timestamp(), 6)


@cache
def read(name: str) -> bytes:
    path = NMEA_DIR / name
    if not path.is_file():
        pytest.skip(f"real NMEA recording {path} is not here (see ../shared/data/README.md)")
    return path.read_bytes()


def data_files() -> list[str]:
    return sorted(p.name for p in NMEA_DIR.glob("*.*")) if NMEA_DIR.is_dir() else []


@cache
def framed_whole(name: str) -> tuple[list[Msg], dict[str, int], int]:
    framer = Framer()
    batch = framer.feed(read(name), final=True)
    return messages(batch), framer.counts, framer.lines


# ------------------------------------------------------------------------------ real sentences used as literals
AIVDM = "!AIVDM,1,1,,A,16:=?;0P00`SstvFnFbeGH6L088h,0*44"  # pyais__messages.ais
AIVDM_B = "!AIVDM,1,1,,B,14Wtnn002SGLde:BbrBmdTLF0Vql,0*6E"  # simpleais__sample.ais (without its prefix)
TALKERS = {
    "AIVDM": AIVDM,
    "AIVDO": "!AIVDO,1,1,,,11auciwP00GRV:4CBpK8N?wF2000,0*51",  # AisLib__ais250.txt
    "ABVDM": "!ABVDM,1,1,,A,13tfH:022;PhpibQUS:FkUKj06kd,0*3A",  # Ais.Net__Ais1000Lines.nm4
    "ABVDO": "!ABVDO,1,1,,,4>qc9wiv6gEcboKJ?DCdAK700P00,0*6D",  # AisLib__ais250.txt
    "ASVDM": "!ASVDM,1,1,7,A,404k0WAuhMcg1:=kOMr:C0W005Jt,0*1A",  # risky__ais.txt
    "ASVDO": "!ASVDO,1,1,4,A,4@4k0W1uhMcfsbf=MQkvWTW00000,0*0D",  # risky__ais.txt
    "BSVDM": "!BSVDM,1,1,,B,14VliT002O0q2DBP:dAu7JRD0<0s,0*28",  # AisLib__replay_dump.txt
    "BSVDO": "!BSVDO,1,1,,A,4025bp1ulq9CGPoQUBP5cJ10259<,0*7E",  # AisLib__replay_dump.txt
    "BYVDM": "!BYVDM,1,1,,A,4h2=aGAuaUceH07pN4N6SVQ00<0j,0*49",  # AisLib__stream_example.txt
    "SSVDM": "!SSVDM,1,1,,A,13P;BWP000OaCS4MUB7nGr0T0<0G,0*11",  # AisLib__stream_example.txt
    "SSVDO": "!SSVDO,1,1,,B,Dh2=aCiDlN?`00N01>9N000,2*4A",  # AisLib__stream_example.txt
    "WSVDM": "!WSVDM,1,1,2,A,1=JklShP00GRg00CD0orS8Lb0000,0*2F",  # simpleais__sample.ais
    "--VDM": "!--VDM,1,1,,A,802R5Ph0BkAgoPNCkQn0Q@sMKgwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwt,2*57",  # AisLib stream
    "=IVDM": "!=IVDM,1,1,,A,18JSmJ001D8FqSClKd51JAD20D0W,0*2E",  # risky__ais.txt: a damaged talker
}
# the only !SAVDM in the recordings is a two-part message (pyais__mixed.txt)
SAVDM_1 = (
    r"\g:1-2-27300,n:636994,s:b003669710,c:1428621738*5F\!SAVDM,2,1,2,B,"
    r"55Mw@A7J1adAL@?;7WPl58F0U<h4pB222222220t1PN5553fN4g?`4iSp5Rc,0*26"
)
SAVDM_2 = r"\g:2-2-27300,n:636995*15\!SAVDM,2,2,2,B,iP`88888880,2*5E"

# tag blocks
TAG_S_C = r"\s:rEV02,c:1334337317*58\!AIVDM,1,1,,B,19NWuLhuRb5QHfCpPcwj`26B0<02,0*5F"  # exact-earth-with-tag-block
TAG_LIBAIS = (  # libais__tagblock.nmea: q: and T: fields are ignored, c: is the time
    r"\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*55\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78"
)
TAG_C_BAD_CS = r"\c:1420030798*00\!ABVDM,1,1,4,B,17P;HV?P008F98Il;EC1mOwL0@KP,0*22"  # risky__nmea-timestamped
TAG_ONE_DIGIT_CS = r"\g:1-2-73874*A\!AIVDM,1,1,,A,15MrVH0000KH<:V:NtBLoqFP2H9:,0*2F"  # pyais__sample.ais
EE_GROUP_1 = (  # risky__exact-earth-with-tag-block.txt
    r"\g:1-2-3985,s:rEV02,c:1334337317*2D\!AIVDM,2,1,9,B,"
    r"58KvN<42ACikUKW77F1H4hF0<PTp622222222216`0`cF5BF0RT13H0T,0*70"
)
EE_GROUP_2 = r"\g:2-2-3985*5A\!AIVDM,2,2,9,B,PFRC88888888880,2*29"
# Ais.Net__Ais1000Lines.nm4 (lines 13-14 and 16-17): every multi-part message reuses group id 9999
NO_1A = r"\g:1-2-9999,c:1565218798*53\!BSVDM,2,1,3,A,53nPnh800000ha@J2218UH60U@4hT6000000000t2PD33t?P008000000000,0*72"
NO_1B = r"\g:2-2-9999,c:1565218798*53\!BSVDM,2,2,3,A,00000000000,2*3E"
NO_2A = r"\g:1-2-9999,c:1565218798*53\!BSVDM,2,1,0,B,53n<qJ01md94hP@v221<DUH44N222222222222164HE641Rk0?1RDj1PDSDp,0*45"
NO_2B = r"\g:2-2-9999,c:1565218798*53\!BSVDM,2,2,0,B,88888888880,2*3E"

# multi-part without tag blocks (ais-tools__multi-part.nmea)
MP_A1 = "!AIVDM,2,1,7,A,<M000000000000000000GcMvmEEEOPB6??uR0001np`R0;gbpaR@gP7GbSeH,0*63"
MP_A2 = "!AIVDM,2,2,7,A,OeEEEGp4Qf<,2*74"
MP_B1 = "!AIVDM,2,1,7,B,<TpL50u8F10D8L>222202OmvUEEEOPAsQUnl800Ang0@0:mC1W3ws02837m:,0*35"
MP_B2 = "!AIVDM,2,2,7,B,OeEEEGp4QSh,2*16"
MP3_1 = "!AIVDM,3,1,2,A,<NjB8;0mJnR8:E1>PIP<E391dPC5P5CD1P1@B?H9=1>4?P5>P5H35C?P1PE>,0*64"
MP3_2 = "!AIVDM,3,2,2,A,1P2?I1P?41CfP=1>D5>71C5P1@1BD14?fPgPI?EP1B5P75DD9>7P3<?C5BPD,0*39"
MP3_3 = "!AIVDM,3,3,2,A,?P1>P?41CP2E?IfP;55@P3<51BP?6P9D,0*2C"

# timestamps before, after and beside the sentence
PREFIXED = "1452468552.938 !AIVDM,1,1,,B,14Wtnn002SGLde:BbrBmdTLF0Vql,0*6E"  # simpleais__sample.ais
TRAIL_S = "!ABVDM,1,1,,A,14`ai400221sEs7dWPmahorh0404,0*45,1485907262"  # ais-decoder__test_ais_data.log
TRAIL_MS = "!AIVDM,1,1,,A,144gjIP0085KKPQHMPjT81Sb1PSL,0*22,1328133720087"  # risky__exact-earth-augmented-2
USCG = (  # libais__typeexamples.nmea: a 9-digit receiver id, then the time twice
    "!AIVDM,1,1,,A,15N1u<PP1FJuvSRHOE6QIwwh0HQ6,0*30,d-080,S2118,t050056.00,T56.4837741,r003669946,"
    "1325394060,1325394001"
)
USCG_NAMED = (  # libais__test.aivdm
    "!AIVDM,1,1,,A,402u=TiuaA000r5UJ`H4`?7000S:,0*75,d-093,S2212,t235959.00,T59.00339837,r09STOL1,1272844797"
)
USCG_MP_1 = "!AIVDM,2,1,1,A,55>u@H02;lGc<Ha;L0084i<7GR22222222222216:PE885AU0A4l13H13kBC,0*3D,rCUDJOE_01,1272672306"
USCG_MP_2 = "!AIVDM,2,2,1,A,R@hC`4QD;`0,2*06,rCUDJOE_01,1272672306"  # libais__test.aivdm

# Gatehouse wrappers (AisLib__replay_dump.txt, risky__exact-earth-augmented-2.txt)
PGHP_1 = "$PGHP,1,2013,3,18,9,19,9,499,219,,2190048,1,28*23"
PGHP_1_T = utc(2013, 3, 18, 9, 19, 9, 499)
PGHP_2 = "$PGHP,1,2013,3,18,9,19,10,624,219,,2190048,1,47*16"
PGHP_2_T = utc(2013, 3, 18, 9, 19, 10, 624)
BS_1 = "!BSVDM,1,1,,B,14VliT002O0q2DBP:dAu7JRD0<0s,0*28"
BS_2 = "!BSVDM,1,1,,B,13@ni?GP?w0pFLVP7Lpv4?vF0<0h,0*47"
PGHP_EE = "$PGHP,1,2012,2,1,20,19,5,651,316,2,316000002,1AIS_S,22*4B,1328133720089"
EE_AFTER_PGHP = (
    "!BSVDM,1,1,0,1,544gjIP2209mD<e`0004d4@DlTf0HD@u8uH0001J8Q9D44a8tE0hD1H53mkP00000000000,2*75,1328133720096"
)
GPGGA = "$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D"  # pyais__mixed.txt

LITERALS = [
    *TALKERS.values(), SAVDM_1, SAVDM_2, TAG_S_C, TAG_LIBAIS, TAG_C_BAD_CS, TAG_ONE_DIGIT_CS, EE_GROUP_1,
    EE_GROUP_2, NO_1A, NO_1B, NO_2A, NO_2B, MP_A1, MP_A2, MP_B1, MP_B2, MP3_1, MP3_2, MP3_3, PREFIXED, TRAIL_S,
    TRAIL_MS, USCG, USCG_NAMED, USCG_MP_1, USCG_MP_2, PGHP_1, PGHP_2, BS_1, BS_2, PGHP_EE, EE_AFTER_PGHP, GPGGA,
]  # fmt: skip


@needs_data
def test_literal_sentences_are_real():
    corpus = b"\n".join(read(name) for name in data_files())
    missing = [s for s in LITERALS if s.encode() not in corpus]
    assert missing == []


# ------------------------------------------------------------------------------------------- sentences, talkers
@pytest.mark.parametrize("talker", list(TALKERS))
def test_every_talker_gives_its_message(talker):
    sentence = TALKERS[talker]
    fields = sentence.split(",")
    got, counts = frame(lines(sentence))
    assert got == [Msg(fields[5], channel=fields[4], fill=int(fields[6][0]))]
    assert counts == {"message": 1}


def test_two_part_savdm_with_its_group_source_and_time():
    got, counts = frame(lines(SAVDM_1, SAVDM_2))
    payload = payload_of(SAVDM_1) + payload_of(SAVDM_2)
    assert got == [Msg(payload, 1428621738.0, "b003669710", "B", 0, parts=2, fill=2)]
    assert counts == {"part": 2}


@needs_data
def test_every_talker_in_the_recordings_is_framed():
    talkers = Counter()
    for name in data_files():
        talkers.update(m.group(1).decode() for m in re.finditer(rb"!(..)VD[MO],", read(name)))
    total_messages = sum(len(framed_whole(name)[0]) for name in data_files())
    assert {"AI", "AB", "AS", "BS", "BY", "SA", "SS", "WS", "--", "=I"} <= set(talkers)
    assert set(t[:2] for t in TALKERS) | {"SA", "AA"} >= set(talkers)  # a new talker here: add its sentence above
    assert total_messages > 60_000


# ----------------------------------------------------------------------------------------------------- tag blocks
def test_tag_block_source_and_time_in_seconds():
    got, counts = frame(lines(TAG_S_C))
    assert got == [Msg(payload_of(TAG_S_C), 1334337317.0, "rEV02", "B")]
    assert counts == {"message": 1}


def test_tag_block_time_in_milliseconds():
    sentence = TAG_S_C.split("\\")[-1]
    got, _ = frame(lines(tagged("s:rEV02,c:1334337317250", sentence)))  # synthetic tag block: ms are not recorded
    assert got == [Msg(payload_of(TAG_S_C), 1334337317.25, "rEV02", "B")]


def test_tag_block_unknown_fields_are_ignored():
    got, counts = frame(lines(TAG_LIBAIS))
    assert got == [Msg(payload_of(TAG_LIBAIS), 1418172113.0, "rORBCOMM104", "B")]
    assert counts == {"message": 1}


def test_tag_block_with_wrong_checksum_is_used_and_counted():
    got, counts = frame(lines(TAG_C_BAD_CS))
    assert got == [Msg(payload_of(TAG_C_BAD_CS), 1420030798.0, "", "B")]
    assert counts == {"message": 1, "tagblock_checksum_mismatch": 1}


def test_tag_block_without_checksum_is_used_and_counted():
    sentence = TAG_S_C.split("\\")[-1]
    got, counts = frame(lines(f"\\s:rEV02,c:1334337317\\{sentence}"))
    assert got == [Msg(payload_of(TAG_S_C), 1334337317.0, "rEV02", "B")]
    assert counts == {"message": 1, "tagblock_without_checksum": 1}


@pytest.mark.parametrize(
    "line",
    [
        TAG_ONE_DIGIT_CS,  # real: a one-digit tag-block checksum
        r"\s:rEV02,c:1334337317*58",  # a tag block and no sentence
        r"\s:rEV02,c:1334337317*58!AIVDM,1,1,,A,16:=?;0P00`SstvFnFbeGH6L088h,0*44",  # tag block never closed
        tagged("s:rEV02,junk", AIVDM),  # a field that is not k:v
    ],
)
def test_broken_tag_block_is_malformed(line):
    got, counts = frame(lines(line))
    assert got == []
    assert counts == {"malformed": 1}


def test_group_assembles_with_time_and_source_of_first_part():
    got, counts = frame(lines(EE_GROUP_1, AIVDM, EE_GROUP_2))
    payload = payload_of(EE_GROUP_1) + payload_of(EE_GROUP_2)
    assert got == [
        Msg(payload_of(AIVDM), None, "", "A", 1),
        Msg(payload, 1334337317.0, "rEV02", "B", 0, parts=2, fill=2),
    ]
    assert counts == {"message": 1, "part": 2}


def test_reused_group_id_of_the_norwegian_feed_interleaved():
    """Ais.Net's feed gives every multi-part message group id 9999; interleaved messages must not mix."""
    got, counts = frame(lines(NO_1A, NO_2A, NO_1B, NO_2B))
    t = 1565218798.0
    assert got == [
        Msg(payload_of(NO_1A) + payload_of(NO_1B), t, "", "A", 0, parts=2, fill=2),
        Msg(payload_of(NO_2A) + payload_of(NO_2B), t, "", "B", 1, parts=2, fill=2),
    ]
    assert counts == {"part": 4, "tagblock_checksum_mismatch": 4}


@needs_data
def test_norwegian_file_reuses_one_group_id_and_assembles_all_123_type5():
    data = read("Ais.Net__Ais1000Lines.nm4")
    text = data.decode().splitlines()
    assert set(re.findall(r"g:\d-\d-(\d+)", data.decode())) == {"9999"}
    got, counts, n_lines = framed_whole("Ais.Net__Ais1000Lines.nm4")
    multi = [m for m in got if m.parts == 2]
    assert len(multi) == 123 and len(got) == 877 and n_lines == 1000
    for m in multi:
        first, second = text[m.line], text[m.line + 1]
        assert m.payload == payload_of(first.split("\\")[-1]) + payload_of(second.split("\\")[-1])
        assert m.payload[0] == "5" and m.fill == 2
        assert m.t == float(re.search(r"c:(\d+)", first).group(1))
    assert {k: v for k, v in counts.items() if v} == {"message": 754, "part": 246, "tagblock_checksum_mismatch": 246}


@needs_data
def test_libais_tagblock_file():
    got, counts, _ = framed_whole("libais__tagblock.nmea")
    text = read("libais__tagblock.nmea").decode().splitlines()
    p = [payload_of(line.split("\\")[-1]) for line in text]
    assert got == [
        Msg(p[1], 1418172113.0, "rORBCOMM104", "B", 1),
        Msg(p[0] + p[2], 1418169601.0, "rORBCOMM008", "A", 0, parts=2, fill=2),
        Msg(p[3], 1418171722.0, "rORBCOMM007", "A", 3),
        Msg(p[4], 1418171561.0, "rORBCOMM007", "A", 4),
    ]
    assert {k: v for k, v in counts.items() if v} == {"message": 3, "part": 2}


@needs_data
def test_spire_file_two_records_a_line_and_a_bad_group_falls_back_to_the_sentence_key():
    got, counts, n_lines = framed_whole("ais-tools__spire-test.nmea")
    payload = "502CuBh0000000000000000000000000000000000000040Ht00000000000" + "00000000000"
    assert got == [
        Msg(payload, 1662052384.0, "FM112", "A", 0, parts=2, fill=2),
        Msg(payload, 1662052384.0, "FM112", "A", 1, parts=2, fill=2),
    ]
    assert n_lines == 2
    assert {k: v for k, v in counts.items() if v} == {"part": 4, "tagblock_checksum_mismatch": 4}


# ----------------------------------------------------------------------------------------- prefixes and trailers
def test_unix_prefix():
    got, counts = frame(lines(PREFIXED))
    assert got == [Msg(payload_of(AIVDM_B), 1452468552.938, "", "B")]
    assert counts == {"message": 1}


@pytest.mark.parametrize(
    ("prefix", "t"),
    [  # synthetic: no recording here has an ISO-8601 prefix
        ("2016-01-10T23:29:12.938Z ", utc(2016, 1, 10, 23, 29, 12, 938)),
        ("2016-01-10 23:29:12\t", utc(2016, 1, 10, 23, 29, 12)),
        ("2016-01-10T23:29:12+00:00,", utc(2016, 1, 10, 23, 29, 12)),
        ("2016-01-10;", utc(2016, 1, 10, 0, 0, 0)),
        ("1452468552938 ", 1452468552.938),  # unix milliseconds
        ("1452468552 ,; ", 1452468552.0),
    ],
)
def test_iso_and_millisecond_prefixes(prefix, t):
    got, counts = frame(lines(prefix + AIVDM_B))
    assert got == [Msg(payload_of(AIVDM_B), t, "", "B")]
    assert counts == {"message": 1}


@pytest.mark.parametrize("prefix", ["2016-13-10T23:29:12Z ", "2016-01-10T23:29:12Z", "12345 ", "1452468552.938"])
def test_bad_prefix_is_not_nmea(prefix):
    got, counts = frame(lines(prefix + AIVDM_B))
    assert got == []
    assert counts == {"not_nmea": 1}


@pytest.mark.parametrize(
    ("sentence", "t", "source"),
    [
        (TRAIL_S, 1485907262.0, ""),
        (TRAIL_MS, 1328133720.087, ""),
        (USCG, 1325394060.0, "003669946"),
        (USCG_NAMED, 1272844797.0, "09STOL1"),
    ],
)
def test_trailing_time_and_uscg_station(sentence, t, source):
    got, counts = frame(lines(sentence))
    assert got == [Msg(payload_of(sentence), t, source, "A")]
    assert counts == {"message": 1}


def test_uscg_station_on_both_parts():
    got, _ = frame(lines(USCG_MP_1, USCG_MP_2))
    assert got == [Msg(payload_of(USCG_MP_1) + payload_of(USCG_MP_2), 1272672306.0, "CUDJOE_01", "A", parts=2, fill=2)]


def test_source_is_the_last_s_field_even_of_a_huge_tag_block():
    huge = lines("\\" + "s:ab," * 200_000 + "s:zz\\" + AIVDM)
    got, counts = frame(huge, max_line=2_000_000)
    assert [m.source for m in got] == ["zz"]
    assert counts == {"message": 1, "tagblock_without_checksum": 1}
    got, counts = frame(huge)  # past the default max_line: a line that long is a feed gone wrong, dropped whole
    assert got == [] and counts == {"line_too_long": 1}


@pytest.mark.parametrize("chunk", [1, 7, 1000, 5000, 10**6])
def test_an_endless_line_is_dropped_in_bounded_memory_and_the_feed_goes_on(chunk: int) -> None:
    data = AIVDM.encode() + b"\n" + b"x" * 100_000 + b"\n" + AIVDM.encode() + b"\n" + b"y" * 50_000
    framer = Framer(max_line=4096)
    got = []
    for i in range(0, len(data), chunk):
        got.append(framer.feed(data[i : i + chunk]))
        assert len(framer._tail) <= 4096  # never more than one line's worth waits
    got.append(framer.finish())
    assert sum(len(b) for b in got) == 2
    assert framer.counts["line_too_long"] == 2 and framer.counts["message"] == 2
    whole = Framer(max_line=4096)
    whole.feed(data, final=True)
    assert whole.counts == framer.counts and whole.lines == framer.lines  # stream = batch


def test_tag_source_wins_over_uscg_station():
    got, _ = frame(lines(tagged("s:rEV02", USCG_NAMED)))
    assert got == [Msg(payload_of(USCG_NAMED), 1272844797.0, "rEV02", "A")]


@pytest.mark.parametrize(
    ("text", "t"),
    [  # precedence: tag block c:, then $PGHP, then prefix, then trailing field
        (f"1452468552.938 {tagged('c:1334337317', TRAIL_S)}\n", 1334337317.0),
        (f"1452468552.938 {TRAIL_S}\n", 1452468552.938),
        (f"{PGHP_1}\n1452468552.938 {TRAIL_S}\n", PGHP_1_T),
        (f"{PGHP_1}\n{tagged('c:1334337317', TRAIL_S)}\n", 1334337317.0),
        (f"{TRAIL_S}\n", 1485907262.0),
    ],
)
def test_time_precedence(text, t):
    got, _ = frame(text)
    assert [m.t for m in got] == [t]


def test_feed_clock_only_for_messages_without_time():
    got, _ = frame(lines(AIVDM, TAG_S_C), clock=lambda: 1700000000.5)
    assert [m.t for m in got] == [1700000000.5, 1334337317.0]


# ---------------------------------------------------------------------------------------------- Gatehouse $PGHP
def test_pghp_time_applies_to_the_next_sentence_only():
    got, counts = frame(lines(PGHP_1, BS_1, BS_2, PGHP_2, BS_2))
    assert got == [
        Msg(payload_of(BS_1), PGHP_1_T, "", "B", 1),
        Msg(payload_of(BS_2), None, "", "B", 2),
        Msg(payload_of(BS_2), PGHP_2_T, "", "B", 4),
    ]
    assert counts == {"message": 3, "wrapper": 2}


def test_pghp_time_is_not_passed_on_past_a_rejected_sentence():
    broken = BS_2[:-2] + "00"  # the wrapped sentence arrived with a wrong checksum
    got, counts = frame(lines(PGHP_1, broken, BS_1))
    assert got == [Msg(payload_of(BS_1), None, "", "B", 2)]
    assert counts == {"wrapper": 1, "bad_checksum": 1, "message": 1}


def test_pghp_time_waits_over_other_nmea_and_the_last_wrapper_counts():
    got, counts = frame(lines(PGHP_1, GPGGA, BS_1, PGHP_1, PGHP_2, BS_2))
    assert got == [Msg(payload_of(BS_1), PGHP_1_T, "", "B", 2), Msg(payload_of(BS_2), PGHP_2_T, "", "B", 5)]
    assert counts == {"wrapper": 3, "other_nmea": 1, "message": 2}


def test_pghp_with_trailing_time_wins_over_the_sentence_trailing_time():
    got, _ = frame(lines(PGHP_EE, EE_AFTER_PGHP))
    assert got == [Msg(payload_of(EE_AFTER_PGHP), utc(2012, 2, 1, 20, 19, 5, 651), "", "1", 1, fill=2)]


@needs_data
def test_gatehouse_file():
    got, counts, _ = framed_whole("pyais__gatehouse.nmea")
    assert got == [
        Msg("15NBj>PP1gG>1PVKTDTUJOv00<0M", utc(2008, 5, 9, 0, 0, 0, 10), "", "B", 1),
        Msg("16:=?;0P00`SstvFnFbeGH6L088h", None, "", "A", 5),
        Msg("16`l:v8P0W8Vw>fDVB0t8OvJ0H;9", None, "", "A", 7),  # its wrapper (line 6) has a wrong checksum
        Msg("169a:nP01g`hm4pB7:E0;@0L088i", None, "", "A", 8),
    ]
    assert {k: v for k, v in counts.items() if v} == {
        "message": 4, "blank": 2, "comment": 1, "wrapper": 3, "bad_checksum": 1,
    }  # fmt: skip


# ------------------------------------------------------------------------------------------------ checksums
@needs_data
def test_bad_checksums_are_dropped_and_counted():
    got, counts, _ = framed_whole("ais-tools__errors.nmea")
    assert [(m.line, m.source, m.t) for m in got] == [
        (0, "rMT6214", 1699401684.0), (2, "rMT6214", 1699401689.0), (4, "rMT694", 1699401978.0),
    ]  # fmt: skip
    assert {k: v for k, v in counts.items() if v} == {"message": 3, "bad_checksum": 2}


@needs_data
def test_bad_checksums_kept_on_request():
    got, counts = frame(read("ais-tools__errors.nmea"), keep_bad_checksums=True)
    text = read("ais-tools__errors.nmea").decode().splitlines()
    assert [m.payload for m in got] == [payload_of(line.split("\\")[-1]) for line in text]
    assert counts == {"message": 5, "checksum_kept": 2}


def test_lowercase_checksum_is_accepted():
    got, counts = frame(lines(AIVDM_B[:-2] + AIVDM_B[-2:].lower()))
    assert [m.payload for m in got] == [payload_of(AIVDM_B)] and counts == {"message": 1}


# ------------------------------------------------------------------------------------------- field-level rejects
def _with_fields(sentence: str, **changes: str) -> str:
    """A real sentence with some fields replaced and its checksum recomputed (a well-formed wrong sentence)."""
    body = sentence[1:].split("*")[0].split(",")
    index = {"count": 1, "num": 2, "seq": 3, "chan": 4, "payload": 5, "fill": 6}
    for k, v in changes.items():
        body[index[k]] = v
    text = ",".join(body)
    return f"!{text}*{checksum(text)}"


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"fill": "6"}, "bad_fill"),
        ({"fill": "9"}, "bad_fill"),
        ({"fill": ""}, "bad_fill"),
        ({"fill": "x"}, "bad_fill"),
        ({"payload": ""}, "empty_payload"),
        ({"payload": "14Wtnn002SGLde:BbrBmd[LF0Vql"}, "bad_payload_char"),
        ({"payload": "14Wtnn002SGLde:BbrBmd LF0Vql"}, "bad_payload_char"),
        ({"count": "0", "num": "1"}, "bad_fragment"),
        ({"count": "2", "num": "3"}, "bad_fragment"),
        ({"count": "x"}, "malformed"),
        ({"chan": "AB"}, "malformed"),
        ({"seq": "q"}, "malformed"),
        ({"count": "2", "payload": "0" * 129}, "payload_too_long"),
    ],
)
def test_field_rejects(changes, outcome):
    got, counts = frame(lines(_with_fields(AIVDM_B, **changes)))
    assert got == []
    assert counts == {outcome: 1}


def test_fill_bits_of_a_message_come_from_its_last_part():
    got, _ = frame(lines(_with_fields(MP_A1, fill="3"), MP_A2))
    assert [(m.parts, m.fill) for m in got] == [(2, 2)]


@pytest.mark.parametrize(
    ("line", "outcome"),
    [
        ("", "blank"),
        ("   \t\r", "blank"),
        ("# a comment", "comment"),
        ("IamNotAnAisMessage1111", "not_nmea"),  # pyais__mixed.txt
        ("53l3sj42A590=5Q2220UHE:04=@Ttr222222221@9HH>46ii0=D532Dp?`1D888888888888880", "not_nmea"),  # ais-tools
        (GPGGA, "other_nmea"),
        ("$BSALR,,006,V,V,general failure*62,ComSock1", "other_nmea"),  # risky__ais.txt
        ("!AIPWR,UNIT=0,PWV", "malformed"),  # risky__ais.txt: cut short
        ("!BSVDM,1,1,,A,3", "malformed"),  # risky__ais.txt: cut short
        ("\\", "malformed"),
        ("!", "malformed"),
        ("*", "not_nmea"),
        ("$", "malformed"),
        ("\x00", "not_nmea"),
        ("!AIVDM,1,1,,A,16:=?;0P00`SstvFnFbeGH6L088h,0*44x", "malformed"),  # junk glued to the checksum
        ("!AIVDM,1,1,,A,16:=?;0P00`SstvFnFbeGH6L088h,0*4", "malformed"),
    ],
)
def test_skips_and_rejects_of_whole_lines(line, outcome):
    got, counts = frame(line + "\n")
    assert got == []
    assert counts == {outcome: 1}


def test_several_sentences_on_one_line_and_line_endings_written_as_text():
    got, counts = frame(f"{MP_A1}\\r\\n{MP_A2}\\x0d\\x0a\n{AIVDM}{AIVDM_B}\r\n")
    assert got == [
        Msg(payload_of(MP_A1) + payload_of(MP_A2), None, "", "A", 0, parts=2, fill=2),
        Msg(payload_of(AIVDM), None, "", "A", 1),
        Msg(payload_of(AIVDM_B), None, "", "B", 1),
    ]
    assert counts == {"part": 2, "message": 2}


# ------------------------------------------------------------------------------------------ multi-part assembly
def test_multi_part_interleaved_with_other_traffic_and_other_messages():
    got, counts = frame(lines(MP_A1, AIVDM, MP_B1, MP3_1, "# comment", MP_A2, MP3_2, AIVDM_B, MP_B2, MP3_3))
    assert got == [
        Msg(payload_of(AIVDM), None, "", "A", 1),
        Msg(payload_of(MP_A1) + payload_of(MP_A2), None, "", "A", 0, parts=2, fill=2),
        Msg(payload_of(AIVDM_B), None, "", "B", 7),
        Msg(payload_of(MP_B1) + payload_of(MP_B2), None, "", "B", 2, parts=2, fill=2),
        Msg(payload_of(MP3_1) + payload_of(MP3_2) + payload_of(MP3_3), None, "", "A", 3, parts=3, fill=0),
    ]
    assert counts == {"message": 2, "part": 7, "comment": 1}


def test_parts_out_of_order_are_put_in_order():
    got, _ = frame(lines(MP3_3, MP3_1, MP3_2))
    assert [(m.payload, m.parts) for m in got] == [(payload_of(MP3_1) + payload_of(MP3_2) + payload_of(MP3_3), 3)]


def test_multi_part_time_and_source_from_the_first_part_that_has_them():
    part2 = EE_GROUP_2.split("\\")[-1]
    got, _ = frame(lines(EE_GROUP_1, tagged("g:2-2-3985,s:other,c:1334337399", part2)))
    assert [(m.t, m.source) for m in got] == [(1334337317.0, "rEV02")]


def test_repeated_part_displaces_the_earlier_one():
    got, counts = frame(lines(MP_A1, MP_A1, MP_A2))
    assert [m.line for m in got] == [1]
    assert counts == {"orphan_part": 1, "part": 2}


def test_orphans_at_end_of_input():
    got, counts = frame(lines(MP_A1, MP3_1, MP3_2, AIVDM))
    assert [m.payload for m in got] == [payload_of(AIVDM)]
    assert counts == {"orphan_part": 3, "message": 1}


def test_orphans_expire_after_max_age_records():
    filler = [AIVDM] * 6
    framer = Framer(max_age=5)
    batch = framer.feed(lines(MP_A1, *filler, MP_B1).encode())  # MP_B1 arrives 7 records after MP_A1
    assert len(batch) == 6 and framer.counts["orphan_part"] == 1 and framer.pending_parts == 1
    batch = framer.feed(lines(MP_A2, MP_B2).encode(), final=True)  # too late for MP_A1: MP_A2 is an orphan too
    assert [(m.payload, m.line) for m in messages(batch)] == [(payload_of(MP_B1) + payload_of(MP_B2), 7)]
    assert framer.counts["orphan_part"] == 2 and framer.counts["part"] == 2

    got, counts = frame(lines(MP_A1, *filler[:4], MP_A2), max_age=5)  # in time
    assert [m.line for m in got if m.parts == 2] == [0] and counts == {"message": 4, "part": 2}


def test_pending_table_is_bounded():
    part1 = EE_GROUP_1.split("\\")[-1]
    many = [tagged(f"g:1-2-{k}", part1) for k in range(3000)]  # 3000 different messages, none completed
    framer = Framer(max_pending=64)
    sizes = [a.nbytes for a in framer._state]
    framer.feed(lines(*many).encode())
    assert framer.pending_parts == 64
    assert framer.counts["orphan_part"] == 3000 - 64
    assert [a.nbytes for a in framer._state] == sizes
    # the newest pending messages still complete
    part2 = EE_GROUP_2.split("\\")[-1]
    batch = framer.feed(lines(tagged("g:2-2-2999", part2), tagged("g:2-2-0", part2)).encode(), final=True)
    assert [m.line for m in messages(batch)] == [2999]
    assert framer.counts["orphan_part"] == 3000 + 1 - 1  # every part 1 and the late part 2 of k=0, less k=2999
    assert outcome_total(framer.counts) == framer.records


def test_oldest_pending_message_is_evicted_first():
    got, counts = frame(lines(MP_A1, MP_B1, MP3_1, MP_B2, MP3_2, MP3_3, MP_A2), max_pending=2)
    assert [m.line for m in got] == [1, 2]  # MP_A1 was evicted by MP3_1, so MP_A2 is left alone
    assert counts == {"part": 5, "orphan_part": 2}


# --------------------------------------------------------------------------------------- whole files: outcomes
@needs_data
@pytest.mark.parametrize("name", data_files())
def test_every_record_of_a_real_file_has_one_outcome(name):
    framer = Framer()
    batch = framer.feed(read(name), final=True)
    counts = framer.counts
    assert outcome_total(counts) == framer.records
    if name not in MULTI_RECORD_FILES:
        assert outcome_total(counts) == framer.lines == read(name).count(b"\n") + (not read(name).endswith(b"\n"))
    assert counts["message"] + counts["part"] >= len(batch) > 0
    assert counts["message"] == int(np.count_nonzero(batch.parts == 1))
    assert counts["part"] == int(batch.parts[batch.parts > 1].sum())


@needs_data
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("simpleais__sample.ais", {"message": 9021, "part": 907, "orphan_part": 72}),  # 450 multi-part messages
        ("pyais__nmea_data_sample.txt", {"message": 778, "empty_payload": 100, "orphan_part": 20}),
        ("risky__exact-earth-augmented.txt", {"message": 3972, "wrapper": 3188}),
        ("risky__exact-earth-with-tag-block.txt", {"message": 179, "part": 42}),
        (
            "pyais__sample.ais",
            {
                "message": 8,
                "part": 2,
                "blank": 1,
                "comment": 5,
                "not_nmea": 1,
                "bad_checksum": 1,
                "malformed": 3,
                "bad_fragment": 1,
                "tagblock_checksum_mismatch": 1,
            },
        ),
    ],
)
def test_outcomes_of_real_files(name, expected):
    got, counts, _ = framed_whole(name)
    assert {k: v for k, v in counts.items() if v} == expected
    if name == "simpleais__sample.ais":
        assert sum(m.parts > 1 for m in got) == 450
        assert all(m.t is not None and 1452468552 <= m.t < 1452470000 for m in got)


def _reference_payloads(data: bytes) -> Counter[str]:
    """A slow, obvious framer for the recordings' common forms: payloads of valid !xxVDx sentences, assembled
    by (channel, sequence id, count) in arrival order (a repeated part restarts its message)."""
    record = re.compile(
        rb"(?:\\(?P<tag>[^\\]*)\\)?!(?P<body>..VD[MO],(\d),(\d),(\d?),([^,]?),([0-W`-w]+),[0-5])\*([0-9A-F]{2})"
    )
    tag_ok = re.compile(rb"(?:[^,*]:[^,*]*)?(?:,[^,*]:[^,*]*)*(?:\*[0-9A-Fa-f]{2})?")
    out: Counter[str] = Counter()
    pending: dict[tuple[bytes, bytes, int], dict[int, bytes]] = {}
    for line in data.split(b"\n"):
        if line.lstrip().startswith(b"#"):
            continue
        for m in record.finditer(line):
            _, body, count, num, seq, chan, payload, cs = m.groups()
            if m["tag"] is not None and not tag_ok.fullmatch(m["tag"]):
                continue
            if reduce(lambda a, c: a ^ c, body, 0) != int(cs, 16):
                continue
            if count == b"1" and num == b"1":
                out[payload.decode()] += 1
                continue
            parts = pending.setdefault((chan, seq, int(count)), {})
            if int(num) in parts:
                parts.clear()
            parts[int(num)] = payload
            if len(parts) == int(count):
                out[b"".join(parts[k] for k in sorted(parts)).decode()] += 1
                del pending[(chan, seq, int(count))]
    return out


@needs_data
@pytest.mark.parametrize("name", data_files())
def test_real_files_agree_with_a_slow_reference(name):
    got, _, _ = framed_whole(name)
    assert Counter(m.payload for m in got) == _reference_payloads(read(name))


# ---------------------------------------------------------------------------------------------- stream = batch
def _stream(data: bytes, cuts: list[int], views: bool = False) -> tuple[list[Msg], dict[str, int], int]:
    framer = Framer()
    out: list[Msg] = []
    last = 0
    whole = memoryview(data)
    for cut in [*sorted(set(cuts)), len(data)]:
        out += messages(framer.feed(whole[last:cut] if views else data[last:cut]))
        last = cut
    out += messages(framer.finish())
    assert framer.pending_parts == 0
    return out, framer.counts, framer.lines


@needs_data
@pytest.mark.parametrize("name", [n for n in data_files() if (NMEA_DIR / n).stat().st_size <= 16_000])
def test_small_files_fed_one_byte_at_a_time(name):
    data = read(name)
    assert _stream(data, list(range(1, len(data)))) == framed_whole(name)


@needs_data
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_stream_equals_batch(data):
    name = data.draw(st.sampled_from(data_files()), label="file")
    blob = read(name)
    n = len(blob)
    cuts = data.draw(st.lists(st.integers(0, n), max_size=60), label="cuts")
    start = data.draw(st.integers(0, n), label="tiny chunks from")
    tiny = data.draw(st.lists(st.integers(1, 16), max_size=400), label="tiny chunk sizes")
    cuts += [min(n, c) for c in (start + np.cumsum(tiny, dtype=np.int64)).tolist()]
    views = data.draw(st.booleans(), label="memoryviews (a mapped file's chunks) instead of bytes")
    assert _stream(blob, cuts, views) == framed_whole(name)


@needs_data
def test_a_mapped_file_gives_its_bytes_in_views_and_a_gz_file_its_bytes(tmp_path: Path) -> None:
    """map_chunks: the chunks of a plain file are views of it, of a .gz file its read bytes; both add up to the
    file's content, and framing them gives what framing the whole file gives."""
    import gzip

    from feeds.files import map_chunks

    name = "libais__tagblock.nmea"
    blob = read(name)
    packed = tmp_path / "log.nmea.gz"
    packed.write_bytes(gzip.compress(blob))
    empty = tmp_path / "empty.nmea"
    empty.write_bytes(b"")
    size = len(blob) // 5 + 1  # chunks that cut lines
    for path, kind in ((NMEA_DIR / name, memoryview), (packed, bytes)):
        chunks = list(map_chunks(path, size))
        assert len(chunks) == 5 and all(isinstance(c, kind) for c in chunks)
        assert b"".join(bytes(c) for c in chunks) == blob
    assert _stream(blob, [size * k for k in range(1, 5)], views=True) == framed_whole(name)
    assert list(map_chunks(empty)) == []


# ------------------------------------------------------------------------------------------------- robustness
ARMOR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"
T_MIN = 0.0  # 1970-01-01
T_MAX = float(datetime(2201, 1, 2, tzinfo=UTC).timestamp())  # the framer reads no date after 2200


@lru_cache(maxsize=1)
def real_lines() -> tuple[bytes, ...]:
    """Up to 60 lines of every recording, spread over each file."""
    out: list[bytes] = []
    for name in data_files():
        all_lines = read(name).split(b"\n")
        step = max(1, len(all_lines) // 60)
        out += all_lines[::step][:60]
    return tuple(out)


def _between(s: pl.Series, lo: float, hi: float) -> bool:
    """All values in [lo, hi], "not available" (null, or NaN for floats, as DESIGN.md says) aside."""
    v = s.drop_nulls()
    v = v.drop_nans() if v.dtype.is_float() else v
    return v.is_empty() or (v.min() >= lo and v.max() <= hi)


def _printable(s: pl.Series, width: int) -> bool:
    return all(len(x) <= width and all(" " <= ch <= "_" for ch in x) for x in s.drop_nulls().to_list())


def check_ranges(decoded: Decoded, batch: MessageBatch) -> None:
    """Every decoded value within its field's range, or null; every message ends in one table or a reject."""
    p, s, e = decoded.positions, decoded.statics, decoded.events
    n19 = int((s["msg_type"] == 19).sum())
    assert p.height + s.height - n19 + e.height + sum(decoded.rejects.values()) == len(batch)
    for table in (p, s, e):
        assert _between(table["mmsi"], 0, 2**30 - 1)  # 30 bits; over 999999999 is an invalid MMSI, kept raw
        assert _between(table["msg_type"], 1, 27)
        us = table["t"].dt.epoch("us").cast(pl.Float64) / 1e6
        assert _between(us, T_MIN, T_MAX), us.to_list()
        assert set(table["channel"].drop_nulls().to_list()) <= {chr(c) for c in range(33, 127)}
    assert set(p["msg_type"].to_list()) <= {1, 2, 3, 18, 19, 27}
    assert _between(p["lat"], -90, 90) and _between(p["lon"], -180, 180)
    assert _between(p["sog"], 0, 102.2) and _between(p["cog"], 0, 359.9) and _between(p["heading"], 0, 359)
    assert _between(p["rot"], -709, 709) and _between(p["rot_raw"], -128, 127)
    assert _between(p["nav_status"], 0, 15) and _between(p["second"], 0, 63)
    assert set(s["msg_type"].to_list()) <= {5, 19, 24}
    assert _between(s["imo"], 0, 2**30 - 1) and _between(s["ship_type"], 0, 255)
    assert _between(s["to_bow"], 0, 511) and _between(s["to_stern"], 0, 511)
    assert _between(s["to_port"], 0, 63) and _between(s["to_starboard"], 0, 63)
    assert _between(s["draught"], 0, 25.5) and _between(s["part"], 0, 1)  # 24 parts 2, 3 are undefined: events
    assert _between(s["eta_month"], 0, 15) and _between(s["eta_day"], 0, 31)
    assert _between(s["eta_hour"], 0, 31) and _between(s["eta_minute"], 0, 63)
    assert _between(s["ais_version"], 0, 3) and _between(s["epfd"], 0, 15)
    assert _printable(s["callsign"], 7) and _printable(s["name"], 20) and _printable(s["destination"], 20)
    assert _printable(s["vendor_id"], 3)
    assert _between(e["lat"], -90, 90) and _between(e["lon"], -180, 180)
    assert _between(e["sog"], 0, 1022) and _between(e["cog"], 0, 359.9) and _between(e["second"], 0, 63)
    assert _between(e["altitude"], 0, 4095) and _between(e["aid_type"], 0, 31) and _between(e["fill"], 0, 5)
    st_us = e["station_time"].dt.epoch("us").cast(pl.Float64) / 1e6
    assert _between(st_us, T_MIN, T_MAX)
    assert _printable(e["text"], 162)


def check_batch(batch: MessageBatch, framer: Framer) -> None:
    assert outcome_total(framer.counts) + framer.pending_parts == framer.records
    n = len(batch)
    assert batch.payload.shape[0] == int(batch.length.sum())
    if n:
        assert int(batch.length.min()) >= 1 and int(batch.fill.min()) >= 0 and int(batch.fill.max()) <= 5
        assert int(batch.parts.min()) >= 1 and int(batch.parts.max()) <= nk.MAX_PARTS
        assert int(batch.line.min()) >= 0 and int(batch.line.max()) < max(framer.lines, 1)
        assert set(batch.payload.tobytes().decode("latin-1")) <= set(ARMOR)
        t = batch.time[~np.isnan(batch.time)]
        assert t.size == 0 or (t.min() >= T_MIN and t.max() < T_MAX), t
        assert int(batch.source.max()) < len(batch.sources)


def frame_and_decode(data: bytes, keep_bad: bool = False, cut: int | None = None) -> None:
    framer = Framer(keep_bad_checksums=keep_bad)
    batches = [framer.feed(data[:cut])] if cut is not None else []
    batches.append(framer.feed(data[cut:] if cut is not None else data, final=True))
    for batch in batches:
        check_batch(batch, framer)
        check_ranges(decode(batch), batch)


@st.composite
def mutated_real_text(draw) -> bytes:
    text = bytearray(b"\n".join(draw(st.lists(st.sampled_from(real_lines()), min_size=1, max_size=8))) + b"\n")
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "fill"]))
        pos = draw(st.integers(0, max(0, len(text) - 1)))
        if op == "flip" and text:
            text[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del text[pos:]
        elif op == "insert":
            text[pos:pos] = draw(
                st.sampled_from([b"\x00", b"\\", b"!", b"*", b",", b"\n", b"\r", b"$PGHP,", b"\\g:1-2-9,", b"\\c:"])
                | st.binary(max_size=8)
            )
        elif op == "delete" and text:
            del text[pos]
        elif op == "fill":
            stars = [i for i, c in enumerate(text) if c == ord("*") and i > 0]
            if stars:
                text[draw(st.sampled_from(stars)) - 1] = draw(st.sampled_from(b"0123456789 A-,\\!"))
    return bytes(text)


@st.composite
def valid_sentences(draw) -> bytes:
    """Well-formed sentences (right checksum) around random armored payloads and fill bits, with any framing."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        count = draw(st.integers(1, 3))
        num = draw(st.integers(1, count))
        payload = draw(st.text(alphabet=ARMOR, max_size=90))
        body = f"AIVDM,{count},{num},{draw(st.sampled_from(['', '1', '7']))},{draw(st.sampled_from('AB12'))},"
        body += f"{payload},{draw(st.integers(0, 9))}"
        sentence = f"!{body}*{checksum(body)}"
        frame_kind = draw(st.sampled_from(["plain", "tag", "prefix", "trail", "pghp"]))
        if frame_kind == "tag":
            sentence = tagged(f"s:r{draw(st.integers(0, 9))},c:{draw(st.integers(0, 10**14))}", sentence)
        elif frame_kind == "prefix":
            sentence = f"{draw(st.integers(10**8, 10**15))}.{draw(st.integers(0, 999))} {sentence}"
        elif frame_kind == "trail":
            sentence += f",{draw(st.integers(10**9, 10**13 - 1))}"
        elif frame_kind == "pghp":
            y, mo, d, h, mi, s = (draw(st.integers(0, 99999)) for _ in range(6))
            wrapper = f"PGHP,1,{y},{mo},{d},{h},{mi},{s},{draw(st.integers(0, 999))},,,1,00"
            sentence = f"${wrapper}*{checksum(wrapper)}\n{sentence}"
        out.append(sentence)
    return lines(*out).encode()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=3000), st.booleans())
def test_random_bytes(data, keep_bad):
    frame_and_decode(data, keep_bad)


@SETTINGS
@given(st.text(alphabet="\\!*$,:\n\r \x00AIVDMcgs0123456789", max_size=400), st.booleans())
def test_lines_of_nmea_punctuation(text, keep_bad):
    frame_and_decode(text.encode(), keep_bad)


@needs_data
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_real_text(), st.booleans(), st.integers(0, 4000))
def test_mutated_real_sentences(data, keep_bad, cut):
    frame_and_decode(data, keep_bad, cut=min(cut, len(data)))


@SETTINGS
@given(valid_sentences())
def test_well_formed_sentences_with_random_payloads_and_times(data):
    frame_and_decode(data)


@needs_data
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(data_files()), st.integers(0, 10**9), st.integers(1, 6))
def test_truncated_and_bit_flipped_real_files(name, seed, flips):
    data = bytearray(read(name)[:60_000])
    rng = np.random.default_rng(seed)
    for pos in rng.integers(0, len(data), flips):
        data[int(pos)] ^= 1 << int(rng.integers(0, 8))
    cut = int(rng.integers(0, len(data) + 1))
    frame_and_decode(bytes(data[:cut]), keep_bad=bool(seed & 1))


@pytest.mark.parametrize(
    "data",
    [
        b"\\" * 3_000_000,
        b"!" * 3_000_000,
        b"*" * 3_000_000,
        b"\x00" * 3_000_000,
        b"1" * 3_000_000 + b" " + AIVDM.encode(),  # a prefix too long to be a time
        b"\\" + b"s:ab," * 1_000_000 + b"s:zz\\" + AIVDM.encode(),  # a million sources in one tag block
        (AIVDM * 40_000).encode(),  # 40,000 sentences on one line, no newline
        ("\\g:1-2-1," * 200_000 + MP_A1).encode(),
        f"!AIVDM,1,1,,A,{'1' * 3_000_000},0*".encode(),
    ],
    ids=["backslashes", "bangs", "stars", "nuls", "digits", "sources", "sentences", "groups", "payload"],
)
def test_giant_lines(data):
    if data.endswith(b"0*"):  # a giant but valid sentence: complete its checksum
        data += checksum(data[1:-1].decode()).encode()
    frame_and_decode(data, cut=len(data) // 3)
    framer = Framer()
    for k in range(0, len(data), 1 << 20):
        framer.feed(data[k : k + (1 << 20)])
    check_batch(framer.finish(), framer)


def test_giant_valid_sentence_is_one_message():
    body = f"AIVDM,1,1,,A,{'1' * 2_000_000},0"
    framer = Framer(max_line=3_000_000)  # past the default bound on purpose: the decoder must cope all the same
    batch = framer.feed(f"!{body}*{checksum(body)}\n".encode(), final=True)
    assert len(batch) == 1 and int(batch.length[0]) == 2_000_000
    check_ranges(decode(batch), batch)


def test_a_message_decodes_the_same_whatever_its_neighbours():
    """A short message must not read past its own payload (a type 11 of 38 bits once read its neighbours)."""
    short_11 = _with_fields(AIVDM, payload=";000000", fill="4")  # a type 11 of 38 bits (real ones carry 168)
    alone = decode(Framer().feed(lines(short_11).encode(), final=True)).events
    for neighbour in (AIVDM, TAG_S_C, MP_A1):
        among = decode(Framer().feed(lines(short_11, neighbour, neighbour).encode(), final=True)).events
        assert among.head(1).drop("payload").equals(alone.drop("payload"))


def _fields(batch: MessageBatch) -> dict[str, object]:
    return {name: getattr(batch, name).tolist() for name in
            ("payload", "start", "length", "fill", "channel", "line", "parts", "seq")} | {
        "time": np.nan_to_num(batch.time, nan=-1.0).tolist(),
        "station": [batch.sources[i] for i in batch.source.tolist()]}  # the framer numbers stations as it meets them


@needs_data
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_deliveries_of_one_framer_put_together_are_the_whole_input_framed_at_once(data):
    """MessageBatch.concat: what the stream runner decodes once per micro-batch is the messages of its deliveries,
    field for field (payload offsets, station names, arrival numbers) as if framed in one piece."""
    name = data.draw(st.sampled_from(data_files()), label="file")
    blob = read(name)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=12), label="cuts"))
    framer = Framer()
    pieces = [framer.feed(blob[a:b]) for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True)]
    pieces.append(framer.feed(b"", final=True))
    whole = Framer().feed(blob, final=True)
    assert _fields(MessageBatch.concat(pieces)) == _fields(whole)


def test_the_deliveries_of_two_feeds_keep_their_station_names_and_arrival_order():
    """Two framers number their messages and stations each from 0: put together, every message keeps its own
    station's name and the arrival numbers run on in delivery order."""
    a, b = Framer(), Framer()
    first = a.feed((TAG_S_C + "\n" + AIVDM + "\n").encode(), final=True)
    second = b.feed((TAG_LIBAIS + "\n" + TAG_S_C + "\n").encode(), final=True)
    both = MessageBatch.concat([first, second, a.feed((AIVDM_B + "\n").encode(), final=True)])
    assert both.seq.tolist() == [0, 1, 2, 3, 4]
    got = decode(both, details=False).positions
    apart = [decode(x, details=False).positions for x in (first, second)]
    assert got["source"].to_list()[:4] == [*apart[0]["source"].to_list(), *apart[1]["source"].to_list()]
    assert got["source"].to_list()[0] == "rEV02" and got["mmsi"].to_list()[:4] == [
        *apart[0]["mmsi"].to_list(), *apart[1]["mmsi"].to_list()]  # fmt: skip
    assert got["source"].to_list()[4] is None


@settings(max_examples=200, deadline=None)
@given(
    known=st.sets(st.integers(1, 2**64 - 1), max_size=12),
    picks=st.lists(st.integers(0, 15), max_size=60),
    strangers=st.lists(st.integers(0, 2**64 - 1), max_size=5),
)
def test_source_ids_agree_with_the_numpy_search(known, picks, strangers):
    from feeds.framing import _source_ids
    from tests import reference as ref

    table = np.array(sorted({0, *known}), np.uint64)  # as Framer keeps it: hash 0 (no source) first
    ids = np.arange(table.shape[0], dtype=np.int32)[::-1].copy()  # any ids, not the slots' order
    # runs of one station, others between them, and hashes never registered (before, between and past the table)
    hashes = np.array([table[p % table.shape[0]] for p in picks] + strangers, np.uint64)
    hashes = np.concatenate([hashes, hashes[::-1], np.full(3, 2**64 - 1, np.uint64)])
    out = np.full(hashes.shape[0], -7, np.int32)
    _source_ids(table, ids, hashes, out)
    np.testing.assert_array_equal(out, ref.source_index(table, ids, hashes))
