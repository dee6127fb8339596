"""Our decoder against the golden decodings of gpsd and libais in ``../shared/data/nmea/golden``.

Each golden file is the other decoder's output for the data file of the same name. We decode that file, align
our messages with the golden records by order and (type, MMSI), and compare every field both sides have, in
the golden decoder's raw units where it gives them (gpsd's unscaled JSON: 1/10000 minute, 1/10 knot, ...).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from engine import decode_kernel as dk
from engine.decode import decode, six_bit
from feeds.framing import Framer

NMEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
GOLDEN = NMEA / "golden"

pytestmark = pytest.mark.skipif(
    not GOLDEN.is_dir(), reason=f"reference data {GOLDEN} is absent (a fresh clone); CI always has it"
)

Record = dict[str, Any]

# gpsd's JSON for each gpsd__* data file; for sample.aivdm the unscaled JSON form (.ju.chk)
GPSD_CASES = [
    ("gpsd__ais-18-27.log", "gpsd__ais-18-27.log.chk"),
    ("gpsd__ais-nmea-type6-fid55.log", "gpsd__ais-nmea-type6-fid55.log.chk"),
    ("gpsd__ais-nmea.log", "gpsd__ais-nmea.log.chk"),
    ("gpsd__ais-raw-messages.log", "gpsd__ais-raw-messages.log.chk"),
    ("gpsd__ais_unpack_sixbit.log", "gpsd__ais_unpack_sixbit.log.chk"),
    ("gpsd__ait250.log", "gpsd__ait250.log.chk"),
    ("gpsd__saab-r4.log", "gpsd__saab-r4.log.chk"),
    ("gpsd__sample.aivdm", "gpsd__sample.aivdm.ju.chk"),
]
LIBAIS_CASES = [
    ("libais__typeexamples.nmea", "libais__typeexamples.json"),
    ("libais__tagblock.nmea", "libais__tagblock.json"),
]
DECODED_TYPES = {1, 2, 3, 4, 5, 9, 11, 14, 18, 19, 21, 24, 27}  # the types our Numba kernels decode

# ---- our side ---------------------------------------------------------------------------------------------


@dataclass
class Ours:
    """Our decoding of one data file: one merged record per message, in batch order."""

    records: list[Record] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based input line of each record



def not_available_as_none(df: pl.DataFrame) -> list[dict]:
    """Our rows with NaN (our "not available" for floats, per DESIGN.md) read as None, like the oracles'."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in df.iter_rows(named=True)
    ]


def decode_file(path: Path) -> Ours:
    batch = Framer().feed(path.read_bytes(), final=True)
    decoded = decode(batch, details=False)
    n = len(batch)
    mt, nbits, kind = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int8)
    dk.classify(six_bit(batch.payload), batch.start, batch.length, batch.fill, mt, nbits, kind)
    merged: dict[int, Record] = defaultdict(dict)
    position = kind == dk.K_POSITION
    for df, idx in (
        (decoded.positions, np.flatnonzero(position)),
        (decoded.statics, np.flatnonzero((kind == dk.K_STATIC) | (position & (mt == 19)))),
        (decoded.events, np.flatnonzero(kind == dk.K_EVENT)),
    ):
        for row, m in zip(not_available_as_none(df), idx, strict=True):
            merged[int(m)] |= row
    ours = Ours()
    for m in sorted(merged):
        ours.records.append(merged[m])
        ours.lines.append(int(batch.line[m]) + 1)
    return ours


# ---- comparison helpers ----------------------------------------------------------------------------------


def sixbit_text(v: str | None) -> str:
    """A text in the golden decoders' form: they stop at the first '@' (we trim '@' only at the end, as pyais)."""
    return (v or "").split("@")[0].strip()


def close(ours: float | None, theirs: float | None, tol: float) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return abs(ours - theirs) <= tol


def na(raw: int | None, *not_available: int) -> int | None:
    return None if raw is None or raw in not_available else raw


COORD_TOL = 0.5e-6 + 1e-12  # we round degrees to 6 decimals, as pyais does


