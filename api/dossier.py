"""A vessel's evidence dossier: everything the store holds on it, as one file to keep with a case.

:func:`build_dossier` reads it from the store (identity and its history, the scores and their reasons, every
alert with its triage history, the mutes, the watchlists naming it, the data's coverage and its gaps, the
track); :func:`render` writes it as HTML (one file: inline CSS and an inline SVG map, no script, nothing fetched;
it opens offline and prints), JSON (the :class:`api.schemas.Dossier` model) or Markdown. Every format carries
:data:`DISCLAIMER`, written here only.

The track map is drawn by the report's SVG toolkit (``seawatch.report_maps``), imported when an HTML dossier is
drawn: the one place ``api`` reaches into ``seawatch``, until that toolkit moves down a layer.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from pydantic_core import to_json

from api.schemas import (
    Coverage,
    CoverageGap,
    Dossier,
    DossierAlert,
    IdentityRecord,
    MutePublic,
    ScoreBreakdown,
    TrackPoint,
    TriageEntry,
    VesselDecision,
    VesselPublic,
    WatchlistSection,
)
from api.store import AlertFilter, Store
from api.store.base import utcnow
from engine.geo.reach import class_top_speed
from models.quality import NoisyBar

if TYPE_CHECKING:
    from engine.geo.land import LandIndex

Format = Literal["html", "json", "md"]
FORMATS: tuple[Format, ...] = ("html", "json", "md")
DISCLAIMER = (
    "Triage aid, not a legal finding. This dossier sets out what the automatic detectors and risk scores of "
    "Seawatch computed from AIS reports, and what analysts recorded about them. AIS positions and identities can be "
    "wrong, spoofed or missing, and reception has gaps: every alert and score here is a lead to check against "
    "other sources, not evidence that an offence took place."
)
NO_WATCHLISTS = "No watchlist names this vessel (by its MMSI, IMO, call sign or name)."
ALERTS_MAX = 2_000  # alerts listed; a vessel past this has its oldest counted, not listed
DECISIONS_MAX = 5_000  # decisions read: years of a busy watch floor on one vessel
GAP_MIN_HOURS = 1.0  # a silence listed as a gap: the track map breaks its line there too (seawatch.report_maps)
# Watchlist entries naming a vessel: :func:`watchlist_entries` reads them from the store
WatchlistReader = Callable[[Store, int], list[dict[str, Any]]]


def no_watchlists(_store: Store, _mmsi: int) -> list[dict[str, Any]]:
    return []


def watchlist_entries(store: Store, mmsi: int) -> list[dict[str, Any]]:
    """The entries naming ``mmsi`` by its stored identity, in words for the dossier: "caught 2025: IMO 9123456 listed
    for ... (source ...; added by ... on ...; first matched ...)", with the entry's fields beside."""
    out = []
    for e in store.vessel_watchlist_entries(mmsi):
        added = f"added by {e['added_by']} on {when(e['added_at'])}"
        facts = "; ".join(x for x in (f"source {e['source']}" if e["source"] else "", added,
                                      f"first matched {when(e['first_matched'])}" if e["first_matched"] else "") if x)
        out.append({**e, "said": f"{e['watchlist']}: {e['detail']}" + (f" ({facts})" if facts else "")})
    return out


