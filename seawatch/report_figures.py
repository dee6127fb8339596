"""The backtest report's figures, drawn with matplotlib and returned as :class:`Figure` objects.

Figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot: nothing is registered in a
global figure manager (nothing to close, safe in a server thread), and no GUI backend is touched.
:func:`to_svg` renders one to inline SVG with text kept as text; :func:`figure_style` holds the settings every
figure is drawn under (among them ``text.parse_math`` off: vessel names and reasons come from the air, and a
``$`` in them must not be read as mathtext).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from engine.alerts import ALERT_KINDS
from engine.geo.land import LandIndex
from engine.geo.regions import RegionPack
from models.schema import BAND_EDGES, BANDS

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
SEA, LAND = "#e6f0f8", "#d8d2c0"
ZONE_COLOURS = {"restricted": "#c0392b", "military": "#7b241c", "protected": "#1e8449", "fishing": "#2874a6"}
BOUNDARY_COLOUR = "#6c3483"

LAND_CELLS = 360  # land grid cells along the longer side of a map: a few hundred read well at report size
TRACK_POINTS = 500  # at most this many positions of a track are drawn
PR_POINTS = 400  # and of a precision-recall curve
MAP_WIDTH_IN = 8.0
LOCATOR_SPAN_DEG = 5.0  # the overview beside a track map covers at least this much
LOCATOR_CELLS = 120
TRACK_GAP_US = 3_600_000_000  # a track is drawn broken across a silence of an hour or more
CROWD = 400  # alerts on one map past which markers shrink
ABSURD_SPAN_DEG = 8.0  # a map wider than this, and 4 times the spread of the bulk, is stretched by outliers


def kind_style(kind: str) -> tuple[str, str]:
    return KIND_STYLE.get(kind, _OTHER_STYLE)


def ordered_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds present, in the contract's order, unknown kinds last (sorted)."""
    present = set(kinds)
    return [k for k in ALERT_KINDS if k in present] + sorted(present - set(ALERT_KINDS))


@contextmanager
def figure_style() -> Iterator[None]:
    with mpl.rc_context({
        "text.parse_math": False, "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10,
        "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8, "legend.frameon": False,
    }):  # fmt: skip
        yield


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no metadata, no date).

    The figure's ids are prefixed with ``name``: an id clash between figures of one page would let one figure
    clip another's lines. ``svg.hashsalt`` makes the ids the same from run to run.
    """
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": f"seawatch-{name}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.DOTALL)
    # every figure names its parts figure_1, axes_1, ...: prefixed, the ids stay unique in the page
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    text = re.sub(r'\bid="', f'id="{prefix}-', text)
    text = text.replace("url(#", f"url(#{prefix}-")
    return text.replace('xlink:href="#', f'xlink:href="#{prefix}-')


def to_png(fig: Figure, path: str) -> None:
    """The figure as a PNG (for looking at the figures while developing them)."""
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")


# ---------------------------------------------------------------- maps


@dataclass(frozen=True)
class Extent:
    lat0: float
    lat1: float
    lon0: float
    lon1: float

    @property
    def aspect(self) -> float:
        """Axes aspect that keeps a km a km at the map's middle latitude."""
        return 1.0 / max(np.cos(np.radians((self.lat0 + self.lat1) / 2)), 0.05)

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


def _map_axes(ext: Extent, legend_room: bool) -> tuple[Figure, Axes]:
    ratio = (ext.lat1 - ext.lat0) * ext.aspect / max(ext.lon1 - ext.lon0, 1e-9)
    width = MAP_WIDTH_IN
    height = float(np.clip(width * ratio, 3.0, 9.0))
    fig = Figure(figsize=(width + (2.2 if legend_room else 0.0), height))
    ax = fig.add_subplot()
    ax.set_facecolor(SEA)
    ax.set_xlim(ext.lon0, ext.lon1)
    ax.set_ylim(ext.lat0, ext.lat1)
    ax.set_aspect(ext.aspect, adjustable="box")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    return fig, ax


