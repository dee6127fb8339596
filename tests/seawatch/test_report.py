"""The backtest report: one HTML file that parses, opens offline, escapes what comes from the air, and says what
an analyst needs (top vessels with their sections, the figures, metrics only with labels, an empty run)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from engine.alerts import ALERT_KINDS, ALERT_SCHEMA, empty_alerts
from engine.decode import decode_bytes
from models.schema import VESSEL_SCHEMA, band_of, empty_vessels
from seawatch import report_figures as rf
from seawatch import report_maps as rm
from seawatch.cli import main
from seawatch.report import ALERT_ROWS, TOP_VESSELS, render_report, top_vessels, write_report

T0 = datetime(2024, 6, 1, tzinfo=UTC)
FIRE_KINDS = ("distress", "encounter", "land_position")
TRACK_SCHEMA = {"mmsi": pl.Int64(), "t": ALERT_SCHEMA["start"], "lat": pl.Float64(), "lon": pl.Float64()}


def fake_vessels(alerts: pl.DataFrame, names: dict[int, str] | None = None, quiet: int = 0) -> pl.DataFrame:
    """A vessel table in the contract, scored crudely from the alerts (the report only reads the columns)."""
    names = names or {}
    rows: dict[int, dict[str, Any]] = {}
    for a in alerts.sort("score", descending=True).iter_rows(named=True):
        for mmsi in (a["mmsi"], a["other_mmsi"]):
            if mmsi is None:
                continue
            v = rows.setdefault(mmsi, {"mmsi": mmsi, "smuggling_score": 0.0, "fire_score": 0.0, "alerts": 0,
                                       "smuggling_reasons": [], "fire_reasons": [], "lat": a["lat"], "lon": a["lon"],
                                       "last_seen": a["end"]})  # fmt: skip
            v["alerts"] += 1
            v[f"alerts_{a['kind']}"] = v.get(f"alerts_{a['kind']}", 0) + 1
            part = 0.6 * a["score"]
            v["smuggling_score"] = min(100.0, v["smuggling_score"] + part)
            v["smuggling_reasons"].append(f"+{part:.0f} {a['kind']}: {a['reasons'][0] if a['reasons'] else ''}")
            if a["kind"] in FIRE_KINDS:
                v["fire_score"] = max(v["fire_score"], 0.9 * a["score"])
                v["fire_reasons"].append(f"+{0.9 * a['score']:.0f} {a['kind']}")
    for i in range(quiet):
        rows[900_000_000 + i] = {"mmsi": 900_000_000 + i, "smuggling_score": 0.0, "fire_score": 0.0, "alerts": 0,
                                 "smuggling_reasons": [], "fire_reasons": []}  # fmt: skip
    out = []
    for v in rows.values():
        high = max(v["smuggling_score"], v["fire_score"])
        v |= {"name": names.get(v["mmsi"], f"VESSEL {v['mmsi'] % 1000}"), "flag": "VN", "positions": 100,
              "ship_type": 30 + v["mmsi"] % 60, "band": band_of(high), "smuggling_band": band_of(v["smuggling_score"]),
              "fire_band": band_of(v["fire_score"]), "reasons": v["smuggling_reasons"] + v["fire_reasons"]}  # fmt: skip
        out.append(v)
    return pl.DataFrame(out, schema=VESSEL_SCHEMA) if out else empty_vessels()


def alert(kind: str, mmsi: int, hour: float, score: float, reasons: list[str], other: int | None = None,
          lat: float = 20.0, lon: float = 107.5) -> dict[str, Any]:  # fmt: skip
    start = T0 + timedelta(hours=hour)
    return {"alert_id": f"{kind}-{mmsi}-{hour}", "kind": kind, "mmsi": mmsi, "other_mmsi": other, "start": start,
            "end": start + timedelta(hours=1), "lat": lat, "lon": lon, "score": score, "reasons": reasons}  # fmt: skip


def small_alerts() -> pl.DataFrame:
    rows = [alert(kind, 574000000 + i, i * 1.5, 40.0 + 4 * i, [f"{kind} evidence {i}"], lat=19.5 + 0.1 * i,
                  lon=106.8 + 0.12 * i) for i, kind in enumerate(ALERT_KINDS)]  # fmt: skip
    rows.append(alert("encounter", 574000001, 3.0, 88.0, ["within 0.5 km for 3 h"], other=574000005))
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)


def small_tracks(mmsis: list[int], n: int = 1200) -> pl.DataFrame:
    rows = []
    for k, mmsi in enumerate(mmsis):
        s = np.linspace(0, 1, n)
        t = [T0 + timedelta(minutes=int(m)) for m in s * 600]
        columns = {"mmsi": np.full(n, mmsi), "t": t, "lat": 19.4 + 0.5 * s + 0.01 * k, "lon": 106.7 + 0.8 * s}
        rows.append(pl.DataFrame(columns, schema=TRACK_SCHEMA))
    return pl.concat(rows) if rows else pl.DataFrame(schema=TRACK_SCHEMA)


class Page(HTMLParser):
    """Every tag, id, external reference and text of a page; fails on a tag left open or closed twice."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "path", "use", "image", "rect", "stop", "circle", "ellipse",
            "line", "polyline", "polygon"}  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.ids.append(value)
            self.hrefs += [f"#{ref}" for ref in re.findall(r"url\(#([^)]*)\)", value)]
            if name in ("href", "src", "xlink:href", "srcset", "action", "data"):
                self.hrefs.append(value)
                if not (value.startswith("#") or value.startswith("data:image/png;base64,")):
                    self.external.append(f"{tag} {name}={value[:60]}")
            if "url(" in value and re.search(r"url\(\s*['\"]?(?!#)", value):
                self.external.append(f"{tag} {name}={value[:60]}")
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert page.open == [], f"tags left open: {page.open}"
    return page