def build_dossier(store: Store, mmsi: int, *, bar: NoisyBar, since: datetime | None = None, track_max: int = 10_000,
                  watchlists: WatchlistReader = watchlist_entries) -> Dossier | None:  # fmt: skip
    """The dossier of ``mmsi`` (None when the store has no such vessel): alerts still going on at or after
    ``since``, decisions and track from then on (all that is stored without it), at most ``track_max`` positions
    (the latest)."""
    row = store.vessel(mmsi)
    if row is None:
        return None
    rows, more = store.alerts_page(AlertFilter(mmsi=mmsi, since=since), limit=ALERTS_MAX)
    rows = store.mark_below_bar(rows, bar)
    decisions = [d for d in store.vessel_triage(mmsi, DECISIONS_MAX) if since is None or d["at"] >= since]
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for d in reversed(decisions):  # oldest first within each alert
        by_alert.setdefault(d["alert_id"], []).append(d)
    listed = {r["alert_id"] for r in rows}
    alerts = [DossierAlert.model_validate(r | {"triage": [TriageEntry.model_validate(d) for d in
                                                          by_alert.get(r["alert_id"], [])]}) for r in rows]  # fmt: skip
    left_out = store.alerts_count(AlertFilter(mmsi=mmsi, since=since)) - len(rows) if more else 0
    track = [TrackPoint.model_validate(p) for p in store.track(mmsi, since, None, track_max)]
    return Dossier(
        mmsi=mmsi,
        generated_at=utcnow(),
        since=since,
        disclaimer=DISCLAIMER,
        vessel=VesselPublic.from_row(row),
        identity_history=[IdentityRecord.model_validate(h) for h in store.identity_history(mmsi)],
        scores={
            "smuggling": ScoreBreakdown(
                score=row["smuggling_score"], band=row["smuggling_band"], reasons=row["smuggling_reasons"] or []
            ),
            "fire": ScoreBreakdown(score=row["fire_score"], band=row["fire_band"], reasons=row["fire_reasons"] or []),
        },  # fmt: skip
        alerts=alerts,
        alerts_left_out=left_out,
        other_decisions=[VesselDecision.model_validate(d) for d in decisions if d["alert_id"] not in listed],
        mutes=[MutePublic.model_validate(m) for m in store.vessel_mutes(mmsi)],
        watchlists=WatchlistSection(entries=watchlists(store, mmsi), note=NO_WATCHLISTS),
        coverage=_coverage(store, row, track),
        track=track,
    )


def _coverage(store: Store, row: dict[str, Any], track: list[TrackPoint]) -> Coverage:
    gaps = []
    for a, b in zip(track[:-1], track[1:], strict=False):
        hours = (b.t - a.t).total_seconds() / 3600
        if hours >= GAP_MIN_HOURS:
            gaps.append(CoverageGap(start=a.t, end=b.t, hours=round(hours, 2)))
    feed_time, last = store.latest_seen(), row["last_seen"]
    silent = round((feed_time - last).total_seconds() / 3600, 2) if feed_time and last else None
    return Coverage(
        first_seen=row["first_seen"], last_seen=last, positions=row["positions"], feed_time=feed_time,
        silent_hours=silent, track_points=len(track), track_start=track[0].t if track else None,
        track_end=track[-1].t if track else None, track_interval_s=store.track_interval_s,
        track_retention_hours=store.track_retention.total_seconds() / 3600, gap_min_hours=GAP_MIN_HOURS, gaps=gaps,
    )  # fmt: skip


# ---------------------------------------------------------------- formats


def render(d: Dossier, fmt: Format, land: LandIndex | None = None) -> bytes:
    """The dossier as ``fmt``: HTML (with the track map over ``land``), JSON or Markdown, UTF-8."""
    if fmt == "json":
        return to_json(d, indent=1, inf_nan_mode="null")
    if fmt == "md":
        return markdown(d).encode()
    if fmt == "html":
        return html_page(d, land).encode()
    raise ValueError(f"no dossier format {fmt!r}: give one of {', '.join(FORMATS)}")


def when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "—"


def num(v: float | None, fmt: str = ".0f") -> str:
    return "—" if v is None else format(v, fmt)


def type_words(ship_type: int | None) -> str:
    return "—" if ship_type is None else f"{ship_type} ({class_top_speed(ship_type)[1]})"


def title(d: Dossier) -> str:
    return f"Dossier: {d.vessel.name or '(no name broadcast)'} — MMSI {d.mmsi}"


