"""Border crossings that are out of pattern (DESIGN.md, coast guard practice): small craft and fishing vessels
crossing a configured boundary, or any vessel crossing and coming back within hours. Merchant ships on passage
cross once and are normal traffic.

A crossing is a step between two consecutive fixes of a vessel that intersects the boundary (lon/lat taken as
planar over the step: steps are minutes long, boundaries are straight segments in a treaty's own terms).
A ship sailing along the line, or whose track jitters at it, crosses it back and forth without going anywhere:
"came back" counts for a vessel other than small craft only once it went ``min_beyond_km`` beyond the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import EARTH_RADIUS_KM, KM_PER_NM, US_PER_H, grow, haversine_km
from engine.detectors.episodes import SMALL_CRAFT, fmt_h, latest_per_episode, ship_type_at
from engine.fixes import NO_TIME
from engine.geo.region_pack import RegionPack, Shapes
from engine.geo.shapes import Polyline
from engine.geo.shapes_kernel import segment_chord2, unit_vector
from engine.runner import Step
from feeds.jit import kernel


@dataclass(frozen=True)
class BorderSettings:
    return_h: float = 6.0  # across and back within hours is out of pattern (DESIGN.md, coast guard practice)
    max_speed_kn: float = 50.0  # a step faster than this is a spoofed jump, not a crossing (GFW segmenter)
    max_step_h: float = 2.0  # a longer silence says nothing about where the vessel crossed
    round_trip: float = 2.0  # sailed >= 2x the distance between the two crossings: it went and came back
    # a merchant ship on passage along the line zig-zags across it within a few hundred metres (lane width, GPS
    # and track jitter, AIS positions to ~10-100 m): an excursion is a visit to the other side only once it went
    # 1 km beyond the line (coast guard practice: a vessel 1 km inside foreign waters is no navigational error)
    min_beyond_km: float = 1.0
    # A ship that kept its passage speed all the while it was across sailed a route that dips over the line (a
    # dog-leg round an island or a lane junction), on passage: nothing was done there. Out and back is out of pattern
    # when the ship slowed across the line (to meet, wait, load or fish): below this speed at some fix there. 5 kn
    # is under any merchant service speed and above the < 2 kn of a meeting (GFW encounters) or a drift.
    passage_kn: float = 5.0


def boundary_segments(lines: Shapes) -> np.ndarray:
    """(n, 4) segments (lon1, lat1, lon2, lat2) of every line."""
    out = []
    for i in range(len(lines)):
        lat, lon = lines.part(i)
        out.append(np.column_stack([lon[:-1], lat[:-1], lon[1:], lat[1:]]))
    return np.ascontiguousarray(np.vstack(out)) if out else np.zeros((0, 4))


@kernel
def crossing_side(x1, y1, x2, y2, seg):
    """Side (+1 / -1) of the boundary the step (x1, y1) -> (x2, y2) ends on if it crosses it, else 0; and the
    fraction of the step where it crosses. Longitudes of the step are unwrapped to the segment's."""
    for k in range(seg.shape[0]):
        ax, ay, bx, by = seg[k, 0], seg[k, 1], seg[k, 2], seg[k, 3]
        shift = 360.0 * np.round((ax - x1) / 360.0)
        px, qx = x1 + shift, x2 + shift
        if max(px, qx) < min(ax, bx) or min(px, qx) > max(ax, bx):
            continue
        if max(y1, y2) < min(ay, by) or min(y1, y2) > max(ay, by):
            continue
        d1 = (bx - ax) * (y1 - ay) - (by - ay) * (px - ax)
        d2 = (bx - ax) * (y2 - ay) - (by - ay) * (qx - ax)
        e1 = (qx - px) * (ay - y1) - (y2 - y1) * (ax - px)
        e2 = (qx - px) * (by - y1) - (y2 - y1) * (bx - px)
        if d1 * d2 < 0.0 and e1 * e2 <= 0.0:  # strictly through the line, endpoints of the line included
            return (1 if d2 > 0.0 else -1), d1 / (d1 - d2)
    return 0, 0.0


