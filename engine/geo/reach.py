"""Where a vessel can be now: the sea it can have reached H hours after its last fix, going round the land.

A circle minus the land is wrong: a vessel behind a headland must go round it, which takes longer. The reach is
a shortest-path distance on a water grid instead: a lon/lat grid centred on the fix, its cells about square in
km at the fix's latitude (east-west steps scaled by each row's cos(lat)), water where the GLOBE mask
(:class:`engine.geo.land.LandIndex`) says so at the cell's centre, and Dijkstra from the fix over 16
neighbours (the 8 around and the 8 a knight's move away). A step may not cut a land corner: a diagonal needs
both cells beside it water, a knight's move the two cells it passes through. Distances on the grid are at most
~2.7 % longer than the straight line in open water (the 16 directions' worst case, at 13 and 77 degrees off
the grid), never shorter.

Resolution: :data:`CELLS_PER_RADIUS` cells from the fix to the reach's edge, never finer than GLOBE's 30"
(0.93 km): a 6 h reach at 12 kn (133 km) has 0.93 km cells, 24 h at 30 kn (1,333 km) 6.7 km cells; a strait
narrower than a cell may close at that scale.

The reach is returned as GeoJSON polygons traced round the reachable cells (contourpy, as the map's coastline,
:mod:`engine.geo.coastline`), simplified to about half a cell. A reach across the antimeridian is cut along it
into polygons on either side, every longitude within [-180, 180] (RFC 7946 section 3.1.9); the map draws them
side by side again.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from contourpy import FillType, contour_generator

from engine.geo.coastline import _polygon
from engine.geo.land import INLAND_SUSPICIOUS_KM, LandIndex
from feeds.jit import kernel

KM_PER_NM = 1.852  # a knot is a nautical mile (1,852 m, by definition) an hour
KM_PER_DEG = 6371.0088 * math.pi / 180.0  # a degree of latitude on the IUGG mean sphere, as engine.geo.land
CELLS_PER_RADIUS = 200  # grid cells from the fix to the edge: a cell is 0.5 % of the radius
GLOBE_CELL_KM = KM_PER_DEG / 120.0  # GLOBE's 30" cell (0.93 km): finer cells would only repeat the mask
MAX_LAT = 85.0  # the grid stops here: east-west steps shrink to nothing at the pole
# A fix in a river port or an estuary often lies on GLOBE land (rivers narrower than a cell are land, see
# engine.geo.land): the vessel may cross land this close to its fix, as far as the land detector tolerates it.
LEAVE_PORT_KM = INLAND_SUSPICIOUS_KM
DECIMALS = 4  # output coordinates to about 11 m, as the map's coastline
# (di, dj) of the 16 steps: 4 along the grid, 4 diagonals, 8 knight's moves
STEPS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1),
                  (1, 2), (1, -2), (-1, 2), (-1, -2), (2, 1), (2, -1), (-2, 1), (-2, -1)], np.int64)  # fmt: skip


@dataclass(frozen=True)
class Reach:
    """The water grid around a fix and how far the vessel has to go to each cell (km; inf: not reachable within
    the radius, or land). ``lat``, ``lon``: the cell centres (south to north, west to east)."""

    lat: np.ndarray
    lon: np.ndarray
    km: np.ndarray
    radius_km: float
    cell_km: float

    @property
    def reachable(self) -> np.ndarray:
        return cast(np.ndarray, self.km <= self.radius_km)

    @property
    def area_km2(self) -> float:
        """The reachable cells' area (each row's cells are narrower in km by its cos(lat))."""
        d_lat, d_lon = self.lat[1] - self.lat[0], self.lon[1] - self.lon[0]
        row_km2 = (d_lat * KM_PER_DEG) * (d_lon * KM_PER_DEG * np.cos(np.radians(self.lat)))
        return float((self.reachable.sum(axis=1) * row_km2).sum())


def water_km(passable: np.ndarray, ns_km: float, ew_km: np.ndarray, i0: int, j0: int,
             max_km: float) -> np.ndarray:  # fmt: skip
    """Shortest water distance (km) from cell (i0, j0) to every cell of ``passable`` (rows south to north) within
    ``max_km``; inf beyond it, on land and where water is cut off. ``ns_km``: a row's height; ``ew_km[i]``: a
    cell's width in row i. The fix's own cell is the start even when it is land."""
    ok, ew = checked_grid(passable, ns_km, ew_km, i0, j0, max_km)
    return _dijkstra(ok, float(ns_km), ew, int(i0), int(j0), float(max_km), STEPS)


def checked_grid(passable: np.ndarray, ns_km: float, ew_km: np.ndarray, i0: int, j0: int,
                 max_km: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`water_km`'s arguments checked, the grid and the row widths as the kernels take them (contiguous);
    raises ValueError naming what is wrong."""
    ok = np.ascontiguousarray(passable, np.bool_)
    ew = np.ascontiguousarray(ew_km, np.float64)
    if ok.ndim != 2 or ew.shape != (ok.shape[0],):
        raise ValueError(f"passable must be 2-D and ew_km one width per row: {ok.shape}, {ew.shape}")
    if not (0 <= i0 < ok.shape[0] and 0 <= j0 < ok.shape[1]):
        raise ValueError(f"start cell ({i0}, {j0}) lies outside the {ok.shape} grid")
    if not (ns_km > 0 and np.all(ew > 0) and max_km >= 0):
        raise ValueError("cell sizes must be positive and max_km not negative")
    return ok, ew