def facts(d: Dossier) -> list[tuple[str, str]]:
    """The identity and coverage facts, as (label, value), in the order every format lists them."""
    v, c = d.vessel, d.coverage
    return [
        ("MMSI", str(v.mmsi)), ("name", v.name or "—"), ("call sign", v.callsign or "—"),
        ("IMO", str(v.imo) if v.imo else "—"), ("ship type", type_words(v.ship_type)), ("flag (from the MMSI)",
        v.flag or "—"), ("risk", f"{num(v.score)} ({v.band or 'no band'})"),
        ("first heard", when(c.first_seen)), ("last heard", when(c.last_seen)),
        ("last position", f"{v.lat:.4f}° N, {v.lon:.4f}° E" if v.lat is not None and v.lon is not None else "—"),
        ("position reports", num(c.positions, ",")),
        ("silent for", f"{c.silent_hours:.1f} h by the feed's clock ({when(c.feed_time)})"
         if c.silent_hours is not None else "—"),
        ("stored track", f"{c.track_points:,} positions, {when(c.track_start)} to {when(c.track_end)} (one per "
         f"{c.track_interval_s:g} s, kept {c.track_retention_hours:g} h)"),
        ("period", f"from {when(d.since)}" if d.since else "all that is stored"),
        ("generated", when(d.generated_at)),
    ]  # fmt: skip


def _decision_words(t: TriageEntry) -> str:
    why = f" ({t.reason})" if t.reason else ""
    note = f": {t.note}" if t.note else ""
    return f"{when(t.at)} {t.by} {t.status}{why}{note}"


def _mute_words(m: MutePublic) -> str:
    other = f" with {m.other_mmsi if m.mmsi != m.other_mmsi else m.mmsi}" if m.pattern == "pair" else ""
    return (f"{when(m.created_at)} {m.by} muted {m.kind or 'every kind'}{other} until {when(m.expires_at)} "
            f"({m.state.replace('_', ' ')}): {m.reason}")  # fmt: skip


def _entry_words(e: dict[str, Any]) -> str:
    return str(e.get("said") or e)


def _alert_marks(a: DossierAlert) -> str:
    marks = [a.status] + (["muted"] if a.muted else []) + (["below the raised bar"] if a.below_bar else [])
    return ", ".join(marks)


# ---------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """Text from the data made safe in a Markdown table cell or line: no table breaks, no markup."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace("*", "\\*")


