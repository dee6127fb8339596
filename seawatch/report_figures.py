"""The backtest report's charts, written as SVG (:mod:`seawatch.report_svg`), and the colours and markers every
figure shares; the maps are in :mod:`seawatch.report_maps`.

A figure is a :class:`~seawatch.report_svg.Canvas`; :func:`to_svg` gives the ``<svg>`` element to inline in the
page, its ids prefixed with the figure's name. The output has no date and no random id: the same run gives the
same bytes. Data shown as bars carry ``data-kind`` and ``data-n``, so that tests (and a curious reader) can check
a figure against the alerts.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import polars as pl

from engine.alerts import ALERT_KINDS
from models.schema import BAND_EDGES, BANDS
from seawatch import report_svg as sv

# one colour and marker per kind, so the maps, the time chart and the legends agree (and markers help readers
# who do not tell the colours apart)
KIND_STYLE: dict[str, tuple[str, str]] = {
    "ais_gap": ("#1f77b4", "o"), "encounter": ("#d62728", "D"), "loitering": ("#ff7f0e", "s"),
    "spoofing": ("#9467bd", "X"), "land_position": ("#8c564b", "v"), "identity_conflict": ("#e377c2", "P"),
    "identity_change": ("#7f7f7f", "p"), "invalid_identity": ("#bcbd22", "h"), "draught_change": ("#17becf", "^"),
    "zone_entry": ("#2ca02c", "<"), "border_crossing": ("#393b79", ">"), "distress": ("#ffd400", "*"),
}  # fmt: skip
_OTHER_STYLE = ("#444444", "o")
BAND_COLOURS = dict(zip(BANDS, ("#7fbf7b", "#f6d55c", "#f28e2b", "#d62728"), strict=True))
GRID = "#dddddd"
PAGE_WIDTH_PT = 734.0  # a wide chart, as wide as the alert map with its legend
TRACK_POINTS = 500  # at most this many positions of a track are drawn
PR_POINTS = 400  # points of a precision-recall curve drawn at most
TIME_STEPS_H = (1, 2, 3, 4, 6, 12, 24, 48, 72, 168, 336, 720, 2160, 8760)  # hours between time ticks
TIME_TICKS = 10  # at most


def kind_style(kind: str) -> tuple[str, str]:
    return KIND_STYLE.get(kind, _OTHER_STYLE)


def ordered_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds present, in the contract's order, unknown kinds last (sorted)."""
    present = set(kinds)
    return [k for k in ALERT_KINDS if k in present] + sorted(present - set(ALERT_KINDS))


def thin_track(track: pl.DataFrame, most: int = TRACK_POINTS) -> pl.DataFrame:
    """At most ``most`` rows (of a track, or any ordered table), evenly spread, the first and the last kept."""
    if track.height <= most:
        return track
    idx = np.unique(np.linspace(0, track.height - 1, most).round().astype(np.int64))
    return track[idx]