@kernel
def _step_open(ok, i, j, di, dj):
    """Whether the step (di, dj) from (i, j) stays in the grid, lands on water and cuts no land corner."""
    n_rows, n_cols = ok.shape
    ti, tj = i + di, j + dj
    if ti < 0 or ti >= n_rows or tj < 0 or tj >= n_cols or not ok[ti, tj]:
        return False
    si = 1 if di > 0 else -1 if di < 0 else 0
    sj = 1 if dj > 0 else -1 if dj < 0 else 0
    if abs(di) == 1 and abs(dj) == 1:
        return ok[i + di, j] and ok[i, j + dj]
    if abs(dj) == 2:  # through the cells beside the start and beside the end
        return ok[i, j + sj] and ok[i + di, j + sj]
    if abs(di) == 2:
        return ok[i + si, j] and ok[i + si, j + dj]
    return True


@kernel
def _dijkstra(ok, ns_km, ew_km, i0, j0, max_km, steps):
    n_rows, n_cols = ok.shape
    km = np.full((n_rows, n_cols), np.inf)
    km[i0, j0] = 0.0
    heap = [(0.0, i0 * n_cols + j0)]
    while len(heap) > 0:
        d, cell = heapq.heappop(heap)
        i, j = cell // n_cols, cell % n_cols
        if d > km[i, j]:
            continue  # a stale entry: the cell was reached shorter since
        for s in range(steps.shape[0]):
            di, dj = steps[s, 0], steps[s, 1]
            if not _step_open(ok, i, j, di, dj):
                continue
            dx = dj * 0.5 * (ew_km[i] + ew_km[i + di])  # the width halfway between the two rows
            dy = di * ns_km
            nd = d + math.sqrt(dx * dx + dy * dy)
            if nd < km[i + di, j + dj] and nd <= max_km:
                km[i + di, j + dj] = nd
                heapq.heappush(heap, (nd, (i + di) * n_cols + j + dj))
    return km


