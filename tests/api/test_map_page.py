"""The analysts' map page in a real browser: the app under uvicorn on loopback, headless Chromium driven over the
Chrome DevTools Protocol (plain websockets, no Selenium or Playwright).

Checks what an analyst relies on: the page loads with no console error and no request leaving 127.0.0.1 (it must
work offline), vessels are drawn by band, a click on a vessel opens its panel with its reasons and track, and an
alert written to the store appears in the list without a reload. Screenshots go to a temporary folder and to
/tmp/seawatch_map.png. Skipped when Chromium is not installed or ``api/web/build.sh`` has not been run.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.map import STATIC_DIR
from api.settings import Settings
from engine.alerts import ALERT_SCHEMA, alert_id
from engine.geo.land import LandIndex
from models.schema import VESSEL_SCHEMA, band_of

websockets_sync = pytest.importorskip("websockets.sync.client")
uvicorn = pytest.importorskip("uvicorn")

SCREENSHOT = Path("/tmp/seawatch_map.png")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
VENDOR = STATIC_DIR / "vendor" / "leaflet" / "leaflet.js"
NOW = datetime.now(UTC).replace(microsecond=0)
SUSPECT = 574123456  # the tanker the test clicks
PARTNER = 412345678
STATIONS = [  # one station up, one in outage (the shape of engine.detectors.stations.station_report)
    {"station": "HP01", "last_heard": NOW, "usual_per_10min": 240.0, "current_per_10min": 236, "down": False,
     "outages_24h": 0, "outages": []},
    {"station": "CT01", "last_heard": NOW - timedelta(minutes=70), "usual_per_10min": 559.0, "current_per_10min": 0,
     "down": True, "outages_24h": 1, "outages": [{"start": NOW - timedelta(minutes=70), "end": None,
                                                  "usual_per_10min": 559.0, "heard": 0}]},
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ seeded store
def _at_sea(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    land = LandIndex.load()
    lat = rng.uniform(17.6, 21.5, 8 * n)
    lon = rng.uniform(106.2, 109.4, 8 * n)
    sea = land.coast_km(lat, lon) > 3.0
    return lat[sea][:n], lon[sea][:n]


def _vessels(rng: np.random.Generator, n: int = 80) -> pl.DataFrame:
    lat, lon = _at_sea(rng, n)
    rows: list[dict[str, Any]] = []
    prefixes = ["HP", "QN", "TB", "ND", "TH", "NA", "BEIHAIYU", "QIONGDANYU"]
    for i in range(n):
        fishing = i % 3 != 0
        smug = float(np.clip(rng.gamma(1.6, 12.0), 0, 100))
        fire = float(np.clip(rng.gamma(1.2, 8.0), 0, 100))
        mid = 574 if i % 4 else 412
        rows.append(
            {
                "mmsi": mid * 1_000_000 + 100_000 + i,
                "name": f"{prefixes[i % len(prefixes)]} {9_0000 + 37 * i} TS" if fishing else f"TAN CANG {i:02d}",
                "flag": "VN" if mid == 574 else "CN",
                "ship_type": 30 if fishing else 70,
                "lat": float(lat[i]),
                "lon": float(lon[i]),
                "last_seen": NOW - timedelta(minutes=int(rng.integers(1, 90))),
                "smuggling_score": smug,
                "fire_score": fire,
                "reasons": [f"smuggling +{smug:.0f} loitering 3.1 h at 1.2 kn, 40 km from shore"] if smug > 20 else [],
                "smuggling_reasons": [f"+{smug:.0f} loitering 3.1 h at 1.2 kn, 40 km from shore"] if smug > 20 else [],
                "fire_reasons": [],
            }
        )
    rows.append(
        {
            "mmsi": SUSPECT,
            "name": "HAI LINH 09",
            "flag": "VN",
            "callsign": "3WKL9",
            "imo": 9612345,
            "ship_type": 81,
            "lat": 20.15,
            "lon": 107.95,
            "last_seen": NOW - timedelta(minutes=4),
            "smuggling_score": 88.0,
            "fire_score": 71.0,
            "reasons": ["smuggling +28 ship-to-ship transfer 2.6 h with 412345678 at night"],
            "smuggling_reasons": [
                "+28 ship-to-ship transfer 2.6 h with 412345678, 38 km from Hai Phong, at night",
                "+22 AIS off 7.2 h in good coverage; reappeared 41 km away",
                "+14 draught up 1.4 m at sea, no port call",
            ],
            "fire_reasons": ["+35 tanker with hazard A cargo alongside another vessel for 2.6 h"],
        }
    )
    df = pl.DataFrame(rows, schema_overrides={k: v for k, v in VESSEL_SCHEMA.items() if k != "alerts"})
    return df.with_columns(
        pl.col("smuggling_score").map_elements(band_of, pl.String).alias("smuggling_band"),
        pl.col("fire_score").map_elements(band_of, pl.String).alias("fire_band"),
        pl.max_horizontal("smuggling_score", "fire_score").map_elements(band_of, pl.String).alias("band"),
        pl.col("last_seen").alias("first_seen"),
    )


def _alert(kind: str, mmsi: int, other: int | None, start: datetime, score: float, reason: str, lat: float, lon: float):
    us = int(start.timestamp() * 1_000_000)
    return {
        "alert_id": alert_id(kind, mmsi, other, us),
        "kind": kind,
        "mmsi": mmsi,
        "other_mmsi": other,
        "start": start,
        "end": start + timedelta(hours=2),
        "lat": lat,
        "lon": lon,
        "score": score,
        "reasons": [reason],
    }


def _alerts(vessels: pl.DataFrame) -> pl.DataFrame:
    rows = [
        _alert("encounter", SUSPECT, PARTNER, NOW - timedelta(hours=5), 82.0,
               "ship-to-ship transfer 2.6 h with 412345678, 0.2 km apart at 0.4 kn", 20.12, 107.9),
        _alert("ais_gap", SUSPECT, None, NOW - timedelta(hours=14), 64.0,
               "dark 7.2 h in good coverage; reappeared 41 km away", 20.4, 107.4),
    ]  # fmt: skip
    kinds = ["loitering", "zone_entry", "border_crossing", "identity_change", "draught_change", "spoofing"]
    for i, v in enumerate(vessels.filter(pl.col("mmsi") != SUSPECT).head(12).iter_rows(named=True)):
        rows.append(
            _alert(
                kinds[i % len(kinds)],
                v["mmsi"],
                None,
                NOW - timedelta(hours=1 + 1.5 * i),
                15.0 + 6 * i,
                f"{kinds[i % len(kinds)].replace('_', ' ')} near {v['lat']:.2f} N {v['lon']:.2f} E",
                v["lat"],
                v["lon"],
            )  # fmt: skip
        )
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)


def _track() -> pl.DataFrame:
    # from the Lach Huyen approaches out to the transfer spot, one point every 10 minutes over 12 hours
    n = 73
    f = np.linspace(0.0, 1.0, n)
    return pl.DataFrame(
        {
            "mmsi": [SUSPECT] * n,
            "t": [NOW - timedelta(hours=12) + timedelta(minutes=10 * k) for k in range(n)],
            "lat": 20.7 - 0.55 * f + 0.05 * np.sin(6 * f),
            "lon": 107.05 + 0.9 * f,
            "sog": np.full(n, 6.5),
            "cog": np.full(n, 120.0),
        }
    )


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    from api.app import create_app
    from api.keys import create_key
    from api.settings import Settings
    from api.store import Store

    folder = Path(tempfile.mkdtemp(prefix="seawatch-map-"))
    store = Store(f"sqlite:///{folder / 'seawatch.db'}")
    vessels = _vessels(np.random.default_rng(3))
    store.upsert_vessels(vessels)
    store.upsert_alerts(_alerts(vessels))
    store.add_track(_track())
    key = create_key(store, "map test", "analyst")

    # with the map page; the pack's example zones drawn, as the demo draws them
    app = create_app(Settings(environment="development", stream_poll_s=0.5, examples=True), store=store,
                     stations=lambda: STATIONS)  # as the live engine's station monitor publishes them
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "key": key, "store": store, "vessels": vessels, "folder": folder}
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the browser
class Page:
    """One Chromium tab over CDP: commands wait for their reply; events are kept for the checks."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait(self, expression: str, timeout: float = 20.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what or expression}")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, *paths: Path) -> None:
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        for p in paths:
            p.write_bytes(data)

    def drain(self) -> None:
        """Read the events that arrived while no command was waiting."""
        with contextlib.suppress(TimeoutError):
            while True:
                self.events.append(json.loads(self.ws.recv(timeout=0.2)))

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Callable[[], Page]]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    if not VENDOR.is_file():
        pytest.skip("the page's libraries are not built: run api/web/build.sh")
    profile = Path(tempfile.mkdtemp(prefix="seawatch-chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
         "--window-size=1400,900", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stack = contextlib.ExitStack()
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.skip(f"Chromium ({CHROMIUM}) did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])

        def new_page() -> Page:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
            with urllib.request.urlopen(req, timeout=10) as resp:
                target = json.load(resp)
            ws_url = target["webSocketDebuggerUrl"]
            page = Page(stack.enter_context(websockets_sync.connect(ws_url, max_size=64 * 2**20, open_timeout=10)))
            for domain in ("Page", "Runtime", "Network", "Log"):
                page.send(f"{domain}.enable")
            page.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
            return page

        yield new_page
    finally:
        stack.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the checks
def _open(browser: Callable[[], Page], served: dict[str, Any]) -> Page:
    page = browser()
    page.send("Page.navigate", {"url": f"{served['url']}/?key={served['key']}"})
    page.wait("document.body && document.body.dataset.ready === '1'", what="the page to load its data")
    page.wait("document.body.dataset.live === '1'", what="the live alert stream to connect")
    page.wait("document.querySelectorAll('.leaflet-land-pane path').length > 0", what="land")
    return page


def test_map_page_end_to_end(browser, served, tmp_path):
    page = _open(browser, served)
    n_vessels = served["vessels"].height

    # vessels drawn, one marker each, coloured by band
    drawn = page.wait(f"document.querySelectorAll('path.vessel').length === {n_vessels}", what="every vessel")
    assert drawn
    bands = page.js("[...new Set([...document.querySelectorAll('path.vessel')].map(p => "
                    "[...p.classList].find(c => c.startsWith('band-'))))].sort()")  # fmt: skip
    assert set(bands) >= {"band-low", "band-medium", "band-critical"}
    assert page.js("document.querySelector('path.vessel.band-critical').getAttribute('fill')") == "#d11f2b"
    # land from the GLOBE mask, zones and the boundary from the region pack
    assert page.js("document.querySelectorAll('.leaflet-land-pane path').length") >= 1
    assert page.js("document.querySelectorAll('.leaflet-zones-pane path').length") >= 9
    # the receiving stations, the one in outage marked: its vessels' silence is reception
    page.wait("document.querySelectorAll('#station-list li').length === 2", what="the stations")
    assert page.js("document.querySelector('#station-list li.down').dataset.station") == "CT01"
    assert "down since" in page.js("document.querySelector('#station-list li.down').innerText")
    assert page.js("document.getElementById('stations-note').textContent") == "1 down"
    # the alert list, newest first, with the key taken from the URL and kept out of the address bar
    assert int(page.js("document.querySelectorAll('#alert-list li.alert').length")) == 14
    assert page.js("location.search") == ""
    assert page.js("localStorage.getItem('seawatch.apiKey')") == served["key"]

    # a click on the suspect tanker opens its panel with identity, both scores, reasons and the track
    rect = page.js(
        f"(() => {{ const r = document.querySelector('path.vessel[data-mmsi=\"{SUSPECT}\"]')"
        ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.click(*rect)
    opened = "!document.getElementById('vessel').hidden && document.getElementById('vessel-body').textContent"
    page.wait(f"{opened}.includes('HAI LINH 09')", what="the vessel panel")
    panel = page.js("document.getElementById('vessel-body').innerText")
    assert "ship-to-ship transfer 2.6 h with 412345678" in panel
    assert "hazard A cargo alongside" in panel
    assert "88" in page.js("document.querySelector('[data-score=smuggling]').innerText")
    assert "71" in page.js("document.querySelector('[data-score=fire]').innerText")
    page.wait("document.querySelectorAll('.leaflet-track-pane path.track').length === 1", what="the track")

    # an alert written to the store appears in the list without a reload
    page.js("window.__notReloaded = true")
    fresh = _alert("encounter", 574100004, PARTNER, NOW - timedelta(minutes=3), 77.0,
                   "two vessels 0.3 km apart at 0.5 kn for 2.1 h, 55 km off Co To", 20.9, 108.2)  # fmt: skip
    served["store"].upsert_alerts(pl.DataFrame([fresh], schema=ALERT_SCHEMA))
    page.wait(f"document.querySelector('li.alert[data-alert-id=\"{fresh['alert_id']}\"]') !== null",
              timeout=15, what="the live alert")  # fmt: skip
    assert page.js("window.__notReloaded") is True
    assert page.js("document.querySelector('#alert-list li.alert').dataset.alertId") == fresh["alert_id"]

    time.sleep(0.5)  # let the fit-to-track animation settle before the picture
    page.screenshot(tmp_path / "map.png", SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 20_000

    # an alert withdrawn (an early distress alert proved wrong) leaves the list without a reload
    served["store"].withdraw_alerts([fresh["alert_id"]])
    page.wait(f"document.querySelector('li.alert[data-alert-id=\"{fresh['alert_id']}\"]') === null",
              timeout=15, what="the withdrawn alert gone")  # fmt: skip
    assert page.js("window.__notReloaded") is True

    page.drain()
    assert page.console_errors() == []
    urls = page.requested_urls()
    assert any(u.endswith("/static/vendor/leaflet/leaflet.js") for u in urls)
    outside = [u for u in urls if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname != "127.0.0.1"]
    assert outside == [], f"requests leaving 127.0.0.1: {outside}"


def test_filters_and_triage(browser, served):
    page = _open(browser, served)
    critical = int(page.js("document.querySelectorAll('path.vessel.band-critical').length"))
    # only the critical band
    page.js("for (const b of ['low', 'medium', 'high']) document.querySelector(`input[name=band][value=${b}]`).click()")
    page.wait(f"document.querySelectorAll('path.vessel').length === {critical}", what="the band filter")
    # alerts of one kind
    page.js("const s = document.querySelector('select[name=kind]'); s.value = 'ais_gap';"
            "s.dispatchEvent(new Event('change', {bubbles: true}))")  # fmt: skip
    page.wait("[...document.querySelectorAll('#alert-list li.alert')].every(li => li.dataset.kind === 'ais_gap')"
              " && document.querySelectorAll('#alert-list li.alert').length === 1", what="the kind filter")  # fmt: skip
    # triage: confirming takes the alert out of the list of new alerts, and the store records who did it
    alert = page.js("document.querySelector('#alert-list li.alert').dataset.alertId")
    page.js("document.querySelector('#alert-list li.alert').click()")
    page.wait("document.querySelector('#alert-list li.alert.selected') !== null", what="the selected alert")
    page.js("document.querySelector('#alert-list li.alert.selected button[data-status=confirmed]').click()")
    page.wait(f"document.querySelector('li.alert[data-alert-id=\"{alert}\"]') === null", what="triage")
    assert served["store"].alert(alert)["status"] == "confirmed"
    assert served["store"].triage_history(alert)[-1]["by"] == "map test"
    # a dismissal asks why, and sends the reason and the note with it
    page.js("{ const k = document.querySelector('select[name=kind]'); k.value = '';"
            "k.dispatchEvent(new Event('change', {bubbles: true})) }")  # fmt: skip
    page.wait("document.querySelectorAll('#alert-list li.alert').length > 1", what="every kind again")
    other = page.js("document.querySelector('#alert-list li.alert').dataset.alertId")
    page.js("document.querySelector('#alert-list li.alert button[data-status=dismissed]').click()")
    page.wait("document.querySelector('#alert-list li.alert form.dismiss select[name=reason]') !== null",
              what="the dismissal's reason picker")  # fmt: skip
    page.js("{ const f = document.querySelector('#alert-list li.alert form.dismiss');"
            "f.querySelector('select').value = 'reception_problem'; f.querySelector('input').value = 'CT01 was down';"
            "f.querySelector('button[type=submit]').click() }")  # fmt: skip
    page.wait(f"document.querySelector('li.alert[data-alert-id=\"{other}\"]') === null", what="the dismissal")
    decided = served["store"].triage_history(other)[-1]
    said = (decided["status"], decided["reason"], decided["note"])
    assert said == ("dismissed", "reception_problem", "CT01 was down")
    page.drain()
    assert page.console_errors() == []


def test_mute_from_an_alert(browser, served):
    """The mute action on an alert mutes its vessel's alerts of its kind for a week with the reason typed; they
    leave the list, and come back dimmed when muted alerts are asked to be shown."""
    store = served["store"]
    page = _open(browser, served)
    page.wait("document.querySelectorAll('#alert-list li.alert').length > 1", what="the new alerts")
    first = page.js("(() => { const li = document.querySelector('#alert-list li.alert');"
                    "return [li.dataset.alertId, li.dataset.kind]; })()")  # fmt: skip
    alert, kind = first
    mmsi = store.alert(alert)["mmsi"]
    page.js("document.querySelector('#alert-list li.alert').click()")
    page.js("document.querySelector('#alert-list li.alert.selected button.mute').click()")
    page.wait("document.querySelector('#alert-list li.alert form.mute input[name=reason]') !== null",
              what="the mute's reason box")  # fmt: skip
    assert page.js("document.querySelector('#alert-list li.alert form.mute input[name=days]').value") == "7"
    page.js("{ const f = document.querySelector('#alert-list li.alert form.mute');"
            "f.querySelector('input[name=reason]').value = 'legitimate bunkering barge';"
            "f.querySelector('button[type=submit]').click() }")  # fmt: skip
    page.wait(f"document.querySelector('li.alert[data-alert-id=\"{alert}\"]') === null", what="the muted alert gone")
    try:
        (m,) = store.mutes_list()
        assert (m["pattern"], m["kind"], m["mmsi"], m["by"]) == ("vessel", kind, mmsi, "map test")
        assert m["reason"] == "legitimate bunkering barge"
        week = m["expires_at"] - m["created_at"]
        assert timedelta(days=6, hours=23) < week <= timedelta(days=7)
        # shown dimmed on request
        page.js("{ const s = document.querySelector('select[name=muted]'); s.value = 'all';"
                "s.dispatchEvent(new Event('change', {bubbles: true})) }")  # fmt: skip
        page.wait(f"document.querySelector('li.alert.muted[data-alert-id=\"{alert}\"]') !== null",
                  what="the muted alert shown dimmed")  # fmt: skip
        opacity = page.js(f"getComputedStyle(document.querySelector('li.alert[data-alert-id=\"{alert}\"]')).opacity")
        assert float(opacity) < 1
        page.drain()
        assert page.console_errors() == []
    finally:
        for mute in store.mutes_list():  # the module's other tests see every alert again
            store.end_mute(mute["id"], "map test")


def test_triage_and_mute_from_the_vessel_panel_with_its_triage_history(browser, served):
    """The vessel panel's alerts carry the alert list's actions: a dismissal there asks why, an escalation and a
    mute go through, and the panel's triage history shows each (who, when, what, why) as the store recorded it."""
    store = served["store"]
    page = _open(browser, served)
    rect = page.js(
        f"(() => {{ const r = document.querySelector('path.vessel[data-mmsi=\"{SUSPECT}\"]')"
        ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.click(*rect)
    page.wait("document.querySelectorAll('#vessel-body li.vessel-alert').length === 2", what="the panel's alerts")
    encounter = page.js("document.querySelector('#vessel-body li.vessel-alert[data-kind=encounter]').dataset.alertId")
    gap = page.js("document.querySelector('#vessel-body li.vessel-alert[data-kind=ais_gap]').dataset.alertId")
    in_panel = "document.querySelector('#vessel-body li.vessel-alert[data-kind={}]')"
    try:
        # dismiss, with a reason and a note
        page.js(f"{in_panel.format('encounter')}.click()")
        page.js(f"{in_panel.format('encounter')}.querySelector('button[data-status=dismissed]').click()")
        page.wait(f"{in_panel.format('encounter')}.querySelector('form.dismiss select') !== null", what="the picker")
        page.js(f"{{ const f = {in_panel.format('encounter')}.querySelector('form.dismiss');"
                "f.querySelector('select').value = 'legitimate_activity';"
                "f.querySelector('input').value = 'bunkering at the anchorage';"
                "f.querySelector('button[type=submit]').click() }")  # fmt: skip
        dismissed = f'#vessel-triage li[data-alert-id="{encounter}"][data-status=dismissed]'
        page.wait(f"document.querySelector('{dismissed}') !== null", what="the dismissal in the triage history")
        said = page.js(f"document.querySelector('{dismissed}').innerText")
        assert "map test dismissed Encounter" in said and f"({SUSPECT} & {PARTNER})" in said
        assert "legitimate activity" in said and "bunkering at the anchorage" in said
        last = store.triage_history(encounter)[-1]
        assert (last["status"], last["reason"], last["by"]) == ("dismissed", "legitimate_activity", "map test")
        assert page.js(f"{in_panel.format('encounter')}.querySelector('.status').textContent") == "dismissed"
        # escalate the gap
        page.js(f"{in_panel.format('ais_gap')}.click()")
        page.js(f"{in_panel.format('ais_gap')}.querySelector('button[data-status=escalated]').click()")
        page.wait(f"document.querySelector('#vessel-triage li[data-alert-id=\"{gap}\"][data-status=escalated]')"
                  " !== null", what="the escalation in the triage history")  # fmt: skip
        assert store.alert(gap)["status"] == "escalated"
        # mute the vessel's encounters from the panel
        page.js(f"{in_panel.format('encounter')}.click()")
        page.js(f"{in_panel.format('encounter')}.querySelector('button.mute').click()")
        page.wait(f"{in_panel.format('encounter')}.querySelector('form.mute input[name=reason]') !== null",
                  what="the mute's reason box")  # fmt: skip
        page.js(f"{{ const f = {in_panel.format('encounter')}.querySelector('form.mute');"
                "f.querySelector('input[name=reason]').value = 'legitimate bunkering barge';"
                "f.querySelector('button[type=submit]').click() }")  # fmt: skip
        page.wait("document.querySelector('#vessel-triage li.mute[data-state=in_force]') !== null",
                  what="the mute in the triage history")  # fmt: skip
        (m,) = store.mutes_list()
        assert (m["pattern"], m["kind"], m["mmsi"], m["reason"]) == ("vessel", "encounter", SUSPECT,
                                                                     "legitimate bunkering barge")  # fmt: skip
        assert "legitimate bunkering barge" in page.js("document.querySelector('#vessel-triage li.mute').innerText")
        page.wait(f"{in_panel.format('encounter')}.querySelector('.muted-tag') !== null", what="the muted tag")
        # the history, newest first: the mute, then the escalation, then the dismissal
        order = page.js("[...document.querySelectorAll('#vessel-triage li')].map(li => li.dataset.status || 'mute')")
        assert order[:3] == ["mute", "escalated", "dismissed"]
        page.screenshot(SCREENSHOT.with_name("seawatch_vessel_panel.png"))
        page.drain()
        assert page.console_errors() == []
    finally:
        # the tab lets go of its live stream: Chromium opens at most 6 connections to a host, and every open tab of
        # the module holds one
        page.js("window.seawatch.state.stream && window.seawatch.state.stream.abort()")
        page.send("Page.navigate", {"url": "about:blank"})
        page.wait("location.href === 'about:blank'", what="the tab emptied")
        # the module's other tests see the alerts new and unmuted again
        for mute in store.mutes_list():
            store.end_mute(mute["id"], "map test")
        for alert in (encounter, gap):
            store.triage(alert, "new", "", "map test")


def test_key_is_asked_for_when_missing(browser, served):
    page = browser()
    page.send("Page.navigate", {"url": f"{served['url']}/"})
    page.wait("document.readyState === 'complete'", what="the page")
    page.js("localStorage.clear()")  # the tabs share one profile: forget the key earlier tests stored
    page.send("Page.reload")
    page.wait("document.getElementById('key-dialog') && document.getElementById('key-dialog').open", what="the dialog")
    page.js(f"document.getElementById('key-input').value = {json.dumps(served['key'])};"
            "document.getElementById('key-ok').click()")  # fmt: skip
    page.wait("document.body.dataset.ready === '1' && document.querySelectorAll('path.vessel').length > 0",
              what="the map after the key")  # fmt: skip


def test_the_page_works_under_its_content_security_policy(browser, served):
    """The page's CSP (api/routes/map.py) allows everything the page loads and does: no violation while it loads,
    draws and streams; and it bites: an injected inline script does not run. (Eval is refused too, but DevTools'
    own evaluation is exempt from the policy, so it cannot be shown from here.)"""
    page = browser()
    page.send("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__csp = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")})  # fmt: skip
    page.send("Page.navigate", {"url": f"{served['url']}/?key={served['key']}"})
    page.wait("document.body && document.body.dataset.ready === '1'", what="the page to load its data")
    page.wait("document.body.dataset.live === '1'", what="the live alert stream to connect")
    page.wait("document.querySelectorAll('.leaflet-land-pane path').length > 0", what="land")
    page.wait("document.querySelectorAll('path.vessel').length > 0", what="vessels")
    assert page.js("document.querySelectorAll('.legend i[style]').length") >= 4  # inline-styled swatches, drawn
    assert page.js("window.__csp") == []
    page.js("const s = document.createElement('script'); s.textContent = 'window.__injected = 1';"
            "document.body.appendChild(s)")  # fmt: skip
    assert page.js("window.__injected === undefined")
    page.wait("window.__csp.length >= 1", what="the violation reported")
    assert all(v.startswith("script-src") for v in page.js("window.__csp"))


def test_page_and_static_files(served):
    with urllib.request.urlopen(f"{served['url']}/", timeout=10) as resp:
        html = resp.read().decode()
    assert resp.headers["Content-Type"].startswith("text/html")
    assert '<script src="/static/app.js">' in html and "/static/vendor/leaflet/leaflet.js" in html
    assert "http://" not in html and "https://" not in html and 'src="//' not in html  # nothing from a CDN
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"
    with urllib.request.urlopen(f"{served['url']}/static/app.js", timeout=10) as resp:
        assert "X-API-Key" in resp.read().decode()


def test_geography_endpoints(served):
    with urllib.request.urlopen(f"{served['url']}/map/region.geojson", timeout=10) as resp:
        region = json.load(resp)
    assert region["bbox"] == [105.5, 17.0, 110.0, 22.0]  # the Gulf of Tonkin: the pack's extent, rounded out
    assert {f["properties"]["kind"] for f in region["features"]} == {"zone", "boundary", "port"}
    with urllib.request.urlopen(f"{served['url']}/map/coastline.geojson?bbox=106,20,108,21.5", timeout=30) as resp:
        assert resp.headers["Cache-Control"].startswith("max-age=")
        land = json.load(resp)
    assert land["features"][0]["geometry"]["type"] == "MultiPolygon"
    with urllib.request.urlopen(f"{served['url']}/map/coastline.geojson?cells=100", timeout=30) as resp:
        assert json.load(resp)["bbox"] == region["bbox"]  # the region's view when no box is given
    # a service that does not alert on the pack's example zones does not draw them
    facts = TestClient(create_app(Settings(environment="development"), store=served["store"]))
    shown = facts.get("/map/region.geojson").json()
    names = [f["properties"]["name"] for f in shown["features"]]
    assert shown["bbox"] == region["bbox"] and "(example)" not in " ".join(names)
    assert any("(example)" in f["properties"]["name"] for f in region["features"])
    for bad in ("106,20,108", "108,20,106,21", "a,b,c,d"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{served['url']}/map/coastline.geojson?bbox={bad}", timeout=10)
        assert err.value.code == 422


def test_watchlisted_vessels_are_marked_and_a_live_sighting_is_said(browser, served):
    """A vessel on a watchlist (as the live scorer stores it: models.watchlist.match, then the vessels' rows and the
    sightings) is drawn with the watchlist ring and its panel has a watchlist line; a vessel listed while the page
    is open is announced by the stream's watchlist event and gets its ring without a reload."""
    from models.watchlist import match, with_watchlists

    store, vessels = served["store"], served["vessels"]

    def score_lists() -> None:
        matches = match(vessels, store.watchlist_entries_frame())
        store.upsert_vessels(with_watchlists(vessels, matches))
        store.record_sightings(matches)

    wl = store.create_watchlist("caught 2025", by="map test")
    store.add_entries(wl["id"], [{"mmsi": SUSPECT, "reason": "caught with 40 t diesel"}], by="map test")
    score_lists()
    page = browser()
    # the module's earlier tabs still stream from the host, and Chromium opens at most 6 connections to one: close
    # them, so that this tab's stream, its vessel refresh and its panel's requests all get one
    for target in page.send("Target.getTargets")["targetInfos"]:
        if target["type"] == "page" and target["url"].startswith(served["url"]):
            page.send("Target.closeTarget", {"targetId": target["targetId"]})
    page.send("Page.navigate", {"url": f"{served['url']}/?key={served['key']}"})
    page.wait("document.body && document.body.dataset.ready === '1'", what="the page to load its data")
    page.wait("document.body.dataset.live === '1'", what="the live alert stream to connect")
    marked = "document.querySelector('path.vessel.watchlisted[data-mmsi=\"{}\"]')"
    try:
        page.wait(f"{marked.format(SUSPECT)} !== null", what="the watchlist ring")
        assert page.js(f"{marked.format(SUSPECT)}.getAttribute('stroke')") == "#6a1b9a"
        other, other_name = int(vessels["mmsi"][1]), str(vessels["name"][1])  # a fishing boat drawn on the map
        assert page.js(f"{marked.format(other)}") is None
        # listed (by its name, typed in lower case) while the page is open: the live stream's event says so, and the
        # ring follows
        store.add_entries(wl["id"], [{"name": other_name.lower(), "reason": "tip-off"}], by="map test")
        score_lists()
        page.wait("document.getElementById('message').textContent.includes(\"Watchlist 'caught 2025': MMSI "
                  f"{other} heard\")", what="the sighting announced")  # fmt: skip
        page.wait(f"{marked.format(other)} !== null", what="the new vessel's ring")
        rect = page.js(f"(() => {{ const r = {marked.format(SUSPECT)}.getBoundingClientRect();"
                       " return [r.x + r.width / 2, r.y + r.height / 2]; })()")  # fmt: skip
        page.click(*rect)
        line = "document.querySelector('#vessel-body .watchlist-line')"
        page.wait(f"{line} !== null", what="the panel's watchlist line")
        assert "On watchlist: caught 2025" in page.js(f"{line}.innerText")
        page.drain()
        assert page.console_errors() == []
    finally:
        page.js("window.seawatch.state.stream && window.seawatch.state.stream.abort()")
        page.send("Page.navigate", {"url": "about:blank"})
        page.wait("location.href === 'about:blank'", what="the tab emptied")
        store.delete_watchlist(wl["id"], by="map test")
        store.upsert_vessels(vessels)  # the module's other tests see no list


def test_triage_quality_panel_shows_precision_and_a_raised_bar(browser, served):
    """Analysts dismissed ten of ten spoofing alerts (scores 60-69): the panel shows the kind's precision with its
    counts and its raised bar (64), read from /api/v1/quality. Last in the module: it adds alerts and decisions."""
    from tests.api.helpers import alerts_frame

    store = served["store"]
    spoofs = alerts_frame(10, kind="spoofing", score=60.0, mmsi0=574100001)
    store.upsert_alerts(spoofs)
    for aid in spoofs["alert_id"]:
        store.triage(aid, "dismissed", "", "map test", reason="data_error", key_id=None)
    page = _open(browser, served)
    page.wait("document.querySelector('#quality-list li[data-kind=\"spoofing\"]') !== null", what="the quality panel")
    assert page.js("document.getElementById('quality').hidden") is False
    item = page.js("document.querySelector('#quality-list li[data-kind=\"spoofing\"]').innerText")
    assert "0%" in item and "10 dismissed" in item and "bar 64" in item
    assert page.js("document.querySelector('#quality-list li[data-kind=\"spoofing\"]').className") == "raised"
    assert page.js("document.querySelector('#quality-list li.raised').title").startswith(
        "spoofing alerts count from score 64 up: analysts dismissed 10 of 10"
    )
    # the spoofing alert scored under the bar (45) is listed, marked below the bar with the bar's words
    below = "document.querySelectorAll('#alert-list li.alert.below-bar')"
    page.wait(f"{below}.length > 0", what="an alert marked below the bar")
    marked = page.js(f"[...{below}].map(li => [li.dataset.kind, li.querySelector('.bar-tag').title])")
    assert {kind for kind, _ in marked} == {"spoofing"}
    assert all(title.startswith("under the raised bar: spoofing alerts count from score 64 up") for _, title in marked)