def boundary_box(seg: np.ndarray) -> np.ndarray:
    """(first points' lon min, max; lon min, max; lat min, max) of the segments (``crossing_side``'s quick test)."""
    if seg.shape[0] == 0:
        return np.array([0.0, 0.0, np.inf, -np.inf, np.inf, -np.inf])
    x, y = seg[:, [0, 2]], seg[:, [1, 3]]
    return np.array([seg[:, 0].min(), seg[:, 0].max(), x.min(), x.max(), y.min(), y.max()])


@kernel
def may_cross(x1, y1, x2, y2, box):
    """False when the step (x1, y1) -> (x2, y2) is clear of every segment's box, as ``crossing_side`` tests them.
    Longitudes are compared as they are only when no segment would unwrap the step (all within 180 degrees)."""
    if max(y1, y2) < box[4] or min(y1, y2) > box[5]:
        return False
    unwrapped = box[1] - 180.0 < x1 < box[0] + 180.0
    return not (unwrapped and (max(x1, x2) < box[2] or min(x1, x2) > box[3]))


BOX_CELL_DEG = 0.05  # cells of the boundary's box that no segment's box touches hold steps that cross nothing


def boundary_cells(seg: np.ndarray, box: np.ndarray, cell_deg: float = BOX_CELL_DEG) -> np.ndarray:
    """Over the boundary's box (from ``box[2]``, ``box[4]``), cells of ``cell_deg``: True where some segment's box
    touches the cell (widened by a hair for rounding)."""
    if seg.shape[0] == 0:
        return np.ones((1, 1), np.bool_)
    n_x = int(np.ceil((box[3] - box[2]) / cell_deg)) + 1
    n_y = int(np.ceil((box[5] - box[4]) / cell_deg)) + 1
    cells = np.zeros((n_x, n_y), np.bool_)
    hair = 1e-9
    for ax, ay, bx, by in seg.tolist():
        i0 = int(np.floor((min(ax, bx) - hair - box[2]) / cell_deg))
        i1 = int(np.floor((max(ax, bx) + hair - box[2]) / cell_deg))
        j0 = int(np.floor((min(ay, by) - hair - box[4]) / cell_deg))
        j1 = int(np.floor((max(ay, by) + hair - box[4]) / cell_deg))
        cells[max(i0, 0) : i1 + 1, max(j0, 0) : j1 + 1] = True
    return cells


@kernel
def clear_cell(x1, y1, x2, y2, box, cells, cell_deg):
    """True when the step lies in one cell of ``boundary_cells`` that no segment's box touches: it crosses nothing.
    Only where ``crossing_side`` would not unwrap the step (every segment within 180 degrees of it)."""
    if not box[1] - 180.0 < x1 < box[0] + 180.0:
        return False
    i1, i2 = np.floor((x1 - box[2]) / cell_deg), np.floor((x2 - box[2]) / cell_deg)
    j1, j2 = np.floor((y1 - box[4]) / cell_deg), np.floor((y2 - box[4]) / cell_deg)
    if i1 != i2 or j1 != j2 or not (0 <= i1 < cells.shape[0] and 0 <= j1 < cells.shape[1]):
        return False
    return not cells[np.int64(i1), np.int64(j1)]


def boundary_arcs(lines: Shapes) -> np.ndarray:
    """The boundary's great-circle arcs for :func:`boundary_km` (``Polyline``'s table; none without a line)."""
    parts = []
    for i in range(len(lines)):
        lat, lon = lines.part(i)
        parts.append(np.column_stack([lon, lat]).tolist())
    return Polyline.from_parts(parts).seg if parts else np.zeros((0, 16))


@kernel
def boundary_km(arcs, lat, lon):
    """Great-circle distance in km from (lat, lon) to the nearest arc of the boundary (inf without one)."""
    px, py, pz = unit_vector(lat, lon)
    best = np.inf
    for k in range(arcs.shape[0]):
        best = min(best, segment_chord2(px, py, pz, arcs, k))
    if best == np.inf:
        return np.inf
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(min(np.sqrt(best) / 2.0, 1.0))


