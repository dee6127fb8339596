"""The live alert stream over a real server on loopback: upserts and triage show up as server-sent events."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import polars as pl

from api.store import Store
from tests.api.helpers import alerts_frame, sse_events


def test_new_and_triaged_alerts_reach_the_stream(live_api: tuple[str, Store, str]) -> None:
    base, store, key = live_api
    store.upsert_alerts(alerts_frame(1, mmsi0=111000001))  # before connecting: not replayed
    df = alerts_frame(2)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        threading.Timer(0.8, store.triage, [df["alert_id"][0], "escalated", "", "x"]).start()
        events = sse_events(r.iter_lines(), 3)
    assert [e["event"] for e in events] == ["alert"] * 3
    assert sorted(e["data"]["alert_id"] for e in events[:2]) == sorted(df["alert_id"].to_list())
    assert (events[2]["data"]["alert_id"], events[2]["data"]["status"]) == (df["alert_id"][0], "escalated")
    # resuming from an event id replays what came after it
    headers = {"X-API-Key": key, "Last-Event-ID": events[0]["id"]}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        again = sse_events(r.iter_lines(), 2)
    assert [e["id"] for e in again] == [e["id"] for e in events[1:]]


def test_muted_alerts_reach_the_stream_marked_muted(live_api: tuple[str, Store, str]) -> None:
    """The stream sends every alert; one a mute in force takes out comes with muted=true (clients dim it and
    notify nobody), the others with muted=false."""
    base, store, key = live_api
    mute = store.add_mute("vessel", kind="encounter", mmsi=574000001, reason="bunkering barge", by="le",
                          expires_at=datetime.now(UTC) + timedelta(days=7))  # fmt: skip
    df = alerts_frame(2)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        events = sse_events(r.iter_lines(), 2)
    got = {e["data"]["mmsi"]: (e["data"]["muted"], e["data"]["mute_id"]) for e in events}
    assert got == {574000001: (True, mute["id"]), 574000002: (False, None)}


def test_a_withdrawn_alert_reaches_the_stream_as_a_withdrawn_event(live_api: tuple[str, Store, str]) -> None:
    """The distress fast path withdraws an early alert proved wrong: clients following the stream hear of it."""
    base, store, key = live_api
    df = alerts_frame(2, kind="distress", score=90)
    wrong, right = df["alert_id"][0], df["alert_id"][1]
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        threading.Timer(0.8, store.withdraw_alerts, [[wrong]]).start()
        events = sse_events(r.iter_lines(), 3)
    assert [e["event"] for e in events] == ["alert", "alert", "withdrawn"]
    assert events[2]["data"] == {"alert_id": wrong}
    assert store.alert(wrong) is None and store.alert(right) is not None
    # a client resuming after the alerts hears of the withdrawal too
    headers = {"X-API-Key": key, "Last-Event-ID": events[1]["id"]}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        again = sse_events(r.iter_lines(), 1)
    assert again == [events[2]]


def test_writes_from_another_process_arrive_by_polling(live_api: tuple[str, Store, str], db_url: str) -> None:
    base, _, key = live_api
    other = Store(db_url)  # not the app's store: no in-process notification, only the poll sees it
    df = alerts_frame(1, kind="loitering", score=5)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, other.upsert_alerts, [df]).start()
        events = sse_events(r.iter_lines(), 1)
    other.close()
    assert events[0]["data"]["kind"] == "loitering"
    assert pl.Series([events[0]["data"]["alert_id"]]).equals(df["alert_id"])