def _coord(raw: int | None, per_degree: int, limit: int) -> float | None:
    if raw is None:
        return None
    deg = raw / per_degree
    return None if abs(deg) > limit else deg  # 91 / 181 = not available; beyond is invalid


def _timestamp(v: str | None) -> datetime | None:
    """gpsd's / libais's station time ('0000-00-00T24:60:60Z' when not available)."""
    if not v:
        return None
    try:
        t = datetime.strptime(v[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return t if 1970 <= t.year <= 2200 else None  # the years our time kernels accept


Check = tuple[str, Any, Any, Callable[[Any, Any], bool]]  # our column, our value, theirs, equal?


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _text_eq(a: Any, b: Any) -> bool:
    return sixbit_text(a) == sixbit_text(b)


# ---- gpsd (unscaled JSON) --------------------------------------------------------------------------------


def gpsd_checks(ours: Record, g: Record) -> list[Check]:
    """(column, ours, gpsd's value in our units, comparison) for every field both sides have."""
    t = g["type"]
    checks: list[Check] = [("mmsi", ours["mmsi"], g["mmsi"], _eq), ("msg_type", ours["msg_type"], t, _eq)]

    def pos(per_degree: int) -> None:
        tol = lambda a, b: close(a, b, COORD_TOL)  # noqa: E731
        checks.append(("lat", ours["lat"], _coord(g["lat"], per_degree, 90), tol))
        checks.append(("lon", ours["lon"], _coord(g["lon"], per_degree, 180), tol))
        checks.append(("accuracy", ours["accuracy"], g["accuracy"], _eq))
        checks.append(("raim", ours["raim"], g["raim"], _eq))

    def dims() -> None:
        for k in ("to_bow", "to_stern", "to_port", "to_starboard"):
            checks.append((k, ours[k], g[k], _eq))

    if t in (1, 2, 3, 18, 19):
        pos(600000)
        speed, course = na(g["speed"], 1023), na(g["course"], 3600)
        checks.append(("sog", ours["sog"], None if speed is None else speed / 10, _eq))
        checks.append(("cog", ours["cog"], None if course is None or course > 3600 else course / 10, _eq))
        checks.append(("heading", ours["heading"], None if g["heading"] > 359 else g["heading"], _eq))
        checks.append(("second", ours["second"], g["second"], _eq))
    if t in (1, 2, 3):
        checks.append(("nav_status", ours["nav_status"], g["status"], _eq))
        checks.append(("rot_raw", ours["rot_raw"], g["turn"], _eq))
    if t == 19:
        checks.append(("name", ours["name"], g["shipname"], _text_eq))
        checks.append(("ship_type", ours["ship_type"], g["shiptype"], _eq))
        checks.append(("epfd", ours["epfd"], g["epfd"], _eq))
        dims()
    if t == 27:
        pos(600)
        checks.append(("nav_status", ours["nav_status"], g["status"], _eq))
        checks.append(("sog", ours["sog"], na(g["speed"], 63), _eq))
        checks.append(("cog", ours["cog"], None if g["course"] >= 360 else g["course"], _eq))
    if t == 5:
        checks.append(("imo", ours["imo"], g["imo"], _eq))
        checks.append(("ais_version", ours["ais_version"], g["ais_version"], _eq))
        checks.append(("callsign", ours["callsign"], g["callsign"], _text_eq))
        checks.append(("name", ours["name"], g["shipname"], _text_eq))
        checks.append(("ship_type", ours["ship_type"], g["shiptype"], _eq))
        checks.append(("epfd", ours["epfd"], g["epfd"], _eq))
        checks.append(("draught", ours["draught"], g["draught"] / 10, _eq))
        checks.append(("destination", ours["destination"], g["destination"], _text_eq))
        eta = "{:02d}-{:02d}T{:02d}:{:02d}Z".format(*(ours[f"eta_{k}"] for k in ("month", "day", "hour", "minute")))
        checks.append(("eta", eta, g["eta"], _eq))
        dims()
    if t == 24:  # gpsd reports part B, with the name of the part A before it
        checks.append(("name", ours["name_a"], g["shipname"], _text_eq))
        checks.append(("ship_type", ours["ship_type"], g["shiptype"], _eq))
        checks.append(("callsign", ours["callsign"], g["callsign"], _text_eq))
        # gpsd reads 7 characters over the vendor, model and serial; the vendor is the first 3
        checks.append(("vendor_id", ours["vendor_id"], g["vendorid"][:3], _text_eq))
        if "mothership_mmsi" in g:
            checks.append(("mothership_mmsi", ours["mothership_mmsi"], g["mothership_mmsi"], _eq))
        else:
            dims()
    if t in (4, 11):
        pos(600000)
        checks.append(("station_time", ours["station_time"], _timestamp(g["timestamp"]), _eq))
    if t == 9:
        pos(600000)
        course = na(g["course"], 3600)
        checks.append(("altitude", ours["altitude"], g["alt"], _eq))
        checks.append(("sog", ours["sog"], na(g["speed"], 1023), _eq))
        checks.append(("cog", ours["cog"], None if course is None else course / 10, _eq))
        checks.append(("second", ours["second"], g["second"], _eq))
    if t == 14:
        checks.append(("text", ours["text"], g["text"], _text_eq))
    if t == 21:
        pos(600000)
        checks.append(("aid_type", ours["aid_type"], g["aid_type"], _eq))
        checks.append(("text", ours["text"], g["name"], _text_eq))
        checks.append(("second", ours["second"], g["second"], _eq))
        checks.append(("off_position", ours["off_position"], g["off_position"], _eq))
        checks.append(("virtual_aid", ours["virtual_aid"], g["virtual_aid"], _eq))
    return checks


# ---- libais (scaled JSON, floats stored as float32) ------------------------------------------------------

# libais's six-bit table has '-' for 31 and '`' for 39, where M.1371 (and gpsd, pyais, we) have '_' and "'"
LIBAIS_SIXBIT = str.maketrans({"_": "-", "'": "`"})


def _libais_text_eq(a: Any, b: Any) -> bool:
    return sixbit_text(a).translate(LIBAIS_SIXBIT) == sixbit_text(b)


def _f32(scale: float) -> Callable[[Any, Any], bool]:
    """Equal to a float32 golden value: our rounding (scale) plus float32's relative error."""
    return lambda a, b: close(a, b, scale + 1e-7 * abs(b or 0))


def libais_checks(ours: Record, r: Record) -> list[Check]:
    t = r["type"]
    checks: list[Check] = [("mmsi", ours["mmsi"], r["mmsi"], _eq), ("msg_type", ours["msg_type"], t, _eq)]

    def scaled(v: float | None, limit: float) -> float | None:
        return None if v is None or abs(v) > limit else v

    if t in (1, 2, 3, 4, 9, 11, 18, 19, 21, 27):
        checks.append(("lat", ours["lat"], scaled(r["lat"], 90.5), _f32(COORD_TOL)))  # 91 = not available
        checks.append(("lon", ours["lon"], scaled(r["lon"], 180.5), _f32(COORD_TOL)))  # 181 = not available
        checks.append(("accuracy", ours["accuracy"], r["accuracy"], _eq))
        checks.append(("raim", ours["raim"], r["raim"], _eq))
    if t in (1, 2, 3, 18, 19):
        checks.append(("sog", ours["sog"], None if r["speed"] > 102.25 else r["speed"], _f32(1e-9)))
        checks.append(("cog", ours["cog"], None if r["course"] >= 360 else r["course"], _f32(1e-9)))
        checks.append(("heading", ours["heading"], None if r["heading"] > 359 else r["heading"], _eq))
        checks.append(("second", ours["second"], r["second"], _eq))
    if t in (1, 2, 3):
        checks.append(("nav_status", ours["nav_status"], r["status"], _eq))
        # libais gives (raw / 4.733)^2 unrounded, None when not available; we round to whole deg/min
        checks.append(("rot", ours["rot"], r["turn"], _f32(0.5)))
    if t == 27:
        checks.append(("nav_status", ours["nav_status"], r["status"], _eq))
        checks.append(("sog", ours["sog"], None if r["speed"] == 63 else r["speed"], _eq))
        checks.append(("cog", ours["cog"], None if r["course"] >= 360 else r["course"], _eq))
    if t in (4, 11):
        checks.append(("station_time", ours["station_time"], _timestamp(r["timestamp"]), _eq))
    if t == 9:
        checks.append(("altitude", ours["altitude"], r["alt"], _eq))
        # libais divides the type 9 speed by ten; M.1371 (and gpsd, pyais, we) give it in whole knots
        speed = r["speed"] * 10
        checks.append(("sog", ours["sog"], None if speed > 1022.5 else speed, _f32(1e-9)))
        checks.append(("cog", ours["cog"], None if r["course"] >= 360 else r["course"], _f32(1e-9)))
        checks.append(("second", ours["second"], r["second"], _eq))
    if t == 5:
        checks.append(("imo", ours["imo"], int(r["imo"]), _eq))
        checks.append(("ais_version", ours["ais_version"], r["ais_version"], _eq))
        checks.append(("callsign", ours["callsign"], r["callsign"], _libais_text_eq))
        checks.append(("name", ours["name"], r["shipname"], _libais_text_eq))
        checks.append(("ship_type", ours["ship_type"], r["shiptype"], _eq))
        checks.append(("epfd", ours["epfd"], r["epfd"], _eq))
        checks.append(("draught", ours["draught"], r["draught"], _f32(1e-9)))
        checks.append(("destination", ours["destination"], r["destination"], _libais_text_eq))
    if t in (5, 21):
        for k in ("to_bow", "to_stern", "to_port", "to_starboard"):
            if k in ours:
                checks.append((k, ours[k], r[k], _eq))
    if t == 24:
        checks.append(("part", ours["part"], r["part_num"], _eq))
        checks.append(("name", ours["name"], r.get("shipname"), _libais_text_eq))
    if t == 14:
        checks.append(("text", ours["text"], r["text"], _libais_text_eq))
    if t == 21:
        checks.append(("aid_type", ours["aid_type"], r["aid_type"], _eq))
        checks.append(("text", ours["text"], r["name"], _libais_text_eq))
        checks.append(("second", ours["second"], r["second"], _eq))
        checks.append(("off_position", ours["off_position"], r["off_position"], _eq))
        checks.append(("virtual_aid", ours["virtual_aid"], r["virtual_aid"], _eq))
    return checks


# ---- alignment -------------------------------------------------------------------------------------------


def gpsd_records(golden: Path) -> list[Record]:
    """gpsd's AIS reports, without the copies of the last one that gpsd's regression output (which echoes its
    input) repeats after a non-AIS sentence such as $GPRMC."""
    records: list[Record] = []
    previous: Record | None = None
    other_sentence = False  # a non-AIS sentence and no AIS sentence since the previous report
    for line in golden.read_text().splitlines():
        if line.startswith(("!", "$")):
            other_sentence = line.startswith("$") and (other_sentence or previous is not None)
            if line.startswith("!"):
                previous = None
            continue
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if r.get("class") != "AIS":
            continue
        if not (other_sentence and r == previous):
            records.append(r)
        previous, other_sentence = r, False
    return records


def our_keys_gpsd(ours: Ours) -> list[tuple[int, int]]:
    """(type, MMSI) of each of our records as gpsd reports it. gpsd reports a type 24 once, on a part B that
    follows a part A of the same MMSI on the same channel, with that part A's name; (-1, MMSI) is never reported."""
    keys = []
    part_a: dict[tuple[str | None, int], str | None] = {}  # (channel, MMSI) -> name of a part A not yet used
    for r in ours.records:
        t, mmsi = r["msg_type"], r["mmsi"]
        if t != 24:
            keys.append((t, mmsi))
        elif r.get("part") == 0:
            part_a[r["channel"], mmsi] = r["name"]
            keys.append((-1, mmsi))
        elif r.get("part") == 1 and (r["channel"], mmsi) in part_a:
            r["name_a"] = part_a.pop((r["channel"], mmsi))
            keys.append((t, mmsi))
        else:  # a part B without its part A, or the undefined parts 2 and 3, which gpsd refuses
            keys.append((-1, mmsi))
    return keys


@dataclass
class Comparison:
    mismatches: list[str] = field(default_factory=list)  # "file:line type mmsi column: ours golden"
    golden_unmatched: list[Record] = field(default_factory=list)  # golden records none of ours matched
    ours_unmatched: list[str] = field(default_factory=list)  # our messages of `must_match` types left over
    compared: int = 0  # fields compared

    def report(self, limit: int = 30) -> str:
        lines = [f"{len(self.mismatches)} field mismatches", *self.mismatches[:limit]]
        lines += [f"{len(self.golden_unmatched)} golden records none of ours matched"]
        lines += [json.dumps(r)[:300] for r in self.golden_unmatched[:limit]]
        lines += [f"{len(self.ours_unmatched)} of our messages the golden decoder did not report"]
        return "\n".join(lines + self.ours_unmatched[:limit])

    def ok(self) -> bool:
        return not (self.mismatches or self.golden_unmatched or self.ours_unmatched) and self.compared > 0


def compare(
    name: str,
    ours: Ours,
    keys: list[tuple[int, int]],
    golden: list[Record],
    checks: Callable[[Record, Record], list[Check]],
    must_match: set[int],
) -> Comparison:
    """Align our messages with the golden records by (type, MMSI) in order, and compare the aligned pairs.

    Each golden record must align with one of ours, and each of our messages of a ``must_match`` type with a
    golden record (keys of type -1 are messages the golden decoder never reports)."""
    theirs = [(r["type"], int(r["mmsi"])) for r in golden]
    matcher = SequenceMatcher(None, keys, theirs, autojunk=False)
    result = Comparison()
    matched_ours: set[int] = set()
    matched_golden: set[int] = set()
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            matched_ours.add(a + k)
            matched_golden.add(b + k)
            for column, mine, expected, equal in checks(ours.records[a + k], golden[b + k]):
                result.compared += 1
                if not equal(mine, expected):
                    where = f"{name}:{ours.lines[a + k]} type {keys[a + k][0]} mmsi {keys[a + k][1]}"
                    result.mismatches.append(f"{where} {column}: ours={mine!r} golden={expected!r}")
    result.golden_unmatched = [r for i, r in enumerate(golden) if i not in matched_golden]
    result.ours_unmatched = [
        f"{name}:{ours.lines[i]} type {t} mmsi {mmsi}"
        for i, (t, mmsi) in enumerate(keys)
        if i not in matched_ours and t in must_match
    ]
    return result


@pytest.mark.parametrize(("data", "golden"), GPSD_CASES, ids=[c[0] for c in GPSD_CASES])
def test_equals_gpsd(data: str, golden: str) -> None:
    ours = decode_file(NMEA / data)
    records = [r for r in gpsd_records(GOLDEN / golden) if r["type"] in DECODED_TYPES]
    # gpsd keeps only a few type 24 part A per channel to pair with a part B: its type 24 reports may be fewer
    result = compare(data, ours, our_keys_gpsd(ours), records, gpsd_checks, DECODED_TYPES - {24})
    assert result.ok(), f"{data}: ours differs from gpsd\n{result.report()}"


@pytest.mark.parametrize(("data", "golden"), LIBAIS_CASES, ids=[c[0] for c in LIBAIS_CASES])
def test_equals_libais(data: str, golden: str) -> None:
    ours = decode_file(NMEA / data)
    lines = (GOLDEN / golden).read_text().splitlines()
    records = [r for r in (json.loads(x) for x in lines if x.startswith("{")) if r["type"] in DECODED_TYPES]
    keys = [(r["msg_type"], r["mmsi"]) for r in ours.records]
    result = compare(data, ours, keys, records, libais_checks, DECODED_TYPES)
    assert result.ok(), f"{data}: ours differs from libais\n{result.report()}"