def check_offline(text: str, page: Page) -> None:
    assert page.external == []
    styles = "".join(re.findall(r"<style>(.*?)</style>", text, flags=re.DOTALL))
    assert not re.search(r"url\(\s*['\"]?(?!#)", styles) and "@import" not in styles
    assert "script" not in page.tags and "iframe" not in page.tags and "link" not in page.tags
    # every id is unique, and every local link and reference (clip paths, markers) lands on one
    assert len(page.ids) == len(set(page.ids))
    assert {h[1:] for h in page.hrefs if h.startswith("#")} <= set(page.ids)


def test_a_small_run_has_every_part_and_works_offline(tmp_path: Path) -> None:
    alerts = small_alerts()
    vessels = fake_vessels(alerts, quiet=40)
    top = top_vessels(vessels)
    tracks = small_tracks(top["mmsi"].head(10).to_list())
    out = tmp_path / "out" / "report.html"
    write_report(out, alerts=alerts, vessels=vessels, tracks=tracks, summary=["inputs: feed.nmea", "1,234 messages"])
    text = out.read_text("utf-8")
    page = parse(text)
    check_offline(text, page)
    assert text.count("<svg") == 3 + 10  # map, time, scores, ten tracks; no precision-recall without labels
    assert "metrics" not in page.ids and "precision" not in text
    assert "1,234 messages" in text
    assert top.height == min(TOP_VESSELS, vessels.height)
    for mmsi in top["mmsi"].to_list():
        assert f"v-{mmsi}" in page.ids and f'href="#v-{mmsi}"' in text
    # sections come in the analyst's order
    order = [text.index(f'id="{key}"') for key in ("top", "map", "time", "scores", "vessels", "alerts")]
    assert order == sorted(order)
    # the strongest vessel heads the table
    risk = vessels.select(pl.max_horizontal("smuggling_score", "fire_score")).to_series()
    strongest = vessels["mmsi"][int(risk.arg_max())]  # type: ignore[arg-type]
    assert top["mmsi"][0] == strongest
    first_row = text[text.index('<table class="top">') :].split("<tr>")[2]
    assert f">{strongest}<" in first_row and "band-critical" in first_row
    for kind in ALERT_KINDS:
        assert kind in text
    # the same run gives the same file (no dates, no random ids): reports can be compared between runs
    again = render_report(
        alerts=alerts, vessels=vessels, tracks=tracks, summary=["inputs: feed.nmea", "1,234 messages"]
    )
    assert again == text


def test_data_from_the_air_is_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    alerts = pl.DataFrame(
        [alert("encounter", 574000001, 1.0, 90.0, [f"met {evil} & <b>bold</b>"], other=574000002),
         alert(f"zone_{evil}_$\\nomath{{$", 574000001, 2.0, 70.0, ["$x^2$ <img src=x onerror=alert(1)>"])],
        schema=ALERT_SCHEMA,
    )  # fmt: skip
    vessels = fake_vessels(alerts, names={574000001: evil, 574000002: "A&B <i>"})
    out = tmp_path / "report.html"
    write_report(out, alerts=alerts, vessels=vessels, tracks=small_tracks([574000001]), title=f"run {evil}",
                 summary=[f"input {evil}.nmea"])  # fmt: skip
    text = out.read_text("utf-8")
    page = parse(text)
    check_offline(text, page)
    assert "script" not in page.tags and "img" not in page.tags and "i" not in page.tags and "b" in page.tags
    assert evil not in text and "<img src=x" not in text
    words = "".join(page.text)
    assert evil in words and "A&B <i>" in words and "$x^2$" in words  # shown as written, not as markup or math
    assert "$\\nomath{$ (1)" in words  # the kind in the map's legend, as text (mathtext would refuse it)


