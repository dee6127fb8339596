"""The backtest report: one self-contained HTML file an analyst opens offline.

Everything is inline: the CSS, the figures (SVG written directly by :mod:`seawatch.report_figures` and
:mod:`seawatch.report_maps`, land as an embedded image), no script, no external URL. Everything that comes from
the data (names, reasons, MMSIs, kinds, the summary lines) is HTML-escaped on its way in: AIS names and
destinations are free text from the air.

Order, as an analyst reads it: the run's summary and counts; the top-risk vessels; the map of alerts; alerts over
time; the score distributions; a section per top vessel (track map for the first ones) with its alerts; metrics
against labels when there are labels; the full alert list.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from engine.alerts import ALERT_KINDS
from engine.geo.land import LandIndex
from engine.geo.regions import RegionPack
from models.schema import BANDS, band_of
from seawatch import report_figures as rf
from seawatch import report_maps as rm
from seawatch.report_svg import Canvas

TOP_VESSELS = 25  # rows of the top-risk table, each with its own section
TOP_MAPS = 10  # of those, the first ones get a track map
ALERT_ROWS = 2000  # the full alert list is cut here (the Parquet file has them all)
VESSEL_ALERT_ROWS = 200  # a vessel's own alert list is cut here
TABLE_REASONS = 4  # reasons per score shown in the top-risk table; the vessel's section lists them all

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:1180px;
padding:0 18px 40px}
h1{margin:18px 0 4px}h2{margin-top:34px;border-bottom:2px solid #34495e;padding-bottom:3px}
h3{margin:26px 0 6px}nav a{margin-right:12px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
ul.reasons{margin:0;padding-left:16px}ul.reasons li{margin:0}
.band-low{background:#d5ecd4}.band-medium{background:#fbefc0}.band-high{background:#f9cfa4}
.band-critical{background:#f2a6a6;font-weight:600}
.note{color:#555;font-style:italic}.muted{color:#777}.figure{overflow-x:auto;margin:8px 0}
.figure svg{max-width:100%;height:auto}
dl.ident{display:grid;grid-template-columns:max-content auto;gap:0 14px;margin:6px 0}dl.ident dt{color:#555}
dl.ident dd{margin:0}.summary{margin:4px 0 10px;padding-left:18px}.counts{display:flex;gap:28px;flex-wrap:wrap}
"""

# ITU-R M.1371, table 53: the first digit of the ship type, and the second where it names the vessel
SHIP_TYPES = {30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving", 35: "military",
              36: "sailing", 37: "pleasure craft", 50: "pilot", 51: "search and rescue", 52: "tug",
              53: "port tender", 54: "anti-pollution", 55: "law enforcement", 58: "medical transport"}  # fmt: skip
SHIP_TYPE_DECADES = {2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker", 9: "other"}
HAZARD = {1: "hazard A", 2: "hazard B", 3: "hazard C", 4: "hazard D"}  # second digit of 20-29, 40-49, 70-89


def write_report(path: Path, *, alerts: pl.DataFrame, vessels: pl.DataFrame, tracks: pl.DataFrame,
                 metrics: pl.DataFrame | None = None, pr_curve: pl.DataFrame | None = None,
                 pack: RegionPack | None = None, land: LandIndex | None = None,
                 title: str = "Seawatch backtest", summary: Sequence[str] = ()) -> None:  # fmt: skip
    """Write the backtest report to ``path`` (one HTML file, nothing else needed to open it)."""
    text = render_report(alerts=alerts, vessels=vessels, tracks=tracks, metrics=metrics, pr_curve=pr_curve,
                         pack=pack, land=land, title=title, summary=summary)  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.part")
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(path)  # a reader never sees half a report


def render_report(*, alerts: pl.DataFrame, vessels: pl.DataFrame, tracks: pl.DataFrame,
                  metrics: pl.DataFrame | None = None, pr_curve: pl.DataFrame | None = None,
                  pack: RegionPack | None = None, land: LandIndex | None = None,
                  title: str = "Seawatch backtest", summary: Sequence[str] = ()) -> str:  # fmt: skip
    """The report as one HTML string (see :func:`write_report`)."""
    top = top_vessels(vessels)
    top_ids = set(top["mmsi"].to_list())
    with_labels = metrics is not None
    nav = [("top", "Top-risk vessels"), ("map", "Map"), ("time", "Over time"), ("scores", "Scores"),
           ("vessels", "Vessels")] + ([("metrics", "Against labels")] if with_labels else []) + [
           ("alerts", "All alerts")]  # fmt: skip
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<nav>" + "".join(f'<a href="#{key}">{label}</a>' for key, label in nav) + "</nav>",
        _header(summary, alerts, vessels),
        _section("top", "Top-risk vessels", _top_table(top)),
        _section(
            "map", "Alerts on the map", _figure(rm.alerts_map(alerts, land=land, pack=pack), "map") + _zone_key(pack)
        ),
        _section("time", "Alerts by kind over time", _figure(rf.alerts_over_time(alerts), "time")),
        _section("scores", "Score distributions", _figure(rf.score_histograms(vessels), "scores", "no vessels")),
        _section("vessels", "Top vessels one by one", _vessel_sections(top, alerts, tracks, land, pack, top_ids)),
    ]
    if metrics is not None:
        parts.append(_section("metrics", "Against labels", _metrics(metrics, pr_curve)))
    parts += [_section("alerts", "All alerts", _alert_list(alerts, top_ids)), "</body></html>"]
    return "\n".join(parts) + "\n"


