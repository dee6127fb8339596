"""The report's maps, written as SVG (:mod:`seawatch.report_svg`): every alert over the land and the region's
zones and boundaries, and one vessel's track with its alerts and a small overview of where it is.

Land is sampled from the GLOBE mask on a grid over the map and embedded as a two-colour PNG (small, and exact
at report size). Each alert is a ``<use>`` of its kind's marker, so thousands stay light and their crowd still
darkens where they gather; each kind's markers are one group with ``data-kind`` and ``data-n``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.geo.land import LandIndex
from engine.geo.regions import RegionPack
from seawatch import report_svg as sv
from seawatch.report_figures import kind_style, ordered_kinds, thin_track

SEA, LAND = "#e6f0f8", "#d8d2c0"
ZONE_COLOURS = {"restricted": "#c0392b", "military": "#7b241c", "protected": "#1e8449", "fishing": "#2874a6"}
ZONE_OTHER = "#566573"
BOUNDARY_COLOUR = "#6c3483"
BOUNDARY_DASH = "7.2 3.6"  # matplotlib's (6, 3) at 1.2 pt
TRACK_COLOUR = "#34495e"

LAND_CELLS = 360  # land grid cells along the longer side of a map: a few hundred read well at report size
MAP_BOX_PT = (440.0, 520.0)  # the largest map frame, width and height (a track map is TRACK_SCALE of it)
TRACK_SCALE = 0.7
LOCATOR_SPAN_DEG = 5.0  # the overview beside a track map covers at least this much
LOCATOR_CELLS = 120
LOCATOR_SHARE = 0.42  # of the map frame's side
TRACK_GAP_US = 3_600_000_000  # a track is drawn broken across a silence of an hour or more
CROWD = 400  # alerts on one map past which markers shrink
ABSURD_SPAN_DEG = 8.0  # a map wider than this, and 4 times the spread of the bulk, is stretched by outliers


@dataclass(frozen=True)
class Extent:
    lat0: float
    lat1: float
    lon0: float
    lon1: float

    @property
    def aspect(self) -> float:
        """Height per width, in degrees, that keeps a km a km at the map's middle latitude."""
        return 1.0 / max(np.cos(np.radians((self.lat0 + self.lat1) / 2)), 0.05)

    @property
    def ratio(self) -> float:
        """The map's height over its width on the page."""
        return (self.lat1 - self.lat0) * self.aspect / max(self.lon1 - self.lon0, 1e-9)

    def contains(self) -> pl.Expr:
        """Whether a row's ``lat``/``lon`` lies in the box."""
        return pl.col("lat").is_between(self.lat0, self.lat1) & pl.col("lon").is_between(self.lon0, self.lon1)


def extent_of(lat: np.ndarray, lon: np.ndarray, *, pad: float = 0.08, min_span: float = 0.3,
              min_ratio: float = 0.5) -> Extent | None:  # fmt: skip
    """A padded box around the points; None without any finite point.

    The box is the points' whole spread unless a few outliers (a spoofed fix at 0, 0) stretch it past
    ABSURD_SPAN_DEG and four times the 2nd-98th percentile spread: then the bulk's box, and the outliers fall off.
    Neither side, in km, is less than ``min_ratio`` of the other.
    """
    ok = np.isfinite(lat) & np.isfinite(lon)
    la, lo = np.asarray(lat, np.float64)[ok], np.asarray(lon, np.float64)[ok]
    if la.size == 0:
        return None
    lat0, lat1, lon0, lon1 = la.min(), la.max(), lo.min(), lo.max()
    q_lat, q_lon = np.percentile(la, [2, 98]), np.percentile(lo, [2, 98])
    bulk = max(q_lat[1] - q_lat[0], q_lon[1] - q_lon[0], min_span)
    if max(lat1 - lat0, lon1 - lon0) > max(ABSURD_SPAN_DEG, 4 * bulk):
        lat0, lat1, lon0, lon1 = q_lat[0], q_lat[1], q_lon[0], q_lon[1]
    span = max(lat1 - lat0, lon1 - lon0, min_span)
    mid_lat, mid_lon = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    half_lat = max(lat1 - lat0, min_span) / 2 + pad * span
    half_lon = max(lon1 - lon0, min_span) / 2 + pad * span
    # a map much wider than tall (or the reverse) is all legend and margins: widen the short side
    stretch = 1.0 / max(np.cos(np.radians(mid_lat)), 0.05)
    half_lat = max(half_lat, min_ratio * half_lon / stretch)
    half_lon = max(half_lon, min_ratio * half_lat * stretch)
    return Extent(
        float(max(mid_lat - half_lat, -90.0)),
        float(min(mid_lat + half_lat, 90.0)),
        float(max(mid_lon - half_lon, -180.0)),
        float(min(mid_lon + half_lon, 180.0)),
    )