def test_metrics_and_the_precision_recall_curve_only_with_labels(tmp_path: Path) -> None:
    alerts = small_alerts()
    vessels = fake_vessels(alerts)
    metrics = pl.DataFrame({"kind": ["encounter", "ais_gap"], "labels": [3, 4], "matched": [2, 4],
                            "recall": [2 / 3, 1.0], "observable": [3, 3], "recall_observable": [2 / 3, None],
                            "alerts": [5, 8], "precision": [0.4, 0.5], "false_background": [1, 0],
                            "false_per_1000_vh": [0.5, 0.0]})  # fmt: skip
    thresholds = np.linspace(100, 0, 11)
    pr = pl.concat([pl.DataFrame({"kind": kind, "threshold": thresholds, "precision": np.linspace(1, p, 11),
                                  "recall": np.linspace(0, r, 11)}) for kind, p, r in
                    (("all", 0.4, 0.9), ("encounter", 0.3, 0.67), ("ais_gap", 0.6, 1.0))])  # fmt: skip
    out = tmp_path / "report.html"
    write_report(out, alerts=alerts, vessels=vessels, tracks=small_tracks([]), metrics=metrics, pr_curve=pr)
    text = out.read_text("utf-8")
    page = parse(text)
    check_offline(text, page)
    assert "metrics" in page.ids and 'class="metrics"' in text
    assert "67%" in text and "recall (observable)" in text and "false alerts / 1000 vessel-h" in text
    assert "all kinds" in text  # the curve's legend
    assert text.index('id="metrics"') < text.index('id="alerts"')
    without = render_report(alerts=alerts, vessels=vessels, tracks=small_tracks([]))
    assert 'id="metrics"' not in without and 'class="metrics"' not in without


def test_an_empty_run_says_no_alerts(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(out, alerts=empty_alerts(), vessels=empty_vessels(), tracks=small_tracks([]))
    text = out.read_text("utf-8")
    page = parse(text)
    check_offline(text, page)
    assert "No alerts in this run." in text and "<svg" not in text
    assert "No vessels scored." in text


def test_the_alert_list_is_cut_with_a_note(tmp_path: Path) -> None:
    n = ALERT_ROWS + 50
    rng = np.random.default_rng(1)
    rows = [alert(ALERT_KINDS[i % 12], 574000000 + i % 300, i * 0.01, float(rng.uniform(0, 100)), [f"r{i}"],
                  lat=19 + rng.uniform(0, 2), lon=106.5 + rng.uniform(0, 2.5)) for i in range(n)]  # fmt: skip
    alerts = pl.DataFrame(rows, schema=ALERT_SCHEMA)
    text = render_report(alerts=alerts, vessels=fake_vessels(alerts), tracks=small_tracks([]))
    listing = text[text.index('<section id="alerts">') :]
    assert listing.count("<tr>") == ALERT_ROWS + 1  # the header row
    assert f"Showing the {ALERT_ROWS:,} strongest of {n:,} alerts" in listing
    parse(text)


def test_extent_ignores_a_far_outlier_but_keeps_a_real_spread() -> None:
    lat = np.r_[np.linspace(19.0, 21.0, 200), 0.0]
    lon = np.r_[np.linspace(106.0, 109.0, 200), 0.0]
    ext = rm.extent_of(lat, lon)
    assert ext is not None and 18.5 < ext.lat0 < 19.0 and 21.0 < ext.lat1 < 21.5 and ext.lon0 > 105
    spoofed = rm.extent_of(np.r_[np.full(100, 20.0), np.full(30, 22.5)], np.r_[np.full(100, 107.0), np.full(30, 109)])
    assert spoofed is not None and spoofed.lat1 > 22.5 and spoofed.lon1 > 109  # a 300 km jump stays on the map
    assert rm.extent_of(np.array([np.nan]), np.array([np.nan])) is None
    assert rf.thin_track(small_tracks([1], 2000)).height <= rf.TRACK_POINTS


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--hours", "6", "--seed", "5", "--out", str(folder / "s")]) == 0
    assert main(["detect", str(folder / "s" / "feed.nmea"), "--out", str(folder / "d"), "--progress", "off"]) == 0
    alerts = pl.read_parquet(folder / "d" / "alerts.parquet")
    positions = decode_bytes((folder / "s" / "feed.nmea").read_bytes()).positions
    return {"folder": folder, "alerts": alerts, "positions": positions}


def test_a_simulated_scenario_with_land_and_region(simulated: dict[str, Any]) -> None:
    from engine.geo.land import LandIndex
    from engine.geo.regions import load_pack

    alerts = simulated["alerts"]
    assert alerts.height > 5
    vessels = fake_vessels(alerts, quiet=250)
    top = top_vessels(vessels)
    tracks = simulated["positions"].filter(pl.col("mmsi").is_in(top["mmsi"].head(10).implode()))
    tracks = tracks.select("mmsi", "t", "lat", "lon")
    out = simulated["folder"] / "report.html"
    write_report(out, alerts=alerts, vessels=vessels, tracks=tracks, pack=load_pack("gulf-of-tonkin"),
                 land=LandIndex.load(), summary=["simulated 6 h, seed 5"])  # fmt: skip
    text = out.read_text("utf-8")
    page = parse(text)
    check_offline(text, page)
    assert len(text) < 3_000_000
    assert "data:image/png;base64," in text  # the land, drawn from the mask
    for mmsi in top["mmsi"].to_list():
        assert f"v-{mmsi}" in page.ids
    for kind in alerts["kind"].unique().to_list():
        assert f"{kind} (" in text  # in the map's legend with its count
