"""Slow, obvious references for the kernels: plain Python and numpy, written for reading, not for speed.

Tests compare each kernel with its reference here on fixed edge cases and on Hypothesis-generated input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EARTH_RADIUS_KM = 6371.0088


# --- point in polygon ------------------------------------------------------------------------------------------
def _unwrapped(ring: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The ring closed, each longitude moved by 360s to within 180 degrees of the previous one."""
    pts = [(float(x), float(y)) for x, y in ring]
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    out = [pts[0]]
    for x, y in pts[1:]:
        prev = out[-1][0]
        while x - prev > 180.0:
            x -= 360.0
        while x - prev < -180.0:
            x += 360.0
        out.append((x, y))
    return out


def point_in_polygon(lat: float, lon: float, rings: Sequence[Sequence[Sequence[float]]]) -> bool:
    """Even-odd rule over every edge of every ring; an edge counts when it spans the point's latitude
    half-open. A polygon across the antimeridian is tried at lon, lon + 360 and lon - 360."""
    if math.isnan(lat) or math.isnan(lon):
        return False
    unwrapped = [_unwrapped(r) for r in rings]
    centre = sum(x for x, _ in unwrapped[0]) / len(unwrapped[0])
    for k in range(1, len(unwrapped)):
        hole = unwrapped[k]
        shift = 360.0 * round((centre - sum(x for x, _ in hole) / len(hole)) / 360.0)
        unwrapped[k] = [(x + shift, y) for x, y in hole]
    xs = [x for r in unwrapped for x, _ in r]
    for x in (lon, lon + 360.0, lon - 360.0):
        if min(xs) <= x <= max(xs):
            return _even_odd(x, lat, unwrapped)
    return False


def _even_odd(x: float, y: float, rings: list[list[tuple[float, float]]]) -> bool:
    inside = False
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
    return inside


def winding_number(x: float, y: float, ring: Sequence[Sequence[float]]) -> int:
    """Winding number of a closed ring around (x, y), by summing the angles the edges subtend: an independent
    way to tell inside from outside for a point that is not on the ring."""
    pts = _unwrapped(ring)
    total = 0.0
    for (x1, y1), (x2, y2) in zip(pts[:-1], pts[1:], strict=True):
        a1 = math.atan2(y1 - y, x1 - x)
        a2 = math.atan2(y2 - y, x2 - x)
        d = a2 - a1
        while d > math.pi:
            d -= 2 * math.pi
        while d < -math.pi:
            d += 2 * math.pi
        total += d
    return round(total / (2 * math.pi))


# --- distance to a polyline --------------------------------------------------------------------------------------
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    east = math.sin(dl) * math.cos(p2)
    north = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.atan2(east, north)


def segment_km(lat: float, lon: float, a: Sequence[float], b: Sequence[float]) -> float:
    """Distance from a point to the great-circle arc a-b ((lon, lat) pairs) with the cross-track and
    along-track formulas of the aviation formulary: the foot of the perpendicular if it falls on the arc,
    else the nearer end."""
    (lon1, lat1), (lon2, lat2) = a, b
    ends = min(haversine_km(lat, lon, lat1, lon1), haversine_km(lat, lon, lat2, lon2))
    length = haversine_km(lat1, lon1, lat2, lon2) / EARTH_RADIUS_KM
    if length < 1e-9:
        return ends
    d13 = haversine_km(lat1, lon1, lat, lon) / EARTH_RADIUS_KM
    t13 = _bearing(lat1, lon1, lat, lon)
    t12 = _bearing(lat1, lon1, lat2, lon2)
    xt = math.asin(max(-1.0, min(1.0, math.sin(d13) * math.sin(t13 - t12))))
    if math.cos(t13 - t12) < 0:  # the foot is behind the start
        return ends
    at = math.acos(max(-1.0, min(1.0, math.cos(d13) / math.cos(xt))))
    if at > length:
        return ends
    return min(ends, abs(xt) * EARTH_RADIUS_KM)


def polyline_km(lat: float, lon: float, parts: Sequence[Sequence[Sequence[float]]]) -> float:
    if math.isnan(lat) or math.isnan(lon):
        return math.nan
    return min(segment_km(lat, lon, a, b) for part in parts for a, b in zip(part[:-1], part[1:], strict=True))