def _draw_land(ax: Axes, ext: Extent, land: LandIndex | None, cells: int = LAND_CELLS) -> None:
    """Land from the GLOBE mask, sampled on a grid over the extent and drawn as an image (small, and exact)."""
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
    ax.imshow(
        np.ma.masked_equal(mask.astype(np.uint8), 0),
        origin="lower",
        extent=(ext.lon0, ext.lon1, ext.lat0, ext.lat1),
        cmap=ListedColormap([LAND]),
        interpolation="nearest",
        aspect=ext.aspect,
        zorder=1,
    )


def zone_numbers(pack: RegionPack) -> dict[str, int]:
    """The number each zone carries on the map, from 1, in the pack's order (one per name)."""
    return {name: i for i, name in enumerate(dict.fromkeys(pack.zones.names), start=1)}


def _draw_pack(ax: Axes, pack: RegionPack | None, numbered: bool = False) -> list[Artist]:
    """Zones (outlined, lightly filled) and boundaries (dashed); the legend handles for what was drawn."""
    if pack is None:
        return []
    handles: list[Artist] = []
    zones = pack.zones
    numbers = zone_numbers(pack) if numbered else {}
    for i in range(len(zones)):
        lat, lon = zones.part(i)
        colour = ZONE_COLOURS.get(str(zones.kinds[i]), "#566573")
        ax.add_patch(Polygon(np.column_stack([lon, lat]), closed=True, facecolor=colour, alpha=0.08, zorder=2))
        ax.add_patch(Polygon(np.column_stack([lon, lat]), closed=True, fill=False, edgecolor=colour, lw=0.8,
                             alpha=0.8, zorder=6))  # fmt: skip
        if numbers:  # names would overlap each other and the alerts: a number here, the names under the map
            ax.text(lon.min(), lat.max(), f" {numbers[zones.names[i]]}", fontsize=7, fontweight="bold",
                    color=colour, ha="left", va="top", zorder=7, clip_on=True)  # fmt: skip
    if len(zones):
        handles.append(Patch(facecolor="#566573", alpha=0.25, edgecolor="#566573", label="zones"))
    lines = pack.boundaries
    for i in range(len(lines)):
        lat, lon = lines.part(i)
        ax.plot(lon, lat, color=BOUNDARY_COLOUR, lw=1.2, ls=(0, (6, 3)), zorder=6)  # above dense alerts
    if len(lines):
        handles.append(Line2D([], [], color=BOUNDARY_COLOUR, lw=1.2, ls=(0, (6, 3)), label="boundary"))
    return handles


def _scatter_kinds(ax: Axes, alerts: pl.DataFrame, size: float) -> list[Artist]:
    handles: list[Artist] = []
    counts = alerts.group_by("kind").len()
    n_of = dict(zip(counts["kind"].to_list(), counts["len"].to_list(), strict=True))
    # thousands of markers would make the SVG heavy: then the markers become one embedded image; and the more
    # markers, the smaller and lighter, so that the crowd shows where alerts gather instead of one blot
    raster = alerts.height > 3000
    crowd = alerts.height > CROWD
    size = size * min(1.0, float(np.sqrt(CROWD / max(alerts.height, 1)))) if crowd else size
    for kind in ordered_kinds(list(n_of)):
        rows = alerts.filter(pl.col("kind") == kind)
        colour, marker = kind_style(kind)
        ax.scatter(rows["lon"].to_numpy(), rows["lat"].to_numpy(), s=size, c=colour, marker=marker,
                   edgecolors="#222222", linewidths=0.0 if crowd else 0.4, alpha=0.6 if crowd else 1.0, zorder=5,
                   rasterized=raster)  # fmt: skip
        handles.append(Line2D([], [], ls="", marker=marker, color=colour, markeredgecolor="#222222",
                              markeredgewidth=0.4, label=f"{kind} ({n_of[kind]})"))  # fmt: skip
    return handles


