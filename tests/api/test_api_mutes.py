"""Mutes through the real app and store: who may mute, what a mute hides and marks, its expiry, its end (kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from api.store import AlertFilter, Store
from engine.alerts import ALERT_SCHEMA, alert_id
from tests.api.helpers import T0, alerts_frame, auth, vessels_frame

V1 = "/api/v1"
BARGE, TANKER, OTHER = 574000001, 574000101, 574000002


def _alerts() -> pl.DataFrame:
    """Encounters of BARGE with TANKER (mmsi order both ways) and of OTHER, a gap of BARGE's, zone entries and a
    gap during station CT01's outage."""

    def row(kind: str, mmsi: int, other: int | None, hours: int, reasons: list[str]) -> dict[str, Any]:
        start = T0 + timedelta(hours=hours)
        return {"alert_id": alert_id(kind, mmsi, other, int(start.timestamp() * 1e6)), "kind": kind, "mmsi": mmsi,
                "other_mmsi": other, "start": start, "end": start + timedelta(hours=1), "lat": 20.0, "lon": 107.0,
                "score": 70.0, "reasons": reasons}  # fmt: skip

    return pl.DataFrame([
        row("encounter", BARGE, TANKER, 0, ["close and slow 3 h"]),
        row("encounter", TANKER, BARGE, 1, ["close and slow 2 h"]),
        row("encounter", OTHER, 574000102, 2, ["close and slow 4 h"]),
        row("ais_gap", BARGE, None, 3, ["dark 7.0 h in good coverage (12 vessels heard nearby)"]),
        row("zone_entry", OTHER, None, 4, ["entered restricted zone Ha Long", "inside 2.0 h (40 positions)"]),
        row("zone_entry", OTHER, None, 5, ["entered restricted zone Ha Long Bay", "inside 1.0 h (9 positions)"]),
        row("ais_gap", OTHER, None, 6, ["dark 5.0 h in good coverage (9 vessels heard nearby) after station CT01 "
                                        "came back at 10:00", "silent since 04:00; station CT01 heard 0 of its "
                                        "usual ~240 messages per 10 min, 04:00-10:00"]),
    ], schema=ALERT_SCHEMA)  # fmt: skip


