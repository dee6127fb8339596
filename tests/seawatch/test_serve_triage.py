"""Learning from analysts through ``seawatch serve`` end to end: a real process on a loopback port with its SQLite
database, a feed replayed over TCP, triage and mutes through HTTP with keys of each role.

A dismissal changes its vessel's score and reasons within a scoring cycle; a mute made before new alerts of its
pattern arrive has them arrive muted (in the list and on the live stream) and out of the scores; viewers may do
neither.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from seawatch.serve_job import SCORE_SECONDS
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import position_line
from tests.seawatch.test_serve_job import SEAWATCH, Service, feed_server, message_count, split_feed

pytestmark = pytest.mark.skipif(not SEAWATCH.is_file(), reason=f"no {SEAWATCH}: install the package (pip -e .)")

ADMIN_KEY = "sw_admin_for_the_triage_test_0123456789abcdef"
# a decision reaches the scores at the next scoring: one cycle, plus the margin of a busy 2-core machine
WITHIN_S = 2 * SCORE_SECONDS + 20.0
TICKER = 574999001  # a vessel reporting after the replay, as a live feed goes on
SCORED_KINDS = ("ais_gap", "encounter", "loitering", "spoofing")  # kinds that move the smuggling score


def _key(svc: Service, role: str) -> str:
    r = httpx.post(f"{svc.url}/api/v1/keys", json={"name": f"{role} on duty", "role": role},
                   headers={"X-API-Key": ADMIN_KEY}, timeout=10)  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def _get(svc: Service, path: str, key: str, **params: Any) -> Any:
    r = httpx.get(svc.url + path, params=params, headers={"X-API-Key": key}, timeout=10)
    r.raise_for_status()
    return r.json()


def _vessel(svc: Service, mmsi: int, key: str) -> dict[str, Any]:
    return dict(_get(svc, f"/api/v1/vessels/{mmsi}", key))


def _follow(svc: Service, key: str, mmsi: int, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    """Collect the live stream's alert events about ``mmsi`` until ``stop`` (or the service stops: the stream then
    ends mid-message, which is no failure here)."""
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream("GET", f"{svc.url}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=60) as r,
    ):
        for line in r.iter_lines():
            if line.startswith("data:"):
                data = json.loads(line[5:])
                if data.get("mmsi") == mmsi or data.get("other_mmsi") == mmsi:
                    seen.append(data)
            if stop.is_set():
                return


def test_triage_and_mutes_through_a_served_api_reach_the_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:  # fmt: skip
    monkeypatch.setenv("SEAWATCH_ADMIN_KEY", ADMIN_KEY)
    scenario = simulate(SimConfig(hours=6, vessels=60, seed=11))
    first, second = split_feed(scenario.feed, (0.5,))
    # scenario seconds of the first half's last message (the tag blocks' c: times, in seconds)
    cut = max(int(t) for t in re.findall(rb"c:(\d+)", first[-4000:])) - scenario.cfg.epoch
    with feed_server() as server:
        svc = Service(tmp_path, server.port)
        try:
            svc.start()
            analyst, viewer = _key(svc, "analyst"), _key(svc, "viewer")
            server.wait_connections(1)
            server.send(first)
            svc.wait_drained(message_count(first))

            # a vessel whose smuggling score rests on one alert of a scored kind
            alerts = _get(svc, "/api/v1/alerts", viewer, page_size=500)["items"]
            by_vessel: dict[int, list[dict[str, Any]]] = {}
            for a in alerts:
                by_vessel.setdefault(a["mmsi"], []).append(a)

            def scored(a: dict[str, Any]) -> bool:
                row = httpx.get(f"{svc.url}/api/v1/vessels/{a['mmsi']}", headers={"X-API-Key": viewer}, timeout=10)
                return row.status_code == 200 and (row.json()["smuggling_score"] or 0) > 0

            lone = [v[0] for v in by_vessel.values() if len(v) == 1 and v[0]["kind"] in SCORED_KINDS]
            svc.wait(lambda: any(scored(a) for a in lone), WITHIN_S, "the first scores")
            alert = next(a for a in lone if scored(a))
            before = _vessel(svc, alert["mmsi"], viewer)

            # roles: a viewer (or no key, anonymous viewer here) may not triage; an analyst may
            dismissal = {"status": "dismissed", "reason": "legitimate_activity", "note": "bunkering at anchor"}
            url = f"{svc.url}/api/v1/alerts/{alert['alert_id']}"
            assert httpx.patch(url, json=dismissal, headers={"X-API-Key": viewer}, timeout=10).status_code == 403
            assert httpx.patch(url, json=dismissal, timeout=10).status_code == 403
            r = httpx.patch(url, json=dismissal, headers={"X-API-Key": analyst}, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "dismissed"

            def taken_off() -> bool:
                v = _vessel(svc, alert["mmsi"], viewer)
                return any("dismissed by analyst 'analyst on duty' at " in x for x in v["smuggling_reasons"] or [])

            svc.wait(taken_off, WITHIN_S, "the dismissal in the vessel's reasons", every=0.2)
            after = _vessel(svc, alert["mmsi"], viewer)
            assert after["smuggling_score"] < before["smuggling_score"]
            (said,) = [x for x in after["smuggling_reasons"] if "dismissed by analyst" in x]
            assert said.startswith("-") and said.endswith(": legitimate activity")
            history = _get(svc, f"/api/v1/vessels/{alert['mmsi']}/triage", viewer)["decisions"]
            assert [(d["alert_id"], d["status"], d["by"]) for d in history] == [
                (alert["alert_id"], "dismissed", "analyst on duty")]  # fmt: skip

            # a mute made before new alerts of its pattern arrive: a vessel and kind the first half did not alert
            # on, whose behaviour ends in the second half (a gap is alerted when the vessel reappears)
            early = {(a["mmsi"], a["kind"]) for a in alerts}
            # a gap first: it always carries smuggling points (a fishing boat's loitering may carry none)
            later = sorted(
                ((lb.kind != "ais_gap", lb.mmsi), lb.mmsi, lb.kind) for lb in scenario.labels
                if lb.kind in SCORED_KINDS and lb.end > cut + 600 and (lb.mmsi, lb.kind) not in early
            )  # fmt: skip
            assert later, "the scenario has alerts of scored kinds in its second half"
            _, mmsi, kind = later[0]
            mute = {"pattern": "vessel", "kind": kind, "mmsi": mmsi, "reason": "legitimate bunkering barge",
                    "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()}  # fmt: skip
            mutes = f"{svc.url}/api/v1/mutes"
            assert httpx.post(mutes, json=mute, headers={"X-API-Key": viewer}, timeout=10).status_code == 403
            made = httpx.post(mutes, json=mute, headers={"X-API-Key": analyst}, timeout=10)
            assert made.status_code == 201, made.text
            mute_id = made.json()["id"]

            seen: list[dict[str, Any]] = []
            stop = threading.Event()
            follower = threading.Thread(target=_follow, args=(svc, viewer, mmsi, seen, stop), daemon=True)
            follower.start()
            server.send(second)
            svc.wait_drained(message_count(first) + message_count(second))
            muted = [a for a in _get(svc, "/api/v1/alerts", viewer, mmsi=mmsi, muted="all")["items"]
                     if a["kind"] == kind]  # fmt: skip
            assert muted, f"no {kind} alert of {mmsi} in the second half"
            assert all(a["muted"] and a["mute_id"] == mute_id for a in muted)
            default = _get(svc, "/api/v1/alerts", viewer, mmsi=mmsi)["items"]
            assert kind not in {a["kind"] for a in default}, "muted alerts are left out of the default list"
            svc.wait(lambda: any(e["kind"] == kind for e in seen), 30.0, "the muted alert on the live stream")
            stop.set()
            assert all(e["muted"] and e["mute_id"] == mute_id for e in seen if e["kind"] == kind)

            def muted_out() -> bool:
                v = httpx.get(f"{svc.url}/api/v1/vessels/{mmsi}", headers={"X-API-Key": viewer}, timeout=10)
                reasons = (v.json()["smuggling_reasons"] or []) if v.status_code == 200 else []
                return any("muted by analyst 'analyst on duty' until " in x for x in reasons)

            # a live feed keeps talking: a micro-batch after the scoring interval has the second half scored (the
            # scorer re-scores a quiet feed only for new decisions and mutes, on the inputs it last had)
            ticks = iter(range(10**6))
            end_ms = int((scenario.cfg.epoch + scenario.cfg.hours * 3600) * 1000)

            def ticking_muted_out() -> bool:
                server.send(position_line(TICKER, 0, end_ms + 10_000 * next(ticks), lat=20.0, lon=108.0))
                return muted_out()

            svc.wait(ticking_muted_out, WITHIN_S, "the mute in the vessel's reasons", every=0.5)
            # its points leave the score: the reasons take them off, naming the mute
            taken = [x for x in _vessel(svc, mmsi, viewer)["smuggling_reasons"] if "muted by analyst" in x]
            assert taken and all(x.startswith("-") and x.endswith(": legitimate bunkering barge") for x in taken)
        finally:
            svc.close()
