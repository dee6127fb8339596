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