# --- distance to the coast ---------------------------------------------------------------------------------------
def coast_sites(land: np.ndarray, cells_per_deg: int = 120) -> np.ndarray:
    """Unit vectors of the midpoints of every edge between a land and a water cell of a global mask whose row
    0 starts at 90N and column 0 at 180W (longitude wraps around)."""
    rows, cols = land.shape
    i, j = np.nonzero(land[1:] != land[:-1])
    lat = np.concatenate([90.0 - (i + 1.0) / cells_per_deg])
    lon = np.concatenate([-180.0 + (j + 0.5) / cells_per_deg])
    i2, j2 = np.nonzero(land != np.roll(land, -1, axis=1))
    lat = np.concatenate([lat, 90.0 - (i2 + 0.5) / cells_per_deg])
    lon = np.concatenate([lon, -180.0 + (j2 + 1.0) / cells_per_deg])
    return unit_vectors(lat, lon)


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def nearest_site_km(tree, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance to the nearest site of a scipy cKDTree built on unit vectors (chord -> arc)."""
    chord, _ = tree.query(unit_vectors(lat, lon), workers=-1)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2, 1.0))


# --- stops (anchorage discovery) ---------------------------------------------------------------------------------
def stops(rows, drift_km: float, min_hours: float, max_silence_hours: float) -> list[tuple[int, int, float, int]]:
    """Stationary periods from (mmsi, t_seconds, lat, lon, stationary) rows, one vessel at a time in time
    order (at equal times, moving fixes first): (mmsi, start_seconds, hours, fixes). A stop runs over
    consecutive stationary fixes and ends at a moving fix, a fix more than ``drift_km`` (haversine) from the
    stop's first fix, or a silence over ``max_silence_hours``; it counts when it lasted ``min_hours``."""
    out = []
    by_vessel: dict[int, list] = {}
    for row in rows:
        by_vessel.setdefault(row[0], []).append(row)
    for mmsi in sorted(by_vessel):
        current: list = []
        for _, t, lat, lon, still in sorted(by_vessel[mmsi], key=lambda r: (r[1], r[4], r[2], r[3])):
            if current and (
                not still
                or t - current[-1][0] > max_silence_hours * 3600
                or haversine_km(current[0][1], current[0][2], lat, lon) > drift_km
            ):
                _close(out, mmsi, current, min_hours)
                current = []
            if still:
                current.append((t, lat, lon))
        _close(out, mmsi, current, min_hours)
    return out


def _close(out: list, mmsi: int, current: list, min_hours: float) -> None:
    if current and current[-1][0] - current[0][0] >= min_hours * 3600:
        out.append((mmsi, current[0][0], (current[-1][0] - current[0][0]) / 3600, len(current)))


# --- identity and distress (engine/detectors/draught.py, distress.py) -----------------------------------------
def place_gap_km(lat: float, lon: float, places: Sequence[tuple[float, float, float]]) -> float:
    """Distance to the edge (centre distance minus radius) of the nearest (lat, lon, radius_km) place."""
    if math.isnan(lat) or math.isnan(lon):
        return math.nan
    return min((haversine_km(lat, lon, plat, plon) - r for plat, plon, r in places), default=math.inf)


def distress_episodes(rows: Sequence[tuple[int, int, int]], gap_us: int) -> list[tuple[int, int, int, int, int]]:
    """(vid, t, bits) rows sorted by (vid, t) -> episodes (vid, start, last, bits, n): a vessel's evidence rows
    no more than ``gap_us`` apart form one episode."""
    out: list[list[int]] = []
    for vid, t, bits in rows:
        if out and out[-1][0] == vid and t - out[-1][2] <= gap_us:
            out[-1][2], out[-1][3], out[-1][4] = t, out[-1][3] | bits, out[-1][4] + 1
        else:
            out.append([vid, t, t, bits, 1])
    return [(a, b, c, d, e) for a, b, c, d, e in out]


# --- close pairs (encounters) and silences (AIS gaps) -----------------------------------------------------------
def close_pairs(lat: Sequence[float], lon: Sequence[float], max_km: float) -> list[tuple[int, int]]:
    """Every pair i < j of points at most ``max_km`` apart by haversine, trying all pairs; NaN never pairs."""
    out = []
    for i in range(len(lat)):
        for j in range(i + 1, len(lat)):
            if any(math.isnan(v) for v in (lat[i], lon[i], lat[j], lon[j])):
                continue
            if haversine_km(lat[i], lon[i], lat[j], lon[j]) <= max_km:
                out.append((i, j))
    return out


def gap_candidates(rows, min_gap_us: int) -> list[tuple[int, int, int]]:
    """From (vid, t_us, lat, lon) rows in (vid, time) order: (row of the reappearance, vid, previous fix time) for
    each pair of consecutive fixes of a vessel with a position that are ``min_gap_us`` or more apart."""
    out = []
    last: dict[int, int] = {}
    for r, (vid, t, lat, lon) in enumerate(rows):
        if math.isnan(lat) or math.isnan(lon):
            continue
        if vid in last and t - last[vid] >= min_gap_us:
            out.append((r, vid, last[vid]))
        last[vid] = t
    return out


def heard_before(rows, gap_t0: Sequence[int], slots: int, slot_us: int) -> list[tuple[int, int]]:
    """From (vid, t_us, lat, lon) rows in (vid, time) order and, per row, the fix before a silence (-1: none): for
    each such row with a position, (fixes of the vessel with a position in the slots of ``slot_us`` from the one
    ``slots`` - 1 before that fix's to the latest fix's slot, the time from the start of the oldest of those slots
    (or the vessel's first fix, if later) to the fix before the silence) -- engine/detectors/gaps.py."""
    out = []
    seen: dict[int, list[int]] = {}
    for (vid, t, lat, lon), t0 in zip(rows, gap_t0, strict=True):
        if math.isnan(lat) or math.isnan(lon):
            continue
        times = seen.setdefault(vid, [])
        if t0 >= 0:
            if not times:
                out.append((0, 0))
            else:
                oldest = (times[-1] // slot_us - slots + 1) * slot_us
                n = sum(1 for x in times if x >= oldest)
                out.append((n, max(0, t0 - max(times[0], oldest))))
        times.append(t)
    return out


# --- track segments, episodes, boundary crossings, loitering (engine/detectors/track, geography, border, motion) --
def _dead_reckon(lat: float, lon: float, sog: float, cog: float, dt_h: float) -> tuple[float, float]:
    """Where a fix at (lat, lon) going ``sog`` kn on ``cog`` is ``dt_h`` hours later, on a flat local map."""
    if math.isnan(sog) or math.isnan(cog) or dt_h <= 0:
        return lat, lon
    km = sog * 1.852 * dt_h
    north = km * math.cos(math.radians(cog))
    east = km * math.sin(math.radians(cog))
    return (lat + math.degrees(north / EARTH_RADIUS_KM),
            lon + math.degrees(east / (EARTH_RADIUS_KM * max(math.cos(math.radians(lat)), 1e-6))))  # fmt: skip


def segments(rows, max_speed_kn: float, noise_km: float, max_gap_us: int, max_open: int) -> list[tuple]:
    """(vid, t_us, lat, lon, sog, cog) rows in (vid, time) order -> per row (segment id, implied kn from the previous
    fix of its segment, kn from the vessel's previous fix, opened a segment). Without a position: (-1, nan, nan,
    False). A fix joins the open segment it could reach at ``max_speed_kn`` (plus ``noise_km``) whose dead-reckoned
    position is nearest; otherwise it opens a segment, in place of the one silent longest when ``max_open`` are open.
    """
    open_: dict[int, list[dict]] = {}
    next_id: dict[int, int] = {}
    last: dict[int, tuple[int, float, float]] = {}
    out: list[tuple] = []
    for vid, t, lat, lon, sog, cog in rows:
        if math.isnan(lat) or math.isnan(lon):
            out.append((-1, math.nan, math.nan, False))
            continue
        jump = math.nan
        if vid in last:
            lt, la, lo = last[vid]
            d = haversine_km(la, lo, lat, lon)
            jump = 0.0 if d <= noise_km else (d / 1.852 / ((t - lt) / 3.6e9) if t > lt else math.inf)
        last[vid] = (t, lat, lon)
        segs = [s for s in open_.get(vid, []) if t - s["t"] <= max_gap_us]
        reach = [noise_km + max_speed_kn * 1.852 * max(t - s["t"], 0) / 3.6e9 for s in segs]
        reachable = [s for s, r in zip(segs, reach, strict=True) if haversine_km(s["lat"], s["lon"], lat, lon) <= r]
        implied = math.nan
        if reachable:
            misses = [
                haversine_km(*_dead_reckon(s["lat"], s["lon"], s["sog"], s["cog"], (t - s["t"]) / 3.6e9), lat, lon)
                for s in reachable
            ]
            seg = reachable[misses.index(min(misses))]
            if t > seg["t"]:
                implied = haversine_km(seg["lat"], seg["lon"], lat, lon) / 1.852 / ((t - seg["t"]) / 3.6e9)
            new = False
        else:
            seg = {"id": next_id.get(vid, 0)}
            next_id[vid] = seg["id"] + 1
            if len(segs) >= max_open:
                segs[segs.index(min(segs, key=lambda s: s["t"]))] = seg
            else:
                segs.append(seg)
            new = True
        seg.update(t=t, lat=lat, lon=lon, sog=sog, cog=cog)
        open_[vid] = segs
        out.append((seg["id"], implied, jump, new))
    return out


def key_runs(rows, rejoin_us: int, min_fixes: int, silence_goes_on: bool = False) -> list[tuple[int, int] | None]:
    """(vid, t_us, key) rows in (vid, time) order -> per row (episode start, fixes so far) once an episode has
    ``min_fixes``, else None. An episode is a vessel's fixes with one key >= 0, each within ``rejoin_us`` of the
    previous one with that key; keys < 0 (outside, no position) neither extend nor end it. With
    ``silence_goes_on``, a longer wait ends it only if a fix outside (key -1) came in between."""
    state: dict[int, list[int]] = {}  # vid -> [key, start, last, count]
    out_since: set[int] = set()  # vessels heard outside since their last fix in
    out: list[tuple[int, int] | None] = []
    for vid, t, key in rows:
        if key < 0:
            if key == -1:
                out_since.add(vid)
            out.append(None)
            continue
        s = state.get(vid)
        left = vid in out_since or not silence_goes_on
        out_since.discard(vid)
        if s is None or s[0] != key or (t - s[2] > rejoin_us and left):
            s = state[vid] = [key, t, t, 0]
        s[2], s[3] = t, s[3] + 1
        out.append((s[1], s[3]) if s[3] >= min_fixes else None)
    return out


def crossing(p: Sequence[float], q: Sequence[float], line: Sequence[Sequence[float]]) -> int:
    """Side (+1 left / -1 right of the line's direction, by the sign of the cross product) that the step p -> q
    ((lon, lat) each) ends on when it passes strictly through the polyline ``line`` [(lon, lat), ...], else 0."""
    def cross(o: Sequence[float], u: Sequence[float], w: Sequence[float]) -> float:
        return (u[0] - o[0]) * (w[1] - o[1]) - (u[1] - o[1]) * (w[0] - o[0])

    for a, b in zip(line[:-1], line[1:], strict=True):
        shift = 360.0 * round((a[0] - p[0]) / 360.0)  # the step moved by whole turns next to the segment
        p, q = (p[0] + shift, p[1]), (q[0] + shift, q[1])
        d1, d2 = cross(a, b, p), cross(a, b, q)
        e1, e2 = cross(p, q, a), cross(p, q, b)
        if d1 * d2 < 0 and e1 * e2 <= 0:
            return 1 if d2 > 0 else -1
    return 0


def slow_spells(rows, max_kn: float, min_us: int, min_fixes: int, silence_us: int, company_min: int = 2,
                share: float = 0.5) -> list[int | None]:
    """(vid, t_us, lat, lon, sog, eligible[, working, company working]) rows in (vid, time) order -> per row the start
    of the slow spell it reports (>= ``min_us`` long), else None. A step between consecutive positioned fixes is
    slow when both are eligible, it lasts at most ``silence_us``, either fix reported under ``max_kn`` (or nothing)
    and the average speed over the step is under ``max_kn``; a spell is a run of slow steps, starting at its first
    step's start, and counts once it has ``min_fixes`` positions. Then, once: a working vessel whose slow steps so far
    had ``company_min`` working companions at either end for more than ``share`` of their time is a fleet, never
    reported; any other spell is reported from then on."""
    prev: dict[int, tuple] = {}
    start: dict[int, int | None] = {}
    count: dict[int, int] = {}
    in_company: dict[int, float] = {}
    judged: dict[int, float] = {}
    verdict: dict[int, str | None] = {}
    out: list[int | None] = []
    for row in rows:
        vid, t, lat, lon, sog, ok = row[:6]
        working, company = (row[6], row[7]) if len(row) > 6 else (False, 0)
        if math.isnan(lat) or math.isnan(lon):
            out.append(None)
            continue
        slow = False
        if vid in prev:
            pt, pla, plo, psog, pok, _ = prev[vid]
            if ok and pok and t - pt <= silence_us:
                km = haversine_km(pla, plo, lat, lon)
                kn = km / 1.852 / ((t - pt) / 3.6e9) if t > pt else (0.0 if km <= 0.5 else math.inf)
                slow = kn < max_kn and (not psog >= max_kn or not sog >= max_kn)
        if slow:
            if start.get(vid) is None:
                start[vid], count[vid], in_company[vid], judged[vid], verdict[vid] = prev[vid][0], 1, 0.0, 0.0, None
            count[vid] += 1
            if verdict[vid] is None:
                judged[vid] += t - prev[vid][0]
                if max(company, prev[vid][5]) >= company_min:
                    in_company[vid] += t - prev[vid][0]
        else:
            start[vid] = None
        s = start.get(vid)
        if s is not None and t - s >= min_us and count[vid] >= min_fixes and verdict[vid] is None:
            verdict[vid] = "fleet" if working and in_company[vid] > share * judged[vid] else "alone"
        out.append(s if s is not None and verdict.get(vid) == "alone" and t - s >= min_us else None)
        prev[vid] = (t, lat, lon, sog, ok, company)
    return out


def close_pairs_in_time(fixes, first: int, window_us: int, max_km: float) -> set[tuple[int, int]]:
    """(vid, t_us, lat, lon) fixes -> every pair (p, q) of two vessels' fixes at most ``max_km`` and ``window_us``
    apart, q >= ``first``, p before q by (time, index): all pairs, compared one by one."""
    out = set()
    for q, (vq, tq, aq, oq) in enumerate(fixes):
        for p, (vp, tp, ap, op) in enumerate(fixes):
            near = q >= first and vp != vq and (tp, p) < (tq, q) and tq - tp <= window_us
            if near and haversine_km(aq, oq, ap, op) <= max_km:
                out.add((p, q))
    return out


def companions(rows, sightings, memory_us: int) -> list[tuple[int, int]]:
    """(vid, t_us) rows and (vid, t_us, other, working) sightings -> per row the (others, working others) sighted
    beside its vessel within ``memory_us`` up to its time (the latest sighting of each other counts; a vessel
    remembers at most 8 others, the longest unseen giving way -- fewer than 8 in the tests)."""
    out = []
    for vid, t in rows:
        last: dict[int, tuple[int, bool]] = {}
        for sv, st, u, work in sorted(sightings, key=lambda x: (x[0], x[1], x[2])):
            if sv == vid and st <= t and (u not in last or st >= last[u][0]):
                last[u] = (st, work)
        near = [w for st, w in last.values() if t - st <= memory_us]
        out.append((len(near), sum(near)))
    return out


def twin_track_episodes(
    fixes: Sequence[tuple[int, int, float, float]], max_kmh: float, jitter_km: float, stale_us: float, min_sw: int
) -> list[tuple[int, int, int, int]]:
    """(vid, t_us, lat, lon) sorted by (vid, t) -> (vid, start, last switch, switches) of every episode with at
    least ``min_sw`` switches between two mutually unreachable tracks (closed ones, then those still open)."""
    out: list[tuple[int, int, int, int]] = []
    states: dict[int, dict] = {}

    def reach(track: tuple[float, float, float] | None, lat: float, lon: float, t: float) -> tuple[bool, float]:
        if track is None:
            return False, math.inf
        d = haversine_km(track[0], track[1], lat, lon)
        dt_h = (t - track[2]) / 3.6e9
        return d <= jitter_km or (dt_h > 0 and d / dt_h <= max_kmh), d

    def close(v: int, s: dict) -> None:
        if s["b"] is not None and s["sw"] >= min_sw:
            out.append((v, s["start"], s["last"], s["sw"]))
        s.update(b=None, sw=0, cur=0)

    for v, t, lat, lon in fixes:
        if math.isnan(lat) or math.isnan(lon):
            continue
        s = states.setdefault(v, {"a": None, "b": None, "sw": 0, "cur": 0, "start": 0, "last": 0})
        if s["b"] is not None and t - s["b"][2] > stale_us:
            close(v, s)
        if s["a"] is not None and t - s["a"][2] > stale_us:
            if s["b"] is None:
                s["a"] = None
            else:
                close_b = s["b"]
                close(v, s)
                s["a"] = close_b
        if s["a"] is None:
            s["a"], s["cur"] = (lat, lon, t), 0
            continue
        ok_a, d_a = reach(s["a"], lat, lon, t)
        ok_b, d_b = reach(s["b"], lat, lon, t)
        if ok_a and (not ok_b or d_a <= d_b):
            track = 0
        elif ok_b:
            track = 1
        else:
            close(v, s)
            s.update(b=(lat, lon, t), start=t, last=t, sw=1, cur=1)
            continue
        s["a" if track == 0 else "b"] = (lat, lon, t)
        if track != s["cur"]:
            s.update(sw=s["sw"] + 1, last=t, cur=track)
    for v, s in sorted(states.items()):
        if s["b"] is not None and s["sw"] >= min_sw:
            out.append((v, s["start"], s["last"], s["sw"]))
    return out


# --- sun elevation (engine/sun.py) ---------------------------------------------------------------------------------
def sun_elevation_deg(t_us: float, lat: float, lon: float) -> float:
    """The same low-precision solar formulas, in plain Python floats."""
    import math

    n = t_us / 86_400_000_000 + 2440587.5 - 2451545.0
    g = math.radians((357.529 + 0.98560028 * n) % 360.0)
    q = (280.459 + 0.98564736 * n) % 360.0
    ecl = math.radians(q + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.00000036 * n)
    ra = math.atan2(math.cos(eps) * math.sin(ecl), math.cos(ecl))
    dec = math.asin(math.sin(eps) * math.sin(ecl))
    ha = math.radians(((18.697374558 + 24.06570982441908 * n) % 24.0) * 15.0 + lon) - ra
    phi = math.radians(lat)
    s = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


# --- the runner's order and the fleet's ids (engine/fixes.py, engine/fleet.py) ------------------------------------
def first_appearance_ids(batches: Sequence[Sequence[int]]) -> list[list[int]]:
    """Dense ids of MMSIs in order of first appearance across batches (a dict, one MMSI at a time)."""
    seen: dict[int, int] = {}
    return [[seen.setdefault(m, len(seen)) for m in batch] for batch in batches]


def vessel_time_order(vid: Sequence[int], t_us: Sequence[int], keys: Sequence[Sequence[int]]) -> list[int]:
    """Rows in arrival order -> the first arrival of each distinct (vid, t_us, key), sorted by (vid, t_us, arrival)."""
    first: dict[tuple[int, int, tuple[int, ...]], int] = {}
    for i, (v, t, k) in enumerate(zip(vid, t_us, keys, strict=True)):
        first.setdefault((v, t, tuple(k)), i)
    return sorted(first.values(), key=lambda i: (vid[i], t_us[i], i))


def vessel_order(vid: Sequence[int], t: Sequence[int]) -> list[int]:
    """Rows by (vessel, time), ties in their order (the encounter detector's buffer)."""
    return sorted(range(len(vid)), key=lambda i: (vid[i], t[i], i))


def latest_rows(vids: Sequence[int], t_s: Sequence[float], starts: Sequence[int], q_t: Sequence[float]) -> list:
    """Per query time and vessel run, the run's last row whose (vid * 1e10 + t) key is at most the query's
    (engine/detectors/handover.py); the row before the run when none."""
    out = []
    for q in q_t:
        row = []
        for k, v in enumerate(vids):
            key = float(v) * 1e10
            last = starts[k] - 1
            for r in range(starts[k], starts[k + 1]):
                if key + t_s[r] <= key + q:
                    last = r
            row.append(last)
        out.append(row)
    return out


def coverage_rows(rows, cell_deg: float, n_lon: int, bucket_us: int) -> list[tuple[int, int, int, bool]]:
    """(vid, t_us, lat, lon, class B) fixes -> the coverage grid's (cell, bucket, vid, class B) rows, NaN positions
    left out, each row that repeats the one before it dropped (engine/detectors/gaps.py)."""
    out: list[tuple[int, int, int, bool]] = []
    for vid, t, lat, lon, b in rows:
        if math.isnan(lat) or math.isnan(lon):
            continue
        x = lon - 360.0 * math.floor((lon + 180.0) / 360.0)
        cell = math.floor((lat + 90.0) / cell_deg) * n_lon + math.floor((x + 180.0) / cell_deg) % n_lon
        row = (cell, t // bucket_us, vid, bool(b))
        if not out or out[-1] != row:
            out.append(row)
    return out


def heard_on_path(counts: dict[tuple[int, int], tuple[int, int]], path: Sequence, cell_deg: float, n_lon: int,
                  bucket_us: int, cell_km: float) -> list[int]:  # fmt: skip
    """The vessels heard around a silent vessel's likely path in each bucket (engine/detectors/gaps.py
    ``_heard_on_paths``), point by point: ``counts`` maps (cell, bucket) to (vessels, class B vessels) heard;
    ``path`` is (lat0, lon0, t0, lat1, lon1, t1, buckets, class B). At each bucket's middle, and a cell's sailing
    time before and after it, the point on the straight line (the short way across the antimeridian); the 3 x 3
    cells around each point summed, the fewest of the three."""
    lat0, lon0, t0, lat1, lon1, t1, buckets, b = path
    km = haversine_km(lat0, lon0, lat1, lon1)
    ahead = int((t1 - t0) * min(1.0, cell_km / km)) if km > 0 else t1 - t0
    out = []
    for k in buckets:
        mid = k * bucket_us + bucket_us // 2
        fewest = []
        for t in (mid - ahead, mid, mid + ahead):
            share = (min(max(t, t0), t1) - t0) / max(1, t1 - t0)
            lat = lat0 + share * (lat1 - lat0)
            lon = (lon0 + share * ((lon1 - lon0 + 180.0) % 360.0 - 180.0) + 180.0) % 360.0 - 180.0
            ci = math.floor((lat + 90.0) / cell_deg)
            cj = math.floor((lon - 360.0 * math.floor((lon + 180.0) / 360.0) + 180.0) / cell_deg) % n_lon
            cells = [(ci + di) * n_lon + (cj + dj) % n_lon for di in (-1, 0, 1) for dj in (-1, 0, 1)]
            fewest.append(sum(counts.get((c, k), (0, 0))[1 if b else 0] for c in cells))
        out.append(min(fewest))
    return out


def partner_seen(slices: Sequence[tuple[int, Sequence[Sequence[float]]]], a: int, lo_s: int, hi_s: int,
                 max_missed: int) -> list[tuple]:  # fmt: skip
    """The dark-partner search's walk (engine/detectors/dark_partners.py ``_partner_seen``), slice by slice:
    ``slices`` [(slice, [(vid, lat, lon, speed, type), ...]), ...] in list order -> (slice, lat, lon, speed, type)
    of vessel ``a``'s first row in each slice that has it (slices outside ``lo_s .. hi_s`` passed over), until it
    has been missing for more than ``max_missed`` slices after the last one it was in."""
    seen: list[tuple] = []
    for s, rows in slices:
        if not lo_s <= s <= hi_s:
            continue
        mine = [r for r in rows if r[0] == a]
        if mine:
            seen.append((s, *mine[0][1:]))
        elif seen and s - seen[-1][0] > max_missed:
            break
    return seen


def handover_candidates(
    fleet,
    t1: float,
    lat1: float,
    lon1: float,
    cog1: float,
    v: int,
    min_seen_s: float,
    max_silence_s: float,
    max_km: float,
    max_turn: float,
) -> list[tuple[int, float, float, float, float, float]]:
    """fleet: per vessel (first heard s or None, ship?, latest (lat, lon, t s, sog, cog) or None) -> the vessels
    that may have become vessel ``v`` at (t1, lat1, lon1) on course cog1 (engine/detectors/handover.py):
    (vessel, latest t, km, km from its dead-reckoned place at t1, its kn, its course)."""
    out = []
    for u, (first, ship, fix) in enumerate(fleet):
        if u == v or first is None or not ship or first > t1 - min_seen_s or fix is None:
            continue
        lat, lon, t, sog, cog = fix
        if not t1 - max_silence_s <= t <= t1:
            continue
        km = haversine_km(lat, lon, lat1, lon1)
        reach = max_km + 1.2 * (0.0 if math.isnan(sog) else sog) * 1.852 * (t1 - t) / 3600
        turn = abs((cog - cog1 + 180.0) % 360.0 - 180.0)
        if km <= reach and not turn > max_turn:
            plat, plon = _dead_reckon(lat, lon, sog, cog, (t1 - t) / 3600)
            out.append((u, t, km, haversine_km(plat, plon, lat1, lon1), sog, cog))
    return out


def hull_verdict(kind_a: int, kind_b: int, hull_a: Sequence[float], hull_b: Sequence[float], miss_km: float,
                 sailed_km: float, turn_deg: float, s) -> int:  # fmt: skip
    """One pair of identities (engine/detectors/handover.py): 0 two ships, 1 track broken, 2 same hull, 3 same kind,
    4 hull unknown. Kinds -1 and dimensions NaN are unknown."""
    apart, agree = False, True
    for x, y in zip(hull_a, hull_b, strict=True):
        if math.isnan(x) or math.isnan(y):
            agree = False
        elif abs(x - y) > max(s.hull_tol * max(x, y), s.hull_tol_m):
            apart, agree = True, False
    if apart or (kind_a >= 0 and kind_b >= 0 and kind_a != kind_b and not agree):
        return 0
    if agree:
        return 2
    if miss_km > s.max_km + s.drift * sailed_km or turn_deg > s.max_turn_unconfirmed_deg:
        return 1
    return 3 if kind_a >= 0 and kind_b >= 0 else 4


def run_sums(runs: Sequence[tuple[int, int]], init: Sequence[Sequence[float]], cols: Sequence[Sequence[float]]) -> list:
    """Per run (r, e): its initial sums plus each row's values of ``cols``, added one row at a time (the meetings of
    engine/detectors/encounters.py)."""
    out = []
    for (r, e), start in zip(runs, init, strict=True):
        sums = list(start)
        for q in range(r, e):
            for k, col in enumerate(cols):
                sums[k] += col[q]
        out.append(sums)
    return out


def aligned_slices(rows, s0: int, count: int, slice_us: int, stale_us: int, interp_us: int, ahead: int):
    """(vid, t, lat, lon, sog, ship type) fixes -> per slice s0 .. s0 + count - 1, the vessels that stand somewhere
    at its end and where (vid, lat, lon, sog, ship type): interpolated towards the next fix (within ``ahead``
    slices) when the two fixes are at most ``interp_us`` apart, else the last fix for ``stale_us``; speed and ship
    type are the last fix's (engine/detectors/encounters.py)."""
    out = []
    vids = sorted({r[0] for r in rows})
    for s in range(s0, s0 + count):
        end = (s + 1) * slice_us
        here = []
        for v in vids:
            mine = sorted((r for r in rows if r[0] == v), key=lambda r: r[1])  # stable: ties keep their order
            before = [r for r in mine if r[1] < end]
            after = [r for r in mine if end <= r[1] < end + ahead * slice_us]
            if not before:
                continue
            _, t0, lat0, lon0, kn0, ty0 = before[-1]
            if after and after[0][1] - t0 <= interp_us:
                _, t1, lat1, lon1, _, _ = after[0]
                w = (end - t0) / (t1 - t0)
                dlon = (lon1 - lon0 + 180.0) % 360.0 - 180.0
                here.append((v, lat0 + w * (lat1 - lat0), (lon0 + w * dlon + 180.0) % 360.0 - 180.0, kn0, ty0))
            elif t0 >= end - stale_us:
                here.append((v, lat0, lon0, kn0, ty0))
        out.append(here)
    return out


def lateness(rows: Sequence[tuple[int, int | None]], max_t: int | None, lateness_us: int) -> list[bool]:
    """(arrival, t or None) rows -> keep each? A row without time is dropped; so is one more than ``lateness_us``
    before the latest time among the rows that arrived before it (and ``max_t``) (engine/runner.py)."""
    latest = max_t
    keep = [False] * len(rows)
    for i in sorted(range(len(rows)), key=lambda i: (rows[i][0], i)):
        t = rows[i][1]
        if t is None:
            continue
        keep[i] = latest is None or t >= latest - lateness_us
        latest = t if latest is None else max(latest, t)
    return keep


def float_key(values: Sequence[float], nan_bits: int) -> list[int]:
    """Floats -> int64 keys equal where polars finds the values equal: the float's bits, ``nan_bits`` for every
    NaN, 0 for both zeros (engine/runner.py)."""
    out = []
    for x in values:
        if math.isnan(x):
            out.append(nan_bits)
        elif x == 0.0:
            out.append(0)
        else:
            out.append(int(np.array([x], np.float64).view(np.int64)[0]))
    return out


def mod360(x: float) -> float:
    """Python's ``x % 360.0`` (engine/detectors/common.py)."""
    return x % 360.0


def haversine_cos_km(lat1: float, lon1: float, cos1: float, lat2: float, lon2: float, cos2: float) -> float:
    """:func:`haversine_km` with the latitudes' cosines given (engine/detectors/common.py): given the true
    cosines it is the same distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + cos1 * cos2 * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# --- rarer AIS message types (engine.decode_rare) -----------------------------------------------------------------
def ais_bits(payload: str, fill: int) -> str:
    """An armored payload as a string of '0'/'1', the fill bits cut off."""
    bits = "".join(f"{c - 48 - 8 * (c > 88):06b}" for c in payload.encode("ascii"))
    return bits[: len(bits) - fill]


def _take(bits: str, first: int, width: int) -> str:
    """The bits of a field that the message holds (pyais reads a field cut by the end as the bits there are)."""
    return bits[first : first + width] if first < len(bits) else ""


def rare_variant(bits: str, variants: Sequence[tuple[str, int, str]]) -> str | None:
    """The layout variant pyais picks for a message of type 6, 7, 8, 10, 12, 13, 15, 16, 17, 20, 22, 23, 25, 26."""
    def num(first: int, width: int) -> int:
        return int(_take(bits, first, width) or "0", 2)

    t, names = num(0, 6), {name for name, _, _ in variants}
    if t in (6, 8):
        dac, fid = (num(72, 10), num(82, 6)) if t == 6 else (num(40, 10), num(50, 6))
        if t == 6 and len(bits) <= 72:  # pyais reads DAC/FI where the short form has them
            dac, fid = num(40, 10), num(50, 6)
            if (dac, fid) == (1, 16):
                return "6Dac1Fid16A"
        if t == 8 and (dac, fid) == (1, 21):
            return "8Default" if num(56, 1) else "8Dac1Fid21NonWmo"
        name = f"{t}Dac{dac}Fid{fid}" + ("B" if (t, dac, fid) == (6, 1, 16) else "")
        return name if name in names else f"{t}Default"
    if t == 16:
        return "16DestinationAB" if len(bits) > 96 else "16DestinationA"
    if t == 22:
        return "22Addressed" if num(139, 1) else "22Broadcast"
    if t in (25, 26):
        return f"{t}{'Addressed' if num(38, 1) else 'Broadcast'}{'Structured' if num(39, 1) else 'Unstructured'}"
    return str(t) if str(t) in names else None


def rare_fields(bits: str, spec: str, enums: dict[str, Sequence[int]]) -> dict:
    """pyais's asdict(enum_as_int=True) of one message, from its bits and its variant's layout (fields JSON form:
    bytes as hex), read field by field with plain string slicing."""
    out: dict = {}
    for item in spec.split():
        name, rest = item.split("@")
        first_s, width_s, kind, *conv = rest.split(":")
        first, width = int(first_s), int(width_s)
        raw = _take(bits, first, width)
        if first >= len(bits):
            out[name] = None
            continue
        if kind == "s":
            chars = [raw[i : i + 6] for i in range(0, width, 6)]
            text = "".join(chr(v + 64 if v < 32 else v) for v in (int(c or "0", 2) for c in chars))
            out[name] = text.rstrip("@").strip()
            continue
        if kind == "x":
            padded = raw + "0" * (-len(raw) % 8)
            out[name] = bytes(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8)).hex()
            continue
        v = int(raw, 2)
        if kind in "iI" and raw[0] == "1":
            v -= 1 << len(raw)
        c = conv[0] if conv else ""
        if kind == "b":
            value: object = bool(v)
        elif c in ("deg", "deg600", "deg60000"):
            value = round(v / {"deg": 600000, "deg600": 600, "deg60000": 60000}[c], 6)
        elif c in ("10th", "100th"):
            value = v / (10 if c == "10th" else 100)
        elif c in ("airtemp", "dewpt", "wl"):
            value = round(v * 0.1 - {"airtemp": 60, "dewpt": 20, "wl": 10}[c], 1)
        elif c == "wl31":
            value = round(v * 0.01 - 10, 2)
        elif c in ("p800", "p799"):
            value = v + int(c[1:])
        elif c.startswith("enum"):
            value = enums[c[4:]][v]
        else:
            value = float(v) if kind in "UI" else v
        out[name] = value
    return out


def boosting_raw(trees: Sequence[Sequence[np.ndarray]], baseline: Sequence[float], row: Sequence[float]) -> list[float]:
    """One row's raw scores from gradient-boosted trees: ``trees`` per iteration, one tree a raw score, each as
    HistGradientBoosting's node records (``TreePredictor.nodes``), walked from the root one node at a time."""
    raw = [float(b) for b in baseline]
    for iteration in trees:
        for k, nodes in enumerate(iteration):
            node = nodes[0]
            while not node["is_leaf"]:
                v = row[node["feature_idx"]]
                go_left = bool(node["missing_go_to_left"]) if math.isnan(v) else v <= node["num_threshold"]
                node = nodes[node["left"] if go_left else node["right"]]
            raw[k] += float(node["value"])
    return raw


def _expit(z: float) -> float:
    return 0.0 if z < -745.0 else 1.0 / (1.0 + math.exp(-z))  # exp(745) overflows: the limit is 0


def class_probabilities(raw: Sequence[float], calibration: Sequence[tuple[float, float]] | None) -> list[float]:
    """A row's class probabilities from its raw scores, as scikit-learn gives them: a sigmoid (a, b) per raw score
    (Platt; one-vs-rest, normalised; all zero: uniform) when calibrated, else the logistic (one raw score) or the
    softmax (one a class)."""
    if calibration:
        p = [_expit(-(a * r + b)) for r, (a, b) in zip(raw, calibration, strict=True)]
        if len(p) == 1:
            out = [1.0 - p[0], p[0]]
        else:
            total = sum(p)
            out = [q / total for q in p] if total != 0 else [1.0 / len(p)] * len(p)
        return [1.0 if 1.0 < q <= 1.0 + 1e-5 else q for q in out]
    if len(raw) == 1:
        p1 = _expit(raw[0])
        return [1.0 - p1, p1]
    top = max(raw)
    e = [math.exp(r - top) for r in raw]
    return [v / sum(e) for v in e]


# --- reach: shortest water distance on a grid (engine/geo/reach.py) -------------------------------------------
def _cells_passed(di: int, dj: int) -> list[tuple[int, int]]:
    """The cells (offsets from the start) a step passes beside on its way: none along the grid, the two beside a
    diagonal, the two a knight's move runs between."""
    si, sj = (di > 0) - (di < 0), (dj > 0) - (dj < 0)
    if abs(di) == 1 and abs(dj) == 1:
        return [(di, 0), (0, dj)]
    if abs(dj) == 2:
        return [(0, sj), (di, sj)]
    if abs(di) == 2:
        return [(si, 0), (si, dj)]
    return []


def water_km(passable: np.ndarray, ns_km: float, ew_km: Sequence[float], i0: int, j0: int,
             max_km: float) -> np.ndarray:  # fmt: skip
    """Dijkstra from (i0, j0) over the 16 steps (along, diagonal, knight's move) between water cells, a step's
    length the straight line with the east-west width halfway between its rows; a step may not pass beside land;
    cells farther than max_km stay inf."""
    import heapq

    n_rows, n_cols = passable.shape
    steps = [(di, dj) for di in range(-2, 3) for dj in range(-2, 3)
             if (di, dj) != (0, 0) and sorted((abs(di), abs(dj))) in ([0, 1], [1, 1], [1, 2])]  # fmt: skip
    best = {(i0, j0): 0.0}
    queue = [(0.0, i0, j0)]
    done = set()
    while queue:
        d, i, j = heapq.heappop(queue)
        if (i, j) in done:
            continue
        done.add((i, j))
        for di, dj in steps:
            ti, tj = i + di, j + dj
            on_grid = [(i + a, j + b) for a, b in [(di, dj), *_cells_passed(di, dj)]]
            if not all(0 <= a < n_rows and 0 <= b < n_cols and passable[a, b] for a, b in on_grid):
                continue
            width = (ew_km[i] + ew_km[ti]) / 2
            nd = d + math.hypot(dj * width, di * ns_km)
            if nd <= max_km and nd < best.get((ti, tj), math.inf):
                best[(ti, tj)] = nd
                heapq.heappush(queue, (nd, ti, tj))
    out = np.full((n_rows, n_cols), np.inf)
    for (i, j), d in best.items():
        out[i, j] = d
    return out


def meet_hours(dx_km: float, dy_km: float, vx_kn: float, vy_kn: float, patrol_kn: float, head_km: float | None = None,
               horizon_h: float = 100.0, step_h: float = 1e-3) -> float | None:  # fmt: skip
    """Brute force for engine/geo/reach.py's meetings: the first time t (hours, on a grid of ``step_h`` up to
    ``horizon_h``, then halved down to 1e-9 h) when a patrol leaving the origin at ``patrol_kn`` can be where the
    vessel is: the vessel at (dx, dy) km + (vx, vy) kn * t, or, ``head_km`` given (a stale fix, met by its
    reach), anywhere within ``head_km`` + |v| t of (dx, dy), moving at |v| in any direction; a vessel within a metre
    of the base is met at once. None: not within the horizon."""
    kn = 1.852

    def short(t: np.ndarray) -> np.ndarray:  # how far the patrol still is from the vessel at t (<= 0: met)
        if head_km is not None:
            edge = np.hypot(dx_km, dy_km) - head_km - math.hypot(vx_kn, vy_kn) * kn * t
            return np.maximum(edge, 0.0) - patrol_kn * kn * t
        return np.hypot(dx_km + vx_kn * kn * t, dy_km + vy_kn * kn * t) - patrol_kn * kn * t

    if head_km is None and math.hypot(dx_km, dy_km) <= 1e-3:  # engine/geo/reach.py MET_KM: met at once
        return 0.0
    t = np.arange(0.0, horizon_h + step_h, step_h)
    met = np.flatnonzero(short(t) <= 0)
    if not met.size:
        return None
    if met[0] == 0:
        return 0.0
    lo, hi = float(t[met[0] - 1]), float(t[met[0]])
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if short(np.array([mid]))[0] <= 0 else (mid, hi)
    return hi


def distress_header(payload: str) -> bool:
    """Whether an armored AIS payload's header may be distress evidence (engine/fast_path.py distress_headers):
    read bit by bit as ITU-R M.1371-5 lays it out; the MMSI needs 38 bits, a nav status its 4 bits."""
    bits = "".join(f"{(v - 8 if v > 40 else v) & 63:06b}" for v in (ord(c) - 48 for c in payload))

    def field(a: int, n: int) -> int | None:
        return int(bits[a : a + n], 2) if len(bits) >= a + n else None

    kind, mmsi = field(0, 6), field(8, 30)
    status = field(38, 4) if kind in (1, 2, 3) else field(40, 4) if kind == 27 else None
    return kind == 14 or (mmsi is not None and mmsi // 1_000_000 in (970, 972, 974)) or status in (14, 6, 2)


def cover_walk(rows, last_t: dict[int, int], slots: dict[int, list[list[int]]], min_gap_us: int, cover_us: int,
               k_slots: int = 8) -> list[tuple[int, int, list[int]]]:  # fmt: skip
    """The station monitor's walk (engine/detectors/stations.py ``_cover_walk``), row by row: ``rows`` (vid, t, station
    id or -1, has a position) in arrival order, taken vessel by vessel in time order (stable). Each silence of at
    least ``min_gap_us`` between a vessel's fixes with a position: (vid, its last fix before, the stations in its
    slots heard within ``cover_us`` before that, in slot order). ``last_t`` and ``slots`` ([station, latest t] per
    slot, station -1 when empty) are updated in place; a new station takes the last empty slot, else the first of
    the oldest."""
    out = []
    for v, t, s, has_pos in sorted(rows, key=lambda r: (r[0], r[1])):
        mine = slots.setdefault(v, [[-1, -1] for _ in range(k_slots)])
        if has_pos:
            before = last_t.get(v, -1)
            if before >= 0 and t - before >= min_gap_us:
                out.append((v, before, [x for x, tx in mine if x >= 0 and tx >= before - cover_us]))
            last_t[v] = t
        if s < 0:
            continue
        found = [k for k in range(k_slots) if mine[k][0] == s]
        empty = [k for k in range(k_slots) if mine[k][0] < 0]
        k = found[0] if found else empty[-1] if empty else min(range(k_slots), key=lambda k: mine[k][1])
        mine[k][0] = s
        mine[k][1] = max(mine[k][1], t)
    return out


def source_index(known: np.ndarray, known_ids: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """feeds.framing's source ids as numpy gives them: the sorted search, its last slot for a hash past the end, the
    id where the hash is found and 0 where it is not."""
    pos = np.searchsorted(known, hashes).clip(max=known.shape[0] - 1)
    ids = known_ids[pos].astype(np.int32)
    ids[known[pos] != hashes] = 0
    return ids