def zone_numbers(pack: RegionPack) -> dict[str, int]:
    """The number each zone carries on the map, from 1, in the pack's order (one per name)."""
    return {name: i for i, name in enumerate(dict.fromkeys(pack.zones.names), start=1)}


# ---------------------------------------------------------------- the two maps


def alerts_map(alerts: pl.DataFrame, *, land: LandIndex | None, pack: RegionPack | None) -> sv.Canvas | None:
    """Every alert where it happened, over the land and the pack's zones and boundaries; None without a position."""
    located = alerts.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    ext = extent_of(located["lat"].to_numpy(), located["lon"].to_numpy(), min_span=1.0)
    if ext is None:
        return None
    inside = located.filter(ext.contains())
    left_out = located.height - inside.height
    note = f"{inside.height:,} alerts on the map" + (f"; {left_out:,} far outside it not drawn" if left_out else "")
    c, p = _map_canvas(ext, 1.0, note, title_size=10.0)
    _draw_land(c, p, ext, land)
    under, over, pack_entries = _draw_pack(c, p, pack, numbered=True)
    c.add(under)
    entries = _scatter_kinds(c, p, inside, 6.0) + pack_entries
    c.add(over)
    _map_axes(c, p, ext)
    right = p.x0 + p.w + 14
    bottom = sv.legend(c, right, p.y0, entries, title="alerts")
    c.width = right + sv.legend_width(entries, "alerts") + 4
    c.height = max(c.height, bottom + 6)
    return c


def track_map(track: pl.DataFrame, alerts: pl.DataFrame, *, land: LandIndex | None, title: str,
              pack: RegionPack | None = None) -> sv.Canvas | None:  # fmt: skip
    """One vessel's track (thinned to TRACK_POINTS positions) and its alerts; None without any position."""
    track = thin_track(track.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite()).sort("t"))
    located = alerts.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    lat = np.concatenate([track["lat"].to_numpy(), located["lat"].to_numpy()])
    lon = np.concatenate([track["lon"].to_numpy(), located["lon"].to_numpy()])
    ext = extent_of(lat, lon, pad=0.12, min_span=0.2, min_ratio=0.6)
    if ext is None:
        return None
    c, p = _map_canvas(ext, TRACK_SCALE, title, title_size=10.0)
    _draw_land(c, p, ext, land)
    under, over, entries = _draw_pack(c, p, pack)
    c.add(under)
    if track.height:
        entries += _draw_track(c, p, track)
    entries = _scatter_kinds(c, p, located.filter(ext.contains()), 8.4) + entries
    c.add(over)
    _map_axes(c, p, ext)
    ncols = 1 + (len(entries) > 10)  # in two columns when long, so that it stays clear of the overview below
    right = p.x0 + p.w + 14
    bottom = sv.legend(c, right, p.y0, entries, ncols=ncols)
    c.width = right + sv.legend_width(entries, ncols=ncols) + 4
    if land is not None:
        _locator(c, p, ext, land, below=bottom + 12)
    c.height = max(c.height, bottom + 6)
    return c


# ---------------------------------------------------------------- layers


def _map_canvas(ext: Extent, scale: float, title: str, title_size: float) -> tuple[sv.Canvas, sv.Panel]:
    """The canvas and the map's frame: as large as MAP_BOX_PT (times ``scale``) allows at a km-true aspect."""
    most_w, most_h = MAP_BOX_PT[0] * scale, MAP_BOX_PT[1] * scale
    w = min(most_w, most_h / ext.ratio)
    h = w * ext.ratio
    labels = sv.tick_labels(sv.nice_ticks(ext.lat0, ext.lat1))
    left = 8 + 9 + 6 + max(sv.text_width(s, 9) for s in labels) + sv.TICK_LEN
    top = title_size + 10
    p = sv.Panel(left, top, w, h, (ext.lon0, ext.lon1), (ext.lat0, ext.lat1))
    c = sv.Canvas(left + w + 20, top + h + 36)
    c.add(f'<rect {p.box} fill="{SEA}"/>', sv.text(p.x0, top - 5, title, title_size))
    return c, p


def _map_axes(c: sv.Canvas, p: sv.Panel, ext: Extent, size: float = 9.0, labelled: bool = True) -> None:
    xt, yt = sv.nice_ticks(ext.lon0, ext.lon1), sv.nice_ticks(ext.lat0, ext.lat1)
    sv.axes(c, p, xticks=xt, xlabels=sv.tick_labels(xt), yticks=yt, ylabels=sv.tick_labels(yt), frame=True,
            xlabel="longitude (°E)" if labelled else "", ylabel="latitude (°N)" if labelled else "",
            size=size)  # fmt: skip