def markdown(d: Dossier) -> str:
    out = [f"# {_md(title(d))}", "", f"> **{DISCLAIMER}**", "", "## Identity and coverage", "",
           "| | |", "|---|---|", *[f"| {k} | {_md(v)} |" for k, v in facts(d)], ""]  # fmt: skip
    out += ["## Identity history", ""]
    out += [f"- {when(h.t)}: {_md(h.name or '—')}, call sign {_md(h.callsign or '—')}, IMO {h.imo or '—'}, "
            f"type {type_words(h.ship_type)}" for h in d.identity_history] or ["- none stored"]  # fmt: skip
    out += ["", "## Risk score and its reasons", ""]
    for name, s in d.scores.items():
        out += [f"**{name}: {num(s.score)} ({s.band or 'no band'})**", ""]
        out += [f"- {_md(r)}" for r in s.reasons] or ["- no evidence"]
        out.append("")
    out += [f"## Alerts ({len(d.alerts)}{f', {d.alerts_left_out} older not listed' if d.alerts_left_out else ''})",
            ""]  # fmt: skip
    for a in d.alerts:
        pair = f" with {a.other_mmsi if a.mmsi == d.mmsi else a.mmsi}" if a.other_mmsi else ""
        where = f" at {a.lat:.4f}, {a.lon:.4f}" if a.lat is not None and a.lon is not None else ""
        out += [f"### {a.kind}{pair}: score {a.score:.0f}, {_alert_marks(a)}", "",
                f"{when(a.start)} to {when(a.end)}{where} (`{a.alert_id}`)", ""]  # fmt: skip
        out += [f"- {_md(r)}" for r in a.reasons]
        out += [f"- triage: {_md(_decision_words(t))}" for t in a.triage] or ["- triage: not decided"]
        out.append("")
    if not d.alerts:
        out += ["No alerts in the period.", ""]
    out += ["## Other triage decisions and mutes", ""]
    out += [f"- {_md(_decision_words(t))} on {t.kind} `{t.alert_id}` (withdrawn or before the period)"
            for t in d.other_decisions]  # fmt: skip
    out += [f"- {_md(_mute_words(m))}" for m in d.mutes]
    if not d.other_decisions and not d.mutes:
        out.append("- none")
    out += ["", "## Watchlists", "", *([f"- {_md(_entry_words(e))}" for e in d.watchlists.entries] or
                                       [d.watchlists.note])]  # fmt: skip
    out += ["", f"## Gaps in the stored track (silences of {d.coverage.gap_min_hours:g} h or more)", ""]
    out += [f"- {when(g.start)} to {when(g.end)}: {g.hours:.1f} h" for g in d.coverage.gaps] or ["- none"]
    out += ["", "---", "", f"*{DISCLAIMER}*", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- HTML

CSS = """
body{font:10.5pt/1.4 "DejaVu Sans",Verdana,Arial,sans-serif;color:#1b2631;max-width:60em;margin:1.5em auto;
padding:0 1em}
h1{font-size:16pt;margin:.2em 0}
h2{font-size:12.5pt;border-bottom:1px solid #aab;margin:1.4em 0 .5em;padding-bottom:2px}
h3{font-size:10.5pt;margin:1em 0 .2em}
.disclaimer{border:2px solid #b03a2e;background:#fdf2f0;padding:.6em .8em;font-weight:bold}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccd;padding:2px 6px;text-align:left;
vertical-align:top}th{background:#eef1f5;width:13em;font-weight:normal}
.alert{border:1px solid #ccd;border-left:4px solid #7f8c8d;padding:.3em .7em;margin:.6em 0}
.alert.b-high{border-left-color:#e67e22}.alert.b-critical{border-left-color:#b03a2e}.alert.b-medium{border-left-color:#f1c40f}
.muted{color:#6c7a89}.id{font-family:monospace;font-size:9pt;color:#566573}ul{margin:.2em 0;padding-left:1.4em}
figure{margin:.5em 0}figure svg{max-width:100%;height:auto}
@page{size:A4;margin:15mm}
@media print{body{margin:0;max-width:none;font-size:9.5pt}.alert,tr,figure{break-inside:avoid}h2{break-after:avoid}}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _band(score: float) -> str:
    return "critical" if score > 75 else "high" if score > 50 else "medium" if score > 20 else "low"


def html_page(d: Dossier, land: LandIndex | None) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts(d))
    parts = [f"<h1>{_e(title(d))}</h1>", f'<p class="disclaimer">{_e(DISCLAIMER)}</p>',
             "<h2>Identity and coverage</h2>", f"<table>{rows}</table>", _track_figure(d, land)]  # fmt: skip
    history = "".join(f"<tr><td>{when(h.t)}</td><td>{_e(h.name or '—')}</td><td>{_e(h.callsign or '—')}</td>"
                      f"<td>{h.imo or '—'}</td><td>{_e(type_words(h.ship_type))}</td></tr>" for h in
                      d.identity_history)  # fmt: skip
    head = "<tr><th>first seen</th><th>name</th><th>call sign</th><th>IMO</th><th>ship type</th></tr>"
    parts += ["<h2>Identity history</h2>", f"<table>{head}{history}</table>" if history else "<p>None stored.</p>"]
    parts.append("<h2>Risk score and its reasons</h2>")
    for name, s in d.scores.items():
        items = "".join(f"<li>{_e(r)}</li>" for r in s.reasons) or "<li class=muted>no evidence</li>"
        parts.append(f"<h3>{_e(name)}: {num(s.score)} ({_e(s.band or 'no band')})</h3><ul>{items}</ul>")
    more = f", {d.alerts_left_out} older not listed" if d.alerts_left_out else ""
    parts.append(f"<h2>Alerts ({len(d.alerts)}{more})</h2>")
    parts += [_alert_html(d, a) for a in d.alerts] or ["<p>No alerts in the period.</p>"]
    others = [f"<li>{_e(_decision_words(t))} on {_e(t.kind)} <span class=id>{_e(t.alert_id)}</span> (withdrawn or "
              "before the period)</li>" for t in d.other_decisions] + [f"<li>{_e(_mute_words(m))}</li>" for m in
                                                                       d.mutes]  # fmt: skip
    parts += ["<h2>Other triage decisions and mutes</h2>", f"<ul>{''.join(others)}</ul>" if others else "<p>None.</p>"]
    entries = "".join(f"<li>{_e(_entry_words(e))}</li>" for e in d.watchlists.entries)
    parts += ["<h2>Watchlists</h2>", f"<ul>{entries}</ul>" if entries else f"<p>{_e(d.watchlists.note)}</p>"]
    gaps = "".join(f"<li>{when(g.start)} to {when(g.end)}: {g.hours:.1f} h</li>" for g in d.coverage.gaps)
    parts += [
        f"<h2>Gaps in the stored track (silences of {d.coverage.gap_min_hours:g} h or more)</h2>",
        f"<ul>{gaps}</ul>" if gaps else "<p>None.</p>",
        f'<p class="disclaimer">{_e(DISCLAIMER)}</p>',
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title(d))}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{''.join(parts)}</body></html>\n")  # fmt: skip


def _alert_html(d: Dossier, a: DossierAlert) -> str:
    pair = f" with {a.other_mmsi if a.mmsi == d.mmsi else a.mmsi}" if a.other_mmsi else ""
    where = f" at {a.lat:.4f}, {a.lon:.4f}" if a.lat is not None and a.lon is not None else ""
    reasons = "".join(f"<li>{_e(r)}</li>" for r in a.reasons)
    triage = "".join(f"<li>{_e(_decision_words(t))}</li>" for t in a.triage) or "<li class=muted>not decided</li>"
    return (f'<div class="alert b-{_band(a.score)}" data-alert-id="{_e(a.alert_id)}"><h3>{_e(a.kind)}{pair}: score '
            f"{a.score:.0f} <span class=muted>({_e(_alert_marks(a))})</span></h3><div>{when(a.start)} to "
            f"{when(a.end)}{where} <span class=id>{_e(a.alert_id)}</span></div><ul>{reasons}</ul>"
            f"<div>Triage:</div><ul>{triage}</ul></div>")  # fmt: skip


def _track_figure(d: Dossier, land: LandIndex | None) -> str:
    """The track over the coast with the alerts, as inline SVG (no namespace URL: HTML puts <svg> in SVG's own)."""
    from seawatch.report_maps import track_map

    track = pl.DataFrame([p.model_dump() for p in d.track], schema={"t": pl.Datetime("us", "UTC"),
                         "lat": pl.Float64, "lon": pl.Float64, "sog": pl.Float64, "cog": pl.Float64})  # fmt: skip
    located = [a for a in d.alerts if a.lat is not None and a.lon is not None]
    alerts = pl.DataFrame({"kind": [a.kind for a in located], "lat": [a.lat for a in located],
                           "lon": [a.lon for a in located]}, schema={"kind": pl.String, "lat": pl.Float64,
                                                                      "lon": pl.Float64})  # fmt: skip
    canvas = track_map(track, alerts, land=land, title=f"MMSI {d.mmsi}: stored track and located alerts")
    if canvas is None:
        return "<p>No stored position to draw.</p>"
    svg = canvas.svg(f"dossier-{d.mmsi}").replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    return f"<figure>{svg}</figure>"
