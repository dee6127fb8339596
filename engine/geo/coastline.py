"""Land polygons for the map, traced from the GLOBE land mask the detectors use (no coastline file to ship).

The mask is sampled at cell centres on a lon/lat grid over the box (GLOBE's own 30 arc-seconds when the box is
small enough, coarser for a large box), the 0/1 field is contoured at 0.5 with contourpy's filled contours (a
matplotlib dependency), which puts the edge midway between a land and a water sample, that is on the cell edge,
and the staircase this leaves is simplified with Douglas-Peucker to about half a grid step. So the map shows the
very coast that ``is_land`` and ``coast_km`` measure against, not a prettier one that disagrees with the alerts.

Results are cached per (box, resolution): the mask is the same for every :class:`LandIndex`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, cast

import numpy as np
from contourpy import FillType, contour_generator

from engine.geo.land import LandIndex
from engine.geo.land_build import CELLS_PER_DEG

DEFAULT_CELLS = 600  # grid samples along the longer side: GLOBE's full 30" over a 5-degree box like the Gulf
MAX_CELLS = 2_000  # 4 million mask lookups at most per request
SIMPLIFY_STEPS = 0.6  # Douglas-Peucker tolerance in grid steps: smooths the cell staircase, keeps 1-cell islets
MIN_AREA_STEPS = 0.4  # rings smaller than this many grid cells are dropped (a one-cell islet traces a 0.5-cell diamond)
DECIMALS = 4  # about 11 m: far below a 30" cell (0.9 km), and a third of the bytes of full floats
CACHE_SIZE = 16
SOURCE = "NOAA GLOBE 30 arc-second land mask (global-land-mask), traced by Seawatch"

BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat (GeoJSON order)

_cache: OrderedDict[tuple[BBox, int], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def coastline_geojson(bbox: BBox, land: LandIndex, cells: int = DEFAULT_CELLS) -> dict[str, Any]:
    """Land in ``bbox`` (min_lon, min_lat, max_lon, max_lat) as a GeoJSON FeatureCollection of one MultiPolygon.

    Rings follow RFC 7946 (exterior counter-clockwise, holes clockwise); polygons touching the box edge are
    closed along it. ``cells`` is the number of samples along the box's longer side (never finer than GLOBE).
    """
    box = _check(bbox, cells)
    key = (box, cells)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    out = _trace(box, land, cells)
    with _lock:
        _cache[key] = out
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return out


def _check(bbox: BBox, cells: int) -> BBox:
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
    if not all(np.isfinite([min_lon, min_lat, max_lon, max_lat])):
        raise ValueError(f"bbox {bbox!r} has a value that is not a number; give min_lon,min_lat,max_lon,max_lat")
    if not (-180.0 <= min_lon < max_lon <= 180.0 and -90.0 <= min_lat < max_lat <= 90.0):
        raise ValueError(
            f"bbox {bbox!r} is not min_lon,min_lat,max_lon,max_lat with min < max within [-180, 180] x [-90, 90]"
        )
    if not 8 <= cells <= MAX_CELLS:
        raise ValueError(f"cells={cells} is out of range; give 8 to {MAX_CELLS} samples along the longer side")
    return (min_lon, min_lat, max_lon, max_lat)


def _trace(box: BBox, land: LandIndex, cells: int) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = box
    step = max(max(max_lon - min_lon, max_lat - min_lat) / cells, 1.0 / CELLS_PER_DEG)
    lon = _axis(min_lon, max_lon, step)
    lat = _axis(min_lat, max_lat, step)
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    mask = land.is_land(grid_lat, grid_lon).astype(np.float64)
    polygons: list[list[list[list[float]]]] = []
    if mask.any():
        gen = contour_generator(lon, lat, mask, name="serial", fill_type=FillType.OuterOffset)
        points, offsets = cast(tuple[list[np.ndarray], list[np.ndarray]], gen.filled(0.5, 1.5))  # OuterOffset
        for pts, offs in zip(points, offsets, strict=True):
            # the outer samples are half a step inside the box: move the edge traced along them onto the box
            pts[:, 0] = np.where(pts[:, 0] <= lon[0], min_lon, np.where(pts[:, 0] >= lon[-1], max_lon, pts[:, 0]))
            pts[:, 1] = np.where(pts[:, 1] <= lat[0], min_lat, np.where(pts[:, 1] >= lat[-1], max_lat, pts[:, 1]))
            rings = [pts[a:b] for a, b in zip(offs[:-1], offs[1:], strict=True)]
            poly = _polygon(rings, step)
            if poly:
                polygons.append(poly)
    feature = {
        "type": "Feature",
        "properties": {"kind": "land", "source": SOURCE, "grid_step_deg": step, "polygons": len(polygons)},
        "geometry": {"type": "MultiPolygon", "coordinates": polygons},
    }
    return {"type": "FeatureCollection", "bbox": list(box), "features": [feature] if polygons else []}


def _axis(lo: float, hi: float, step: float) -> np.ndarray:
    """Sample centres from lo to hi, the outer ones half a step inside the box."""
    n = max(2, int(round((hi - lo) / step)))
    return lo + (np.arange(n) + 0.5) * ((hi - lo) / n)


def _polygon(rings: list[np.ndarray], step: float) -> list[list[list[float]]]:
    """One polygon's rings, simplified, small ones dropped, oriented; [] when the exterior is too small."""
    out: list[list[list[float]]] = []
    for k, ring in enumerate(rings):
        simple = _simplify_ring(ring, SIMPLIFY_STEPS * step)
        if len(simple) < 4:  # an islet of a cell or two: its few vertices are all it has
            simple = ring if np.array_equal(ring[0], ring[-1]) else np.vstack([ring, ring[:1]])
        area = _signed_area(simple)
        if len(simple) < 4 or abs(area) < MIN_AREA_STEPS * step * step:
            if k == 0:
                return []
            continue
        exterior = k == 0
        if (area > 0) != exterior:  # exterior counter-clockwise (positive), holes clockwise
            simple = simple[::-1]
        out.append(np.round(simple, DECIMALS).tolist())
    return out


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _simplify_ring(ring: np.ndarray, tol: float) -> np.ndarray:
    """Douglas-Peucker on a closed ring (first point == last), split at the point farthest from the first."""
    ring = np.asarray(ring, np.float64)
    if len(ring) and not np.array_equal(ring[0], ring[-1]):
        ring = np.vstack([ring, ring[:1]])
    if len(ring) < 5:
        return ring
    far = int(np.argmax(np.hypot(*(ring - ring[0]).T)))
    first = _douglas_peucker(ring[: far + 1], tol)
    second = _douglas_peucker(ring[far:], tol)
    return np.vstack([first[:-1], second])


def _douglas_peucker(line: np.ndarray, tol: float) -> np.ndarray:
    """The points of an open polyline that Douglas-Peucker keeps at ``tol`` (iterative: rings can be long)."""
    keep = np.zeros(len(line), np.bool_)
    keep[0] = keep[-1] = True
    stack = [(0, len(line) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = line[b] - line[a]
        rel = line[a + 1 : b] - line[a]
        norm = float(np.hypot(*seg))
        dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm if norm > 0 else np.hypot(*rel.T)
        i = int(np.argmax(dist))
        if dist[i] > tol:
            mid = a + 1 + i
            keep[mid] = True
            stack.extend(((a, mid), (mid, b)))
    return line[keep]
