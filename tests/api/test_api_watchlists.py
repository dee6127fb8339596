"""Watchlists through the API (issue 17, item 1): lists and entries kept by analysts and read by viewers, every
change audited; the scorer's matches stored on the vessels (``?watchlisted=true``, the vessel JSON, the dossier);
a listed vessel's first sighting as a ``watchlist`` event on the live stream, once. SQLite, and PostgreSQL when
SEAWATCH_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import open_store
from api.settings import Settings
from api.store import Store, tables
from api.store.tables import watchlist_sightings
from models.watchlist import match, with_watchlists
from tests.api.helpers import alerts_frame, auth, sse_events, vessels_frame

V1 = "/api/v1"


def listed_scoring(store: Store, vessels: pl.DataFrame) -> pl.DataFrame:
    """What the live scorer does with the lists each cycle (seawatch/serve_job.py ScoringSink): match the vessels
    against every entry, store the lists' names on the vessels and record the first sightings."""
    matches = match(vessels, store.watchlist_entries_frame())
    store.upsert_vessels(with_watchlists(vessels, matches))
    store.record_sightings(matches)
    return matches


def test_analysts_keep_lists_viewers_read_them_and_every_change_is_audited(client: TestClient,
                                                                           keys: dict[str, str]) -> None:  # fmt: skip
    analyst, viewer, admin = auth(keys["analyst"]), auth(keys["viewer"]), auth(keys["admin"])
    assert client.post(f"{V1}/watchlists", json={"name": "caught 2025"}, headers=viewer).status_code == 403
    made = client.post(f"{V1}/watchlists", json={"name": "caught 2025", "description": "Hai Phong, 2025"},
                       headers=analyst)  # fmt: skip
    assert made.status_code == 201, made.text
    wl = made.json()
    assert (wl["name"], wl["entries"], wl["created_by"]) == ("caught 2025", 0, "analyst on duty")
    again = client.post(f"{V1}/watchlists", json={"name": "caught 2025"}, headers=analyst)
    assert again.status_code == 422 and "exists" in again.text
    entry = {"mmsi": 574001234, "imo": 9123456, "name": "HẢI PHÒNG 05", "reason": "caught with 40 t diesel",
             "source": "BDBP Hai Phong"}  # fmt: skip
    added = client.post(f"{V1}/watchlists/{wl['id']}/entries", json=entry, headers=analyst)
    assert added.status_code == 201, added.text
    assert added.json() | {"added_at": None} == entry | {"id": added.json()["id"], "watchlist_id": wl["id"],
                                                         "callsign": None, "added_by": "analyst on duty",
                                                         "added_at": None}  # fmt: skip
    nothing = client.post(f"{V1}/watchlists/{wl['id']}/entries", json={"reason": "no idea"}, headers=analyst)
    assert nothing.status_code == 422 and "at least one of mmsi, imo, callsign or name" in nothing.text
    bad_imo = client.post(f"{V1}/watchlists/{wl['id']}/entries", json={"imo": 123}, headers=analyst)
    assert bad_imo.status_code == 422
    blank = client.post(f"{V1}/watchlists/{wl['id']}/entries", json={"callsign": "  ", "name": "\t"}, headers=analyst)
    assert blank.status_code == 422 and "names no vessel" in blank.text
    nul = client.post(f"{V1}/watchlists/{wl['id']}/entries", json={"name": "HAI\x00AU"}, headers=analyst)
    assert nul.status_code == 422 and "NUL" in nul.text
    described = client.get(f"{V1}/openapi.json").json()["paths"]
    assert {"/api/v1/watchlists", "/api/v1/watchlists/{list_id}/entries/{entry_id}"} <= set(described)
    assert "watchlisted" in {p["name"] for p in described["/api/v1/vessels"]["get"]["parameters"]}
    assert client.post(f"{V1}/watchlists/999/entries", json=entry, headers=analyst).status_code == 404
    # viewers read
    assert [w["entries"] for w in client.get(f"{V1}/watchlists", headers=viewer).json()["items"]] == [1]
    assert client.get(f"{V1}/watchlists/{wl['id']}", headers=viewer).json()["name"] == "caught 2025"
    listed = client.get(f"{V1}/watchlists/{wl['id']}/entries", headers=viewer).json()["items"]
    assert [e["name"] for e in listed] == ["HẢI PHÒNG 05"]
    assert client.delete(f"{V1}/watchlists/{wl['id']}/entries/{listed[0]['id']}", headers=viewer).status_code == 403
    assert client.delete(f"{V1}/watchlists/{wl['id']}/entries/{listed[0]['id']}", headers=analyst).status_code == 200
    assert client.delete(f"{V1}/watchlists/{wl['id']}/entries/{listed[0]['id']}", headers=analyst).status_code == 404
    assert client.delete(f"{V1}/watchlists/{wl['id']}", headers=analyst).json()["name"] == "caught 2025"
    assert client.get(f"{V1}/watchlists/{wl['id']}", headers=viewer).status_code == 404
    audit = client.get(f"{V1}/audit", params={"kind": ["watchlist.create", "watchlist.delete", "watchlist.entry.add",
                       "watchlist.entry.delete"]}, headers=admin).json()["items"]  # fmt: skip
    assert [(a["kind"], a["actor"]) for a in reversed(audit)] == [
        ("watchlist.create", "analyst on duty"), ("watchlist.entry.add", "analyst on duty"),
        ("watchlist.entry.delete", "analyst on duty"), ("watchlist.delete", "analyst on duty"),
    ]  # fmt: skip
    assert audit[1]["details"]["name"] == "HẢI PHÒNG 05" and audit[1]["details"]["imo"] == 9123456
    assert audit[0]["details"] == {"name": "caught 2025", "entries": 0}


