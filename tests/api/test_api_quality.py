"""Triage quality through the real app and store: precision per kind, zone and station over a window of decision
times, the raised bar of a noisy kind, /metrics, and who may read it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.store import Store
from api.store.base import utcnow
from api.store.tables import triage_decisions
from engine.alerts import ALERT_SCHEMA, alert_id
from tests.api.helpers import auth

V1 = "/api/v1"
HA_LONG = ["entered restricted zone Ha Long", "inside 2.0 h (40 positions)"]
CT01 = ["dark 5.0 h in good coverage (9 vessels heard nearby) after station CT01 came back at 10:00",
        "silent since 04:00; station CT01 heard 0 of its usual ~240 messages per 10 min, 04:00-10:00"]  # fmt: skip


def _alerts(kind: str, n: int, *, score: float = 50.0, reasons: list[str] | None = None, first: int = 0
            ) -> pl.DataFrame:  # fmt: skip
    """``n`` alerts of ``kind`` by vessels 574000001+first..., an hour apart, scores ``score``, ``score`` + 1, ..."""
    rows: list[dict[str, Any]] = []
    recent = utcnow().replace(microsecond=0) - timedelta(days=2)  # undecided alerts count while in the window
    for i in range(first, first + n):
        start = recent + timedelta(hours=i)
        rows.append(
            {
                "alert_id": alert_id(kind, 574000001 + i, None, int(start.timestamp() * 1e6)),
                "kind": kind,
                "mmsi": 574000001 + i,
                "other_mmsi": None,
                "start": start,
                "end": start + timedelta(hours=1),
                "lat": 20.0,
                "lon": 107.0,
                "score": score + (i - first),
                "reasons": reasons or [f"{kind} seen"],
            }
        )
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)  # fmt: skip


def _decide(store: Store, frame: pl.DataFrame, *statuses: str) -> None:
    for aid, status in zip(frame["alert_id"], statuses, strict=False):
        reason = "reception_problem" if status == "dismissed" else None
        store.triage(aid, status, "", "le", reason=reason, key_id=None)


def _quality(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"{V1}/quality", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_precision_per_kind_zone_and_station_with_the_window_respected(client: TestClient,
                                                                        keys: dict[str, str]) -> None:  # fmt: skip
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    spoofs = _alerts("spoofing", 6)
    zones = _alerts("zone_entry", 3, reasons=HA_LONG, first=10)
    gaps = _alerts("ais_gap", 2, reasons=CT01, first=20)
    for frame in (spoofs, zones, gaps):
        store.upsert_alerts(frame)
    _decide(store, spoofs, "confirmed", "dismissed", "dismissed", "escalated")  # 2 left undecided
    store.triage(spoofs["alert_id"][2], "dismissed", "", "le", reason="data_error")  # the latest decision counts
    _decide(store, zones, "confirmed", "dismissed")
    _decide(store, gaps, "dismissed")
    q = _quality(client, keys["viewer"])
    assert q["days"] == 30
    s = _by(q["kinds"], "kind")["spoofing"]
    assert (s["confirmed"], s["dismissed"], s["escalated"], s["undecided"]) == (1, 2, 1, 2)
    assert abs(s["precision"] - 1 / 3) < 1e-9 and s["raised_bar"] is None
    assert s["dismissal_reasons"] == [{"reason": "data_error", "n": 1}, {"reason": "reception_problem", "n": 1}]
    z = _by(q["zones"], "zone")["Ha Long"]
    assert (z["confirmed"], z["dismissed"], z["undecided"], z["precision"]) == (1, 1, 1, 0.5)
    ct = _by(q["stations"], "station")["CT01"]
    assert (ct["confirmed"], ct["dismissed"], ct["undecided"], ct["precision"]) == (0, 1, 1, 0.0)
    # decisions older than the window are not counted
    with store.engine.begin() as conn:
        conn.execute(sa.update(triage_decisions).where(triage_decisions.c.kind == "spoofing")
                     .values(at=utcnow() - timedelta(days=10)))  # fmt: skip
    old = _by(_quality(client, keys["viewer"], days=7)["kinds"], "kind")["spoofing"]
    assert (old["confirmed"], old["dismissed"], old["undecided"], old["precision"]) == (0, 0, 2, None)
    assert _by(_quality(client, keys["viewer"], days=14)["kinds"], "kind")["spoofing"]["dismissed"] == 2


def test_a_noisy_kind_shows_its_raised_bar_in_the_report_and_on_metrics(client: TestClient,
                                                                         keys: dict[str, str]) -> None:  # fmt: skip
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    spoofs = _alerts("spoofing", 12, score=60.0)  # scores 60..71
    store.upsert_alerts(spoofs)
    _decide(store, spoofs, *(["dismissed"] * 10 + ["confirmed"] * 2))  # dismissed 60..69: median 64.5
    s = _by(_quality(client, keys["viewer"])["kinds"], "kind")["spoofing"]
    assert s["raised_bar"] == {"threshold": 64.0, "said": "spoofing alerts count from score 64 up: analysts "
                               "dismissed 10 of 12 in the last 30 days"}  # fmt: skip
    text = client.get("/metrics").text
    assert 'seawatch_triage_precision{kind="spoofing"} 0.16666' in text
    assert 'seawatch_triage_alerts{kind="spoofing",status="dismissed"} 10.0' in text
    assert 'seawatch_triage_raised_bar{kind="spoofing"} 64.0' in text
    # confirmations come: precision rises above the setting and the bar falls
    more = _alerts("spoofing", 8, score=60.0, first=30)
    store.upsert_alerts(more)
    _decide(store, more, *(["confirmed"] * 8))
    assert _by(_quality(client, keys["viewer"])["kinds"], "kind")["spoofing"]["raised_bar"] is None
    assert 'seawatch_triage_raised_bar{kind="spoofing"} 0.0' in client.get("/metrics").text


def test_quality_needs_a_key_and_a_viewer_may_read_it(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get(f"{V1}/quality").status_code == 401
    q = _quality(client, keys["viewer"], days=7)
    assert (q["kinds"], q["zones"], q["stations"], q["days"], q["min_precision"]) == ([], [], [], 7, 0.3)
    assert client.get(f"{V1}/quality", params={"days": 0}, headers=auth(keys["viewer"])).status_code == 422


def test_the_bars_in_force_are_read_again_when_a_decision_comes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Kept between decisions (every triage answer and alert list asks for them), never past a new one."""
    from api.store import Store
    from models.quality import NoisyBar
    from tests.api.helpers import alerts_frame

    store = Store(f"sqlite:///{tmp_path / 'bars.db'}")
    try:
        frame = alerts_frame(12, kind="ais_gap", score=60.0)
        store.upsert_alerts(frame)
        bar = NoisyBar(min_precision=0.3, min_decisions=10)
        assert store.bars_in_force(bar).height == 0
        for alert_id in frame["alert_id"].to_list()[:11]:
            store.triage(alert_id, "dismissed", "", "le", reason="legitimate_activity", key_id="k1")
        assert store.bars_in_force(bar).height == 1  # the decisions moved: read again, not the cached none
    finally:
        store.close()
