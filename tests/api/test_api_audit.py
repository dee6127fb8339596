"""The audit log, retention and backup (issue 14): every triage decision, zone and key change and mute in an
append-only table read by admins through GET /api/v1/audit; what is past retention pruned (by the app's periodic
loop too), decisions and the audit kept; ``seawatch backup``. On SQLite, and PostgreSQL when it is set up."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from api.settings import Settings
from api.store import AlertFilter, AuditFilter, Store
from api.store.tables import alerts, audit_log, vessel_history
from seawatch.cli import main
from tests.api.helpers import alerts_frame, auth, vessels_frame

V1 = "/api/v1"
ZONE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[107.0, 20.0], [108.0, 20.0], [108.0, 21.0], [107.0, 20.0]]]},
    "properties": {"name": "Bach Long Vi watch", "zone_kind": "watch"},
}


def test_every_change_is_in_the_audit_log_for_admins(client: TestClient, keys: dict[str, str]) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    store.upsert_alerts(alerts_frame(2))
    alert = alerts_frame(2)["alert_id"][0]
    analyst, admin = auth(keys["analyst"]), auth(keys["admin"])
    assert client.patch(f"{V1}/alerts/{alert}", json={"status": "dismissed", "reason": "duplicate", "note": "twice"},
                        headers=analyst).status_code == 200  # fmt: skip
    zone_id = client.post(f"{V1}/zones", json=ZONE, headers=admin).json()["id"]
    assert client.put(f"{V1}/zones/{zone_id}", json=ZONE, headers=admin).status_code == 200
    assert client.delete(f"{V1}/zones/{zone_id}", headers=admin).status_code == 204
    made = client.post(f"{V1}/keys", json={"name": "night shift", "role": "viewer"}, headers=admin).json()
    assert client.delete(f"{V1}/keys/{made['id']}", headers=admin).status_code == 204
    mute = {"pattern": "vessel", "kind": "encounter", "mmsi": 574000001, "reason": "bunkering barge",
            "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}  # fmt: skip
    mute_id = client.post(f"{V1}/mutes", json=mute, headers=analyst).json()["id"]
    assert client.delete(f"{V1}/mutes/{mute_id}", headers=analyst).status_code == 200
    assert client.delete(f"{V1}/mutes/{mute_id}", headers=analyst).status_code == 200  # already ended: no record
    store.withdraw_alerts([alert])  # the engine's withdrawal keeps the decision's record

    page = client.get(f"{V1}/audit", headers=admin)
    assert page.status_code == 200
    everything = page.json()["items"]
    items = everything[:8]
    assert [i["kind"] for i in items] == ["mute.end", "mute.create", "key.revoke", "key.create", "zone.delete",
                                          "zone.update", "zone.create", "triage"]  # fmt: skip
    # the fixture's three keys, made from the command line's side (no key made them)
    assert [(i["kind"], i["actor"], i["key_id"]) for i in everything[8:]] == [("key.create", "seawatch keys", None)] * 3
    triage = items[-1]
    assert triage["subject"] == alert and triage["actor"] == "analyst on duty" and triage["key_id"]
    assert triage["details"] == {"status": "dismissed", "reason": "duplicate", "note": "twice", "kind": "encounter",
                                 "mmsi": 574000001}  # fmt: skip
    assert items[4]["details"] == {"name": "Bach Long Vi watch", "zone_kind": "watch"}
    assert items[3]["subject"] == made["id"] and items[3]["details"]["role"] == "viewer"
    assert items[3]["actor"] == "admin on duty" and items[2]["subject"] == made["id"]
    assert items[1]["details"]["reason"] == "bunkering barge" and items[1]["subject"] == str(mute_id)
    assert client.get(f"{V1}/alerts/{alert}/history", headers=admin).json()["triage"][0]["status"] == "dismissed"

    # filters: kind, actor, key id, subject, time
    only = client.get(f"{V1}/audit", params={"kind": ["zone.create", "zone.delete"]}, headers=admin).json()["items"]
    assert [i["kind"] for i in only] == ["zone.delete", "zone.create"]
    by_analyst = client.get(f"{V1}/audit", params={"actor": "analyst on duty"}, headers=admin).json()["items"]
    assert {i["kind"] for i in by_analyst} == {"triage", "mute.create", "mute.end"}
    by_key = client.get(f"{V1}/audit", params={"key_id": triage["key_id"]}, headers=admin).json()["items"]
    assert len(by_key) == 3
    assert len(client.get(f"{V1}/audit", params={"subject": zone_id}, headers=admin).json()["items"]) == 3
    later = (datetime.fromisoformat(items[0]["at"]) + timedelta(seconds=1)).isoformat()
    assert client.get(f"{V1}/audit", params={"since": later}, headers=admin).json()["items"] == []
    assert len(client.get(f"{V1}/audit", params={"until": later}, headers=admin).json()["items"]) == 11
    assert client.get(f"{V1}/audit", params={"since": later, "until": items[0]["at"]}, headers=admin).status_code == 422

    # pages, newest first, through next_cursor
    seen, cursor = [], None
    while True:
        params = {"page_size": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{V1}/audit", params=params, headers=admin).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything]

    # admins only
    assert client.get(f"{V1}/audit", headers=analyst).status_code == 403
    assert client.get(f"{V1}/audit", headers=auth(keys["viewer"])).status_code == 403
    assert client.get(f"{V1}/audit").status_code == 401


def test_the_audit_log_refuses_updates_and_deletes(store: Store) -> None:
    store.add_key("abc", "k", "viewer", b"s", b"h", by="test")
    assert [r["kind"] for r in store.audit(AuditFilter())[0]] == ["key.create"]
    for stmt in (sa.update(audit_log).values(actor="someone else"), sa.delete(audit_log)):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(stmt)
    assert store.audit(AuditFilter())[0][0]["actor"] == "test"


def test_prune_deletes_what_is_past_retention_and_keeps_the_record(db_url: str) -> None:
    store = Store(db_url, alert_retention=timedelta(days=30), history_retention=timedelta(days=30),
                  track_retention=timedelta(days=7))  # fmt: skip
    try:
        old = alerts_frame(3)  # March 2025
        store.upsert_alerts(old)
        decided = old["alert_id"][0]
        store.triage(decided, "confirmed", "", "analyst", key_id="k1")
        store.upsert_vessels(vessels_frame(2))
        store.upsert_vessels(vessels_frame(2, name="NEW NAME"))  # identity changes: history rows
        store._last_prune = time.monotonic()  # add_track's own prune (every 10 min, at the wall clock) not now
        now = datetime.now(UTC)
        store.add_track(pl.DataFrame({"mmsi": [574000001] * 2, "t": [now, now + timedelta(days=40)],
                                      "lat": [20.0, 20.1], "lon": [107.0, 107.1]}))  # fmt: skip
        with store.engine.connect() as conn:
            history = conn.execute(sa.select(sa.func.count()).select_from(vessel_history)).scalar_one()
            conn.execute(sa.update(vessel_history).values(t=datetime.now(UTC) - timedelta(days=1)))
            conn.commit()
        assert history > 0
        head = store.alerts_head()

        later = datetime.now(UTC) + timedelta(days=45)  # alerts age by when they were stored, vessel history too
        assert store.prune(datetime.now(UTC))["alerts"] == 0  # from March 2025, but stored just now: kept
        done = store.prune(later)
        assert done == {"track_points": 1, "alerts": 2, "vessel_history": history, "watchlist_sightings": 0}
        assert store.alert(decided) is not None  # decided: a label, kept
        assert [store.alert(a) for a in old["alert_id"][1:]] == [None, None]
        assert len(store.triage_history(decided)) == 1 and store.audit(AuditFilter())[0][0]["kind"] == "triage"
        assert len(store.track(574000001)) == 1
        # revisions never go back: a live stream client past the pruned alerts sees what comes next
        store.upsert_alerts(alerts_frame(1, kind="loitering", mmsi0=574000009))
        assert store.alerts_since(head)[0][-1]["kind"] == "loitering"
        assert store.prune(later) == {"track_points": 0, "alerts": 1, "vessel_history": 0,
                                    "watchlist_sightings": 0}  # only that new one  # fmt: skip
    finally:
        store.close()


def test_the_app_prunes_periodically(db_url: str) -> None:
    settings = Settings(database_url=db_url, prune_every_s=0.1, alert_retention_days=30)
    with TestClient(create_app(settings)) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        store.upsert_alerts(alerts_frame(3))
        with store.engine.begin() as conn:  # as if the engine had stored them 40 days ago and not touched them since
            conn.execute(sa.update(alerts).values(updated_at=datetime.now(UTC) - timedelta(days=40)))
        deadline = time.monotonic() + 10
        while store.alerts_page(AlertFilter())[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.alerts_page(AlertFilter())[0] == []


def test_backup_copies_a_sqlite_store_while_it_is_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "seawatch.db"
    store = Store(f"sqlite:///{source}")
    try:
        store.upsert_alerts(alerts_frame(4))
        out = tmp_path / "backups" / "copy.db"
        assert store.backup(out) == out.stat().st_size > 0
        with pytest.raises(ValueError, match="exists"):
            store.backup(out)
    finally:
        store.close()
    copy = Store(f"sqlite:///{out}", migrate=False)
    try:
        assert copy.is_current() and len(copy.alerts_page(AlertFilter())[0]) == 4
    finally:
        copy.close()
    # the command: SEAWATCH_DATABASE_PATH names the store
    monkeypatch.setenv("SEAWATCH_DATABASE_PATH", str(source))
    assert main(["backup", str(tmp_path / "cli.db")]) == 0
    assert (tmp_path / "cli.db").stat().st_size > 0
    assert main(["backup", str(tmp_path / "cli.db")]) == 2  # never overwrites


def test_backup_of_postgresql_names_the_pg_dump_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SEAWATCH_DATABASE_URL", "postgresql+psycopg://watch:secret@db.example:5433/seawatch")
    assert main(["backup", "/tmp/seawatch.dump"]) == 2
    out = capsys.readouterr()
    assert out.out.strip() == ("pg_dump --format=custom --no-owner --file '/tmp/seawatch.dump' "
                               "'postgresql://watch@db.example:5433/seawatch'")  # fmt: skip
    assert "secret" not in out.out + out.err and "PGPASSWORD" in out.err