def top_vessels(vessels: pl.DataFrame, n: int = TOP_VESSELS) -> pl.DataFrame:
    """The ``n`` vessels with the highest of their two scores (more alerts first on a tie)."""
    risk = pl.max_horizontal(pl.col("smuggling_score").fill_null(0.0), pl.col("fire_score").fill_null(0.0))
    ranked = vessels.unique("mmsi", keep="first", maintain_order=True).with_columns(risk.alias("_risk"))
    return ranked.sort(["_risk", "alerts", "mmsi"], descending=[True, True, False], nulls_last=True).head(n)


# ---------------------------------------------------------------- pieces


def esc(value: object) -> str:
    """Text from the data, safe in HTML text and attributes; an em dash for a missing value."""
    if value is None:
        return "—"
    return html.escape(str(value), quote=True)


def _section(key: str, heading: str, body: str) -> str:
    return f'<section id="{key}"><h2>{heading}</h2>\n{body}\n</section>'


def _figure(fig: Canvas | None, name: str, empty: str = "no alerts") -> str:
    if fig is None:
        return f'<p class="note">{empty.capitalize()}.</p>'
    return f'<div class="figure">{rf.to_svg(fig, name)}</div>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table of cells that are already HTML (``<td>`` elements made by :func:`_td`)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _td(inner: str, cls: str = "") -> str:
    return f'<td class="{cls}">{inner}</td>' if cls else f"<td>{inner}</td>"


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return _td("—", "num")
    return _td(f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}", "num")


def _score(value: float | None) -> str:
    if value is None:
        return _td("—", "num")
    return _td(f"{value:.0f}", f"num band-{band_of(value)}")