@kernel
def border_kernel(vid, t_us, lat, lon, sog, small, seg, box, cells, arcs, return_us, max_kn, max_step_us, round_trip,
                  min_beyond_km, passage_kn, prev, prev_t, ep_t, ep_f, out_start, out_f):  # fmt: skip
    """prev[v] = (lat, lon) of the last fix, prev_t[v] its time; ep_t[v] = (start, return or NO_TIME, side);
    ep_f[v] = (lat, lon, small, km sailed since, farthest km beyond the line, slowest speed across (knots; NaN none
    reported)). out_f = (lat, lon, returned after h or NaN, small, farthest km beyond the line, slowest speed)."""
    for i in range(vid.shape[0]):
        out_start[i] = NO_TIME
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        v = vid[i]
        t = t_us[i]
        side, frac, km = 0, 0.0, 0.0
        # the distance sailed counts only for a crossing or while an episode is on: most steps need none
        on = ep_t[v, 0] != NO_TIME and t - ep_t[v, 0] <= return_us
        if prev_t[v] != NO_TIME and 0 < t - prev_t[v] <= max_step_us:
            near = may_cross(prev[v, 1], prev[v, 0], lon[i], lat[i], box) and not clear_cell(
                prev[v, 1], prev[v, 0], lon[i], lat[i], box, cells, BOX_CELL_DEG
            )
            if on:
                km = haversine_km(prev[v, 0], prev[v, 1], lat[i], lon[i])
                if km / KM_PER_NM / ((t - prev_t[v]) / 3.6e9) <= max_kn:
                    if near:
                        side, frac = crossing_side(prev[v, 1], prev[v, 0], lon[i], lat[i], seg)
                else:
                    km = 0.0
            elif near:  # no episode: the step matters only if it crosses, and then only if it is possible
                side, frac = crossing_side(prev[v, 1], prev[v, 0], lon[i], lat[i], seg)
                if side != 0:
                    km = haversine_km(prev[v, 0], prev[v, 1], lat[i], lon[i])
                    if not km / KM_PER_NM / ((t - prev_t[v]) / 3.6e9) <= max_kn:
                        side, frac, km = 0, 0.0, 0.0
        tc = prev_t[v] + np.int64(frac * (t - prev_t[v]))
        clat = prev[v, 0] + frac * (lat[i] - prev[v, 0])
        clon = prev[v, 1] + frac * (lon[i] - prev[v, 1])
        prev[v, 0] = lat[i]
        prev[v, 1] = lon[i]
        prev_t[v] = t
        active = ep_t[v, 0] != NO_TIME and t - ep_t[v, 0] <= return_us
        if active:
            ep_f[v, 3] += km * (1.0 - frac if side != 0 else 1.0)
            if side == 0 and ep_f[v, 2] == 0.0:  # still across: how far, and how slow
                ep_f[v, 4] = max(ep_f[v, 4], boundary_km(arcs, lat[i], lon[i]))
                if not np.isnan(sog[i]) and not sog[i] >= ep_f[v, 5]:
                    ep_f[v, 5] = sog[i]
        # came back within hours, on a round trip (a lane that crosses the line twice is passage) from beyond the
        # line (not a passage along it): out of pattern
        back = side != 0 and active and side != ep_t[v, 2]
        if back and ep_f[v, 2] == 0.0:
            back = ep_f[v, 4] >= min_beyond_km
            back = back and ep_f[v, 3] >= round_trip * haversine_km(ep_f[v, 0], ep_f[v, 1], clat, clon)
            back = back and not ep_f[v, 5] >= passage_kn  # slowed across (or no speed reported: unknown, judged)
        if back:
            out_start[i] = ep_t[v, 0]
            out_f[i, 0] = ep_f[v, 0]
            out_f[i, 1] = ep_f[v, 1]
            out_f[i, 2] = (tc - ep_t[v, 0]) / 3.6e9
            out_f[i, 3] = ep_f[v, 2]
            out_f[i, 4] = ep_f[v, 4]
            out_f[i, 5] = ep_f[v, 5]
            ep_t[v, 1] = tc
            ep_t[v, 0] = NO_TIME
            continue
        if side != 0:
            ep_t[v, 0] = tc
            ep_t[v, 1] = NO_TIME
            ep_t[v, 2] = side
            ep_f[v, 0] = clat
            ep_f[v, 1] = clon
            ep_f[v, 2] = 1.0 if small[i] else 0.0
            ep_f[v, 3] = km * (1.0 - frac)
            ep_f[v, 4] = 0.0 if small[i] else boundary_km(arcs, lat[i], lon[i])
            ep_f[v, 5] = np.nan if np.isnan(sog[i]) else sog[i]
            active = True
        if active and ep_f[v, 2] > 0.0:  # small craft: reported from the crossing on, while it stays across
            out_start[i] = ep_t[v, 0]
            out_f[i, 0] = ep_f[v, 0]
            out_f[i, 1] = ep_f[v, 1]
            out_f[i, 2] = np.nan
            out_f[i, 3] = 1.0
            out_f[i, 4] = np.nan
            out_f[i, 5] = np.nan