def alerts_map(alerts: pl.DataFrame, *, land: LandIndex | None, pack: RegionPack | None) -> Figure | None:
    """Every alert where it happened, over the land and the pack's zones and boundaries; None without a position."""
    located = alerts.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    ext = extent_of(located["lat"].to_numpy(), located["lon"].to_numpy(), min_span=1.0)
    if ext is None:
        return None
    with figure_style():
        fig, ax = _map_axes(ext, legend_room=True)
        _draw_land(ax, ext, land)
        handles = _draw_pack(ax, pack, numbered=True)
        inside = located.filter(ext.contains())
        handles = _scatter_kinds(ax, inside, 36.0) + handles
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="alerts")
        left_out = located.height - inside.height
        note = f"{inside.height:,} alerts on the map" + (f"; {left_out:,} far outside it not drawn" if left_out else "")
        ax.set_title(note, loc="left")
    return fig


def track_map(track: pl.DataFrame, alerts: pl.DataFrame, *, land: LandIndex | None, title: str,
              pack: RegionPack | None = None) -> Figure | None:  # fmt: skip
    """One vessel's track (at most TRACK_POINTS positions) and its alerts; None without any position."""
    track = thin_track(track.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite()).sort("t"))
    located = alerts.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    lat = np.concatenate([track["lat"].to_numpy(), located["lat"].to_numpy()])
    lon = np.concatenate([track["lon"].to_numpy(), located["lon"].to_numpy()])
    ext = extent_of(lat, lon, pad=0.12, min_span=0.2, min_ratio=0.6)
    if ext is None:
        return None
    with figure_style():
        fig, ax = _map_axes(ext, legend_room=True)
        fig.set_size_inches(fig.get_figwidth() * 0.7, max(fig.get_figheight() * 0.7, 3.0))
        _draw_land(ax, ext, land)
        handles = _draw_pack(ax, pack)
        if track.height:
            handles += _draw_track(ax, track)
        inside = located.filter(ext.contains())
        handles = _scatter_kinds(ax, inside, 70.0) + handles
        # in two columns when long, so that it stays clear of the overview below it
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), ncols=1 + (len(handles) > 10))
        ax.set_title(title, loc="left")
        if land is not None:
            _locator(ax, ext, land)
    return fig


def _locator(ax: Axes, ext: Extent, land: LandIndex) -> None:
    """A small overview beside the map, the map's box drawn on it: where on the coast this track is."""
    span = max(LOCATOR_SPAN_DEG, 3 * (ext.lat1 - ext.lat0), 3 * (ext.lon1 - ext.lon0))
    mid_lat, mid_lon = (ext.lat0 + ext.lat1) / 2, (ext.lon0 + ext.lon1) / 2
    wide = Extent(max(mid_lat - span / 2, -90.0), min(mid_lat + span / 2, 90.0), mid_lon - span / 2,
                  mid_lon + span / 2)  # fmt: skip
    inset = ax.inset_axes((1.04, 0.0, 0.42, 0.42))
    inset.set_facecolor(SEA)
    inset.set_xlim(wide.lon0, wide.lon1)
    inset.set_ylim(wide.lat0, wide.lat1)
    _draw_land(inset, wide, land, LOCATOR_CELLS)
    inset.set_aspect(wide.aspect, adjustable="box")
    inset.add_patch(Rectangle((ext.lon0, ext.lat0), ext.lon1 - ext.lon0, ext.lat1 - ext.lat0, fill=False,
                              edgecolor="#c0392b", lw=1.2, zorder=5))  # fmt: skip
    inset.tick_params(labelsize=6, length=2)
    inset.set_title("where", fontsize=7, loc="left")
    for side in ("top", "right"):
        inset.spines[side].set_visible(True)