def to_svg(fig: sv.Canvas, name: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML, its ids prefixed with ``name``."""
    return fig.svg(name)


# ---------------------------------------------------------------- alerts over time


def alerts_over_time(alerts: pl.DataFrame) -> sv.Canvas | None:
    """Alerts started per hour (spans up to three days) or per day, stacked by kind; None without alerts."""
    if alerts.height == 0:
        return None
    t0, t1 = alerts["start"].min(), alerts["start"].max()
    hourly = (t1 - t0).total_seconds() <= 3 * 86400  # type: ignore[operator, union-attr]
    every, width_h = ("1h", 1.0) if hourly else ("1d", 24.0)
    counts = (
        alerts.with_columns(pl.col("start").dt.truncate(every).alias("bin"))
        .group_by("bin", "kind")
        .len()
        .pivot(on="kind", index="bin", values="len")
        .fill_null(0)
        .sort("bin")
    )
    hours = counts["bin"].dt.epoch("s").to_numpy() / 3600.0
    kinds = ordered_kinds([c for c in counts.columns if c != "bin"])
    stack = counts.select(kinds).to_numpy().astype(np.float64)
    c = sv.Canvas(PAGE_WIDTH_PT, 0)
    entries = [sv.patch_entry(kind_style(k)[0], k) for k in kinds]
    lo, hi = float(hours[0]), float(hours[-1]) + width_h
    pad = 0.05 * (hi - lo)
    top = float(stack.sum(axis=1).max()) * 1.05
    p = sv.Panel(52, 10, PAGE_WIDTH_PT - 52 - sv.legend_width(entries) - 24, 200, (lo - pad, hi + pad), (0, top))
    yt = _integer_ticks(top)
    c.add(_grid(p, yt))
    bottom = np.zeros(counts.height)
    x0, x1 = p.px(hours).tolist(), p.px(hours + 0.9 * width_h).tolist()
    for j, kind in enumerate(kinds):
        values = stack[:, j]
        y_low, y_high = p.py(bottom).tolist(), p.py(bottom + values).tolist()
        rects = "".join(
            f'<rect x="{sv.f1(x0[i])}" y="{sv.f1(y_high[i])}" width="{sv.f1(x1[i] - x0[i])}" '
            f'height="{sv.f1(y_low[i] - y_high[i])}" data-n="{int(values[i])}"/>'
            for i in np.flatnonzero(values).tolist()
        )
        c.add(f'<g data-kind="{html.escape(kind)}" fill="{kind_style(kind)[0]}" stroke="white" '
              f'stroke-width="0.3">{rects}</g>')  # fmt: skip
        bottom += values
    xt, xl = _time_ticks(lo - pad, hi + pad)
    sv.axes(c, p, xticks=xt, xlabels=xl, yticks=yt, ylabels=[f"{v:g}" for v in yt], xrotate=30.0,
            xlabel="time (UTC)", ylabel=f"alerts started per {'hour' if hourly else 'day'}")  # fmt: skip
    sv.legend(c, p.x0 + p.w + 14, p.y0, entries)
    c.height = p.y0 + p.h + 90
    return c


def _integer_ticks(top: float) -> np.ndarray:
    ticks = sv.nice_ticks(0.0, top)
    return np.arange(0.0, np.floor(top) + 1) if ticks.size > 1 and ticks[1] - ticks[0] < 1 else ticks


def _grid(p: sv.Panel, yticks: np.ndarray) -> str:
    d = "".join(f"M{sv.f1(p.x0)} {sv.f1(y)}h{sv.f1(p.w)}" for y in p.py(yticks).tolist())
    return f'<path d="{d}" stroke="{GRID}" stroke-width="0.6"/>'


def _time_ticks(lo_h: float, hi_h: float) -> tuple[np.ndarray, list[str]]:
    """Ticks on whole hours or days (hours since 1970, UTC) and their labels."""
    step = next((s for s in TIME_STEPS_H if (hi_h - lo_h) / s <= TIME_TICKS), TIME_STEPS_H[-1])
    ticks = np.arange(np.ceil(lo_h / step) * step, hi_h + 1e-9, step)
    fmt = "%m-%d %H:%M" if step < 24 else "%Y-%m-%d"
    return ticks, [datetime.fromtimestamp(h * 3600.0, UTC).strftime(fmt) for h in ticks.tolist()]


# ---------------------------------------------------------------- scores


def score_histograms(vessels: pl.DataFrame) -> sv.Canvas | None:
    """Histograms of both scores over the vessels, the band edges marked; None without vessels."""
    if vessels.height == 0:
        return None
    edges = np.arange(0.0, 100.0 + 5.0, 5.0)
    bounds = (0.0, *BAND_EDGES, 100.0)
    columns = ("smuggling_score", "fire_score")
    values = [vessels[col].drop_nulls().to_numpy() for col in columns]
    counts = [np.histogram(v, bins=edges)[0] for v in values]
    most = max(1, *(int(n.max()) for n in counts if n.size))
    ylim = (0.7, most * 1.8)  # a bar of one vessel stays visible; the tallest stays below the top
    decades = np.arange(0, int(np.floor(np.log10(ylim[1]))) + 1)
    yt = 10.0**decades
    minor = np.array([m * 10.0**d for d in decades for m in range(2, 10) if m * 10.0**d < ylim[1]])
    c = sv.Canvas(PAGE_WIDTH_PT, 0)
    gap, x0 = 22.0, 58.0
    width = (PAGE_WIDTH_PT - x0 - gap - 8) / 2
    for k, (column, v, n) in enumerate(zip(columns, values, counts, strict=True)):
        p = sv.Panel(x0 + k * (width + gap), 20, width, 190, (0, 100), ylim, ylog=True)
        for band, lo, hi in zip(BANDS, bounds[:-1], bounds[1:], strict=True):
            xa, xb = float(p.px(lo)), float(p.px(hi))
            c.add(f'<rect x="{sv.f1(xa)}" y="{sv.f1(p.y0)}" width="{sv.f1(xb - xa)}" height="{sv.f1(p.h)}" '
                  f'fill="{BAND_COLOURS[band]}" fill-opacity="0.18"/>',
                  sv.text((xa + xb) / 2, p.y0 - 3, band, 8, "middle", colour="#333333"))  # fmt: skip
        dashes = "".join(f"M{sv.f1(x)} {sv.f1(p.y0)}v{sv.f1(p.h)}" for x in p.px(np.array(BAND_EDGES)).tolist())
        c.add(f'<path d="{dashes}" stroke="#555555" stroke-width="0.8" stroke-dasharray="3 1.3"/>')
        xa, xb, ya = p.px(edges[:-1]).tolist(), p.px(edges[1:]).tolist(), p.py(n).tolist()
        base = p.y0 + p.h
        bars = "".join(
            f'<rect x="{sv.f1(xa[i])}" y="{sv.f1(ya[i])}" width="{sv.f1(xb[i] - xa[i])}" '
            f'height="{sv.f1(base - ya[i])}" data-n="{int(n[i])}"/>'
            for i in np.flatnonzero(n).tolist()
        )
        c.add(f'<g data-score="{column}" fill="#34495e" stroke="white" stroke-width="0.4">{bars}</g>')
        sv.axes(c, p, xticks=np.arange(0, 101, 20.0), xlabels=[str(x) for x in range(0, 101, 20)],
                yticks=yt if k == 0 else [], ylabels=[f"{t:g}" for t in yt] if k == 0 else [],
                yminor=minor if k == 0 else [], xlabel=f"{column.replace('_', ' ')} ({v.size} vessels)",
                ylabel="vessels (log scale)" if k == 0 else "")  # fmt: skip
    c.height = 20 + 190 + 40
    return c


# ---------------------------------------------------------------- precision and recall


def pr_figure(pr_curve: pl.DataFrame) -> sv.Canvas | None:
    """Precision against recall as the alert-score threshold falls: "all" bold, each kind thin; None if empty."""
    if pr_curve.height == 0:
        return None
    kinds = pr_curve["kind"].unique().to_list()
    order = ordered_kinds([k for k in kinds if k != "all"]) + (["all"] if "all" in kinds else [])
    c = sv.Canvas(0, 0)
    entries = []
    p = sv.Panel(48, 16, 300, 300, (0, 1.04), (0, 1.04))  # curves often run along 1: keep them off the frame
    ticks = np.round(np.arange(0, 1.01, 0.2), 1)
    grid = "".join(f"M{sv.f1(p.x0)} {sv.f1(y)}h{sv.f1(p.w)}" for y in p.py(ticks).tolist())
    grid += "".join(f"M{sv.f1(x)} {sv.f1(p.y0)}v{sv.f1(p.h)}" for x in p.px(ticks).tolist())
    c.add(f'<path d="{grid}" stroke="{GRID}" stroke-width="0.6"/>')
    clip = p.clip(c, "frame")
    marks = []
    for kind in order:
        rows = pr_curve.filter(pl.col("kind") == kind).sort("threshold", descending=True)
        rows = thin_track(rows, PR_POINTS)  # one point per distinct score can be thousands
        x, y = p.px(rows["recall"].to_numpy()), p.py(rows["precision"].to_numpy())
        if kind == "all":
            colour, marker, size, lw, label, opacity = "black", ("o" if rows.height <= 60 else ""), 3.0, 2.4, \
                "all kinds", 1.0  # fmt: skip
            marks = _threshold_marks(c, p, rows)
        else:
            (colour, marker), size, lw, label, opacity = kind_style(kind), 3.5, 1.0, kind, 0.85
        dots = ""
        if marker:
            href = c.marker(marker, size)
            dots = "".join(f'<use href="{href}" x="{sv.f1(a)}" y="{sv.f1(b)}"/>'
                           for a, b in zip(x.tolist(), y.tolist(), strict=True) if a == a and b == b)  # fmt: skip
        c.add(f'<g data-kind="{html.escape(kind)}" {clip} fill="{colour}" stroke="{colour}" opacity="{opacity}">'
              f'<path d="{sv.polyline_path(x, y)}" fill="none" stroke="{colour}" stroke-width="{lw}" '
              f'stroke-linejoin="round"/>{dots}</g>')  # fmt: skip
        handle = f'<path d="M0 0h20" stroke="{colour}" stroke-width="{lw}"/>'
        if marker:
            handle += f'<use href="{c.marker(marker, size)}" x="10" y="0" fill="{colour}" stroke="{colour}"/>'
        entries.append(sv.Entry(handle, label))
    c.add(*marks)
    labels = [f"{t:.1f}" for t in ticks]
    sv.axes(c, p, xticks=ticks, xlabels=labels, yticks=ticks, ylabels=labels, xlabel="recall (labels matched)",
            ylabel="precision (alerts matching a label)")  # fmt: skip
    sv.legend(c, p.x0 + p.w + 14, p.y0, entries)
    c.width = p.x0 + p.w + 14 + sv.legend_width(entries) + 4
    c.height = p.y0 + p.h + 40
    return c


def _threshold_marks(c: sv.Canvas, p: sv.Panel, rows: pl.DataFrame) -> list[str]:
    """The curve's points at the band edges, labelled: where an analyst would set the alert threshold."""
    th = rows["threshold"].to_numpy()
    out = []
    for edge in BAND_EDGES:
        if th.size == 0 or not (th.min() <= edge <= th.max()):
            continue
        i = int(np.argmin(np.abs(th - edge)))
        rx, ry = float(rows["recall"][i]), float(rows["precision"][i])
        x, y = float(p.px(rx)), float(p.py(ry))
        right = rx > 0.7  # the label goes left of a point near the right edge
        label = f"score ≥ {th[i]:.0f}"
        w = sv.text_width(label, 7.5)
        tx, ty = (x - 7 - w, y + 14) if right else (x + 7, y - 7)
        out.append(f'<use href="{c.marker("o", 7.0)}" x="{sv.f1(x)}" y="{sv.f1(y)}" fill="none" stroke="#c0392b" '
                   f'stroke-width="1.4"/>')  # fmt: skip
        out.append(f'<rect x="{sv.f1(tx - 2)}" y="{sv.f1(ty - 8)}" width="{sv.f1(w + 4)}" height="11" rx="2" '
                   f'fill="white" fill-opacity="0.85"/>')  # fmt: skip
        out.append(sv.text(tx, ty, label, 7.5, colour="#c0392b"))
    return out