def _draw_land(c: sv.Canvas, p: sv.Panel, ext: Extent, land: LandIndex | None, cells: int = LAND_CELLS) -> None:
    """Land from the GLOBE mask, sampled on a grid over the extent and embedded as an image."""
    if land is None:
        return
    d_lat, d_lon = ext.lat1 - ext.lat0, ext.lon1 - ext.lon0
    step = max(d_lat, d_lon) / cells
    n_lat, n_lon = max(int(np.ceil(d_lat / step)), 2), max(int(np.ceil(d_lon / step)), 2)
    lat = np.linspace(ext.lat0, ext.lat1, n_lat)
    lon = np.linspace(ext.lon0, ext.lon1, n_lon)
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    mask = land.is_land(grid_lat, grid_lon)
    if not mask.any():
        return
    uri = sv.mask_png(mask[::-1], LAND)  # the image's first row is the north
    c.add(f'<image {p.box} preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}"/>')


def _draw_pack(c: sv.Canvas, p: sv.Panel, pack: RegionPack | None,
               numbered: bool = False) -> tuple[str, str, list[sv.Entry]]:  # fmt: skip
    """Zones (lightly filled under the alerts, outlined over them) and boundaries (dashed, over the alerts);
    the legend entries for what was drawn."""
    if pack is None:
        return "", "", []
    clip = p.clip(c, "frame")
    zones, lines = pack.zones, pack.boundaries
    numbers = zone_numbers(pack) if numbered else {}
    fills, outlines, labels = [], [], []
    for i in range(len(zones)):
        lat, lon = zones.part(i)
        colour = ZONE_COLOURS.get(str(zones.kinds[i]), ZONE_OTHER)
        d = sv.polyline_path(p.px(lon), p.py(lat)) + "z"
        fills.append(f'<path d="{d}" fill="{colour}" fill-opacity="0.08"/>')
        outlines.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="0.8" stroke-opacity="0.8"/>')
        if numbers:  # names would overlap each other and the alerts: a number here, the names under the map
            x, y = float(p.px(lon.min())), float(p.py(lat.max()))
            labels.append(sv.text(x + 2, y + 2, str(numbers[zones.names[i]]), 7, colour=colour, bold=True,
                                  baseline="hanging"))  # fmt: skip
    for i in range(len(lines)):
        lat, lon = lines.part(i)
        d = sv.polyline_path(p.px(lon), p.py(lat))
        outlines.append(f'<path d="{d}" fill="none" stroke="{BOUNDARY_COLOUR}" stroke-width="1.2" '
                        f'stroke-dasharray="{BOUNDARY_DASH}"/>')  # fmt: skip
    entries = []
    if len(zones):
        entries.append(sv.patch_entry(ZONE_OTHER, "zones", 0.25, ZONE_OTHER))
    if len(lines):
        entries.append(sv.line_entry(BOUNDARY_COLOUR, "boundary", 1.2, BOUNDARY_DASH))
    under = f"<g {clip}>{''.join(fills)}</g>" if fills else ""
    over = f"<g {clip}>{''.join(outlines + labels)}</g>" if outlines else ""
    return under, over, entries


def _scatter_kinds(c: sv.Canvas, p: sv.Panel, alerts: pl.DataFrame, size: float) -> list[sv.Entry]:
    """The alerts as markers, one group per kind; the legend entries, each with its count."""
    counts = alerts.group_by("kind").len()
    n_of = dict(zip(counts["kind"].to_list(), counts["len"].to_list(), strict=True))
    # the more markers, the smaller and lighter, so that the crowd shows where alerts gather instead of one blot
    crowd = alerts.height > CROWD
    size = size * min(1.0, float(np.sqrt(np.sqrt(CROWD / max(alerts.height, 1))))) if crowd else size
    clip = p.clip(c, "frame")
    entries = []
    for kind in ordered_kinds(list(n_of)):
        rows = alerts.filter(pl.col("kind") == kind)
        colour, marker = kind_style(kind)
        href = c.marker(marker, size)
        style = 'stroke="none" fill-opacity="0.6"' if crowd else 'stroke="#222222" stroke-width="0.4"'
        xs, ys = p.px(rows["lon"].to_numpy()).tolist(), p.py(rows["lat"].to_numpy()).tolist()
        uses = "".join(f'<use href="{href}" x="{sv.f1(x)}" y="{sv.f1(y)}"/>' for x, y in zip(xs, ys, strict=True))
        c.add(f'<g data-kind="{html.escape(kind)}" data-n="{rows.height}" fill="{colour}" {style} {clip}>{uses}</g>')
        entries.append(sv.marker_entry(c, marker, colour, f"{kind} ({n_of[kind]})"))
    return entries


