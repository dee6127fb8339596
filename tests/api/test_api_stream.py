"""The live alert stream over a real server on loopback: upserts and triage show up as server-sent events."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl
import pytest
import uvicorn

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from api.store import Store
from tests.api.helpers import alerts_frame


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(db_url: str) -> Iterator[tuple[str, Store, str]]:
    """(base URL, the store the server uses, a viewer key), the store shared as the stream runner shares it."""
    store = Store(db_url)
    key = create_key(store, "watch officer", "viewer")
    app = create_app(Settings(database_url=db_url, stream_poll_s=0.2, stream_ping_s=1), store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, key
    server.should_exit = True
    thread.join(10)
    store.close()


def _events(lines: Iterator[str], n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith("data:"):
            event["data"] = json.loads(line[5:])
        elif line.startswith("id:"):
            event["id"] = line[3:].strip()
        elif line.startswith("event:"):
            event["event"] = line[6:].strip()
        elif not line and "data" in event:
            out.append(event)
            event = {}
            if len(out) == n:
                break
    return out


def test_new_and_triaged_alerts_reach_the_stream(served: tuple[str, Store, str]) -> None:
    base, store, key = served
    store.upsert_alerts(alerts_frame(1, mmsi0=111000001))  # before connecting: not replayed
    df = alerts_frame(2)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        threading.Timer(0.8, store.triage, [df["alert_id"][0], "escalated", "", "x"]).start()
        events = _events(r.iter_lines(), 3)
    assert [e["event"] for e in events] == ["alert"] * 3
    assert sorted(e["data"]["alert_id"] for e in events[:2]) == sorted(df["alert_id"].to_list())
    assert (events[2]["data"]["alert_id"], events[2]["data"]["status"]) == (df["alert_id"][0], "escalated")
    # resuming from an event id replays what came after it
    headers = {"X-API-Key": key, "Last-Event-ID": events[0]["id"]}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        again = _events(r.iter_lines(), 2)
    assert [e["id"] for e in again] == [e["id"] for e in events[1:]]


def test_muted_alerts_reach_the_stream_marked_muted(served: tuple[str, Store, str]) -> None:
    """The stream sends every alert; one a mute in force takes out comes with muted=true (clients dim it and
    notify nobody), the others with muted=false."""
    base, store, key = served
    mute = store.add_mute("vessel", kind="encounter", mmsi=574000001, reason="bunkering barge", by="le",
                          expires_at=datetime.now(UTC) + timedelta(days=7))  # fmt: skip
    df = alerts_frame(2)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        events = _events(r.iter_lines(), 2)
    got = {e["data"]["mmsi"]: (e["data"]["muted"], e["data"]["mute_id"]) for e in events}
    assert got == {574000001: (True, mute["id"]), 574000002: (False, None)}


def test_a_withdrawn_alert_reaches_the_stream_as_a_withdrawn_event(served: tuple[str, Store, str]) -> None:
    """The distress fast path withdraws an early alert proved wrong: clients following the stream hear of it."""
    base, store, key = served
    df = alerts_frame(2, kind="distress", score=90)
    wrong, right = df["alert_id"][0], df["alert_id"][1]
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [df]).start()
        threading.Timer(0.8, store.withdraw_alerts, [[wrong]]).start()
        events = _events(r.iter_lines(), 3)
    assert [e["event"] for e in events] == ["alert", "alert", "withdrawn"]
    assert events[2]["data"] == {"alert_id": wrong}
    assert store.alert(wrong) is None and store.alert(right) is not None
    # a client resuming after the alerts hears of the withdrawal too
    headers = {"X-API-Key": key, "Last-Event-ID": events[1]["id"]}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        again = _events(r.iter_lines(), 1)
    assert again == [events[2]]


def test_writes_from_another_process_arrive_by_polling(served: tuple[str, Store, str], db_url: str) -> None:
    base, _, key = served
    other = Store(db_url)  # not the app's store: no in-process notification, only the poll sees it
    df = alerts_frame(1, kind="loitering", score=5)
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, other.upsert_alerts, [df]).start()
        events = _events(r.iter_lines(), 1)
    other.close()
    assert events[0]["data"]["kind"] == "loitering"
    assert pl.Series([events[0]["data"]["alert_id"]]).equals(df["alert_id"])