def test_the_watchlisted_filter_the_vessel_json_and_the_dossier(client: TestClient, keys: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    viewer = auth(keys["viewer"])
    wl = store.create_watchlist("caught 2025", by="analyst on duty")
    store.add_entries(wl["id"], [{"imo": 9123456, "mmsi": 574001234, "reason": "caught with 40 t diesel"},
                                 {"name": "HẢI PHÒNG 05", "reason": "tip-off"}], by="analyst on duty")  # fmt: skip
    fleet = vessels_frame(4).with_columns(
        imo=pl.Series([None, 9123456, None, None], dtype=pl.Int64),
        name=pl.Series(["BINH MINH", "SEA STAR", "HAI PHONG 05", "HAI PHONG 06"]),
    )
    matches = listed_scoring(store, fleet)
    assert sorted(matches["mmsi"].to_list()) == [574000002, 574000003]
    page = client.get(f"{V1}/vessels", params={"watchlisted": "true"}, headers=viewer).json()
    assert sorted(v["mmsi"] for v in page["items"]) == [574000002, 574000003] and page["total"] == 2
    assert {v["mmsi"]: v["watchlists"] for v in page["items"]} == {574000002: ["caught 2025"],
                                                                  574000003: ["caught 2025"]}  # fmt: skip
    others = client.get(f"{V1}/vessels", params={"watchlisted": "false"}, headers=viewer).json()["items"]
    assert sorted(v["mmsi"] for v in others) == [574000001, 574000004]
    assert client.get(f"{V1}/vessels/574000001", headers=viewer).json()["watchlists"] is None
    dossier = client.get(f"{V1}/vessels/574000002/dossier", params={"format": "json"}, headers=viewer).json()
    (entry,) = dossier["watchlists"]["entries"]
    assert (entry["watchlist"], entry["matched_on"], entry["imo"]) == ("caught 2025", "IMO", 9123456)
    assert entry["said"].startswith("caught 2025: IMO 9123456 listed for caught with 40 t diesel under MMSI "
                                    "574001234; now MMSI 574000002 (added by analyst on duty on ")  # fmt: skip
    assert entry["first_matched"] is not None
    page_html = client.get(f"{V1}/vessels/574000003/dossier", headers=viewer).text
    assert "caught 2025: name &#x27;HẢI PHÒNG 05&#x27; listed for tip-off" in page_html
    quiet = client.get(f"{V1}/vessels/574000001/dossier", params={"format": "md"}, headers=viewer).text
    assert "No watchlist names this vessel" in quiet
    # an entry deleted: the next scoring takes the mark off
    store.delete_watchlist(wl["id"], by="analyst on duty")
    listed_scoring(store, fleet)
    assert client.get(f"{V1}/vessels", params={"watchlisted": "true"}, headers=viewer).json()["total"] == 0


def test_a_listed_vessel_first_matched_reaches_the_live_stream_once(live_api: tuple[str, Store, str]) -> None:
    base, store, key = live_api
    wl = store.create_watchlist("caught 2025", by="analyst on duty")
    store.add_entries(wl["id"], [{"imo": 9123456, "mmsi": 574001234, "reason": "caught with 40 t diesel"}],
                      by="analyst on duty")  # fmt: skip
    fleet = vessels_frame(2).with_columns(imo=pl.Series([9123456, None], dtype=pl.Int64))
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, listed_scoring, [store, fleet]).start()
        (event,) = sse_events(r.iter_lines(), 1)
    assert event["event"] == "watchlist"
    assert {k: event["data"][k] for k in ("mmsi", "watchlist", "matched_on")} == {
        "mmsi": 574000001, "watchlist": "caught 2025", "matched_on": "IMO"}  # fmt: skip
    assert "now MMSI 574000001" in event["data"]["detail"]
    # scored again: known already, nothing new on the stream; an alert after it still comes, in order
    assert store.record_sightings(match(fleet, store.watchlist_entries_frame())) == 0
    headers = {"X-API-Key": key, "Last-Event-ID": event["id"]}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [alerts_frame(1)]).start()
        (after,) = sse_events(r.iter_lines(), 1)
    assert after["event"] == "alert"