EPISODE_COLUMNS = 6  # ep_f: lat, lon, small, km sailed since the crossing, farthest km beyond the line, slowest kn


class BorderCrossing:
    name = "border_crossing"

    def __init__(self, boundary: RegionPack | Shapes, settings: BorderSettings | None = None) -> None:
        self.settings = settings or BorderSettings()
        lines = boundary.boundaries if isinstance(boundary, RegionPack) else boundary
        self.seg = boundary_segments(lines)
        self.box = boundary_box(self.seg)
        self.cells = boundary_cells(self.seg, self.box)
        self.arcs = boundary_arcs(lines)
        self.prev = np.zeros((0, 2))
        self.prev_t = np.zeros(0, np.int64)
        self.ep_t = np.zeros((0, 3), np.int64)
        self.ep_f = np.zeros((0, EPISODE_COLUMNS))
        self.ship_type = np.zeros(0, np.int64)

    def process(self, step: Step) -> list[pl.DataFrame]:
        f, s, size = step.fixes, self.settings, step.fleet.size
        self.prev = grow(self.prev, size, np.nan)
        self.prev_t = grow(self.prev_t, size, NO_TIME)
        self.ep_t = grow(self.ep_t, size, NO_TIME)
        self.ep_f = grow(self.ep_f, size, np.nan)
        self.ship_type = grow(self.ship_type, size, -1)
        types = ship_type_at(f, step.identities, self.ship_type)
        small = f.class_b | np.isin(types, SMALL_CRAFT)
        n = len(f)
        start, out_f = np.empty(n, np.int64), np.empty((n, 6))
        border_kernel(f.vid, f.t_us, f.lat, f.lon, f.sog, small, self.seg, self.box, self.cells, self.arcs,
                      int(s.return_h * US_PER_H), s.max_speed_kn, int(s.max_step_h * US_PER_H), s.round_trip,
                      s.min_beyond_km, s.passage_kn, self.prev, self.prev_t, self.ep_t, self.ep_f, start,
                      out_f)  # fmt: skip
        rows = latest_per_episode(f.vid, start)
        if rows.size == 0:
            return []
        o = out_f[rows]
        reasons = []
        for back, sm, ty, cb, beyond, slow in zip(o[:, 2].tolist(), o[:, 3].tolist(), types[rows].tolist(),
                                                  f.class_b[rows].tolist(), o[:, 4].tolist(), o[:, 5].tolist(),
                                                  strict=True):  # fmt: skip
            who = "class B craft" if cb else ("fishing vessel" if ty == 30 else f"ship type {ty}" if ty >= 0 else "")
            words = [f"crossed the boundary as a small craft ({who})" if sm > 0 else "crossed the boundary"]
            if np.isfinite(back):
                far = f" from {beyond:.1f} km beyond the line" if np.isfinite(beyond) and sm == 0 else ""
                words.append(f"came back after {fmt_h(back)}{far}")
                if np.isfinite(slow) and sm == 0:
                    words.append(f"slowed to {slow:.1f} kn across the line")
            reasons.append(words)
        score = np.where(np.isfinite(o[:, 2]), 60.0, 40.0) + 10.0 * o[:, 3]
        return [AlertRows(self.name, f.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows], f.t_us[rows],
                          o[:, 0], o[:, 1], score, reasons).frame()]  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k).copy() for k in ("prev", "prev_t", "ep_t", "ep_f", "ship_type")}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        for k in ("prev", "prev_t", "ep_t", "ship_type"):
            setattr(self, k, arrays[k].copy())
        # a snapshot from before the distance beyond the line: none known (0 km); before the slowest speed: unknown
        ep_f = arrays["ep_f"]
        self.ep_f = np.zeros((ep_f.shape[0], EPISODE_COLUMNS))
        self.ep_f[:, 5] = np.nan
        self.ep_f[:, : ep_f.shape[1]] = ep_f
