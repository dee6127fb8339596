"""The map's reach and intercept (issue 17) in a real browser: headless Chromium over CDP against the app served on
loopback, with the seeded store and the browser of ``test_map_page`` (its fixtures, imported).

Checks what an analyst does: opens a vessel, draws where it can be now for a few hours (the polygon the API returns,
its legend, redrawn and cleared), picks a patrol base by typing and by a click on the map and reads the vessels it
can intercept in the API's order, with the base and meeting points drawn, selects one from the list by mouse and by
keyboard, saves the dossier from the panel; and the page stacks on a phone's screen.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlparse

from tests.api.test_map_page import SUSPECT, _open, browser, served  # noqa: F401  (fixtures, shared)

V1 = "/api/v1"


def _get(srv: dict[str, Any], path: str) -> Any:
    req = urllib.request.Request(f"{srv['url']}{V1}{path}", headers={"X-API-Key": srv["key"]})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _click_vessel(page: Any, mmsi: int) -> None:
    rect = page.js(
        f"(() => {{ const r = document.querySelector('path.vessel[data-mmsi=\"{mmsi}\"]')"
        ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.click(*rect)
    page.wait(f"document.getElementById('vessel-body').textContent.includes('{mmsi}')"
              " && document.getElementById('vessel-reach') !== null",
              what="the vessel panel with its reach box")  # fmt: skip


def _leave(page: Any) -> None:
    """The tab lets go of its live stream: Chromium opens at most 6 connections to a host."""
    page.js("window.seawatch.state.stream && window.seawatch.state.stream.abort()")
    page.send("Page.navigate", {"url": "about:blank"})


def _bounds(fc: dict[str, Any]) -> list[float]:
    (area,) = [f for f in fc["features"] if f["properties"]["kind"] == "reach"]
    pts = [p for poly in area["geometry"]["coordinates"] for ring in poly for p in ring]
    return [min(p[1] for p in pts), min(p[0] for p in pts), max(p[1] for p in pts), max(p[0] for p in pts)]


DRAWN_BOUNDS = ("(() => { const b = window.seawatch.reach.reach.layer.getBounds();"
                " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; })()")  # fmt: skip
REACH_PATHS = "document.querySelectorAll('.leaflet-reach-pane path.reach').length"


def test_reach_drawn_redrawn_and_cleared_with_its_legend(browser, served):  # noqa: F811
    page = _open(browser, served)
    _click_vessel(page, SUSPECT)
    page.js("document.querySelector('#vessel-reach button[data-hours=\"3\"]').click()")
    page.wait(f"{REACH_PATHS} === 1 && document.querySelector('.reach-key') !== null", what="the 3 h reach")
    want = _get(served, f"/vessels/{SUSPECT}/reach?hours=3")
    props = want["features"][0]["properties"]
    assert page.js(DRAWN_BOUNDS) == _bounds(want)  # the API's polygon, as it sent it
    legend = page.js("document.querySelector('#vessel-reach .reach-legend').textContent")
    assert legend.startswith("3 h after its last fix") and f"at {props['speed_kn']:g} kn" in legend
    assert "tanker" in legend and f"{math.floor(props['radius_km'] + 0.5)} km" in legend
    assert f"{math.floor(props['area_km2'] + 0.5):,} km² of water" in legend  # JS rounds halves up
    fix_t = datetime.fromisoformat(props["last_fix_t"]).astimezone(UTC)
    assert f"({fix_t:%Y-%m-%d %H:%M} UTC, " in legend
    key = page.js("document.querySelector('.reach-key').textContent")
    assert key.startswith(f"reach of {SUSPECT}: 3 h after its last fix") and "16 kn" in key
    assert page.js("document.querySelectorAll('.leaflet-reach-pane path.reach-fix').length") == 1  # the last fix

    # another number of hours replaces the drawing, it does not add one
    page.js("document.querySelector('#vessel-reach button[data-hours=\"12\"]').click()")
    page.wait("document.querySelector('.reach-key').textContent.includes(': 12 h after')", what="the 12 h reach")
    assert page.js(REACH_PATHS) == 1
    assert page.js(DRAWN_BOUNDS) == _bounds(_get(served, f"/vessels/{SUSPECT}/reach?hours=12"))
    pressed = page.js("[...document.querySelectorAll('#vessel-reach button[aria-pressed=true]')]"
                      ".map(b => b.dataset.hours)")  # fmt: skip
    assert pressed == ["12"]

    page.js("document.querySelector('#vessel-reach .reach-clear').click()")
    page.wait(f"{REACH_PATHS} === 0 && document.querySelector('.reach-key') === null", what="the reach cleared")
    assert page.js("document.querySelector('#vessel-reach .reach-legend').textContent") == ""
    page.drain()
    assert page.console_errors() == []
    _leave(page)


def _intercepts(page: Any) -> list[int]:
    return [
        int(m)
        for m in page.js("[...document.querySelectorAll('#patrol-list li.intercept')].map(li => li.dataset.mmsi)")
    ]


def _at_rest(page) -> None:
    """Wait until the map's view holds still (two looks 0.2 s apart agree): a fly or a pan has ended."""
    page.js("window.__view = ''")
    page.wait("(() => { const m = window.seawatch.map, v = m.getCenter().toString() + m.getZoom();"
              " const same = v === window.__view; window.__view = v; return same; })()",
              what="the view at rest")  # fmt: skip


