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
