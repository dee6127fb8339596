"""Watchlists through ``seawatch serve`` end to end: a real process on a loopback port with its SQLite database, a
feed over TCP with static reports (message 5: IMO, call sign, name) and positions, lists kept through HTTP.

A list made while the feed is quiet reaches the scores within a scoring cycle: a listed IMO heard under a new MMSI
and name, and a name typed with its Vietnamese accents heard without them, each get the reason on the smuggling
score, the watchlisted filter and one ``watchlist`` event on the live stream; an unlisted vessel none of them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyais
import pytest

from seawatch.serve_job import SCORE_SECONDS
from tests.engine.live import position_line
from tests.seawatch.test_serve_job import SEAWATCH, Service, feed_server, message_count

pytestmark = pytest.mark.skipif(not SEAWATCH.is_file(), reason=f"no {SEAWATCH}: install the package (pip -e .)")

ADMIN_KEY = "sw_admin_for_the_watchlist_test_0123456789ab"
WITHIN_S = 2 * SCORE_SECONDS + 20.0  # the next scoring, plus the margin of a busy 2-core machine
RENAMED, UNACCENTED, UNLISTED = 574009999, 574000002, 574000003


def static_lines(mmsi: int, imo: int, callsign: str, name: str, unix_ms: int) -> bytes:
    """A message 5 (static and voyage data) in its two sentences, each with the feed's tag block."""
    fields = {"msg_type": 5, "mmsi": mmsi, "ais_version": 0, "imo": imo, "callsign": callsign, "shipname": name,
              "ship_type": 30, "to_bow": 10, "to_stern": 10, "to_port": 3, "to_starboard": 3, "epfd": 1,
              "month": 1, "day": 1, "hour": 0, "minute": 0, "draught": 2.0, "destination": "HAI PHONG", "dte": 0}
    out = []
    for sentence in pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel="A"):
        body = f"s:TEST,c:{unix_ms}"
        cs = 0
        for c in body.encode("ascii"):
            cs ^= c
        out.append(f"\\{body}*{cs:02X}\\{sentence}\n")
    return "".join(out).encode("ascii")


def feed(now_ms: int) -> bytes:
    lines = [static_lines(RENAMED, 9123456, "3WAB", "SEA STAR", now_ms - 600_000),
             static_lines(UNACCENTED, 0, "XVHP5", "HAI PHONG 05", now_ms - 600_000),
             static_lines(UNLISTED, 0, "XVBM", "BINH MINH", now_ms - 600_000)]  # fmt: skip
    for k in range(10):
        for i, mmsi in enumerate((RENAMED, UNACCENTED, UNLISTED)):
            lines.append(position_line(mmsi, 0, now_ms - 540_000 + k * 60_000, lat=20.3 + i / 10, lon=107.6 + k / 200))
    return b"".join(lines)


def _follow(svc: Service, key: str, seen: list[tuple[str, dict[str, Any]]], stop: threading.Event) -> None:
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream("GET", f"{svc.url}/api/v1/alerts/stream", headers={"X-API-Key": key}, timeout=60) as r,
    ):
        event = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                seen.append((event, json.loads(line[5:])))
            if stop.is_set():
                return


def test_a_list_made_on_a_quiet_feed_reaches_scores_filter_and_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAWATCH_ADMIN_KEY", ADMIN_KEY)
    data = feed(int(time.time() * 1000))
    with feed_server() as server:
        svc = Service(tmp_path, server.port)
        try:
            svc.start()
            made = httpx.post(f"{svc.url}/api/v1/keys", json={"name": "analyst on duty", "role": "analyst"},
                              headers={"X-API-Key": ADMIN_KEY}, timeout=10)  # fmt: skip
            analyst = {"X-API-Key": made.json()["key"]}
            server.wait_connections(1)
            server.send(data)
            svc.wait_drained(message_count(data))

            def heard() -> bool:
                r = httpx.get(f"{svc.url}/api/v1/vessels", headers=analyst, timeout=10)
                return {v["mmsi"] for v in r.json()["items"]} >= {RENAMED, UNACCENTED, UNLISTED}

            svc.wait(heard, WITHIN_S, "the vessels scored", every=0.2)
            seen: list[tuple[str, dict[str, Any]]] = []
            stop = threading.Event()
            follower = threading.Thread(target=_follow, args=(svc, made.json()["key"], seen, stop), daemon=True)
            follower.start()
            time.sleep(0.5)  # the stream starts at the head: connected before the list is made

            wl = httpx.post(f"{svc.url}/api/v1/watchlists", json={"name": "caught 2025"}, headers=analyst, timeout=10)
            assert wl.status_code == 201, wl.text
            entries = f"{svc.url}/api/v1/watchlists/{wl.json()['id']}/entries"
            caught = {"mmsi": 574001234, "imo": 9123456, "name": "HẢI ĐĂNG 7", "reason": "caught with 40 t diesel"}
            for entry in (caught, {"name": "HẢI PHÒNG 05", "reason": "tip-off from Cat Ba"}):
                assert httpx.post(entries, json=entry, headers=analyst, timeout=10).status_code == 201

            def listed() -> set[int]:
                r = httpx.get(f"{svc.url}/api/v1/vessels", params={"watchlisted": "true"}, headers=analyst, timeout=10)
                return {v["mmsi"] for v in r.json()["items"]}

            svc.wait(lambda: listed() == {RENAMED, UNACCENTED}, WITHIN_S, "the listed vessels marked", every=0.2)
            renamed = httpx.get(f"{svc.url}/api/v1/vessels/{RENAMED}", headers=analyst, timeout=10).json()
            assert renamed["watchlists"] == ["caught 2025"]
            assert ("+20 on watchlist 'caught 2025': IMO 9123456 listed for caught with 40 t diesel as 'HẢI ĐĂNG 7' "
                    f"under MMSI 574001234; now MMSI {RENAMED} named 'SEA STAR'") in renamed["smuggling_reasons"]
            unaccented = httpx.get(f"{svc.url}/api/v1/vessels/{UNACCENTED}", headers=analyst, timeout=10).json()
            assert ("+20 on watchlist 'caught 2025': name 'HẢI PHÒNG 05' listed for tip-off from Cat Ba; now heard "
                    "as 'HAI PHONG 05'") in unaccented["smuggling_reasons"]
            quiet = httpx.get(f"{svc.url}/api/v1/vessels/{UNLISTED}", headers=analyst, timeout=10).json()
            assert quiet["watchlists"] is None
            assert not any("watchlist" in r for r in quiet["smuggling_reasons"] or [])

            svc.wait(lambda: len([e for e, _ in seen if e == "watchlist"]) >= 2, 30.0, "the sightings on the stream")
            stop.set()
            sightings = sorted((d["mmsi"], d["matched_on"]) for e, d in seen if e == "watchlist")
            assert sightings == [(UNACCENTED, "name"), (RENAMED, "IMO")]
        finally:
            svc.close()
