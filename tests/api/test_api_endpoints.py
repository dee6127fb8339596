"""Every endpoint through the real app: vessels, alerts and triage, zones, keys, health, metrics, 422s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import add_zones_listener, create_app
from api.schemas import VesselPublic, VesselsPage
from api.settings import Settings
from api.store import DISMISSAL_REASONS, VesselFilter
from api.store.engine import latest_version
from engine.alerts import UTC_US
from models.features import DAY_FEATURES
from models.scoring import Scorer
from tests.api.helpers import T0, alerts_frame, auth, vessels_frame

V1 = "/api/v1"
ZONE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[107.0, 20.0], [108.0, 20.0], [108.0, 21.0], [107.0, 20.0]]]},
    "properties": {"name": "Bach Long Vi waters", "zone_kind": "restricted"},
}


def seed(client: TestClient) -> Any:
    store = client.app.state.store  # type: ignore[attr-defined]
    store.upsert_vessels(vessels_frame(5))
    store.upsert_alerts(pl.concat([alerts_frame(5), alerts_frame(2, kind="loitering", score=10, mmsi0=574000001)]))
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=10 - i) for i in range(5)]
    store.add_track(pl.DataFrame({"mmsi": [574000002] * 5, "t": times, "lat": [20.0] * 5, "lon": [107.0] * 5}))
    return store


def test_vessels_list_filters_sort_and_pages(client: TestClient, keys: dict[str, str]) -> None:
    seed(client)
    h = auth(keys["viewer"])
    body = client.get(f"{V1}/vessels", headers=h).json()
    assert body["total"] == 5 and body["items"][0]["mmsi"] == 574000005
    assert body["items"][0]["alert_counts"] == {"encounter": 4}
    assert client.get(f"{V1}/vessels?min_score=40", headers=h).json()["total"] == 3
    assert client.get(f"{V1}/vessels?band=medium&band=high", headers=h).json()["total"] == 3
    assert client.get(f"{V1}/vessels?ship_type=80", headers=h).json()["total"] == 2
    assert client.get(f"{V1}/vessels?flag=VN", headers=h).json()["total"] == 5
    assert client.get(f"{V1}/vessels?bbox=106.9,19.9,107.15,20.15", headers=h).json()["total"] == 2
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get(f"{V1}/vessels", params={"updated_since": soon}, headers=h).json()["total"] == 0
    page = client.get(f"{V1}/vessels?sort=mmsi&page=2&page_size=2", headers=h).json()
    assert [v["mmsi"] for v in page["items"]] == [574000003, 574000004]


def test_vessel_detail_and_track(client: TestClient, keys: dict[str, str]) -> None:
    store = seed(client)
    store.upsert_vessels(vessels_frame(2, name="THANH DAT"))
    h = auth(keys["viewer"])
    v = client.get(f"{V1}/vessels/574000002", headers=h).json()
    assert v["smuggling_score"] == 25.0 and v["smuggling_reasons"] == ["+1 evidence"]
    assert [i["name"] for i in v["identity_history"]] == ["HAI AU 1", "THANH DAT 1"]
    assert {a["kind"] for a in v["recent_alerts"]} == {"encounter", "loitering"}
    assert client.get(f"{V1}/vessels/1", headers=h).status_code == 404
    track = client.get(f"{V1}/vessels/574000002/track", headers=h).json()
    line = track["features"][0]
    assert line["geometry"]["type"] == "LineString" and len(line["geometry"]["coordinates"]) == 5
    assert len(line["properties"]["times"]) == 5
    recent = (datetime.now(UTC) - timedelta(minutes=7, seconds=30)).isoformat()
    one = client.get(f"{V1}/vessels/574000002/track", params={"since": recent, "limit": 1}, headers=h).json()
    assert one["features"][0]["geometry"]["type"] == "Point"
    assert client.get(f"{V1}/vessels/574000003/track", headers=h).json()["features"] == []


def test_alerts_list_filters_and_cursor_pages(client: TestClient, keys: dict[str, str]) -> None:
    seed(client)
    h = auth(keys["viewer"])
    assert len(client.get(f"{V1}/alerts", headers=h).json()["items"]) == 7
    assert len(client.get(f"{V1}/alerts?kind=loitering", headers=h).json()["items"]) == 2
    assert len(client.get(f"{V1}/alerts?min_score=62", headers=h).json()["items"]) == 3
    assert len(client.get(f"{V1}/alerts?bbox=106.95,19.95,107.05,20.05", headers=h).json()["items"]) == 2
    until = (T0 + timedelta(minutes=30)).isoformat()
    assert len(client.get(f"{V1}/alerts", params={"until": until}, headers=h).json()["items"]) == 2
    assert len(client.get(f"{V1}/alerts?mmsi=574000102", headers=h).json()["items"]) == 1
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"page_size": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{V1}/alerts", params=params, headers=h).json()
        seen += [a["alert_id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7


def test_triage_records_who_when_what_and_why(client: TestClient, keys: dict[str, str]) -> None:
    seed(client)
    alert_id = alerts_frame(1)["alert_id"][0]
    h = auth(keys["analyst"])
    key_id = keys["analyst"].split("_")[1]  # sw_<id>_<secret>
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "escalated", "note": "tanker alongside"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "dismissed", "reason": "legitimate_activity",
                                                       "note": "bunker barge at the anchorage"}, headers=h)  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "confirmed"}, headers=h)
    triage = client.get(f"{V1}/alerts/{alert_id}", headers=auth(keys["viewer"])).json()["triage"]
    assert [(t["status"], t["reason"], t["note"], t["by"], t["key_id"]) for t in triage] == [
        ("escalated", None, "tanker alongside", "analyst on duty", key_id),
        ("dismissed", "legitimate_activity", "bunker barge at the anchorage", "analyst on duty", key_id),
        ("confirmed", None, "", "analyst on duty", key_id),
    ]
    times = [datetime.fromisoformat(t["at"]) for t in triage]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)
    history = client.get(f"{V1}/alerts/{alert_id}/history", headers=auth(keys["viewer"])).json()
    assert history["triage"] == triage and history["withdrawn"] is False and history["kind"] == "encounter"
    assert client.get(f"{V1}/alerts?status=confirmed", headers=h).json()["items"][0]["alert_id"] == alert_id
    assert client.patch(f"{V1}/alerts/unknown", json={"status": "confirmed"}, headers=h).status_code == 404
    assert client.get(f"{V1}/alerts/unknown", headers=h).status_code == 404
    assert client.get(f"{V1}/alerts/unknown/history", headers=h).status_code == 404
    labels = client.app.state.store.labels()  # type: ignore[attr-defined]
    assert labels.select("alert_id", "status", "key_id", "by").rows() == [
        (alert_id, "confirmed", key_id, "analyst on duty")
    ]


def test_a_dismissal_without_a_reason_is_422_naming_the_codes(client: TestClient, keys: dict[str, str]) -> None:
    seed(client)
    alert_id = alerts_frame(1)["alert_id"][0]
    h = auth(keys["analyst"])
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "dismissed", "note": "fine"}, headers=h)
    assert r.status_code == 422
    assert "a dismissal needs a reason" in r.text
    assert all(code in r.text for code in DISMISSAL_REASONS), r.text
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "dismissed", "reason": "bored"}, headers=h)
    assert r.status_code == 422 and "reception_problem" in r.text
    r = client.patch(f"{V1}/alerts/{alert_id}", json={"status": "confirmed", "reason": "duplicate"}, headers=h)
    assert r.status_code == 422 and "with a dismissal only" in r.text
    assert client.get(f"{V1}/alerts/{alert_id}/history", headers=h).json()["triage"] == []
    schema = client.get(f"{V1}/openapi.json").json()["components"]["schemas"]["AlertUpdate"]
    assert "reason" in schema["properties"] and "reason" not in schema.get("required", [])


def test_a_withdrawn_alert_keeps_its_history(client: TestClient, keys: dict[str, str]) -> None:
    store = seed(client)
    alert_id = alerts_frame(1)["alert_id"][0]
    h = auth(keys["analyst"])
    body = {"status": "dismissed", "reason": "data_error", "note": "one bad fix"}
    assert client.patch(f"{V1}/alerts/{alert_id}", json=body, headers=h).status_code == 200
    assert store.withdraw_alerts([alert_id]) == 1
    assert client.get(f"{V1}/alerts/{alert_id}", headers=h).status_code == 404
    history = client.get(f"{V1}/alerts/{alert_id}/history", headers=auth(keys["viewer"])).json()
    assert history["withdrawn"] is True
    assert (history["alert_id"], history["kind"], history["mmsi"], history["other_mmsi"]) == (
        alert_id, "encounter", 574000001, 574000101)  # fmt: skip
    (entry,) = history["triage"]
    assert (entry["status"], entry["reason"], entry["note"], entry["by"]) == (
        "dismissed", "data_error", "one bad fix", "analyst on duty")  # fmt: skip
    assert entry["key_id"] == keys["analyst"].split("_")[1]


def test_decisions_through_the_api_move_the_vessels_scores(client: TestClient, keys: dict[str, str]) -> None:
    """The scorer takes the store's decisions as they are (the live service's ScoringSink does the same)."""
    store = seed(client)
    alerts = alerts_frame(5)  # encounters of 574000001+i with 574000101+i, scores 60..64
    mmsi = alerts["mmsi"].to_list() + alerts["other_mmsi"].to_list()
    vessels = pl.DataFrame({"mmsi": mmsi, "positions": [500] * 10, "ship_type": [30] * 10, "lat": [20.0] * 10,
                            "lon": [107.0] * 10, "first_seen": [T0] * 10, "last_seen": [T0 + timedelta(hours=9)] * 10,
                            "name": None, "callsign": None, "imo": None},
                           schema_overrides={"first_seen": UTC_US, "last_seen": UTC_US, "name": pl.String,
                                             "callsign": pl.String, "imo": pl.Int64})  # fmt: skip
    days = pl.DataFrame({"mmsi": mmsi, "day": [T0] * 10, "fixes": [500] * 10, **{f: [0.0] * 10 for f in DAY_FEATURES},
                         "lat": [20.0] * 10, "lon": [107.0] * 10}, schema_overrides={"day": UTC_US})  # fmt: skip

    def smuggling_score() -> tuple[float, list[str]]:
        table = Scorer().score(alerts, vessels, days, decisions=store.decisions())
        row = table.filter(pl.col("mmsi") == 574000001).row(0, named=True)
        return row["smuggling_score"], row["smuggling_reasons"]

    first, reasons = smuggling_score()
    h = auth(keys["analyst"])
    client.patch(f"{V1}/alerts/{alerts['alert_id'][0]}", json={"status": "dismissed", "reason": "duplicate"}, headers=h)
    dismissed, reasons = smuggling_score()
    assert dismissed == 0 < first
    assert reasons[-1].startswith(f"-{round(first)} encounter alert dismissed by analyst 'analyst on duty' at ")
    assert reasons[-1].endswith(": duplicate")
    client.patch(f"{V1}/alerts/{alerts['alert_id'][0]}", json={"status": "confirmed"}, headers=h)
    confirmed, reasons = smuggling_score()
    assert confirmed > first and "confirmed by analyst 'analyst on duty' at " in reasons[0]


def test_zones_crud_and_the_change_hook(client: TestClient, keys: dict[str, str]) -> None:
    heard: list[dict[str, Any]] = []
    add_zones_listener(client.app, heard.append)  # type: ignore[arg-type]
    admin, viewer = auth(keys["admin"]), auth(keys["viewer"])
    created = client.post(f"{V1}/zones", json=ZONE, headers=admin)
    assert created.status_code == 201
    zone = created.json()
    assert zone["properties"]["created_by"] == "admin on duty" and zone["properties"]["kind"] == "zone"
    assert len(heard) == 1 and heard[0]["features"][0]["properties"]["zone_kind"] == "restricted"
    from engine.geo.regions import parse_pack

    assert len(parse_pack(heard[0], "api", None).zones.names) == 1  # the engine reads what the hook gets
    assert client.get(f"{V1}/zones", headers=viewer).json()["features"][0]["id"] == zone["id"]
    changed = ZONE | {"properties": {"name": "renamed", "zone_kind": "watch", "source": "chart VN-123"}}
    r = client.put(f"{V1}/zones/{zone['id']}", json=changed, headers=admin)
    assert r.status_code == 200 and r.json()["properties"]["source"] == "chart VN-123"
    assert client.get(f"{V1}/zones/{zone['id']}", headers=viewer).json()["properties"]["name"] == "renamed"
    assert client.delete(f"{V1}/zones/{zone['id']}", headers=admin).status_code == 204
    assert client.get(f"{V1}/zones/{zone['id']}", headers=viewer).status_code == 404
    assert client.delete(f"{V1}/zones/{zone['id']}", headers=admin).status_code == 404
    assert len(heard) == 3 and heard[-1]["features"] == []


def test_a_zone_the_engine_cannot_build_is_refused_with_the_reason(client: TestClient, keys: dict[str, str]) -> None:
    around_the_pole = ZONE | {"geometry": {"type": "Polygon", "coordinates": [
        [[-180, 80], [-60, 80], [60, 80], [179, 80], [-180, 80]]]}}  # fmt: skip
    r = client.post(f"{V1}/zones", json=around_the_pole, headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert "goes around a pole" in r.text and "split it at the antimeridian" in r.text
    assert client.get(f"{V1}/zones", headers=auth(keys["viewer"])).json()["features"] == []


def test_a_stored_zone_the_engine_cannot_build_is_left_out_not_fatal(caplog) -> None:  # type: ignore[no-untyped-def]
    from engine.detectors.geography import ZoneEntry
    from engine.geo.regions import engine_pack
    from seawatch.serve_job import with_api_zones

    bad = {"type": "Feature", "id": "bad1", "geometry": {"type": "Polygon", "coordinates": [
        [[-180, 80], [-60, 80], [60, 80], [179, 80], [-180, 80]]]},
        "properties": {"kind": "zone", "name": "pole", "zone_kind": "restricted", "source": "API"}}  # fmt: skip
    good = {"type": "Feature", "id": "good1", "geometry": ZONE["geometry"],
            "properties": {"kind": "zone", "name": "ok", "zone_kind": "restricted", "source": "API"}}  # fmt: skip
    pack = with_api_zones(engine_pack("gulf-of-tonkin"), {"type": "FeatureCollection", "features": [bad, good]})
    assert pack.zones.names == ("ok",) and ZoneEntry(pack).names == ("ok",)  # the engine builds what is left
    assert "zone bad1 left out" in caplog.text


def test_keys_created_listed_and_revoked(client: TestClient, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    r = client.post(f"{V1}/keys", json={"name": "night shift", "role": "analyst"}, headers=admin)
    assert r.status_code == 201
    new = r.json()
    assert new["key"].startswith("sw_") and new["role"] == "analyst"
    assert client.get(f"{V1}/alerts", headers={"Authorization": f"Bearer {new['key']}"}).status_code == 200
    listed = client.get(f"{V1}/keys", headers=admin).json()
    assert "night shift" in [k["name"] for k in listed] and all("key" not in k for k in listed)
    assert client.delete(f"{V1}/keys/{new['id']}", headers=admin).status_code == 204
    assert client.get(f"{V1}/alerts", headers=auth(new["key"])).status_code == 401
    assert client.delete(f"{V1}/keys/{new['id']}", headers=admin).status_code == 404
    revoked = client.get(f"{V1}/keys?include_revoked=true", headers=admin).json()
    assert any(k["id"] == new["id"] and k["revoked_at"] for k in revoked)


def test_health_probes_share_one_database_check_a_second(client: TestClient) -> None:
    """Many probes in a second cost the database one check (the statements the real engine runs are counted)."""
    engine = client.app.state.store.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    client.get("/healthz")
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        answers = [client.get("/healthz") for _ in range(20)]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert all(r.status_code == 200 and r.json()["database"] for r in answers)
    assert len(statements) <= 2  # at most one check (a ping and the schema version), if the second turned over


def test_health_says_degraded_with_the_live_services_troubles(settings: Settings) -> None:
    """A silent feed or an engine behind makes /healthz "degraded" with the reasons; the API still answers 200."""
    from seawatch.serve_job import troubles

    snapshot = {"queue": {"size": 62, "maxsize": 64}, "feeds": [
        {"url": "tcp://127.0.0.1:5631", "idle_seconds": 75.0, "error": None},
        {"url": "udp://:10110", "idle_seconds": 0.4, "error": None},
        {"url": "file:///tmp/day.nmea", "idle_seconds": None, "error": "cannot open it (No such file)"},
    ]}  # fmt: skip
    with TestClient(create_app(settings, liveness=lambda: troubles(snapshot))) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "degraded" and r.json()["database"]
    assert r.json()["reasons"] == ["feed tcp://127.0.0.1:5631 silent for 75 s",
                                   "feed file:///tmp/day.nmea: cannot open it (No such file)",
                                   "engine behind: 62 of 64 feed batches waiting"]  # fmt: skip
    quiet = {"queue": {"size": 0, "maxsize": 64}, "feeds": [{"url": "udp://:10110", "idle_seconds": 2.0}]}
    assert troubles(quiet) == []


def test_health_metrics_and_openapi(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": True, "schema_version": latest_version(),
                                             "reasons": []}  # fmt: skip
    client.get(f"{V1}/vessels", headers=auth(keys["viewer"]))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'seawatch_http_requests_total{method="GET",route="/vessels",status="200"} 1.0' in metrics.text
    assert "seawatch_http_request_duration_seconds_bucket" in metrics.text
    schema = client.get(f"{V1}/openapi.json").json()
    assert {"/api/v1/vessels", "/api/v1/alerts/stream", "/api/v1/zones/{zone_id}", "/healthz"} <= set(schema["paths"])
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])


def test_invalid_input_is_422_and_says_what(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["admin"])
    cases = {
        f"{V1}/vessels?bbox=1,2,3": "four numbers",
        f"{V1}/vessels?bbox=100,0,170,10": "wider than",
        f"{V1}/vessels?bbox=1,95,2,96": "latitudes",
        f"{V1}/vessels?page_size=100000": "at most 500",
        f"{V1}/vessels?min_score=101": "less than or equal to 100",
        f"{V1}/vessels?sort=reasons": "should match pattern",
        f"{V1}/vessels?band=purple": "low",
        f"{V1}/vessels?updated_since=2025-01-01T00:00:00": "timezone",
        f"{V1}/alerts?kind=piracy": "encounter",
        f"{V1}/alerts?cursor=!!": "pattern",
        f"{V1}/alerts?cursor=abc": "cursor",
        f"{V1}/alerts/stream?since=nope": "pattern",
        f"{V1}/vessels/1000000000": "less than or equal",
        f"{V1}/vessels/1/track?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z": "after until",
    }
    for url, words in cases.items():
        r = client.get(url, headers=h)
        assert r.status_code == 422, url
        assert words in r.text, (url, r.text)
    seed(client)
    alert_id = alerts_frame(1)["alert_id"][0]
    assert client.patch(f"{V1}/alerts/{alert_id}", json={"status": "maybe"}, headers=h).status_code == 422
    assert client.patch(f"{V1}/alerts/{alert_id}", json={"status": "new", "x": 1}, headers=h).status_code == 422
    assert (
        client.patch(f"{V1}/alerts/{alert_id}", json={"status": "new", "note": "a\x00b"}, headers=h).status_code == 422
    )
    open_ring = ZONE | {"geometry": {"type": "Polygon", "coordinates": [[[107, 20], [108, 20], [108, 21], [107, 21]]]}}
    r = client.post(f"{V1}/zones", json=open_ring, headers=h)
    assert r.status_code == 422 and "not closed" in r.text
    far = ZONE | {"geometry": {"type": "Polygon", "coordinates": [[[200, 20], [108, 20], [108, 21], [200, 20]]]}}
    assert client.post(f"{V1}/zones", json=far, headers=h).status_code == 422
    bad_kind = ZONE | {"properties": {"name": "x", "zone_kind": "volcano"}}
    assert client.post(f"{V1}/zones", json=bad_kind, headers=h).status_code == 422
    assert client.post(f"{V1}/keys", json={"name": " ", "role": "admin"}, headers=h).status_code == 422
    # blank by Python's str.strip though not by the regex \S (schemathesis found it: a 500)
    assert client.post(f"{V1}/keys", json={"name": "\x1f", "role": "admin"}, headers=h).status_code == 422
    assert client.post(f"{V1}/keys", json={"name": "x", "role": "root"}, headers=h).status_code == 422


def test_vessels_page_is_what_the_models_give(client: TestClient, keys: dict[str, str]) -> None:
    store = seed(client)
    h = auth(keys["viewer"])
    for query in ({}, {"sort": "mmsi", "page": 2, "page_size": 2}, {"band": ["medium", "high"], "flag": "vn"}):
        got = client.get(f"{V1}/vessels", params=query, headers=h)
        assert got.headers["content-type"] == "application/json"
        where = VesselFilter(bands=query.get("band", []), flags=[query["flag"]] if "flag" in query else [])
        sort, page, size = str(query.get("sort", "-score")), int(query.get("page", 1)), int(query.get("page_size", 50))
        rows, total = store.vessels_page(where, sort=sort, page=page, page_size=size)
        reference = VesselsPage(items=[VesselPublic.from_row(r) for r in rows], total=total, page=page, page_size=size)
        assert got.json() == reference.model_dump(mode="json")


def test_vessels_cache_sees_every_upsert_and_keeps_filters_apart(client: TestClient, keys: dict[str, str]) -> None:
    store = seed(client)
    h = auth(keys["viewer"])
    first = client.get(f"{V1}/vessels", headers=h).json()
    assert client.get(f"{V1}/vessels", headers=h).json() == first  # from the cache
    # filters, sorts and pages are separate entries: none answers for another
    assert client.get(f"{V1}/vessels?min_score=40", headers=h).json()["total"] == 3
    assert client.get(f"{V1}/vessels?min_score=60", headers=h).json()["total"] == 2
    assert client.get(f"{V1}/vessels?flag=VN", headers=h).json()["total"] == 5
    assert client.get(f"{V1}/vessels?flag=CN", headers=h).json()["total"] == 0
    by_mmsi = client.get(f"{V1}/vessels?sort=mmsi&page_size=2", headers=h).json()
    assert [v["mmsi"] for v in by_mmsi["items"]] == [574000001, 574000002]
    assert [v["mmsi"] for v in client.get(f"{V1}/vessels?sort=mmsi&page=2&page_size=2", headers=h).json()["items"]] == [
        574000003,
        574000004,
    ]
    # a new upsert shows at once: the name, the total and the sort order
    store.upsert_vessels(vessels_frame(1, name="THANH DAT", mmsi0=574000009))
    after = client.get(f"{V1}/vessels", headers=h).json()
    assert after["total"] == 6
    assert client.get(f"{V1}/vessels?min_score=40", headers=h).json()["total"] == 3
    store.upsert_vessels(vessels_frame(1, name="THANH DAT"))
    renamed = client.get(f"{V1}/vessels?sort=mmsi&page_size=2", headers=h).json()
    assert renamed["items"][0]["name"] == "THANH DAT 0"
    cache = client.app.state.vessels_cache  # type: ignore[attr-defined]
    assert cache.hits >= 1