def _draw_track(c: sv.Canvas, p: sv.Panel, track: pl.DataFrame) -> list[sv.Entry]:
    """The track as a line, broken where the vessel went silent (a dotted straight line there: the way it
    went is unknown), its first and last positions marked; the legend entries."""
    lon, lat = track["lon"].to_numpy(), track["lat"].to_numpy()
    t = track["t"].dt.epoch("us").to_numpy()
    step = np.diff(t)
    gap = step > max(TRACK_GAP_US, 3 * float(np.median(step))) if step.size else np.zeros(0, np.bool_)
    breaks = np.flatnonzero(gap) + 1
    x, y = p.px(lon), p.py(lat)
    clip = p.clip(c, "frame")
    solid = sv.polyline_path(np.insert(x, breaks, np.nan), np.insert(y, breaks, np.nan))
    dots = "".join(f"M{sv.f1(a)} {sv.f1(b)}h0" for a, b in zip(x.tolist(), y.tolist(), strict=True))
    parts = [f'<path d="{solid}" fill="none" stroke="{TRACK_COLOUR}" stroke-width="0.8" stroke-opacity="0.85" '
             f'stroke-linejoin="round"/>',
             f'<path d="{dots}" stroke="{TRACK_COLOUR}" stroke-width="1.7" stroke-linecap="round"/>']  # fmt: skip
    entries = [sv.line_entry(TRACK_COLOUR, f"track ({track.height} positions)", 0.8)]
    if breaks.size:
        silent = "".join(f"M{sv.f1(x[i - 1])} {sv.f1(y[i - 1])}L{sv.f1(x[i])} {sv.f1(y[i])}" for i in breaks.tolist())
        parts.append(f'<path d="{silent}" fill="none" stroke="{TRACK_COLOUR}" stroke-width="0.9" '
                     f'stroke-dasharray="0.9 1.5"/>')  # fmt: skip
        entries.append(sv.line_entry(TRACK_COLOUR, f"no positions for a while ({breaks.size})", 0.9, "0.9 1.5"))
    first, last = c.marker("o", 7.0), c.marker("s", 7.0)
    parts.append(f'<use href="{first}" x="{sv.f1(x[0])}" y="{sv.f1(y[0])}" fill="white" stroke="{TRACK_COLOUR}"/>')
    parts.append(f'<use href="{last}" x="{sv.f1(x[-1])}" y="{sv.f1(y[-1])}" fill="{TRACK_COLOUR}"/>')
    c.add(f"<g {clip}>{''.join(parts)}</g>")
    return entries + [
        sv.marker_entry(c, "o", "white", "first position", edge=TRACK_COLOUR),
        sv.marker_entry(c, "s", TRACK_COLOUR, "last position", edge=TRACK_COLOUR),
    ]


def _locator(c: sv.Canvas, p: sv.Panel, ext: Extent, land: LandIndex, below: float) -> None:
    """A small overview beside the map, the map's box drawn on it: where on the coast this track is."""
    span = max(LOCATOR_SPAN_DEG, 3 * (ext.lat1 - ext.lat0), 3 * (ext.lon1 - ext.lon0))
    mid_lat, mid_lon = (ext.lat0 + ext.lat1) / 2, (ext.lon0 + ext.lon1) / 2
    wide = Extent(max(mid_lat - span / 2, -90.0), min(mid_lat + span / 2, 90.0), mid_lon - span / 2,
                  mid_lon + span / 2)  # fmt: skip
    w, h = LOCATOR_SHARE * p.w, LOCATOR_SHARE * p.h
    w, h = (h / wide.ratio, h) if w * wide.ratio > h else (w, w * wide.ratio)
    x0 = p.x0 + p.w + 28  # room for its latitude labels
    y0 = max(p.y0 + p.h - h, below + 10)
    inset = sv.Panel(x0, y0, w, h, (wide.lon0, wide.lon1), (wide.lat0, wide.lat1))
    c.add(f'<rect {inset.box} fill="{SEA}"/>')
    _draw_land(c, inset, wide, land, LOCATOR_CELLS)
    bx, by = float(inset.px(ext.lon0)), float(inset.py(ext.lat1))
    bw, bh = float(inset.px(ext.lon1)) - bx, float(inset.py(ext.lat0)) - by
    c.add(f'<rect x="{sv.f1(bx)}" y="{sv.f1(by)}" width="{sv.f1(bw)}" height="{sv.f1(bh)}" fill="none" '
          f'stroke="#c0392b" stroke-width="1.2"/>')  # fmt: skip
    xt, yt = sv.nice_ticks(wide.lon0, wide.lon1, 5), sv.nice_ticks(wide.lat0, wide.lat1, 5)
    sv.axes(c, inset, xticks=xt, xlabels=[f"{v:g}" for v in xt], yticks=yt, ylabels=[f"{v:g}" for v in yt],
            frame=True, size=6.0)  # fmt: skip
    c.add(sv.text(x0, y0 - 3, "where", 7.0))
    c.width = max(c.width, x0 + w + 10)
    c.height = max(c.height, y0 + h + 16)