def _time(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _place(lat: float | None, lon: float | None) -> str:
    if lat is None or lon is None or lat != lat or lon != lon:
        return "—"
    return f"{lat:.4f}, {lon:.4f}"


def _reasons(reasons: Sequence[str] | None, most: int | None = None, more: str = "") -> str:
    items = list(reasons or [])
    if not items:
        return '<span class="muted">—</span>'
    shown = items if most is None else items[:most]
    extra = len(items) - len(shown)
    lis = "".join(f"<li>{esc(r)}</li>" for r in shown)
    if extra:
        lis += f'<li class="muted">… {extra} more{more}</li>'
    return f'<ul class="reasons">{lis}</ul>'


def ship_type_text(code: int | None) -> str:
    if code is None:
        return "—"
    decade, digit = divmod(code, 10)
    words = SHIP_TYPES.get(code) or SHIP_TYPE_DECADES.get(decade)
    if words and decade in (2, 4, 7, 8) and digit in HAZARD:
        words = f"{words}, {HAZARD[digit]}"
    return f"{code} {words}" if words else str(code)


def _vessel_link(mmsi: int | None, top_ids: set[int]) -> str:
    if mmsi is None:
        return "—"
    return f'<a href="#v-{esc(mmsi)}">{esc(mmsi)}</a>' if mmsi in top_ids else esc(mmsi)


def _kind_counts(row: dict[str, Any]) -> str:
    known = [k for k in ALERT_KINDS if row.get(f"alerts_{k}")]
    detail = ", ".join(f"{esc(k)} {row[f'alerts_{k}']}" for k in known)
    total = row.get("alerts") or 0
    return f"<b>{total}</b>" + (f'<br><span class="muted">{detail}</span>' if detail else "")


# ---------------------------------------------------------------- sections


def _header(summary: Sequence[str], alerts: pl.DataFrame, vessels: pl.DataFrame) -> str:
    lines = "".join(f"<li>{esc(s)}</li>" for s in summary)
    out = [f'<ul class="summary">{lines}</ul>' if lines else ""]
    if alerts.height == 0:
        out.append('<p class="note">No alerts in this run.</p>')
    by_kind = alerts.group_by("kind").len()
    n_of = dict(zip(by_kind["kind"].to_list(), by_kind["len"].to_list(), strict=True))
    kind_rows = [[_td(esc(k)), _num(n_of[k])] for k in rf.ordered_kinds(list(n_of))]
    kind_rows.append([_td("<b>all</b>"), _num(alerts.height)])
    if "band" in vessels.columns:
        bands = vessels.select(pl.col("band").fill_null("none")).group_by("band").len()
        n_band = dict(zip(bands["band"].to_list(), bands["len"].to_list(), strict=True))
    else:
        n_band = {}
    band_rows = [[_td(esc(b), f"band-{b}"), _num(n_band.get(b, 0))] for b in reversed(BANDS)]
    band_rows += [[_td(esc(b)), _num(n)] for b, n in n_band.items() if b not in BANDS]
    band_rows.append([_td("<b>all</b>"), _num(vessels.height)])
    out.append(
        '<div class="counts">'
        + _table(["alert kind", "alerts"], kind_rows)
        + _table(["band", "vessels"], band_rows)
        + "</div>"
    )
    return "\n".join(out)


def _zone_key(pack: RegionPack | None) -> str:
    """The names of the zones numbered on the map."""
    if pack is None or not len(pack.zones):
        return ""
    kinds = dict(zip(pack.zones.names, pack.zones.kinds.tolist(), strict=True))
    items = "; ".join(f"<b>{n}</b> {esc(name)} ({esc(kinds[name])})" for name, n in rm.zone_numbers(pack).items())
    return f'<p class="muted">Zones on the map: {items}.</p>'


def _top_table(top: pl.DataFrame) -> str:
    if top.height == 0:
        return '<p class="note">No vessels scored.</p>'
    rows = []
    for i, v in enumerate(top.iter_rows(named=True), start=1):
        more = f' (<a href="#v-{esc(v["mmsi"])}">all</a>)'
        reasons = (
            f"<b>smuggling</b>{_reasons(v.get('smuggling_reasons'), TABLE_REASONS, more)}"
            f"<b>fire</b>{_reasons(v.get('fire_reasons'), TABLE_REASONS, more)}"
        )
        rows.append([
            _num(i), _td(f'<a href="#v-{esc(v["mmsi"])}">{esc(v["mmsi"])}</a>'), _td(esc(v.get("name"))),
            _td(esc(v.get("flag"))), _td(esc(ship_type_text(v.get("ship_type")))), _score(v.get("smuggling_score")),
            _score(v.get("fire_score")), _td(reasons), _td(_kind_counts(v)),
        ])  # fmt: skip
    headers = ["#", "MMSI", "name", "flag", "ship type", "smuggling", "fire", "reasons", "alerts"]
    note = f'<p class="muted">The {top.height} vessels with the highest smuggling or fire score.</p>'
    return note + _table(headers, rows, "top")


def _vessel_alerts(alerts: pl.DataFrame, mmsi: int) -> pl.DataFrame:
    return alerts.filter((pl.col("mmsi") == mmsi) | (pl.col("other_mmsi") == mmsi)).sort("start")


def _alert_rows(alerts: pl.DataFrame, top_ids: set[int], with_vessel: bool) -> list[list[str]]:
    rows = []
    for a in alerts.iter_rows(named=True):
        row = [_td(esc(_time(a["start"]))), _td(esc(_time(a["end"]))), _td(esc(a["kind"]))]
        if with_vessel:
            row.append(_td(_vessel_link(a["mmsi"], top_ids)))
        row += [_td(_vessel_link(a["other_mmsi"], top_ids)), _score(a["score"]), _td(esc(_place(a["lat"], a["lon"]))),
                _td(_reasons(a["reasons"]))]  # fmt: skip
        rows.append(row)
    return rows


def _vessel_sections(top: pl.DataFrame, alerts: pl.DataFrame, tracks: pl.DataFrame, land: LandIndex | None,
                     pack: RegionPack | None, top_ids: set[int]) -> str:  # fmt: skip
    if top.height == 0:
        return '<p class="note">No vessels scored.</p>'
    out = []
    for i, v in enumerate(top.iter_rows(named=True)):
        mmsi = v["mmsi"]
        mine = _vessel_alerts(alerts, mmsi)
        last = f"{_place(v.get('lat'), v.get('lon'))} at {_time(v.get('last_seen'))} UTC"
        ident = [("call sign", v.get("callsign")), ("IMO", v.get("imo")), ("flag", v.get("flag")),
                 ("ship type", ship_type_text(v.get("ship_type"))), ("last position", last),
                 ("positions", v.get("positions")), ("band", v.get("band"))]  # fmt: skip
        if v.get("unusual") is not None:
            ident.append(("unusual", f"{v['unusual']:.2f}"))
        dl = "".join(f"<dt>{k}</dt><dd>{esc(x)}</dd>" for k, x in ident)
        scores = _table(
            ["score", "value", "reasons"],
            [[_td("smuggling"), _score(v.get("smuggling_score")), _td(_reasons(v.get("smuggling_reasons")))],
             [_td("fire"), _score(v.get("fire_score")), _td(_reasons(v.get("fire_reasons")))]],
        )  # fmt: skip
        body = [f'<h3 id="v-{esc(mmsi)}">{i + 1}. {esc(mmsi)} {esc(v.get("name"))}</h3>',
                f'<dl class="ident">{dl}</dl>', scores]  # fmt: skip
        if i < TOP_MAPS:
            track = tracks.filter(pl.col("mmsi") == mmsi)
            fig = rm.track_map(track, mine, land=land, pack=pack, title=f"MMSI {mmsi}")
            body.append(_figure(fig, f"track-{mmsi}", "no positions for this vessel"))
        if mine.height:
            headers = ["start (UTC)", "end (UTC)", "kind", "other vessel", "score", "where", "reasons"]
            shown = mine.head(VESSEL_ALERT_ROWS)
            body.append(_table(headers, _alert_rows(shown, top_ids, with_vessel=False)))
            if shown.height < mine.height:
                body.append(f'<p class="note">The first {shown.height:,} of its {mine.height:,} alerts.</p>')
        else:
            body.append('<p class="note">No alerts for this vessel.</p>')
        body.append('<p><a href="#top">back to the table</a></p>')
        out.append("\n".join(body))
    return "\n".join(out)


METRIC_HEADERS = {"kind": "kind", "labels": "labels", "matched": "matched", "recall": "recall",
                  "observable": "observable labels", "recall_observable": "recall (observable)", "alerts": "alerts",
                  "precision": "precision",
                  "false_background": "false alerts (background)",
                  "false_per_1000_vh": "false alerts / 1000 vessel-h"}  # fmt: skip


def _metrics(metrics: pl.DataFrame, pr_curve: pl.DataFrame | None) -> str:
    rows = []
    for r in metrics.iter_rows(named=True):
        cells = []
        for c in metrics.columns:
            value = r[c]
            if c.startswith(("recall", "precision")) and isinstance(value, float):
                cells.append(_td(f"{100 * value:.0f}%", "num"))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(_num(value, 2 if isinstance(value, float) else 0))
            else:
                cells.append(_td(esc(value)))
        rows.append(cells)
    out = [_table([esc(METRIC_HEADERS.get(c, c)) for c in metrics.columns], rows, "metrics")]
    out.append(
        '<p class="muted">A label is matched by an alert of its kind and vessel that overlaps it in time. '
        "Observable labels left at least one position in the feed. Precision is the share of alerts that match a "
        "label. False alerts are alerts on background vessels, per 1000 hours of background traffic.</p>"
    )
    if pr_curve is not None:
        out.append("<h3>Precision and recall as the alert-score threshold falls</h3>")
        out.append(_figure(rf.pr_figure(pr_curve), "pr", "no precision-recall points"))
    return "\n".join(out)


def _alert_list(alerts: pl.DataFrame, top_ids: set[int]) -> str:
    if alerts.height == 0:
        return '<p class="note">No alerts.</p>'
    shown = alerts.sort(["score", "start"], descending=[True, False], nulls_last=True).head(ALERT_ROWS)
    note = f"{alerts.height:,} alerts, strongest first."
    if shown.height < alerts.height:
        note = (f"Showing the {shown.height:,} strongest of {alerts.height:,} alerts; "
                "alerts.parquet holds them all.")  # fmt: skip
    headers = ["start (UTC)", "end (UTC)", "kind", "MMSI", "other vessel", "score", "where", "reasons"]
    return f'<p class="note">{note}</p>' + _table(headers, _alert_rows(shown, top_ids, with_vessel=True))