def test_patrol_base_typed_or_picked_lists_what_it_can_intercept(browser, served, tmp_path):  # noqa: F811
    page = _open(browser, served)
    assert page.js("document.getElementById('patrol').hidden") is False
    # a base typed, with the hours; the speed left to the service's default (SEAWATCH_PATROL_SPEED_KN)
    page.js("{ const f = document.getElementById('patrol-form'); f.base.value = '20.7,107.0'; f.within_h.value = '6';"
            "f.querySelector('button[type=submit]').click() }")  # fmt: skip
    want = _get(served, "/intercept?" + urlencode({"from": "20.7,107.0", "within_h": 6}))
    assert want["items"] and any(t["mmsi"] == SUSPECT for t in want["items"])
    n = len(want["items"])
    page.wait(f"document.querySelectorAll('#patrol-list li.intercept').length === {n}", what="the intercept list")
    assert _intercepts(page) == [t["mmsi"] for t in want["items"]]  # earliest first, as the API says
    assert float(page.js("document.querySelector('#patrol-form').speed_kn.value")) == want["speed_kn"]
    first = page.js("document.querySelector('#patrol-list li.intercept .meet').textContent")
    assert first.startswith(f"meet in {want['items'][0]['meet_hours']:.1f} h")
    assert page.js("document.querySelectorAll('.leaflet-patrol-pane path.meet-point').length") == n
    assert page.js("document.querySelectorAll('.leaflet-patrol-pane path.patrol-base').length") == 1
    note = page.js("document.getElementById('patrol-note').textContent")
    assert note.startswith(f"{n} to meet within 6 h at {want['speed_kn']:g} kn")

    # a click on one selects its vessel; Enter on another, from the keyboard, too
    page.js(f"document.querySelector('#patrol-list li.intercept[data-mmsi=\"{SUSPECT}\"]').click()")
    page.wait(f"window.seawatch.state.selected === {SUSPECT} && "
              "document.getElementById('vessel-body').textContent.includes('HAI LINH 09')",
              what="the vessel selected")  # fmt: skip
    other = next(t["mmsi"] for t in want["items"] if t["mmsi"] != SUSPECT)
    page.js(f"document.querySelector('#patrol-list li.intercept[data-mmsi=\"{other}\"]').focus()")
    for kind in ("keyDown", "keyUp"):
        page.send(
            "Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        )
    page.wait(f"window.seawatch.state.selected === {other} && "
              f"document.getElementById('vessel-body').textContent.includes('{other}')",
              what="Enter selects")  # fmt: skip

    # Escape leaves picking a base, and leaves the vessel panel open
    page.js("document.getElementById('patrol-pick').click()")
    for kind in ("keyDown", "keyUp"):
        page.send(
            "Input.dispatchKeyEvent", {"type": kind, "key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27}
        )
    assert page.js("document.getElementById('patrol-pick').getAttribute('aria-pressed')") == "false"
    assert page.js("document.getElementById('vessel').hidden") is False

    # the base picked on the map: the point clicked becomes the base, and the list follows it
    page.js("document.getElementById('patrol-pick').click()")
    assert page.js("document.getElementById('patrol-pick').getAttribute('aria-pressed')") == "true"
    _at_rest(page)  # the view has flown to the selected vessel
    # a spot of open sea in view (the view follows the selected vessel): 40 px off the centre, clear of vessels
    x, y, at_lat, at_lon = page.js(
        "(() => { const m = window.seawatch.map, r = m.getContainer().getBoundingClientRect();"
        " const vessels = [...document.querySelectorAll('path.vessel')].map(p => p.getBoundingClientRect());"
        " for (const [dx, dy] of [[40, 40], [-40, 40], [40, -40], [-40, -40], [80, 0], [0, 80]]) {"
        "   const p = m.getSize().divideBy(2).add([dx, dy]), x = r.x + p.x, y = r.y + p.y;"
        "   if (vessels.some(b => x > b.left - 6 && x < b.right + 6 && y > b.top - 6 && y < b.bottom + 6)) continue;"
        "   const ll = m.containerPointToLatLng(p); return [x, y, ll.lat, ll.lng]; } })()"
    )  # fmt: skip
    page.click(x, y)
    page.wait("document.getElementById('patrol-base').value !== '20.7,107.0'", what="the picked base")
    lat, lon = map(float, page.js("document.getElementById('patrol-base').value").split(","))
    assert abs(lat - at_lat) < 1e-3 and abs(lon - at_lon) < 1e-3
    picked = _get(served, "/intercept?" + urlencode({"from": f"{lat},{lon}", "within_h": 6}))
    listed = json.dumps([t["mmsi"] for t in picked["items"]], separators=(",", ":"))
    page.wait(f"JSON.stringify([...document.querySelectorAll('#patrol-list li.intercept')].map(li => +li.dataset.mmsi))"
              f" === {listed!r}", what="the picked base's list")  # fmt: skip
    _at_rest(page)
    base = page.js("(() => { const b = document.querySelector('.leaflet-patrol-pane path.patrol-base')"
                   ".getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })()")  # fmt: skip
    at = page.js(f"(() => {{ const m = window.seawatch.map, r = m.getContainer().getBoundingClientRect();"
                 f" const p = m.latLngToContainerPoint([{lat}, {lon}]);"
                 " return [r.x + p.x, r.y + p.y]; })()")  # fmt: skip
    assert abs(base[0] - at[0]) < 2 and abs(base[1] - at[1]) < 2  # drawn where the base is
    assert page.js("document.getElementById('patrol-pick').getAttribute('aria-pressed')") == "false"

    page.js("document.getElementById('patrol-clear').click()")
    page.wait("document.querySelectorAll('.leaflet-patrol-pane path').length === 0", what="the patrol cleared")
    page.drain()
    assert page.console_errors() == []
    outside = [u for u in page.requested_urls() if urlparse(u).scheme not in ("data", "blob")
               and urlparse(u).hostname != "127.0.0.1"]  # fmt: skip
    assert outside == []
    _leave(page)


def test_dossier_link_saves_the_vessels_dossier(browser, served, tmp_path):  # noqa: F811
    page = _open(browser, served)
    page.send("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    _click_vessel(page, SUSPECT)
    assert page.js("document.getElementById('vessel-dossier').textContent") == "Dossier"
    page.js("document.getElementById('vessel-dossier').click()")
    saved = tmp_path / f"dossier-{SUSPECT}.html"
    deadline = time.monotonic() + 20
    while not (saved.is_file() and saved.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    html = saved.read_text("utf-8")
    assert "HAI LINH 09" in html and "Triage aid, not a legal finding" in html
    assert "ship-to-ship transfer 2.6 h with 412345678" in html
    page.drain()
    assert page.console_errors() == []
    _leave(page)


def test_on_a_phone_the_panel_stacks_under_the_map(browser, served):  # noqa: F811
    page = browser()
    page.send(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    page.send("Page.navigate", {"url": f"{served['url']}/?key={served['key']}"})
    page.wait("document.body && document.body.dataset.ready === '1'", what="the page")
    page.js(f"window.seawatch.selectVessel({SUSPECT})")
    page.wait("document.getElementById('vessel-reach') !== null", what="the panel")
    map_box = page.js(
        "(() => { const r = document.getElementById('map').getBoundingClientRect(); return [r.bottom, r.width]; })()"
    )
    side_top = page.js("document.getElementById('side').getBoundingClientRect().top")
    assert side_top >= map_box[0] - 1 and map_box[1] == 390  # under the map, the map the screen's width
    sizes = page.js(
        "[...document.querySelectorAll('#vessel-reach button[data-hours]')].map(b => b.getBoundingClientRect().height)"
    )
    assert sizes and min(sizes) >= 28  # big enough for a finger
    _leave(page)


def test_reach_script_is_served_and_loaded_by_the_page(served):  # noqa: F811
    with urllib.request.urlopen(f"{served['url']}/", timeout=10) as resp:
        html = resp.read().decode()
    assert '<script src="/static/reach.js">' in html
    with urllib.request.urlopen(f"{served['url']}/static/reach.js", timeout=10) as resp:
        js = resp.read().decode()
    assert "/intercept?" in js and "http://" not in js and "https://" not in js