def test_sightings_of_vessels_no_longer_listed_are_pruned_past_retention(db_url: str) -> None:
    """SEAWATCH_SIGHTING_RETENTION_DAYS through the app's store: sightings recorded before the retention go when no
    scoring within it found their vessel listed (its entry deleted, or not heard since); a vessel still listed
    keeps its own (no second announcement), recent ones stay, and revisions never go back."""
    store = open_store(Settings(database_url=db_url, sighting_retention_days=30))
    try:
        assert store.sighting_retention == timedelta(days=30)
        wl = store.create_watchlist("caught 2025", by="test")
        entries = store.add_entries(wl["id"], [{"mmsi": 574000001 + i} for i in range(4)], by="test")
        vessels = vessels_frame(4)
        assert listed_scoring(store, vessels).height == 4
        store.delete_entry(wl["id"], entries[1]["id"], by="test")  # vessel 2 is no longer listed
        listed_scoring(store, vessels)
        now = datetime.now(UTC)
        s, v = watchlist_sightings.c, tables.vessels.c
        with store.engine.begin() as conn:  # recorded 40 days ago, vessel 3 last scored then (not heard since)
            conn.execute(sa.update(watchlist_sightings).where(s.mmsi != 574000004).values(at=now - timedelta(days=40)))
            conn.execute(sa.update(tables.vessels).where(v.mmsi == 574000003).values(updated_at=now - timedelta(40)))
        head = store.alerts_head()  # the sightings' revision, the latest
        first = store.prune(now)["watchlist_sightings"]
        assert first == (0 if store.dialect == "sqlite" else 2)  # SQLite's latest revision stays till a newer one
        store.upsert_alerts(alerts_frame(1))  # a newer revision than the sightings': not the one they had
        assert first + store.prune(now)["watchlist_sightings"] == 2
        with store.engine.connect() as conn:
            assert sorted(conn.execute(sa.select(s.mmsi)).scalars()) == [574000001, 574000004]
        matches = match(vessels, store.watchlist_entries_frame())  # vessel 3 heard again: announced anew, alone
        assert matches.height == 3 and store.record_sightings(matches) == 1
        store.upsert_alerts(alerts_frame(1, kind="loitering", mmsi0=574000009))
        kinds = [r.get("kind") for r in store.alerts_since(head)[0]]
        assert kinds[0] == "encounter" and kinds[-1] == "loitering"  # a client at the sightings' head misses nothing
    finally:
        store.close()