def reach(land: LandIndex, lat: float, lon: float, hours: float, speed_kn: float,
          cells_per_radius: int = CELLS_PER_RADIUS) -> Reach:  # fmt: skip
    """The water ``hours`` at ``speed_kn`` can cover from (lat, lon), going round the land, on a grid of
    ``cells_per_radius`` cells from the fix to the edge (engine/geo/fleet_reach.py draws many on coarser ones)."""
    if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0):
        raise ValueError(f"({lat}, {lon}) is not a position: give a latitude in [-90, 90] and a finite longitude")
    if not (hours >= 0 and speed_kn >= 0 and math.isfinite(hours * speed_kn)):
        raise ValueError(f"hours={hours}, speed_kn={speed_kn}: give finite, non-negative numbers")
    radius_km = hours * speed_kn * KM_PER_NM
    cell_km = max(radius_km / cells_per_radius, GLOBE_CELL_KM)
    d_lat = cell_km / KM_PER_DEG
    d_lon = d_lat / max(math.cos(math.radians(lat)), math.cos(math.radians(MAX_LAT)))
    half_lat = int(math.ceil(radius_km / cell_km)) + 1  # a cell of margin: the traced edge closes inside the grid
    lat_axis = lat + np.arange(-half_lat, half_lat + 1) * d_lat
    keep = np.abs(lat_axis) <= MAX_LAT
    # the poleward rows are narrower in km: enough columns that the reach fits there too
    cos_edge = max(math.cos(math.radians(min(float(np.abs(lat_axis[keep]).max()), MAX_LAT))), 1e-3)
    half_lon = int(math.ceil(radius_km / (KM_PER_DEG * cos_edge * d_lon))) + 1
    lon_axis = lon + np.arange(-half_lon, half_lon + 1) * d_lon
    i0 = int(np.flatnonzero(keep)[0])
    lat_axis = lat_axis[keep]
    grid_lat, grid_lon = np.meshgrid(lat_axis, lon_axis, indexing="ij")
    passable = ~land.is_land(grid_lat, grid_lon)
    ew_km = d_lon * KM_PER_DEG * np.cos(np.radians(lat_axis))
    start_i = half_lat - i0
    near_fix = np.hypot(grid_lat - lat, (grid_lon - lon) * np.cos(np.radians(grid_lat))) * KM_PER_DEG
    passable |= near_fix <= LEAVE_PORT_KM
    km = water_km(passable, d_lat * KM_PER_DEG, ew_km, start_i, half_lon, radius_km)
    return Reach(lat_axis, lon_axis, km, radius_km, cell_km)


def reach_polygons(r: Reach) -> list[list[list[list[float]]]]:
    """The reachable cells as GeoJSON MultiPolygon coordinates ([lon, lat]; exterior rings counter-clockwise,
    holes (islands, land the vessel cannot reach round) clockwise), traced round the cells and simplified to
    about half a cell; a reach of one cell is that cell's square. A reach across the antimeridian is cut there
    into polygons on either side (RFC 7946 section 3.1.9), every longitude within [-180, 180]."""
    mask = r.reachable
    if not mask.any():
        return []
    d_lat, d_lon = r.lat[1] - r.lat[0], r.lon[1] - r.lon[0]
    if mask.sum() == 1:
        (i,), (j,) = np.nonzero(mask)
        x0, x1 = r.lon[j] - d_lon / 2, r.lon[j] + d_lon / 2
        y0, y1 = r.lat[i] - d_lat / 2, r.lat[i] + d_lat / 2
        square = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return [[[[round(float(x), DECIMALS), round(float(y), DECIMALS)] for x, y in square]]]
    polygons = []
    for xa, xb, shift in _antimeridian_pieces(r.lon):
        x, z = _piece(mask, xa, xb)
        if not z.any():
            continue
        gen = contour_generator(x, np.arange(r.lat.size, dtype=np.float64), z, name="serial",
                                fill_type=FillType.OuterOffset)  # fmt: skip
        points, offsets = cast(tuple[list[np.ndarray], list[np.ndarray]], gen.filled(0.5, 1.5))
        for pts, offs in zip(points, offsets, strict=True):
            rings = [pts[a:b] for a, b in zip(offs[:-1], offs[1:], strict=True)]
            poly = _polygon(rings, 1.0)  # in grid cells: simplified to ~0.6 cell, slivers under 0.4 cell dropped
            if poly:
                polygons.append([[[round(float(r.lon[0] + px * d_lon - shift), DECIMALS),
                                   round(float(r.lat[0] + py * d_lat), DECIMALS)] for px, py in ring]
                                 for ring in poly])  # fmt: skip
    return polygons


def _antimeridian_pieces(lon: np.ndarray) -> list[tuple[float, float, float]]:
    """The grid's columns cut at each antimeridian (longitude 180 + 360 k) they cross: (first, last) column as
    fractional indices, and the degrees to take off the piece's longitudes to bring it within [-180, 180]."""
    d_lon = lon[1] - lon[0]
    first, last = 0.0, float(lon.size - 1)
    seams = [(180.0 + 360.0 * k - lon[0]) / d_lon for k in range(-2, 3)]
    cuts = [first, *sorted(x for x in seams if first < x < last), last]
    pieces = []
    for xa, xb in zip(cuts[:-1], cuts[1:], strict=True):
        middle = lon[0] + 0.5 * (xa + xb) * d_lon
        pieces.append((xa, xb, 360.0 * math.floor((middle + 180.0) / 360.0)))
    return pieces


