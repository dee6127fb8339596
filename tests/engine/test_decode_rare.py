"""The rarer message types (engine.decode_rare) against pyais and against the plain reference of tests/reference.py.

pyais is the oracle of the ``fields`` JSON: the same keys in the same order and the same values as pyais's
``asdict(enum_as_int=True)`` (bytes as hex), on every message of ``../shared/data/nmea`` and on Hypothesis-made
messages of every type 1-27 (random bits after the type, the DAC/FI of types 6 and 8 drawn from the application
messages pyais knows, every length from the type's minimum up).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyais
import pyais.messages as pm
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyais.exceptions import AISBaseException

from engine import decode_kernel as dk
from engine import decode_rare as dr
from engine.decode import decode, decode_bytes, six_bit
from engine.decode_layouts import ENUMS, VARIANTS
from feeds.framing import Framer
from tests.engine import test_decode_pyais as tp
from tests.reference import ais_bits, rare_fields, rare_variant

NMEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
FILES = sorted(p for p in NMEA.iterdir() if p.is_file()) if NMEA.is_dir() else []
needs_data = pytest.mark.skipif(
    not NMEA.is_dir(), reason=f"reference data {NMEA} is absent (a fresh clone); CI always has it"
)
SPECS = {name: spec for name, _, spec in VARIANTS}
KIND = {"u": (pm.INT, False), "i": (pm.INT, True), "U": (pm.FLOAT, False), "I": (pm.FLOAT, True),
        "b": (pm.BOOL, False), "s": (pm.STR, False), "x": (pm.BYTES, False)}  # fmt: skip


def pyais_fields(payload: str, fill: int) -> list[tuple[str, Any]] | None:
    """pyais's asdict(enum_as_int=True) of one message, through JSON as the old ``fields`` column made it."""
    try:
        msg = pyais.decode(tp.sentence(payload, fill))
        fields = msg.asdict(enum_as_int=True)
    except (AISBaseException, ValueError, IndexError, KeyError):
        return None
    return list(json.loads(json.dumps(fields, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))).items())


def ours(text: str | None) -> list[tuple[str, Any]] | None:
    return None if text is None else list(json.loads(text).items())


def armor(bits: str) -> tuple[str, int]:
    """A bit string -> (armored payload, fill bits)."""
    fill = -len(bits) % 6
    bits += "0" * fill
    values = (int(bits[i : i + 6], 2) for i in range(0, len(bits), 6))
    return "".join(chr(v + 48 + 8 * (v > 39)) for v in values), fill


def test_layouts_are_pyais_layouts() -> None:
    """Every variant's fields are pyais's (name, first bit, width, sign, kind), spares left out."""
    for name, t, spec in VARIANTS:
        cls = getattr(pm, f"MessageType{name}")
        spare = {f.name for f in cls.fields() if f.metadata["is_spare"]}
        theirs = [(n, first, w, bool(signed), kind) for n, first, w, signed, kind, _ in cls.decoder_plan()
                  if n not in spare]  # fmt: skip
        mine = []
        for item in spec.split():
            field, rest = item.split("@")
            first, width, k, *_ = rest.split(":")
            mine.append((field, int(first), int(width), KIND[k][1], KIND[k][0]))
        assert mine == theirs, name
        assert name.startswith(str(t))


def test_enum_tables_are_pyais_mappings() -> None:
    from pyais import constants

    for name, values in ENUMS.items():
        cls = getattr(constants, name)
        assert list(values) == [int(cls.from_value(v)) for v in range(len(values))], name


@needs_data
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fields_equal_pyais_on_every_recorded_message(path: Path) -> None:
    events = decode(Framer().feed(path.read_bytes(), final=True)).events
    wrong = []
    for payload, fill, t, got in events.select("payload", "fill", "msg_type", "fields").iter_rows():
        if t in (4, 9, 11, 14, 21):  # decoded into the events' own columns (test_decode_pyais)
            assert got is None
            continue
        if ours(got) != pyais_fields(payload, fill):
            wrong.append(f"{payload},{fill}: ours={got} pyais={pyais_fields(payload, fill)}")
    assert not wrong, f"{path.name}: {len(wrong)} differ\n" + "\n".join(wrong[:5])