def _draw_track(ax: Axes, track: pl.DataFrame) -> list[Artist]:
    """The track as a line, broken where the vessel went silent (a dotted straight line there: the way it
    went is unknown), its first and last positions marked; the legend handles."""
    lon, lat = track["lon"].to_numpy(), track["lat"].to_numpy()
    t = track["t"].dt.epoch("us").to_numpy()
    step = np.diff(t)
    gap = step > max(TRACK_GAP_US, 3 * float(np.median(step))) if step.size else np.zeros(0, np.bool_)
    breaks = np.flatnonzero(gap) + 1
    solid_lon, solid_lat = np.insert(lon, breaks, np.nan), np.insert(lat, breaks, np.nan)
    colour = "#34495e"
    ax.plot(solid_lon, solid_lat, color=colour, lw=0.8, alpha=0.85, zorder=3)
    ax.scatter(lon, lat, s=3, color=colour, zorder=3, linewidths=0)
    handles: list[Artist] = [Line2D([], [], color=colour, lw=0.8, label=f"track ({track.height} positions)")]
    if breaks.size:
        segments = [((lon[i - 1], lat[i - 1]), (lon[i], lat[i])) for i in breaks]
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.9, linestyles=":", zorder=3))
        handles.append(Line2D([], [], color=colour, lw=0.9, ls=":", label=f"no positions for a while ({breaks.size})"))
    ax.plot(lon[0], lat[0], marker="o", ms=7, mfc="white", mec=colour, zorder=4)
    ax.plot(lon[-1], lat[-1], marker="s", ms=7, mfc=colour, mec=colour, zorder=4)
    return handles + [
        Line2D([], [], ls="", marker="o", mfc="white", mec=colour, label="first position"),
        Line2D([], [], ls="", marker="s", mfc=colour, mec=colour, label="last position"),
    ]


def thin_track(track: pl.DataFrame, most: int = TRACK_POINTS) -> pl.DataFrame:
    """At most ``most`` rows (of a track, or any ordered table), evenly spread, the first and the last kept."""
    if track.height <= most:
        return track
    idx = np.unique(np.linspace(0, track.height - 1, most).round().astype(np.int64))
    return track[idx]


# ---------------------------------------------------------------- charts


