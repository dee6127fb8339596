"""Our Numba decoders against pyais, message by message, on every real NMEA file of ``../shared/data/nmea``.

pyais is the correctness oracle (DESIGN.md): for every field we output, our value equals pyais's once pyais's
raw "not available" values are mapped to our nulls (lat 91, lon 181, sog 102.3, cog 360, heading 511, ...).
Where pyais itself is wrong, the golden decodings of gpsd (or libais) decide: each such rule is named in
PYAIS_RULES, and PYAIS_WRONG lists the messages of the golden-covered files it applies to, with the golden value.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyais
import pytest
from pyais.constants import TurnRate
from pyais.exceptions import AISBaseException

from engine import decode_kernel as dk
from engine.decode import decode, decode_bytes, six_bit
from feeds.framing import Framer, MessageBatch

NMEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
GOLDEN = NMEA / "golden"
FILES = sorted(p for p in NMEA.iterdir() if p.is_file()) if NMEA.is_dir() else []

pytestmark = pytest.mark.skipif(
    not NMEA.is_dir(), reason=f"reference data {NMEA} is absent (a fresh clone); CI always has it"
)

Fields = dict[str, Any]

# Where pyais is wrong, and what the golden decoders (and we) do instead.
PYAIS_RULES = {
    "enum_collapse": "pyais maps ship types and EPFD codes its enums do not name to a neighbour (66 -> 65, "
    "77 -> 75, 38 -> 0, 255 -> 0; EPFD 13 -> 0). gpsd and libais keep the code sent, and so do we: the "
    "expected value is the field's raw bits, read with pyais's own layout.",
    "partial_char": "pyais turns the 2 or 4 bits left after the last whole six-bit character of a type 14 text "
    "or a type 21 name extension into one more character. gpsd and libais leave them out (they are spare "
    "bits), and so do we: the expected text is read from whole characters only.",
    "extension_spaces": "pyais strips the leading spaces of the type 21 name extension, which continues the "
    "20-character name: 'FORT PIERCE INLET LB' + ' 6' becomes 'FORT PIERCE INLET LB6'. gpsd keeps them "
    "('FORT PIERCE INLET LB 6'), and so do we.",
    "undefined_part": "pyais refuses type 24 messages with part number 2 or 3, which M.1371 leaves undefined "
    "(gpsd refuses them too). We keep them as header-only events: mmsi and msg_type, every other field null.",
}


@dataclass(frozen=True)
class PyaisError:
    """One message of a golden-covered file that pyais decodes wrongly."""

    rule: str  # a key of PYAIS_RULES
    file: str  # the data file; its golden decoding is golden/<file>.chk (gpsd) or .json (libais)
    payload: str
    fill: int
    field: str  # our column
    pyais: Any  # pyais's value
    ours: Any  # the right value, in our conventions (what we output)
    golden: Any  # the golden decoder's own value


PYAIS_WRONG = (
    PyaisError("enum_collapse", "gpsd__ais-nmea-type6-fid55.log",
               "55CTb`82CwWg<I<7<01<D4`4<e>1<=Thh40000091J12h5rVNA5S2DljCQiCP0000000000", 2, "ship_type", 0, 9, 9),
    PyaisError("enum_collapse", "gpsd__ais-nmea-type6-fid55.log",
               "54eGpd@2?l6H<HsG3SM==B0u8hD4q>222222220V1p>5740Ht<mPCPkmEQD`88888888880", 2, "ship_type", 0, 38, 38),
    PyaisError("enum_collapse", "gpsd__ais-nmea-type6-fid55.log",
               "53aDrIl000010GK3?T1LDp@TpL000000000000122`433ug0034m0ESlQCP000000000000", 2, "ship_type", 65, 66, 66),
    PyaisError("enum_collapse", "gpsd__ais-nmea-type6-fid55.log",
               "59NS;T@2@6sl7Pp?F2050j05E=A8T6222222221=KQ;J>64m0LA1B0CH888888888888880", 2, "ship_type", 75, 77, 77),
    PyaisError("enum_collapse", "gpsd__ais_unpack_sixbit.log",
               "53a=JT41haoI0GKSG6058=@T>1=Dq8U<F222220V1pR847<:0<hCDm1DQ0CH88888888882", 2, "ship_type", 0, 38, 38),
    # gpsd also cuts a text at its first '@'; we trim as pyais does, so '@&*5>J' stays (see the golden test)
    PyaisError("partial_char", "gpsd__ais-nmea-type6-fid55.log",
               "ENjOsphrg@6a9Qh92SSTWh1PV0Q0Slm@:r;8000000N014R@@9beORW", 0, "text",
               "5^ MRSC REGGIO CALABRIA@&*5>JG", "5^ MRSC REGGIO CALABRIA@&*5>J", "5^ MRSC REGGIO CALABRIA"),
    PyaisError("extension_spaces", "gpsd__ais_unpack_sixbit.log", "ENk`sBG37a:@84Ra1Rh4W62b@61=8Ab37o5n000003vP08=P",
               0, "text", "FORT PIERCE INLET LB6", "FORT PIERCE INLET LB 6", "FORT PIERCE INLET LB 6"),
    PyaisError("partial_char", "libais__typeexamples.nmea", ">IgoUswo3Q6?Ah", 4, "text", "=08Q#4G", "=08Q#4", "=08Q#4"),
)  # fmt: skip
GOLDEN_FIELD = {"ship_type": "shiptype"}  # our column -> gpsd/libais key, where they differ



def not_available_as_none(df: pl.DataFrame) -> list[dict]:
    """Our rows with NaN (our "not available" for floats, per DESIGN.md) read as None, like the oracles'."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in df.iter_rows(named=True)
    ]