def _bits_of_type(t: int, rest: str, app: tuple[int, int] | None) -> str:
    bits = f"{t:06b}" + rest
    if app is not None and t in (6, 8):  # put a known DAC/FI where the type keeps it
        at = 72 if t == 6 else 40
        bits = bits[:at] + f"{app[0]:010b}{app[1]:06b}" + bits[at + 16 :]
    return bits


APPS = sorted({(int(m[2]), int(m[3])) for name, _, _ in VARIANTS if (m := dr.APP.fullmatch(name))})


TYPE14_MAX_BITS = 1008


@st.composite
def messages(draw: st.DrawFn, types: tuple[int, ...]) -> tuple[str, int]:
    t = draw(st.sampled_from(types))
    low = max(int(dk.MIN_BITS[t]), 38)
    # a type 14 past its 1008 bits (M.1371: 5 slots) reads its last partial character as pyais does, which the
    # common types' expectations (test_decode_pyais, rule partial_char) do not model; the rarer types go past it
    n = draw(st.integers(low, TYPE14_MAX_BITS if t == 14 else 1100))
    rest = "".join(draw(st.sampled_from("01")) for _ in range(n - 6)) if n < 200 else \
        f"{draw(st.integers(0, (1 << (n - 6)) - 1)):0{n - 6}b}"  # fmt: skip
    app = draw(st.one_of(st.none(), st.sampled_from(APPS)))
    return armor(_bits_of_type(t, rest, app)[:n])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(dr.RARE_TYPES), min_size=1, max_size=8))
@example([("600000000000050", 2)])  # DAC 1 FI 16 addressed: persons on board (6Dac1Fid16B), found by Hypothesis
@example([("6000000000000500000000000000000000", 4)])
@example([("600000000000", 0)])  # 72 bits: pyais takes DAC/FI at bits 40/50 for any pair, not only 1/16
def test_fields_equal_pyais_and_the_reference_on_generated_messages(msgs: list[tuple[str, int]]) -> None:
    data = "".join(tp.sentence(p, f) + "\n" for p, f in msgs).encode()
    batch = Framer().feed(data, final=True)
    assert len(batch) == len(msgs)
    events = decode(batch).events
    assert events.height == len(msgs)
    for (payload, fill), got in zip(msgs, events["fields"], strict=True):
        assert ours(got) == pyais_fields(payload, fill), f"{payload},{fill}"
        bits = ais_bits(payload, fill)
        name = rare_variant(bits, VARIANTS)
        assert name is not None
        assert json.loads(got) == rare_fields(bits, SPECS[name], ENUMS), f"{payload},{fill} {name}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(tuple(range(1, 28))), min_size=1, max_size=8))
def test_every_type_1_to_27_equals_pyais_on_generated_messages(msgs: list[tuple[str, int]]) -> None:
    """The common types' columns (test_decode_pyais's expectations) and the rarer types' fields, side by side."""
    data = "".join(tp.sentence(p, f) + "\n" for p, f in msgs).encode()
    batch = Framer().feed(data, final=True)
    decoded = decode(batch)
    mt, kind = tp.classify(batch)
    position = kind == dk.K_POSITION
    mismatches: dict[str, list[str]] = defaultdict(list)
    for df, idx, expect in [
        (decoded.positions, np.flatnonzero(position), tp.expected_position),
        (decoded.statics, np.flatnonzero((kind == dk.K_STATIC) | (position & (mt == 19))), tp.expected_static),
        (decoded.events, np.flatnonzero(kind == dk.K_EVENT), tp.expected_event),
    ]:
        tp.compare_table(Path("generated"), batch, tp.not_available_as_none(df), idx, mt, expect, mismatches)
    assert not mismatches, tp.summary(mismatches)
    for payload, fill, t, got in decoded.events.select("payload", "fill", "msg_type", "fields").iter_rows():
        if t in dr.RARE_TYPES:
            assert ours(got) == pyais_fields(payload, fill), f"{payload},{fill}"