def alerts_over_time(alerts: pl.DataFrame) -> Figure | None:
    """Alerts started per hour (spans up to three days) or per day, stacked by kind; None without alerts."""
    if alerts.height == 0:
        return None
    t0, t1 = alerts["start"].min(), alerts["start"].max()
    hourly = (t1 - t0) <= timedelta(days=3)  # type: ignore[operator]
    every, width = ("1h", 1 / 24) if hourly else ("1d", 1.0)
    counts = (
        alerts.with_columns(pl.col("start").dt.truncate(every).alias("bin"))
        .group_by("bin", "kind")
        .len()
        .pivot(on="kind", index="bin", values="len")
        .fill_null(0)
        .sort("bin")
    )
    bins = counts["bin"].dt.replace_time_zone(None).to_numpy()
    with figure_style():
        fig = Figure(figsize=(10.2, 3.6))
        ax = fig.add_subplot()
        bottom = np.zeros(counts.height)
        for kind in ordered_kinds([c for c in counts.columns if c != "bin"]):
            values = counts[kind].to_numpy().astype(np.float64)
            ax.bar(bins, values, width=width * 0.9, bottom=bottom, align="edge", color=kind_style(kind)[0],
                   edgecolor="white", linewidth=0.3, label=kind)  # fmt: skip
            bottom += values
        ax.set_ylabel(f"alerts started per {'hour' if hourly else 'day'}")
        ax.set_xlabel("time (UTC)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
        fig.autofmt_xdate()
    return fig


def score_histograms(vessels: pl.DataFrame) -> Figure | None:
    """Histograms of both scores over the vessels, the band edges marked; None without vessels."""
    if vessels.height == 0:
        return None
    edges = np.arange(0.0, 100.0 + 5.0, 5.0)
    bounds = (0.0, *BAND_EDGES, 100.0)
    with figure_style():
        fig = Figure(figsize=(10.2, 3.4))
        axes = fig.subplots(1, 2, sharey=True)
        most = 1
        for ax, column in zip(axes, ("smuggling_score", "fire_score"), strict=True):
            values = vessels[column].drop_nulls().to_numpy()
            for band, lo, hi in zip(BANDS, bounds[:-1], bounds[1:], strict=True):
                ax.axvspan(lo, hi, color=BAND_COLOURS[band], alpha=0.18, lw=0)
                ax.text((lo + hi) / 2, 1.0, band, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                        fontsize=8, color="#333333")  # fmt: skip
            for edge in BAND_EDGES:
                ax.axvline(edge, color="#555555", lw=0.8, ls="--")
            counts, _, _ = ax.hist(values, bins=edges, color="#34495e", edgecolor="white", linewidth=0.4)
            most = max(most, int(counts.max()) if counts.size else 1)
            ax.set_yscale("log")
            # plain numbers: with mathtext off, the log axis' default labels would print as TeX source
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(0, 100)
            ax.set_xlabel(f"{column.replace('_', ' ')} ({values.size} vessels)")
        axes[0].set_ylim(0.7, most * 1.8)  # a bar of one vessel stays visible; the tallest stays below the top
        axes[0].set_ylabel("vessels (log scale)")
        fig.tight_layout()
    return fig


def pr_figure(pr_curve: pl.DataFrame) -> Figure | None:
    """Precision against recall as the alert-score threshold falls: "all" bold, each kind thin; None if empty."""
    if pr_curve.height == 0:
        return None
    with figure_style():
        fig = Figure(figsize=(8.4, 4.6))
        ax = fig.add_subplot()
        kinds = pr_curve["kind"].unique().to_list()
        for kind in ordered_kinds([k for k in kinds if k != "all"]) + (["all"] if "all" in kinds else []):
            rows = pr_curve.filter(pl.col("kind") == kind).sort("threshold", descending=True)
            rows = thin_track(rows, PR_POINTS)  # one point per distinct score can be thousands
            if kind == "all":
                marker = "o" if rows.height <= 60 else ""
                ax.plot(rows["recall"], rows["precision"], color="black", lw=2.4, marker=marker, ms=3,
                        label="all kinds", zorder=5)  # fmt: skip
                _mark_thresholds(ax, rows)
            else:
                ax.plot(rows["recall"], rows["precision"], color=kind_style(kind)[0], lw=1.0, alpha=0.85, label=kind,
                        marker=kind_style(kind)[1], ms=3.5)  # fmt: skip
        ax.set_xlim(0, 1.04)  # curves often run along precision or recall 1: keep them off the frame
        ax.set_ylim(0, 1.04)
        ax.set_xlabel("recall (labels matched)")
        ax.set_ylabel("precision (alerts matching a label)")
        ax.grid(color="#dddddd", lw=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_aspect("equal")
    return fig


def _mark_thresholds(ax: Axes, rows: pl.DataFrame) -> None:
    """Label the curve's points at the band edges: where an analyst would set the alert threshold."""
    th = rows["threshold"].to_numpy()
    for edge in BAND_EDGES:
        if th.size == 0 or not (th.min() <= edge <= th.max()):
            continue
        i = int(np.argmin(np.abs(th - edge)))
        x, y = rows["recall"][i], rows["precision"][i]
        ax.plot(x, y, marker="o", ms=7, mfc="none", mec="#c0392b", mew=1.4, zorder=6)
        right = x > 0.7  # the label goes left of a point near the right edge
        ax.annotate(f"score ≥ {th[i]:.0f}", (x, y), xytext=(-7 if right else 7, -14 if right else 7),
                    textcoords="offset points", ha="right" if right else "left", fontsize=7.5,
                    color="#c0392b", zorder=7, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                                     "alpha": 0.85})  # fmt: skip