def sentence(payload: str, fill: int) -> str:
    """One single-part !AIVDM sentence around an armored payload, with its checksum."""
    body = f"AIVDM,1,1,,A,{payload},{fill}"
    cs = 0
    for ch in body.encode("ascii"):
        cs ^= ch
    return f"!{body}*{cs:02X}"


@dataclass
class Oracle:
    """pyais's decoding of one message: its fields (enums as ints), and raw reads with pyais's own layout."""

    fields: Fields
    bv: Any
    layout: dict[str, tuple[int, int]]  # field -> (first bit, width), from pyais's decoder plan

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def raw(self, name: str, signed: bool = False) -> int | None:
        """The field's bits as an integer, before pyais's converter (rule enum_collapse)."""
        first, width = self.layout[name]
        return None if first >= len(self.bv) else int(self.bv.get_num(first, width, signed))

    def chars(self, name: str, lstrip: bool = True) -> str:
        """The field's text from whole six-bit characters only (rule partial_char), trimmed as pyais trims:
        '@' on the right, then spaces; without ``lstrip`` leading spaces stay (rule extension_spaces)."""
        first, width = self.layout[name]
        n = max(0, min(width, len(self.bv) - first) // 6)
        values = (self.bv.get_num(first + 6 * k, 6) for k in range(n))
        text = "".join(chr(v + 64 if v < 32 else v) for v in values).rstrip("@")
        return text.strip() if lstrip else text.rstrip()


def oracle(payload: str, fill: int) -> Oracle | None:
    """pyais's decoding of one message; None when pyais refuses it."""
    nmea = pyais.NMEAMessage.from_string(sentence(payload, fill))
    try:
        msg = nmea.decode()
        fields = msg.asdict(enum_as_int=True)
    except (AISBaseException, ValueError, IndexError, KeyError):
        return None
    layout = {name: (first, width) for name, first, width, *_ in type(msg).decoder_plan()}
    return Oracle(fields, nmea.bv, layout)


# ---- pyais's raw values -> our conventions --------------------------------------------------------------


def _lat(v: float | None) -> float | None:
    return None if v is None or abs(v) > 90 else v  # 91 = not available; beyond the pole is invalid


def _lon(v: float | None) -> float | None:
    return None if v is None or abs(v) > 180 else v  # 181 = not available


def _sog(v: float | None, na: float) -> float | None:
    return None if v is None or v == na else v


def _cog(v: float | None) -> float | None:
    return None if v is None or v >= 360 else v  # 360 = not available; above is invalid


def _heading(v: int | None) -> int | None:
    return None if v is None or v > 359 else v  # 511 = not available


def _text(v: str | None) -> str | None:
    return v or None  # pyais already trims ('@' on the right, then spaces); an empty text is null


STATION_YEARS = (1970, 2200)  # the years our time kernels accept (feeds.nmea_kernel.epoch_seconds)


def _station_time(o: Oracle) -> datetime | None:
    """Type 4/11 station time; null when any part is 'not available' (0 / 24 / 60) or impossible."""
    if o["year"] is None or not STATION_YEARS[0] <= o["year"] <= STATION_YEARS[1]:
        return None  # e.g. a base station that sends the year as 16
    try:
        return datetime(o["year"], o["month"], o["day"], o["hour"], o["minute"], o["second"], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def expected_position(mt: int, o: Oracle) -> Fields:
    """The Positions row of a type 1, 2, 3, 18, 19 or 27 message."""
    row = {
        "mmsi": o["mmsi"],
        "msg_type": o["msg_type"],
        "lat": _lat(o["lat"]),
        "lon": _lon(o["lon"]),
        "accuracy": o["accuracy"],
        "raim": o["raim"],
    }
    if mt == 27:
        return row | {
            "sog": _sog(o["speed"], 63),
            "cog": None if o["course"] >= 360 else o["course"],  # 511 = not available
            "heading": None,
            "rot": None,
            "rot_raw": -128,
            "nav_status": o["status"],
            "ais_class": None,  # sent by both classes
            "second": None,
        }
    row |= {"sog": _sog(o["speed"], 102.3), "cog": _cog(o["course"]), "heading": _heading(o["heading"])}
    row["second"] = o["second"]
    if mt <= 3:
        # -128 is 'no turn information', +-127 'turning faster than 5 deg/30 s' with no rate: pyais gives
        # these as its TurnRate enum, every other raw value as deg/min
        turn = o["turn"]
        rot = None if isinstance(turn, TurnRate) else turn
        return row | {"rot": rot, "rot_raw": o.raw("turn", signed=True), "nav_status": o["status"], "ais_class": "A"}
    return row | {"rot": None, "rot_raw": -128, "nav_status": None, "ais_class": "B"}


STATIC_FIELDS = ("part", "imo", "callsign", "name", "ship_type", "to_bow", "to_stern", "to_port", "to_starboard",
                 "draught", "destination", "eta_month", "eta_day", "eta_hour", "eta_minute", "ais_version", "epfd",
                 "vendor_id", "mothership_mmsi")  # fmt: skip
DIMS = ("to_bow", "to_stern", "to_port", "to_starboard")


def expected_static(mt: int, o: Oracle) -> Fields:
    """The Statics row of a type 5, 19 or 24 message; fields the message does not carry are null."""
    row: Fields = dict.fromkeys(STATIC_FIELDS) | {"mmsi": o["mmsi"], "msg_type": o["msg_type"]}
    if mt == 5:
        return row | {
            "imo": o["imo"],
            "callsign": _text(o["callsign"]),
            "name": _text(o["shipname"]),
            "ship_type": o.raw("ship_type"),  # rule enum_collapse
            **{k: o[k] for k in DIMS},
            "draught": o["draught"],  # 0 = not available, kept as 0.0
            "destination": _text(o["destination"]),
            "eta_month": o["month"],
            "eta_day": o["day"],
            "eta_hour": o["hour"],
            "eta_minute": o["minute"],
            "ais_version": o["ais_version"],
            "epfd": o.raw("epfd"),  # rule enum_collapse
        }
    if mt == 19:
        return row | {"name": _text(o["shipname"]), "ship_type": o.raw("ship_type"), "epfd": o.raw("epfd"),
                      **{k: o[k] for k in DIMS}}  # fmt: skip
    row["part"] = o["partno"]
    if o["partno"] == 0:
        return row | {"name": _text(o["shipname"])}
    row |= {"ship_type": o.raw("ship_type"), "vendor_id": _text(o["vendorid"]), "callsign": _text(o["callsign"])}
    if "mothership_mmsi" in o.fields:  # an auxiliary craft (MMSI 98XXXYYYY) names its mothership
        return row | {"mothership_mmsi": o["mothership_mmsi"]}
    return row | {k: o[k] for k in DIMS}


EVENT_FIELDS = ("lat", "lon", "sog", "cog", "altitude", "accuracy", "raim", "second", "station_time", "aid_type",
                "off_position", "virtual_aid", "text")  # fmt: skip


def expected_event(mt: int, o: Oracle) -> Fields:
    """The Events row of a message of any other type: types 4, 11, 9, 14 and 21 are decoded, the rest not."""
    row: Fields = dict.fromkeys(EVENT_FIELDS) | {"mmsi": o["mmsi"], "msg_type": o["msg_type"]}
    if mt in (4, 11):  # their UTC second is part of station_time
        return row | {"station_time": _station_time(o), "accuracy": o["accuracy"], "raim": o["raim"],
                      "lat": _lat(o["lat"]), "lon": _lon(o["lon"])}  # fmt: skip
    if mt == 9:
        return row | {
            "altitude": o["alt"],  # 4095 = not available, kept as sent
            "sog": _sog(o["speed"], 1023),  # knots, not tenths
            "accuracy": o["accuracy"],
            "lat": _lat(o["lat"]),
            "lon": _lon(o["lon"]),
            "cog": _cog(o["course"]),
            "second": o["second"],
            "raim": o["raim"],
        }
    if mt == 14:
        return row | {"text": _text(o.chars("text"))}  # rule partial_char
    if mt == 21:
        name = o["name"]
        if len(name) == 20:  # a name that fills all 20 characters goes on in the extension
            name += o.chars("name_ext", lstrip=False)  # rules partial_char and extension_spaces
        return row | {
            "aid_type": o["aid_type"],
            "text": _text(name),
            "accuracy": o["accuracy"],
            "lat": _lat(o["lat"]),
            "lon": _lon(o["lon"]),
            "second": o["second"],
            "off_position": o["off_position"],
            "raim": o["raim"],
            "virtual_aid": o["virtual_aid"],
        }
    return row


def expected_header_only(bits: str) -> Fields:
    """Rule undefined_part: a message pyais refuses keeps its header; read it here from the bit string."""
    return dict.fromkeys(EVENT_FIELDS) | {"msg_type": int(bits[:6], 2), "mmsi": int(bits[8:38], 2)}


def bit_string(payload: str) -> str:
    return "".join(f"{c - 48 - 8 * (c > 88):06b}" for c in payload.encode("ascii"))


# ---- comparison ------------------------------------------------------------------------------------------


def same(ours: Any, theirs: Any) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(ours, float) or isinstance(theirs, float):
        return bool(float(ours) == float(theirs))  # exact: our floats are built to be bit-identical to pyais's
    return bool(ours == theirs)


def compare_table(
    path: Path,
    batch: MessageBatch,
    rows: list[Fields],
    idx: np.ndarray,
    mt: np.ndarray,
    expect: Callable[[int, Oracle], Fields],
    mismatches: dict[str, list[str]],
) -> int:
    """Compare each row with pyais's decoding of its message; returns how many fields were compared."""
    assert len(rows) == idx.shape[0], f"{path.name}: {len(rows)} rows for {idx.shape[0]} messages"
    compared = 0
    for row, m in zip(rows, idx, strict=True):
        payload, fill, t = batch.text(int(m)), int(batch.fill[m]), int(mt[m])
        where = f"{path.name}:{int(batch.line[m]) + 1} {payload},{fill}"
        o = oracle(payload, fill)
        if o is not None:
            expected = expect(t, o)
        elif t == 24 and expect is expected_event and int(bit_string(payload)[38:40], 2) >= 2:
            expected = expected_header_only(bit_string(payload))  # rule undefined_part
        else:
            mismatches["(pyais cannot decode)"].append(f"{where} type {t}")
            continue
        for name, theirs in expected.items():
            compared += 1
            if not same(row[name], theirs):
                mismatches[name].append(f"{where} ours={row[name]!r} pyais={theirs!r}")
    return compared


def summary(mismatches: dict[str, list[str]], limit: int = 8) -> str:
    lines = []
    for name, cases in sorted(mismatches.items()):
        lines.append(f"{name}: {len(cases)} mismatches (file:line payload,fill)")
        lines.extend(f"    {c}" for c in cases[:limit])
    return "\n".join(lines)


def classify(batch: MessageBatch) -> tuple[np.ndarray, np.ndarray]:
    """Each message's type and kind, as decode() sees them (the rows of each table are in batch order)."""
    n = len(batch)
    mt = np.empty(n, np.int64)
    nbits = np.empty(n, np.int64)
    kind = np.empty(n, np.int8)
    dk.classify(six_bit(batch.payload), batch.start, batch.length, batch.fill, mt, nbits, kind)
    return mt, kind


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_field_equals_pyais(path: Path) -> None:
    batch = Framer().feed(path.read_bytes(), final=True)
    decoded = decode(batch, details=False)
    mt, kind = classify(batch)
    position = kind == dk.K_POSITION
    tables = [
        (decoded.positions, np.flatnonzero(position), expected_position),
        (decoded.statics, np.flatnonzero((kind == dk.K_STATIC) | (position & (mt == 19))), expected_static),
        (decoded.events, np.flatnonzero(kind == dk.K_EVENT), expected_event),
    ]
    mismatches: dict[str, list[str]] = defaultdict(list)
    compared = sum(compare_table(path, batch, not_available_as_none(df), idx, mt, expect, mismatches)
                   for df, idx, expect in tables)  # fmt: skip
    assert not mismatches, f"{path.name}: ours differs from pyais\n{summary(mismatches)}"
    assert compared > 0 or len(batch) == 0, f"{path.name}: nothing was compared"


def _golden_records(file: str) -> list[Fields]:
    if file.startswith("libais__"):
        text = (GOLDEN / file).with_suffix(".json").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    lines = (GOLDEN / f"{file}.chk").read_text().splitlines()
    return [r for r in (json.loads(x) for x in lines if x.startswith("{")) if r.get("class") == "AIS"]


def _golden_text(v: str) -> str:
    return v.split("@")[0].rstrip()  # gpsd's and libais's from_sixbit stop at the first '@'


@pytest.mark.parametrize("case", PYAIS_WRONG, ids=lambda c: f"{c.rule}-{c.file}-{c.field}")
def test_listed_pyais_errors(case: PyaisError) -> None:
    assert case.rule in PYAIS_RULES
    o = oracle(case.payload, case.fill)
    assert o is not None
    mt, mmsi = o["msg_type"], o["mmsi"]
    # pyais is still wrong here (when a new pyais gets it right, drop the rule)
    assert (o["name"] + o["name_ext"] if mt == 21 else o[case.field]) == case.pyais
    # we output the right value
    decoded = decode_bytes((sentence(case.payload, case.fill) + "\n").encode())
    table = decoded.events if mt in (4, 9, 14, 21) else decoded.statics  # the cases hold no positions
    assert table[case.field].to_list() == [case.ours]
    # and the golden decoder agrees, in its own conventions
    key = "name" if mt == 21 else GOLDEN_FIELD.get(case.field, case.field)
    golden = {r[key] for r in _golden_records(case.file) if r["type"] == mt and int(r["mmsi"]) == mmsi}
    assert golden == {case.golden}, f"{case.file} has {golden} for {mmsi} {key}"
    assert (_golden_text(case.ours) if isinstance(case.ours, str) else case.ours) == case.golden


def test_undefined_type24_part_is_a_header_only_event() -> None:
    # rule undefined_part, on a part 3 of gpsd__ais-18-27.log: pyais refuses it, gpsd reports no type 24 there
    payload, fill = "H3KLehdt00000000?6ekkjm000000", 0
    assert oracle(payload, fill) is None
    assert not [r for r in _golden_records("gpsd__ais-18-27.log") if r["type"] == 24]
    decoded = decode_bytes((sentence(payload, fill) + "\n").encode())
    assert decoded.positions.is_empty() and decoded.statics.is_empty()
    event = not_available_as_none(decoded.events)[0]
    assert event == event | expected_header_only(bit_string(payload))
    assert (event["msg_type"], event["mmsi"]) == (24, 230108610)


@pytest.mark.parametrize(
    ("payload", "fill"),
    [
        ("ENjOsphrg@6a9Qh92SSTWh1PV0Q0Slm@:r;8000000N014R@@9beORW"[:45], 1),  # type 21 cut after bit 268
        (";38oBB1vAPP1NP`eAlNkpgQ00000"[:12], 0),  # type 11 cut after the station time
    ],
)
def test_truncated_messages_are_refused_not_invented(payload: str, fill: int) -> None:
    # pyais has nothing for the fields past the end; we refuse such a message rather than read past it
    o = oracle(payload, fill)
    assert o is not None and None in o.fields.values()
    decoded = decode_bytes((sentence(payload, fill) + "\n").encode())
    assert decoded.rejects["short_message"] == 1 and decoded.events.is_empty()


def test_sentence_checksum() -> None:
    # a sentence of gpsd's sample.aivdm, checksum and all
    assert sentence("15RTgt0PAso;90TKcjM8h6g208CQ", 0) == "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"