def test_kernel_on_no_messages() -> None:
    none = np.zeros(0, np.int64)
    variant, vals, blob = dr.decode_fields(six_bit(np.zeros(0, np.uint8)), none, none, none, none)
    assert variant.shape == (0,) and dr.fields_json(variant, vals, blob).len() == 0


def _encoded(fields: dict[str, Any]) -> bytes:
    return "\n".join(pyais.encode_dict(fields, talker_id="AI")).encode() + b"\n"


def test_meteorological_report_typed_columns() -> None:
    """DAC 1 FI 31 (IMO SN.1/Circ.289 meteorological and hydrological data): typed columns in pyais's units."""
    sent = {"type": 8, "mmsi": 2655619, "dac": 1, "fid": 31, "lon": 106.75, "lat": 20.8125, "accuracy": True,
            "day": 14, "hour": 6, "minute": 30, "wspeed": 17, "wgust": 24, "wdir": 225, "wgustdir": 230,
            "airtemp": -3.5, "humidity": 81, "dewpoint": -6.2, "pressure": 1013, "pressuretend": 2,
            "visibility": 4.3, "waterlevel": 1.25, "watertemp": 11.4, "seastate": 5}  # fmt: skip
    decoded = decode_bytes(_encoded(sent))
    table = decoded.messages["8Dac1Fid31"]
    row = table.row(0, named=True)
    for key, value in sent.items():
        assert row["msg_type" if key == "type" else key] == value, key
    assert row["seq"] == decoded.events["seq"][0]
    msg = pyais.decode(*_encoded(sent).decode().split())
    assert json.loads(decoded.events["fields"][0]) == json.loads(json.dumps(msg.asdict(enum_as_int=True)))


def test_area_notice_and_binary_payload_columns() -> None:
    """DAC 1 FI 22 area notice header, and an unknown application kept as hex with its DAC/FI and addressee."""
    notice = {"type": 8, "mmsi": 366999712, "dac": 1, "fid": 22, "linkage": 7, "notice": 3, "month": 5, "day": 9,
              "hour": 12, "minute": 40, "duration": 1440}  # fmt: skip
    binary = {"type": 6, "mmsi": 211000001, "dest_mmsi": 574000002, "seqno": 1, "retransmit": True, "dac": 235,
              "fid": 10, "data": bytes.fromhex("deadbeef01")}  # fmt: skip
    # pyais's encoder leaves area_data out: the sub-areas are appended to its bits by hand
    header = _encoded(notice).decode().split(",")
    payload, fill = armor(ais_bits(header[5], int(header[6][0])) + f"{0x0011223344556677:064b}")
    decoded = decode_bytes(f"{tp.sentence(payload, fill)}\n".encode() + _encoded(binary))
    area = decoded.messages["8Dac1Fid22"].row(0, named=True)
    assert (area["linkage"], area["notice"], area["month"], area["duration"]) == (7, 3, 5, 1440)
    assert area["area_data"] == "0011223344556677"
    b6 = decoded.messages["6Default"].row(0, named=True)
    assert (b6["dac"], b6["fid"], b6["dest_mmsi"], b6["retransmit"]) == (235, 10, 574000002, True)
    assert b6["data"].startswith("deadbeef01")


def test_without_details_no_fields_nor_tables() -> None:
    decoded = decode_bytes(_encoded({"type": 10, "mmsi": 1, "dest_mmsi": 2}), details=False)
    assert decoded.events["fields"].to_list() == [None] and decoded.messages == {}
    typed = decode_bytes(_encoded({"type": 10, "mmsi": 1, "dest_mmsi": 2})).messages["10"]
    assert typed.select("mmsi", "dest_mmsi").row(0) == (1, 2)
