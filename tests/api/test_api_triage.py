"""Learning from analysts through the real app and store: alerts under a raised bar say so (list, one alert, the
triage answer, a vessel's recent alerts, the live stream), a vessel's triage history, and who may triage or mute.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from api.store import Store
from tests.api.helpers import alerts_frame, auth, sse_events, vessels_frame

V1 = "/api/v1"
SPOOF_BAR = "spoofing alerts count from score 64 up: analysts dismissed 10 of 10 in the last 30 days"


def _noisy_spoofing(store: Store) -> None:
    """Ten spoofing alerts (scores 60-69, vessels 574100001...) dismissed: spoofing counts from score 64 up."""
    noisy = alerts_frame(10, kind="spoofing", score=60.0, mmsi0=574100001)
    store.upsert_alerts(noisy)
    for aid in noisy["alert_id"]:
        store.triage(aid, "dismissed", "", "le", reason="data_error", key_id=None)


def _spoof(mmsi: int, score: float, hour: int = 0) -> pl.DataFrame:
    frame = alerts_frame(1, kind="spoofing", score=score, mmsi0=mmsi)
    return frame.with_columns(pl.col("start") + timedelta(days=1, hours=hour), pl.col("end") + timedelta(days=1))


def _listed(client: TestClient, key: str, **params: Any) -> dict[int, dict[str, Any]]:
    r = client.get(f"{V1}/alerts", params={"page_size": 500, **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return {a["mmsi"]: a for a in r.json()["items"]}


def test_alerts_under_a_raised_bar_are_listed_with_below_bar_and_the_bars_words(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Under the bar (50): below_bar with the bar; over it (75), another kind, or confirmed by an analyst (the
    confirmation outweighs the bar, as in the scores): not. The same in one alert, the triage answer and the
    vessel's recent alerts."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    under, over, confirmed, gap = 574200001, 574200002, 574200003, 574200004
    for frame in (_spoof(under, 50.0), _spoof(over, 75.0, 1), _spoof(confirmed, 50.0, 2),
                  alerts_frame(1, kind="ais_gap", score=20.0, mmsi0=gap)):  # fmt: skip
        store.upsert_alerts(frame)
    before = _listed(client, keys["viewer"])
    assert before[under]["below_bar"] is False and before[under]["raised_bar"] is None  # no bar yet

    _noisy_spoofing(store)
    conf_id = _listed(client, keys["viewer"])[confirmed]["alert_id"]
    r = client.patch(f"{V1}/alerts/{conf_id}", json={"status": "confirmed"}, headers=auth(keys["analyst"]))
    assert r.status_code == 200 and r.json()["below_bar"] is False
    listed = _listed(client, keys["viewer"])
    assert listed[under]["below_bar"] is True
    with_confirmed = SPOOF_BAR.replace("10 of 10", "10 of 11")  # the confirmation is a decision of the kind too
    assert listed[under]["raised_bar"] == {"threshold": 64.0, "said": with_confirmed}
    assert [listed[m]["below_bar"] for m in (over, confirmed, gap)] == [False, False, False]
    # the dismissed ones stay listed where the analyst asks for them, with their bar
    dismissed = _listed(client, keys["viewer"], status="dismissed")
    assert dismissed[574100001]["below_bar"] is True and dismissed[574100009]["below_bar"] is False

    one = client.get(f"{V1}/alerts/{listed[under]['alert_id']}", headers=auth(keys["viewer"])).json()
    assert (one["below_bar"], one["raised_bar"]["said"]) == (True, with_confirmed)
    escalated = client.patch(f"{V1}/alerts/{one['alert_id']}", json={"status": "escalated"},
                             headers=auth(keys["analyst"])).json()  # fmt: skip
    assert (escalated["below_bar"], escalated["raised_bar"]) == (False, None)
    reopened = client.patch(f"{V1}/alerts/{one['alert_id']}", json={"status": "new"},
                            headers=auth(keys["analyst"])).json()  # fmt: skip
    assert reopened["below_bar"] is True

    store.upsert_vessels(vessels_frame(1, mmsi0=under))
    vessel = client.get(f"{V1}/vessels/{under}", headers=auth(keys["viewer"])).json()
    assert [(a["below_bar"], a["raised_bar"]["threshold"]) for a in vessel["recent_alerts"]] == [(True, 64.0)]


def test_bars_turned_off_mark_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'seawatch.db'}"
    with TestClient(create_app(Settings(environment="production", database_url=url, noisy_precision=0))) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        key = create_key(store, "watch", "viewer")
        store.upsert_alerts(_spoof(574200001, 50.0))
        _noisy_spoofing(store)
        assert _listed(client, key)[574200001]["below_bar"] is False


def test_a_vessels_triage_history_has_its_alerts_decisions_newest_first_and_its_mutes(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Decisions on the vessel's own alerts and on pairs' alerts naming it as the other vessel, newest first, with
    who, when, what and why; a withdrawn alert's decision too; the vessel and pair mutes naming it; nothing of
    other vessels."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    barge, tanker, other = 574300001, 574300101, 574300002
    pair = alerts_frame(1, kind="encounter", mmsi0=barge)  # barge with 574300101
    gap = alerts_frame(1, kind="ais_gap", mmsi0=tanker)
    distress = alerts_frame(1, kind="distress", score=90.0, mmsi0=tanker)
    elsewhere = alerts_frame(1, kind="loitering", mmsi0=other)
    for frame in (pair, gap, distress, elsewhere):
        store.upsert_alerts(frame)
    analyst = auth(keys["analyst"])
    steps = [(pair, {"status": "dismissed", "reason": "legitimate_activity", "note": "bunkering at anchor"}),
             (gap, {"status": "confirmed", "note": "seen on radar"}),
             (distress, {"status": "dismissed", "reason": "data_error"}),
             (elsewhere, {"status": "confirmed"})]  # fmt: skip
    for frame, body in steps:
        r = client.patch(f"{V1}/alerts/{frame['alert_id'][0]}", json=body, headers=analyst)
        assert r.status_code == 200, r.text
        time.sleep(0.002)  # distinct decision times, whatever the clock's resolution
    store.withdraw_alerts([distress["alert_id"][0]])
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    mute = client.post(f"{V1}/mutes", headers=analyst, json={
        "pattern": "pair", "mmsi": barge, "other_mmsi": tanker, "reason": "legitimate bunkering barge",
        "expires_at": expires}).json()  # fmt: skip
    client.post(f"{V1}/mutes", headers=analyst, json={"pattern": "vessel", "kind": "loitering", "mmsi": other,
                                                       "reason": "fishing", "expires_at": expires})  # fmt: skip

    r = client.get(f"{V1}/vessels/{tanker}/triage", headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mmsi"] == tanker
    got = [(d["alert_id"], d["kind"], d["status"], d["reason"], d["note"], d["by"]) for d in body["decisions"]]
    assert got == [
        (distress["alert_id"][0], "distress", "dismissed", "data_error", "", "analyst on duty"),
        (gap["alert_id"][0], "ais_gap", "confirmed", None, "seen on radar", "analyst on duty"),
        (pair["alert_id"][0], "encounter", "dismissed", "legitimate_activity", "bunkering at anchor",
         "analyst on duty"),
    ]  # fmt: skip
    assert all(d["key_id"] and d["at"] for d in body["decisions"])
    assert [(m["id"], m["state"]) for m in body["mutes"]] == [(mute["id"], "in_force")]
    latest = client.get(f"{V1}/vessels/{tanker}/triage", params={"limit": 1}, headers=auth(keys["viewer"])).json()
    assert [d["kind"] for d in latest["decisions"]] == ["distress"]
    # a vessel nobody decided anything about, in the risk table or not
    assert client.get(f"{V1}/vessels/574399999/triage", headers=auth(keys["viewer"])).json() == {
        "mmsi": 574399999, "decisions": [], "mutes": []}  # fmt: skip
    assert client.get(f"{V1}/vessels/{tanker}/triage").status_code == 401
    assert client.get(f"{V1}/vessels/{tanker}/triage", params={"limit": 0}, headers=analyst).status_code == 422


def test_viewers_cannot_triage_or_mute_analysts_can(client: TestClient, keys: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    frame = alerts_frame(1, kind="encounter")
    store.upsert_alerts(frame)
    aid = frame["alert_id"][0]
    mute = {"pattern": "vessel", "kind": "encounter", "mmsi": 574000001, "reason": "barge",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}  # fmt: skip
    dismiss = {"status": "dismissed", "reason": "legitimate_activity"}
    viewer, analyst = auth(keys["viewer"]), auth(keys["analyst"])
    assert client.patch(f"{V1}/alerts/{aid}", json=dismiss, headers=viewer).status_code == 403
    assert client.post(f"{V1}/mutes", json=mute, headers=viewer).status_code == 403
    assert store.triage_history(aid) == [] and store.mutes_list() == []
    assert client.patch(f"{V1}/alerts/{aid}", json=dismiss, headers=analyst).status_code == 200
    made = client.post(f"{V1}/mutes", json=mute, headers=analyst)
    assert made.status_code == 201
    assert client.delete(f"{V1}/mutes/{made.json()['id']}", headers=viewer).status_code == 403


# ------------------------------------------------------------------------------------------------ the live stream
def test_alerts_under_a_raised_bar_reach_the_stream_marked_below_bar(live_api: tuple[str, Store, str]) -> None:
    """The stream sends every alert; one under a raised bar comes with below_bar and the bar (clients list it and
    notify nobody), the others without."""
    base, store, key = live_api
    _noisy_spoofing(store)
    fresh = pl.concat([_spoof(574200001, 50.0), _spoof(574200002, 75.0, 1)])
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=10) as r:
        threading.Timer(0.3, store.upsert_alerts, [fresh]).start()
        events = [e["data"] for e in sse_events(r.iter_lines(), 2)]
    got = {e["mmsi"]: (e["below_bar"], (e["raised_bar"] or {}).get("said")) for e in events}
    assert got == {574200001: (True, SPOOF_BAR), 574200002: (False, None)}