def _ids(client: TestClient, key: str, **params: Any) -> set[str]:
    r = client.get(f"{V1}/alerts", params={"page_size": 100, **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return {a["alert_id"] for a in r.json()["items"]}


def _mute(client: TestClient, key: str, **body: Any) -> Any:
    body = {"reason": "legitimate bunkering barge", "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()
            } | body  # fmt: skip
    return client.post(f"{V1}/mutes", json=body, headers=auth(key))


def test_a_viewer_cannot_mute_an_analyst_can_and_who_is_recorded(client: TestClient, keys: dict[str, str]) -> None:
    assert _mute(client, keys["viewer"], pattern="vessel", kind="encounter", mmsi=BARGE).status_code == 403
    r = _mute(client, keys["analyst"], pattern="vessel", kind="encounter", mmsi=BARGE)
    assert r.status_code == 201, r.text
    m = r.json()
    analyst = client.app.state.store.list_keys(False)  # type: ignore[attr-defined]
    (key_id,) = [k["id"] for k in analyst if k["name"] == "analyst on duty"]
    assert (m["by"], m["key_id"], m["state"], m["ended_at"]) == ("analyst on duty", key_id, "in_force", None)
    assert m["reason"] == "legitimate bunkering barge" and m["pattern"] == "vessel" and m["mmsi"] == BARGE
    assert abs(datetime.fromisoformat(m["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    listed = client.get(f"{V1}/mutes", headers=auth(keys["viewer"])).json()["items"]
    assert [x["id"] for x in listed] == [m["id"]]
    assert _mute(client, keys["admin"], pattern="pair", mmsi=BARGE, other_mmsi=TANKER).status_code == 201


def test_a_mute_needs_a_bounded_expiry_a_reason_and_its_pattern(client: TestClient, keys: dict[str, str]) -> None:
    key, now = keys["analyst"], datetime.now(UTC)
    refused = [
        {"pattern": "vessel", "kind": "encounter", "mmsi": BARGE, "expires_at": (now + timedelta(days=91)).isoformat()},
        {"pattern": "vessel", "kind": "encounter", "mmsi": BARGE, "expires_at": (now - timedelta(hours=1)).isoformat()},
        {"pattern": "vessel", "kind": "encounter", "mmsi": BARGE, "reason": "  "},
        {"pattern": "vessel", "mmsi": BARGE},  # no kind
        {"pattern": "pair", "mmsi": BARGE, "other_mmsi": BARGE},
        {"pattern": "zone", "kind": "zone_entry"},  # no zone
        {"pattern": "station", "station": "CT01", "kind": "encounter"},
        {"pattern": "vessel", "kind": "encounter", "mmsi": BARGE, "zone": "Ha Long"},  # not what it matches on
    ]
    for body in refused:
        r = _mute(client, key, **body)
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"{V1}/mutes", params={"state": "all"}, headers=auth(key)).json()["items"] == []
    without_expiry = {"pattern": "vessel", "kind": "encounter", "mmsi": BARGE, "reason": "x"}
    assert client.post(f"{V1}/mutes", json=without_expiry, headers=auth(key)).status_code == 422


def test_a_mute_hides_its_alerts_from_the_default_list_and_marks_them(client: TestClient, keys: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    df = _alerts()
    store.upsert_alerts(df)
    everything, v = set(df["alert_id"]), keys["viewer"]
    assert _ids(client, v) == everything
    m = _mute(client, keys["analyst"], pattern="vessel", kind="encounter", mmsi=BARGE).json()
    pair = set(df["alert_id"][:2])  # BARGE's encounters, BARGE either side; its gap stays
    assert _ids(client, v) == everything - pair
    assert _ids(client, v, muted="true") == pair
    assert _ids(client, v, muted="all") == everything
    items = client.get(f"{V1}/alerts", params={"muted": "all"}, headers=auth(v)).json()["items"]
    assert {a["alert_id"]: (a["muted"], a["mute_id"]) for a in items} == {
        a: ((True, m["id"]) if a in pair else (False, None)) for a in everything
    }
    one = client.get(f"{V1}/alerts/{df['alert_id'][0]}", headers=auth(v)).json()
    assert (one["muted"], one["mute_id"]) == (True, m["id"])
    store.upsert_vessels(vessels_frame(1, mmsi0=BARGE))
    recent = client.get(f"{V1}/vessels/{BARGE}", headers=auth(v)).json()["recent_alerts"]
    assert {a["alert_id"]: a["muted"] for a in recent} == {a: a in pair for a in (*pair, df["alert_id"][3])}
    # pages skip the muted ones and still fill
    first = client.get(f"{V1}/alerts", params={"page_size": 2}, headers=auth(v)).json()
    second = client.get(f"{V1}/alerts", params={"page_size": 10, "cursor": first["next_cursor"]}, headers=auth(v))
    paged = [a["alert_id"] for a in first["items"] + second.json()["items"]]
    assert len(first["items"]) == 2 and set(paged) == everything - pair and len(paged) == len(set(paged))


def test_pair_zone_and_station_mutes_match_what_they_say(client: TestClient, keys: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    df = _alerts()
    store.upsert_alerts(df)
    ids, a, v = df["alert_id"].to_list(), keys["analyst"], keys["viewer"]
    assert _mute(client, a, pattern="pair", mmsi=TANKER, other_mmsi=BARGE).status_code == 201  # either order
    assert _ids(client, v, muted="true") == {ids[0], ids[1]}
    assert _mute(client, a, pattern="zone", kind="zone_entry", zone="Ha Long").status_code == 201
    assert _ids(client, v, muted="true") == {ids[0], ids[1], ids[4]}  # not "Ha Long Bay"
    assert _mute(client, a, pattern="station", station="CT01").status_code == 201
    assert _ids(client, v, muted="true") == {ids[0], ids[1], ids[4], ids[6]}
    assert _ids(client, v) == {ids[2], ids[3], ids[5]}  # the other pair, BARGE's gap, the other zone


def test_deleting_a_mute_ends_it_and_keeps_the_record(client: TestClient, keys: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    df = _alerts()
    store.upsert_alerts(df)
    m = _mute(client, keys["analyst"], pattern="vessel", kind="ais_gap", mmsi=BARGE).json()
    assert df["alert_id"][3] not in _ids(client, keys["viewer"])
    assert client.delete(f"{V1}/mutes/{m['id']}", headers=auth(keys["viewer"])).status_code == 403
    r = client.delete(f"{V1}/mutes/{m['id']}", headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    ended = r.json()
    assert (ended["state"], ended["ended_by"], ended["by"]) == ("ended", "admin on duty", "analyst on duty")
    assert ended["ended_at"] is not None and ended["reason"] == m["reason"]
    assert df["alert_id"][3] in _ids(client, keys["viewer"])  # counts again
    assert client.get(f"{V1}/mutes", headers=auth(keys["viewer"])).json()["items"] == []
    kept = client.get(f"{V1}/mutes", params={"state": "all"}, headers=auth(keys["viewer"])).json()["items"]
    assert kept == [ended] == [client.get(f"{V1}/mutes/{m['id']}", headers=auth(keys["viewer"])).json()]
    again = client.delete(f"{V1}/mutes/{m['id']}", headers=auth(keys["analyst"])).json()
    assert again == ended  # ending it twice changes nothing
    assert client.delete(f"{V1}/mutes/999", headers=auth(keys["analyst"])).status_code == 404


def test_a_mute_expires_by_itself(client: TestClient, keys: dict[str, str]) -> None:
    """A mute made ten days ago for a week: its alerts count again, and it is listed as expired."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    df = _alerts()
    store.upsert_alerts(df)
    then = datetime.now(UTC) - timedelta(days=10)
    old = store.add_mute("vessel", kind="encounter", mmsi=BARGE, reason="barge", by="le",
                         expires_at=then + timedelta(days=7), now=then)  # fmt: skip
    assert old["state"] == "in_force"  # as it was then
    assert store.mute(old["id"])["state"] == "expired"  # type: ignore[index]
    assert _ids(client, keys["viewer"]) == set(df["alert_id"])
    assert _ids(client, keys["viewer"], muted="true") == set()
    # as the store saw it while the mute was in force
    page, _ = store.alerts_page(AlertFilter(muted="true"), now=then + timedelta(days=1))
    assert {r["alert_id"] for r in page} == set(df["alert_id"][:2])
    assert store.mutes_in_force(then + timedelta(days=1))["mute_id"].to_list() == [old["id"]]
    assert store.mutes_in_force().height == 0
    (listed,) = client.get(f"{V1}/mutes", params={"state": "all"}, headers=auth(keys["viewer"])).json()["items"]
    assert (listed["id"], listed["state"], listed["ended_at"]) == (old["id"], "expired", None)
    # ending an expired mute leaves it as it was
    assert client.delete(f"{V1}/mutes/{old['id']}", headers=auth(keys["analyst"])).json() == listed


def test_without_mutes_no_alert_is_muted(client: TestClient, keys: dict[str, str]) -> None:
    client.app.state.store.upsert_alerts(alerts_frame(3))  # type: ignore[attr-defined]
    items = client.get(f"{V1}/alerts", headers=auth(keys["viewer"])).json()["items"]
    assert [(a["muted"], a["mute_id"]) for a in items] == [(False, None)] * 3
    assert _ids(client, keys["viewer"], muted="true") == set()
