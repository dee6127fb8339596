"""Plane geometry on small sea areas: distances, bearings, smooth paths, offsets, polygons (all numpy, vectorised).

Paths are worked in a local equirectangular frame (km east, km north of a reference point), which is accurate to
well under 1% across a gulf a few hundred kilometres wide.
"""

from __future__ import annotations

import numpy as np

from engine.geo.regions import EARTH_RADIUS_KM, haversine_km

KM_PER_DEG = EARTH_RADIUS_KM * np.pi / 180.0
KM_PER_NM = 1.852
SMOOTH_STEP_KM = 1.5  # corners are rounded over about this distance: large ships turn at 10-40 deg/min
SMOOTH_ITERATIONS = 3

__all__ = ["haversine_km", "KM_PER_NM"]


def bearing_deg(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.asarray(np.degrees(np.arctan2(y, x)) % 360.0)


def destination(
    lat: np.ndarray | float, lon: np.ndarray | float, bearing: np.ndarray | float, dist_km: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """The point ``dist_km`` from (lat, lon) along ``bearing`` (flat-earth: for distances of tens of km)."""
    b = np.radians(bearing)
    dlat = np.asarray(dist_km) * np.cos(b) / KM_PER_DEG
    dlon = np.asarray(dist_km) * np.sin(b) / (KM_PER_DEG * np.cos(np.radians(lat)))
    return np.asarray(lat + dlat), np.asarray(lon + dlon)


def towards(lat: float, lon: float, bearing: float, dist_km: float) -> tuple[float, float]:
    """:func:`destination` for one point."""
    la, lo = destination(lat, lon, bearing, dist_km)
    return float(la), float(lo)


def to_xy(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    k = KM_PER_DEG * np.cos(np.radians(lat0))
    return (np.asarray(lon) - lon0) * k, (np.asarray(lat) - lat0) * KM_PER_DEG


def from_xy(x: np.ndarray, y: np.ndarray, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    k = KM_PER_DEG * np.cos(np.radians(lat0))
    return lat0 + y / KM_PER_DEG, lon0 + x / k


def path_length_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cumulative distance along a polyline, starting at 0."""
    d = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    return np.concatenate([[0.0], np.cumsum(d)])


def resample(lat: np.ndarray, lon: np.ndarray, step_km: float) -> tuple[np.ndarray, np.ndarray]:
    """The polyline with points every ``step_km`` or closer, keeping every vertex (so corners stay put)."""
    out_lat, out_lon = [lat[:1]], [lon[:1]]
    seg = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    for i, d in enumerate(seg):
        n = max(1, int(np.ceil(d / step_km)))
        f = np.arange(1, n + 1) / n
        out_lat.append(lat[i] + (lat[i + 1] - lat[i]) * f)
        out_lon.append(lon[i] + (lon[i + 1] - lon[i]) * f)
    return np.concatenate(out_lat), np.concatenate(out_lon)


def chaikin(lat: np.ndarray, lon: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner cutting (Chaikin 1974): each pass replaces a segment by its 1/4 and 3/4 points; ends are kept."""
    pts = np.column_stack([lat, lon])
    for _ in range(iterations):
        if len(pts) < 3:
            break
        a, b = pts[:-1], pts[1:]
        q, r = 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b
        mid = np.empty((2 * len(a), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([pts[:1], mid[1:-1], pts[-1:]])
    return pts[:, 0].copy(), pts[:, 1].copy()


def smooth_path(lat: np.ndarray, lon: np.ndarray, step_km: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """A waypoint polyline turned into a dense path with rounded corners (bounded turn radius), ends kept."""
    lat, lon = resample(np.asarray(lat, float), np.asarray(lon, float), SMOOTH_STEP_KM)
    lat, lon = chaikin(lat, lon, SMOOTH_ITERATIONS)
    return resample(lat, lon, step_km)


def offset(lat: np.ndarray, lon: np.ndarray, dist_km: float, taper_km: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The path shifted ``dist_km`` to starboard (negative: to port), tapering to 0 within ``taper_km`` of each
    end so that the shifted path still starts and ends at the same place."""
    if dist_km == 0.0 or len(lat) < 2:
        return lat, lon
    lat0, lon0 = float(np.mean(lat)), float(np.mean(lon))
    x, y = to_xy(lat, lon, lat0, lon0)
    dx, dy = np.gradient(x), np.gradient(y)
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    s = path_length_km(lat, lon)
    taper = np.clip(np.minimum(s, s[-1] - s) / taper_km, 0.0, 1.0)
    # starboard of a heading (dx, dy) is (dy, -dx)
    x2, y2 = x + dist_km * taper * dy / norm, y - dist_km * taper * dx / norm
    return from_xy(x2, y2, lat0, lon0)


def points_in_polygon(lat: np.ndarray, lon: np.ndarray, plat: np.ndarray, plon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: which of the points lie inside the ring (plat, plon)."""
    lat, lon = np.atleast_1d(lat)[:, None], np.atleast_1d(lon)[:, None]
    y1, x1, y2, x2 = plat[:-1][None], plon[:-1][None], plat[1:][None], plon[1:][None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = ((y1 > lat) != (y2 > lat)) & (lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1)
    return np.asarray(np.count_nonzero(cross, axis=1) % 2 == 1)


def random_points_in_polygon(
    rng: np.random.Generator, n: int, plat: np.ndarray, plon: np.ndarray, margin_km: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly inside the ring, at least ``margin_km`` from its edge (rejection sampling)."""
    out_lat: list[np.ndarray] = []
    out_lon: list[np.ndarray] = []
    got = 0
    while got < n:
        la = rng.uniform(plat.min(), plat.max(), 4 * n + 16)
        lo = rng.uniform(plon.min(), plon.max(), 4 * n + 16)
        ok = points_in_polygon(la, lo, plat, plon)
        if margin_km > 0:
            ok &= distance_to_polyline_km(la, lo, plat, plon) >= margin_km
        out_lat.append(la[ok])
        out_lon.append(lo[ok])
        got += int(ok.sum())
    return np.concatenate(out_lat)[:n], np.concatenate(out_lon)[:n]


def distance_to_polyline_km(lat: np.ndarray, lon: np.ndarray, plat: np.ndarray, plon: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest segment of a polyline (local plane around the polyline)."""
    lat0, lon0 = float(np.mean(plat)), float(np.mean(plon))
    px, py = to_xy(np.atleast_1d(lat), np.atleast_1d(lon), lat0, lon0)
    ax, ay = to_xy(plat[:-1], plon[:-1], lat0, lon0)
    bx, by = to_xy(plat[1:], plon[1:], lat0, lon0)
    dx, dy = bx - ax, by - ay
    len2 = np.where(dx * dx + dy * dy > 0, dx * dx + dy * dy, 1.0)
    t = np.clip(((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / len2, 0.0, 1.0)
    ex, ey = ax + t * dx - px[:, None], ay + t * dy - py[:, None]
    return np.asarray(np.sqrt(ex * ex + ey * ey).min(axis=1))


def crossings(lat: np.ndarray, lon: np.ndarray, blat: np.ndarray, blon: np.ndarray) -> np.ndarray:
    """Indices ``i`` of the track segments (i, i+1) that cross the polyline (blat, blon)."""
    ax, ay, bx, by = lon[:-1, None], lat[:-1, None], lon[1:, None], lat[1:, None]
    cx, cy, dx, dy = blon[None, :-1], blat[None, :-1], blon[None, 1:], blat[None, 1:]

    def side(px, py, qx, qy, rx, ry):
        return np.sign((qx - px) * (ry - py) - (qy - py) * (rx - px))

    hit = (side(ax, ay, bx, by, cx, cy) != side(ax, ay, bx, by, dx, dy)) & (
        side(cx, cy, dx, dy, ax, ay) != side(cx, cy, dx, dy, bx, by)
    )
    return np.flatnonzero(hit.any(axis=1))
