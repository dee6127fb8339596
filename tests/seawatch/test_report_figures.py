"""The report's figures and tables against the data they show: every section and figure is there, each figure is
well-formed SVG with something drawn, and what it draws (markers per kind, bars per kind and hour, histogram
bars, curves, tracks) adds up to the alerts, vessels and labels it was given. A figure or table lost in a rewrite
of the drawing code fails here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import TypedDict

import numpy as np
import polars as pl

from engine.alerts import ALERT_KINDS, ALERT_SCHEMA
from models.schema import BANDS
from seawatch import report_figures as rf
from seawatch import report_maps as rm
from seawatch.report import TOP_MAPS, render_report, top_vessels, write_report
from tests.seawatch.test_report import alert, fake_vessels, parse, small_alerts, small_tracks

SVG = "{http://www.w3.org/2000/svg}"


def figures(text: str) -> dict[str, ET.Element]:
    """Every inline figure of a page by its name, parsed as XML (so each one is well-formed on its own)."""
    out = {}
    for svg in re.findall(r"<svg .*?</svg>", text, flags=re.DOTALL):
        root = ET.fromstring(svg)
        out[root.attrib["data-figure"]] = root
    return out


def groups(root: ET.Element, attr: str = "data-kind") -> dict[str, ET.Element]:
    return {g.attrib[attr]: g for g in root.iter(f"{SVG}g") if attr in g.attrib}


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


class Run(TypedDict):
    alerts: pl.DataFrame
    vessels: pl.DataFrame
    metrics: pl.DataFrame
    pr_curve: pl.DataFrame


def labelled_run() -> Run:
    alerts = small_alerts()
    metrics = pl.DataFrame({"kind": ["encounter", "ais_gap"], "labels": [3, 4], "matched": [2, 4],
                            "recall": [2 / 3, 1.0], "alerts": [5, 8], "precision": [0.4, 0.5]})  # fmt: skip
    thresholds = np.linspace(100, 0, 11)
    pr = pl.concat([pl.DataFrame({"kind": kind, "threshold": thresholds, "precision": np.linspace(1, p, 11),
                                  "recall": np.linspace(0, r, 11)}) for kind, p, r in
                    (("all", 0.4, 0.9), ("encounter", 0.3, 0.67), ("ais_gap", 0.6, 1.0))])  # fmt: skip
    return {"alerts": alerts, "vessels": fake_vessels(alerts, quiet=40), "metrics": metrics, "pr_curve": pr}


def test_every_section_table_and_figure_is_named(tmp_path: Path) -> None:
    run = labelled_run()
    top = top_vessels(run["vessels"])
    tracks = small_tracks(top["mmsi"].to_list())
    out = tmp_path / "report.html"
    write_report(out, tracks=tracks, **run)
    text = out.read_text("utf-8")
    page = parse(text)
    for key in ("top", "map", "time", "scores", "vessels", "metrics", "alerts"):
        assert key in page.ids, key
    expected = {"map", "time", "scores", "pr"} | {f"track-{m}" for m in top["mmsi"].head(TOP_MAPS).to_list()}
    found = figures(text)
    assert set(found) == expected
    for name, root in found.items():
        assert float(root.attrib["width"].removesuffix("pt")) > 200, name
        assert float(root.attrib["height"].removesuffix("pt")) > 150, name
        drawn = sum(1 for el in root.iter() if el.tag in (f"{SVG}path", f"{SVG}rect", f"{SVG}use"))
        assert drawn > 10, f"{name}: {drawn} elements drawn"
        assert any(t.strip() for t in texts(root)), f"{name}: no labels"
    # the tables: kinds and bands counted, a row per top vessel, the metrics, the alert list
    assert '<table class="top">' in text and '<table class="metrics">' in text
    assert text[text.index('<table class="top">') :].split("</table>")[0].count("<tr>") == top.height + 1
    metrics_table = text[text.index('<table class="metrics">') :].split("</table>")[0]
    assert metrics_table.count("<tr>") == run["metrics"].height + 1
    counts = text[: text.index('<section id="top">')]
    for band in BANDS:
        assert f'class="band-{band}">{band}</td>' in counts
    for kind in run["alerts"]["kind"].unique().to_list():
        assert f"<td>{kind}</td>" in counts
    listing = text[text.index('<section id="alerts">') :]
    assert listing.count("<tr>") == run["alerts"].height + 1


def test_the_map_draws_every_alert_of_every_kind() -> None:
    rng = np.random.default_rng(3)
    rows = [alert(ALERT_KINDS[i % 12], 574000000 + i % 40, i * 0.05, float(rng.uniform(0, 100)), ["r"],
                  lat=19 + rng.uniform(0, 2), lon=106.5 + rng.uniform(0, 2)) for i in range(500)]  # fmt: skip
    alerts = pl.DataFrame(rows, schema=ALERT_SCHEMA)
    fig = rm.alerts_map(alerts, land=None, pack=None)
    assert fig is not None
    root = ET.fromstring(rf.to_svg(fig, "map"))
    drawn = groups(root)
    expected = Counter(alerts["kind"].to_list())
    assert {k: int(g.attrib["data-n"]) for k, g in drawn.items()} == expected
    assert {k: len(list(g.iter(f"{SVG}use"))) for k, g in drawn.items()} == expected
    assert "500 alerts on the map" in texts(root)
    for kind, n in expected.items():
        assert f"{kind} ({n})" in texts(root)  # the legend


def test_the_time_chart_adds_up_to_the_alerts() -> None:
    alerts = small_alerts()
    root = ET.fromstring(rf.to_svg(rf.alerts_over_time(alerts), "time"))  # type: ignore[arg-type]
    drawn = {k: sum(int(r.attrib["data-n"]) for r in g.iter(f"{SVG}rect")) for k, g in groups(root).items()}
    assert drawn == Counter(alerts["kind"].to_list())
    assert "alerts started per hour" in texts(root) and "time (UTC)" in texts(root)
    assert list(groups(root)) == rf.ordered_kinds(list(drawn))  # stacked in the contract's order
    # a week of alerts: one bar per day and kind
    week = alerts.with_columns(pl.col("start") + pl.duration(days=pl.int_range(pl.len()) % 7))
    root = ET.fromstring(rf.to_svg(rf.alerts_over_time(week), "time"))  # type: ignore[arg-type]
    assert "alerts started per day" in texts(root)
    assert sum(int(r.attrib["data-n"]) for r in root.iter(f"{SVG}rect") if "data-n" in r.attrib) == week.height


def test_the_score_histograms_count_every_scored_vessel() -> None:
    vessels = fake_vessels(small_alerts(), quiet=300)
    root = ET.fromstring(rf.to_svg(rf.score_histograms(vessels), "scores"))  # type: ignore[arg-type]
    for column, g in groups(root, "data-score").items():
        assert sum(int(r.attrib["data-n"]) for r in g.iter(f"{SVG}rect")) == vessels[column].drop_nulls().len()
    labels = texts(root)
    assert set(BANDS) <= set(labels) and "vessels (log scale)" in labels
    assert f"smuggling score ({vessels.height} vessels)" in labels


def test_the_precision_recall_figure_has_a_curve_per_kind() -> None:
    pr = labelled_run()["pr_curve"]
    root = ET.fromstring(rf.to_svg(rf.pr_figure(pr), "pr"))  # type: ignore[arg-type]
    curves = groups(root)
    assert set(curves) == set(pr["kind"].unique().to_list())
    for kind, g in curves.items():
        line = next(g.iter(f"{SVG}path")).attrib["d"]
        assert line.count("M") + line.count("L") == pr.filter(pl.col("kind") == kind).height
    assert "all kinds" in texts(root) and any(t.startswith("score ≥ ") for t in texts(root))


def test_a_track_map_shows_the_track_its_silences_and_its_alerts() -> None:
    track = small_tracks([574000001], n=1200)
    silent = track.with_columns(pl.when(pl.int_range(pl.len()) >= 600).then(pl.col("t") + pl.duration(hours=3))
                                .otherwise(pl.col("t")))  # fmt: skip
    alerts = small_alerts().filter(pl.col("mmsi") == 574000001)
    fig = rm.track_map(silent, alerts, land=None, title="MMSI 574000001")
    root = ET.fromstring(rf.to_svg(fig, "track"))  # type: ignore[arg-type]
    labels = texts(root)
    assert f"track ({rf.TRACK_POINTS} positions)" in labels  # thinned
    assert "no positions for a while (1)" in labels and "first position" in labels and "last position" in labels
    assert {k: int(g.attrib["data-n"]) for k, g in groups(root).items()} == Counter(alerts["kind"].to_list())
    assert "MMSI 574000001" in labels


def test_the_same_data_gives_the_same_page_and_ids_stay_apart() -> None:
    run = labelled_run()
    tracks = small_tracks(top_vessels(run["vessels"])["mmsi"].to_list())
    one = render_report(tracks=tracks, **run)
    assert one == render_report(tracks=tracks, **run)
    ids = re.findall(r'\bid="([^"]+)"', one)
    assert len(ids) == len(set(ids))
    assert set(re.findall(r'href="#([^"]+)"', one)) <= set(ids)