def _piece(mask: np.ndarray, xa: float, xb: float) -> tuple[np.ndarray, np.ndarray]:
    """The columns of ``mask`` from fractional index ``xa`` to ``xb``: the whole columns between, and at a cut
    that falls between columns, a column on the cut itself holding the cell it falls in (the traced edge then
    runs along the cut, since filled contours close along the grid's edge)."""
    inner = np.arange(math.floor(xa), math.ceil(xb) + 1)
    inner = inner[(inner > xa - 1e-9) & (inner < xb + 1e-9)]
    x, cols = inner.astype(np.float64), [mask[:, j] for j in inner]
    if not inner.size or inner[0] - xa > 1e-9:
        x, cols = np.concatenate([[xa], x]), [mask[:, int(round(xa))], *cols]
    if xb - x[-1] > 1e-9:
        x, cols = np.concatenate([x, [xb]]), [*cols, mask[:, int(round(xb))]]
    return x, np.stack(cols, axis=1).astype(np.float64)


def reach_feature(r: Reach, properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature of the reach (a MultiPolygon) with ``properties`` and the grid's own figures."""
    grid = {"radius_km": round(r.radius_km, 3), "cell_km": round(r.cell_km, 3), "area_km2": round(r.area_km2, 1)}
    return {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": reach_polygons(r)},
        "properties": properties | grid,
    }


# ---------------------------------------------------------------- the speed a reach is drawn at

# Top speeds by ITU-R M.1371 ship type (first digit, or the whole code for 30-37 and 50-59): what a vessel of the
# class can keep up for hours, at the fast end of its class, since a reach drawn too small misses the vessel.
# Merchant ships' design service speeds: MAN Energy Solutions, "Basic Principles of Ship Propulsion" (2011),
# section 1 (tankers and bulk carriers 12-16 kn, container and general cargo ships 16-24 kn, passenger ferries
# 20-25 kn); fishing vessels transit at 10-12 kn (Kroodsma et al., "Tracking the global footprint of fisheries",
# Science 359 (2018), speed distributions of AIS by gear); high-speed craft by IMO's HSC Code (fast ferries
# 30-45 kn); small craft (pleasure, law enforcement, SAR RIBs) at 30 kn, a planing hull's cruise.
CLASS_TOP_SPEED_KN: dict[int, tuple[float, str]] = {
    30: (12.0, "fishing"),  # Kroodsma et al. 2018: transit 10-12 kn
    31: (12.0, "towing"),  # a free-running tug's top speed; towing itself is slower
    32: (12.0, "towing, large tow"),
    33: (12.0, "dredging or underwater operations"),  # hopper dredgers' service speed 12-15 kn (MAN 2011)
    34: (12.0, "diving operations"),
    35: (30.0, "military operations"),  # patrol craft and frigates: 28-32 kn
    36: (12.0, "sailing"),  # a cruising yacht under sail or motor rarely keeps more than 8-12 kn
    37: (30.0, "pleasure craft"),  # small craft: a planing hull
    50: (25.0, "pilot vessel"),  # pilot boats: 20-25 kn
    51: (30.0, "search and rescue"),  # SAR lifeboats and RIBs: 25-35 kn
    52: (13.0, "tug"),  # harbour tugs: 12-14 kn free running
    53: (20.0, "port tender"),
    54: (12.0, "anti-pollution"),
    55: (30.0, "law enforcement"),  # patrol boats, as military
    58: (20.0, "medical transport"),
    59: (20.0, "noncombatant ship"),
}
FIRST_DIGIT_TOP_SPEED_KN: dict[int, tuple[float, str]] = {
    4: (40.0, "high-speed craft"),  # HSC Code fast ferries: 30-45 kn
    6: (25.0, "passenger"),  # MAN 2011: ferries 20-25 kn
    7: (20.0, "cargo"),  # MAN 2011: general cargo 16-20 kn (large container ships 24 kn: slow steaming keeps to 20)
    8: (16.0, "tanker"),  # MAN 2011: tankers 12-16 kn
    9: (20.0, "other type"),  # as cargo: the commonest other types are merchant ships
}
UNKNOWN_TOP_SPEED_KN = (30.0, "unknown type (as small craft: the fast end)")
# A reported speed above the impossible-speed bound (DESIGN.md, GFW segmenter) is a glitch or a spoof, not a speed
IMPOSSIBLE_KN = 50.0
# a vessel this close to the patrol's base is met at once: AIS gives positions to ~0.2 m, and far below this the
# quadratic's answer is rounding (a vessel 1e-45 km away "met" 1.6 s later while the two are in one place)
MET_KM = 1e-3
OBSERVED_QUANTILE = 0.95  # the vessel's own top speed: a high quantile of its reports, so one glitch does not set it


def class_top_speed(ship_type: int | None) -> tuple[float, str]:
    """The top speed (kn) of the vessel's class by its AIS ship type, and the class's name."""
    if ship_type is None:
        return UNKNOWN_TOP_SPEED_KN
    if ship_type in CLASS_TOP_SPEED_KN:
        return CLASS_TOP_SPEED_KN[ship_type]
    return FIRST_DIGIT_TOP_SPEED_KN.get(ship_type // 10, UNKNOWN_TOP_SPEED_KN) if 40 <= ship_type <= 99 else \
        UNKNOWN_TOP_SPEED_KN  # fmt: skip


def observed_top_speed(sog: np.ndarray) -> float | None:
    """The vessel's own top speed from its reported speeds (kn): their OBSERVED_QUANTILE, impossible ones left
    out; None without any."""
    v = np.asarray(sog, np.float64)
    v = v[np.isfinite(v) & (v >= 0) & (v <= IMPOSSIBLE_KN)]
    return float(np.quantile(v, OBSERVED_QUANTILE)) if v.size else None


def top_speed(ship_type: int | None, sog: np.ndarray) -> tuple[float, str]:
    """The speed to draw a reach at: the higher of the class's top speed and the vessel's own observed one; and
    why, in words."""
    return top_speed_of(ship_type, observed_top_speed(sog))


def top_speed_of(ship_type: int | None, own: float | None) -> tuple[float, str]:
    """:func:`top_speed` from the vessel's own top speed already taken (:func:`observed_top_speed`, or the same
    quantile computed elsewhere over many vessels at once); None: no speed reported."""
    class_kn, class_name = class_top_speed(ship_type)
    if own is not None and own > class_kn:
        return own, f"its own top speed: {own:.1f} kn ({OBSERVED_QUANTILE:.0%} of its reported speeds up to it), " \
                    f"above the {class_kn:g} kn of its class ({class_name})"  # fmt: skip
    seen = f"; its reports reach {own:.1f} kn" if own is not None else "; no speeds reported"
    return class_kn, f"the top speed of its class ({class_name}, ship type {ship_type}): {class_kn:g} kn{seen}"


# ---------------------------------------------------------------- meeting a vessel

LAND_RUN_STEP_KM = 0.5  # samples along a patrol's run: about half a GLOBE cell
LAND_RUN_SAMPLES = 4_000  # at most (a 2,000 km run is sampled every 0.5 km)


def meet_hours(dx_km: float, dy_km: float, vx_kn: float, vy_kn: float, patrol_kn: float) -> float | None:
    """The earliest time (hours) a patrol at ``patrol_kn`` from the origin meets a vessel now at (dx, dy) km
    (east, north) moving at (vx, vy) knots: the smallest t >= 0 with |d + v t| = s t, that is
    (|v|^2 - s^2) t^2 + 2 (d.v) t + |d|^2 = 0 in km and hours; 0 within MET_KM. None when the vessel outruns it."""
    vx, vy, s = vx_kn * KM_PER_NM, vy_kn * KM_PER_NM, patrol_kn * KM_PER_NM
    a = vx * vx + vy * vy - s * s
    b = 2.0 * (dx_km * vx + dy_km * vy)
    c = dx_km * dx_km + dy_km * dy_km
    if c <= MET_KM * MET_KM:
        return 0.0
    if abs(a) < 1e-12 * max(s * s, 1.0):  # as fast as the patrol: one root, if it comes towards it
        return -c / b if b < 0 else None
    disc = b * b - 4.0 * a * c
    if disc < 0:
        return None
    roots = sorted(((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)))
    ahead = [t for t in roots if t >= 0]
    return ahead[0] if ahead else None


def meet_reach_hours(gap_km: float, head_km: float, patrol_kn: float, top_kn: float) -> float:
    """The earliest time (hours) a patrol at ``patrol_kn`` from the origin can meet a vessel whose course is not
    known: last fixed ``gap_km`` away, it may have come ``head_km`` closer already and comes on at up to
    ``top_kn``; met at the nearest edge of its reach, which closes at the sum of the two speeds."""
    return max(gap_km - head_km, 0.0) / ((patrol_kn + top_kn) * KM_PER_NM)


def meet_hours_many(dx_km: np.ndarray, dy_km: np.ndarray, vx_kn: np.ndarray, vy_kn: np.ndarray,
                    patrol_kn: float) -> np.ndarray:  # fmt: skip
    """:func:`meet_hours` for many vessels at once (numpy, no Python loop: a watch floor's million tracks in a
    fraction of a second); NaN where the vessel outruns the patrol."""
    dx, dy = np.asarray(dx_km, np.float64), np.asarray(dy_km, np.float64)
    vx, vy = np.asarray(vx_kn, np.float64) * KM_PER_NM, np.asarray(vy_kn, np.float64) * KM_PER_NM
    s = patrol_kn * KM_PER_NM
    a = vx * vx + vy * vy - s * s
    b = 2.0 * (dx * vx + dy * vy)
    c = dx * dx + dy * dy
    level = np.abs(a) < 1e-12 * max(s * s, 1.0)  # as fast as the patrol: one root, if it comes towards it
    # the branches not taken divide by zero, and a tiny b overflows -c / b to inf (never met): no warning for those
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        one = np.where(b < 0, -c / b, np.nan)
        disc = b * b - 4.0 * a * c
        root = np.sqrt(np.where(level, 0.0, disc))
        r1, r2 = (-b - root) / (2 * a), (-b + root) / (2 * a)
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    two = np.where(lo >= 0, lo, np.where(hi >= 0, hi, np.nan))
    out = np.where(level, one, np.where(disc < 0, np.nan, two))
    return np.where(c <= MET_KM * MET_KM, 0.0, out)


def to_local_km(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) km of (lat, lon) from (lat0, lon0) on the plane tangent there (equirectangular: within ~1 %
    up to a few hundred km outside the polar seas); longitudes taken the short way round."""
    d_lon = (lon - lon0 + 180.0) % 360.0 - 180.0
    return d_lon * KM_PER_DEG * math.cos(math.radians(lat0)), (lat - lat0) * KM_PER_DEG


def from_local_km(lat0: float, lon0: float, east_km: float, north_km: float) -> tuple[float, float]:
    lat = lat0 + north_km / KM_PER_DEG
    lon = lon0 + east_km / (KM_PER_DEG * max(math.cos(math.radians(lat0)), 1e-6))
    return max(-90.0, min(90.0, lat)), (lon + 180.0) % 360.0 - 180.0


def run_crosses_land(land: LandIndex, lat0: float, lon0: float, lat1: float, lon1: float) -> bool:
    """Whether the straight run between two points crosses GLOBE land, leaving out its first and last
    LEAVE_PORT_KM (a patrol leaves from a port and meets a vessel off a coast)."""
    east, north = to_local_km(lat0, lon0, lat1, lon1)
    km = math.hypot(east, north)
    if km <= 2 * LEAVE_PORT_KM:
        return False
    n = min(LAND_RUN_SAMPLES, int(km / LAND_RUN_STEP_KM) + 1)
    f = np.linspace(LEAVE_PORT_KM / km, 1.0 - LEAVE_PORT_KM / km, n)
    lat = lat0 + f * north / KM_PER_DEG
    lon = lon0 + f * east / (KM_PER_DEG * max(math.cos(math.radians(lat0)), 1e-6))
    return bool(land.is_land(lat, lon).any())
