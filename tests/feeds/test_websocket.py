"""aisstream.io JSON: conversion to the decoder's columns, and the source against a local websocket server.

The JSON messages are written in aisstream's documented shape (https://aisstream.io/documentation). The
cross-check builds them from real sentences of ``../shared/data/nmea`` with pyais, the project's correctness
oracle, and compares the rows with what engine.decode gives for the same sentences.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyais
import pytest
from websockets.asyncio.server import ServerConnection, serve

from engine.decode import decode_bytes
from feeds.sources import Backoff, FeedSet, open_feed
from feeds.websocket import (
    POSITIONS_SCHEMA,
    STATICS_SCHEMA,
    AisStreamSource,
    parse_time_utc,
    to_records,
)

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
needs_data = pytest.mark.skipif(
    not NMEA_DIR.is_dir(), reason=f"the real NMEA recordings are not here: {NMEA_DIR} (see ../shared/data/README.md)"
)
NOW = 1_700_000_000.0
T0 = "2022-12-29 18:22:32.318353 +0000 UTC"
T0_S = 1672338152.318353


def position_report(mmsi: int = 259000420, **body: Any) -> str:
    fields = {
        "Cog": 308,
        "CommunicationState": 81982,
        "Latitude": 66.02695,
        "Longitude": 12.253821666666665,
        "MessageID": 1,
        "NavigationalStatus": 15,
        "PositionAccuracy": True,
        "Raim": False,
        "RateOfTurn": 4,
        "RepeatIndicator": 0,
        "Sog": 0,
        "Spare": 0,
        "SpecialManoeuvreIndicator": 0,
        "Timestamp": 31,
        "TrueHeading": 235,
        "UserID": mmsi,
        "Valid": True,
    }
    fields.update(body)
    meta = {
        "MMSI": mmsi,
        "ShipName": "AUGUSTSON           ",
        "latitude": 66.02695,
        "longitude": 12.25382,
        "time_utc": T0,
    }
    return json.dumps({"MessageType": "PositionReport", "MetaData": meta, "Message": {"PositionReport": fields}})


def ship_static(mmsi: int = 636092587) -> str:
    body = {
        "AisVersion": 2,
        "CallSign": "D5UJ2  ",
        "Destination": "HAI PHONG@@@@",
        "Dimension": {"A": 150, "B": 33, "C": 16, "D": 16},
        "Dte": False,
        "Eta": {"Day": 3, "Hour": 6, "Minute": 0, "Month": 1},
        "FixType": 1,
        "ImoNumber": 9434127,
        "MaximumStaticDraught": 9.3,
        "MessageID": 5,
        "Name": "PACIFIC TANKER",
        "RepeatIndicator": 0,
        "Spare": False,
        "Type": 80,
        "UserID": mmsi,
        "Valid": True,
    }
    meta = {"MMSI": mmsi, "ShipName": "PACIFIC TANKER", "latitude": 20.7, "longitude": 106.9, "time_utc": T0}
    return json.dumps({"MessageType": "ShipStaticData", "MetaData": meta, "Message": {"ShipStaticData": body}})


# ------------------------------------------------------------------------------------------------- conversion
def test_a_position_report_becomes_the_whole_expected_row() -> None:
    rec = to_records([position_report()], NOW, first_line=7)
    assert rec.messages == 1
    assert rec.statics.height == 0
    row = rec.positions.to_dicts()[0]
    assert row.pop("t").timestamp() == pytest.approx(T0_S, abs=1e-6)
    assert row == {
        "mmsi": 259000420,
        "lat": 66.02695,
        "lon": 12.253821666666665,
        "sog": 0.0,
        "cog": 308.0,
        "heading": 235.0,
        "rot": 1.0,
        "rot_raw": 4,
        "nav_status": 15,
        "msg_type": 1,
        "ais_class": "A",
        "accuracy": True,
        "raim": False,
        "second": 31,
        "source": None,
        "channel": None,
        "line": 7,
        "seq": 7,
    }


def test_ship_static_data_becomes_the_whole_expected_row() -> None:
    rec = to_records([ship_static()], NOW)
    row = rec.statics.to_dicts()[0]
    assert row.pop("t").timestamp() == pytest.approx(T0_S, abs=1e-6)
    assert row == {
        "mmsi": 636092587,
        "msg_type": 5,
        "part": None,
        "imo": 9434127,
        "callsign": "D5UJ2",
        "name": "PACIFIC TANKER",
        "ship_type": 80,
        "to_bow": 150,
        "to_stern": 33,
        "to_port": 16,
        "to_starboard": 16,
        "draught": 9.3,
        "destination": "HAI PHONG",
        "eta_month": 1,
        "eta_day": 3,
        "eta_hour": 6,
        "eta_minute": 0,
        "ais_version": 2,
        "epfd": 1,
        "vendor_id": None,
        "mothership_mmsi": None,
        "source": None,
        "channel": None,
        "line": 0,
        "seq": 0,
    }


def test_not_available_values_are_nan_as_in_the_decoder() -> None:
    raw = position_report(Latitude=91, Longitude=181, Sog=102.3, Cog=360, TrueHeading=511, RateOfTurn=-128)
    row = to_records([raw], NOW).positions.to_dicts()[0]
    assert all(math.isnan(row[k]) for k in ("lat", "lon", "sog", "cog", "heading", "rot"))
    assert row["rot_raw"] == -128


def test_the_tables_have_the_decoder_s_exact_schema() -> None:
    decoded = decode_bytes(b"")
    rec = to_records([], NOW)
    assert rec.positions.schema == decoded.positions.schema
    assert rec.statics.schema == decoded.statics.schema
    assert dict(decoded.positions.schema) == POSITIONS_SCHEMA
    assert dict(decoded.statics.schema) == STATICS_SCHEMA


def test_bad_messages_are_counted_by_reason_and_skipped() -> None:
    bad = [
        "{not json",
        b"\xff\xfe",
        "[1, 2]",
        json.dumps({"error": "Api Key Is Not Valid"}),
        json.dumps({"MessageType": "PositionReport", "MetaData": {}, "Message": {}}),
        json.dumps(
            {"MessageType": "SafetyBroadcastMessage", "MetaData": {}, "Message": {"SafetyBroadcastMessage": {}}}
        ),
        json.dumps({"MessageType": "PositionReport", "MetaData": {}, "Message": {"PositionReport": {"Sog": 1}}}),
    ]
    broken_eta = json.loads(ship_static())
    broken_eta["Message"]["ShipStaticData"]["Eta"] = [1, 3]
    bad.append(json.dumps(broken_eta))
    bad.append(position_report(RateOfTurn=1e400))  # json.dumps writes Infinity, which json.loads reads back
    rec = to_records([*bad, position_report()], NOW)
    assert rec.messages == 1
    assert rec.positions["line"].to_list() == [9]
    assert rec.rejects == {
        "not_json": 3,
        "server_error": 1,
        "no_message": 1,
        "unsupported_type": 1,
        "no_mmsi_or_type": 1,
        "bad_field": 2,
    }


def test_a_message_without_time_gets_the_arrival_time() -> None:
    obj = json.loads(position_report())
    del obj["MetaData"]["time_utc"]
    rec = to_records([json.dumps(obj)], NOW)
    assert rec.positions["t"][0].timestamp() == NOW


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (T0, T0_S),
        ("2022-12-29 18:22:32 +0000 UTC", 1672338152.0),
        ("2022-12-29 18:22:32.5 +0700 +07", 1672338152.5 - 7 * 3600),
        ("2022-12-29T18:22:32.123456789Z", 1672338152.123456),
    ],
)
def test_time_utc_is_read_in_its_forms(text: str, seconds: float) -> None:
    assert parse_time_utc(text) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize("text", ["", "yesterday", "2022-13-45 99:00:00 +0000 UTC"])
def test_unreadable_times_are_nan(text: str) -> None:
    assert math.isnan(parse_time_utc(text))


# ------------------------------------------------------------------------------ cross-check with the decoder
def as_aisstream(fields: dict[str, Any], rot_raw: int) -> str | None:
    """pyais fields of one message -> the aisstream message carrying the same values."""
    t = fields["msg_type"]
    common = {"MessageID": t, "UserID": fields["mmsi"]}
    if t in (1, 2, 3, 18, 27):
        kind = {18: "StandardClassBPositionReport", 27: "LongRangeAisBroadcastMessage"}.get(t, "PositionReport")
        body = {
            **common,
            "Latitude": fields["lat"],
            "Longitude": fields["lon"],
            "Sog": fields["speed"],
            "Cog": fields["course"],
            "PositionAccuracy": bool(fields["accuracy"]),
            "Raim": bool(fields["raim"]),
        }
        if t != 27:
            body.update(TrueHeading=fields["heading"], Timestamp=fields["second"])
        if t <= 3 or t == 27:
            body["NavigationalStatus"] = fields["status"]
        if t <= 3:
            body["RateOfTurn"] = rot_raw
    elif t == 5:
        kind = "ShipStaticData"
        body = {
            **common,
            "AisVersion": fields["ais_version"],
            "ImoNumber": fields["imo"],
            "CallSign": fields["callsign"],
            "Name": fields["shipname"],
            "Type": fields["ship_type"],
            "Dimension": {
                "A": fields["to_bow"],
                "B": fields["to_stern"],
                "C": fields["to_port"],
                "D": fields["to_starboard"],
            },
            "FixType": fields["epfd"],
            "Eta": {"Month": fields["month"], "Day": fields["day"], "Hour": fields["hour"], "Minute": fields["minute"]},
            "MaximumStaticDraught": fields["draught"],
            "Destination": fields["destination"],
        }
    else:
        return None
    return json.dumps(
        {"MessageType": kind, "MetaData": {"MMSI": fields["mmsi"], "time_utc": T0}, "Message": {kind: body}}
    )


@needs_data
@pytest.mark.parametrize("name", ["gpsd__sample.aivdm", "gpsd__ais-18-27.log", "pyais__nmea_data_sample.txt"])
def test_rows_equal_the_decoder_s_on_the_same_real_messages(name: str) -> None:
    lines = [ln for ln in (NMEA_DIR / name).read_bytes().splitlines() if ln.startswith((b"!AIVDM", b"!AIVDO"))]
    checked = 0
    i = 0
    while i < len(lines):
        group = [lines[i]]
        if lines[i].split(b",")[1:3] == [b"2", b"1"] and i + 1 < len(lines):
            group.append(lines[i + 1])
        i += len(group)
        decoded = decode_bytes(b"\n".join(group) + b"\n", details=False)
        table = decoded.positions if decoded.positions.height else decoded.statics
        if table.height != 1 or table["msg_type"][0] not in (1, 2, 3, 5, 18, 27):
            continue
        try:
            fields = pyais.decode(*group).asdict(enum_as_int=True)
        except (pyais.exceptions.AISBaseException, ValueError):
            continue
        rot_raw = int(decoded.positions["rot_raw"][0]) if decoded.positions.height else 0
        raw = as_aisstream(fields, rot_raw)
        assert raw is not None
        rec = to_records([raw], NOW)
        ours = (rec.positions if decoded.positions.height else rec.statics).drop(
            "t", "source", "channel", "line", "seq"
        )
        theirs = table.drop("t", "source", "channel", "line", "seq")
        for col in theirs.columns:
            a, b = ours[col].to_list(), theirs[col].to_list()
            if theirs[col].dtype.is_float():
                np.testing.assert_allclose(np.array(a, float), np.array(b, float), atol=1e-6, err_msg=f"{name} {col}")
            else:
                assert a == b, f"{name} {group} {col}"
        checked += 1
    assert checked >= 10  # gpsd__sample.aivdm samples every type: a dozen of its messages are of these types


# -------------------------------------------------------------------------------------- a local websocket server
def test_the_source_subscribes_reconnects_and_delivers_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAWATCH_AISSTREAM_KEY", "test-key")
    subscriptions: list[dict[str, Any]] = []
    sent = [position_report(mmsi=574000000 + i) for i in range(30)] + [ship_static(), "{broken"]

    async def handler(ws: ServerConnection) -> None:
        subscriptions.append(json.loads(await ws.recv()))
        if len(subscriptions) == 1:
            for raw in sent[:10]:
                await ws.send(raw)
            return  # the server drops the connection
        for raw in sent[10:]:
            await ws.send(raw)
        await ws.wait_closed()

    async def run() -> tuple[AisStreamSource, list[int], int]:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            source = open_feed(f"ws://127.0.0.1:{port}/v0/stream?box=17,105,22,110", clock=lambda: NOW)
            assert isinstance(source, AisStreamSource)
            source.backoff = Backoff(0.01, 0.05)
            mmsis: list[int] = []
            statics = 0
            async with asyncio.timeout(10), FeedSet([source], clock=lambda: NOW) as feeds:
                async for batch in feeds:
                    assert batch.records is not None
                    mmsis.extend(batch.records.positions["mmsi"].to_list())
                    statics += batch.records.statics.height
                    if len(mmsis) + statics >= 31:
                        break
            return source, mmsis, statics

    source, mmsis, statics = asyncio.run(run())
    assert mmsis == [574000000 + i for i in range(30)]
    assert statics == 1
    assert subscriptions[0] == {"APIKey": "test-key", "BoundingBoxes": [[[17.0, 105.0], [22.0, 110.0]]]}
    assert len(subscriptions) == 2
    assert (source.counters.connects, source.counters.reconnects) == (2, 1)
    assert source.counters.messages == 31
    assert dict(source.counters.rejects) in ({}, {"not_json": 1})  # the broken one may come after we stopped


def test_a_silent_server_is_detected_and_reconnected() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await ws.recv()
        if connections > 1:
            await ws.send(position_report())
        await ws.wait_closed()

    async def run() -> AisStreamSource:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            source = AisStreamSource(f"ws://127.0.0.1:{port}", api_key=None, silence=0.3, backoff=Backoff(0.01, 0.05))
            async with asyncio.timeout(10):
                rec = await source.next_batch()
            assert rec is not None and rec.messages == 1
            await source.close()
            return source

    source = asyncio.run(run())
    assert (source.counters.silences, source.counters.reconnects) == (1, 1)


def test_nothing_listening_is_retried_with_backoff() -> None:
    source = AisStreamSource("ws://127.0.0.1:9", api_key=None, backoff=Backoff(1.0, 4.0))
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            await source.close()

    source.sleep = fake_sleep
    assert asyncio.run(source.next_batch()) is None
    assert source.counters.connect_failures == 3
    assert all(0 <= w <= c for w, c in zip(waits, [1.0, 2.0, 4.0], strict=True))
