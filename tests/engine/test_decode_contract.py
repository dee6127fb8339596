"""The Positions contract of DESIGN.md: "not available" floats are NaN, absent integers are null."""

from __future__ import annotations

import math

import pyais

from engine.decode import decode_bytes


def _feed(fields: dict) -> bytes:
    return "\n".join(pyais.encode_dict(fields, radio_channel="B", talker_id="AI")).encode() + b"\n"


def test_not_available_values_are_nan() -> None:
    data = _feed(
        {"type": 1, "mmsi": 574123456, "lat": 91, "lon": 181, "speed": 102.3, "course": 360, "heading": 511,
         "turn": -128, "status": 15}  # fmt: skip
    )
    row = decode_bytes(data).positions.row(0, named=True)
    assert row["mmsi"] == 574123456
    for name in ("lat", "lon", "sog", "cog", "heading", "rot"):
        assert math.isnan(row[name]), name
    assert row["rot_raw"] == -128
    assert row["nav_status"] == 15
    assert row["channel"] == "B"
    assert row["t"] is None  # the sentence carries no time


def test_available_values_round_trip_through_pyais_encoder() -> None:
    data = _feed(
        {"type": 1, "mmsi": 574000001, "lat": 20.86543, "lon": 106.68321, "speed": 11.3, "course": 127.4,
         "heading": 128, "turn": 0, "status": 0}  # fmt: skip
    )
    row = decode_bytes(data).positions.row(0, named=True)
    assert (row["lat"], row["lon"], row["sog"], row["cog"], row["heading"], row["rot"]) == (
        20.86543, 106.68321, 11.3, 127.4, 128.0, 0.0,
    )  # fmt: skip
    assert row["ais_class"] == "A"


def test_decoding_some_columns_gives_those_columns_of_the_whole_decode() -> None:
    """A reader that names its columns gets exactly those columns of the full tables (the rest not built)."""
    from pathlib import Path

    import pytest
    from polars.testing import assert_frame_equal

    from engine.decode import decode
    from feeds.framing import Framer
    from seawatch.inputs import readers_columns

    nmea = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
    if not nmea.is_dir():
        pytest.skip(f"needs the recorded feeds in {nmea}")
    data = b"\n".join(p.read_bytes() for p in sorted(nmea.glob("*")) if p.is_file())
    whole = decode(Framer().feed(data, final=True), details=False)
    wanted = readers_columns({"positions": ("seq", "mmsi", "lat", "source"), "events": None},
                             {"positions": ("t",), "statics": ("name", "draught", "mmsi")})  # fmt: skip
    assert wanted == {"positions": {"seq", "mmsi", "lat", "source", "t"}, "statics": {"name", "draught", "mmsi"}}
    some = decode(Framer().feed(data, final=True), details=False, columns=wanted)
    assert whole.positions.height > 1000 and whole.statics.height > 100
    for table in ("positions", "statics"):
        full = getattr(whole, table)
        assert_frame_equal(getattr(some, table), full.select([c for c in full.columns if c in wanted[table]]))
    assert_frame_equal(some.events, whole.events)
