"""Zones and borders as packed arrays: point-in-polygon membership and distance to a polyline, fast on
millions of points (kernels in :mod:`engine.geo.shapes_kernel`).

``Polygons`` holds any number of polygons with holes. Each ring is unwrapped in longitude (no step over 180
degrees between vertices), so a zone drawn across the antimeridian works; a ring around a pole does not (split
it). Each polygon gets a latitude-slab index of its edges, so a polygon of 100,000 vertices costs a point
only the few edges of its slab.

``Polyline`` holds one or more lines (a border) as great-circle arcs; distances are exact on the sphere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.geo import shapes_kernel as sk
from engine.geo.chunked import run_rows

EDGES_PER_SLAB = 8  # slab count ~ edges / 8: a handful of edges per test
MAX_SLABS = 1 << 14

Ring = Sequence[Sequence[float]]  # [(lon, lat), ...] as GeoJSON orders them


def _points(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    la = np.ascontiguousarray(lat, np.float64).ravel()
    lo = np.ascontiguousarray(lon, np.float64).ravel()
    if la.shape != lo.shape:
        raise ValueError(f"lat and lon differ in shape: {np.shape(lat)} vs {np.shape(lon)}")
    return la, lo


MAX_RING_LON = 540.0  # longitudes already unwrapped past the antimeridian (e.g. 185) are accepted; far beyond is
# not a position (and steps of 1e308 overflow the unwrapping to inf)


def unwrap_ring(ring: Ring) -> np.ndarray:
    """A closed ring as an (n, 2) lon/lat array with no longitude step over 180 degrees."""
    xy = np.asarray(ring, np.float64).reshape(-1, 2)[:, :2].copy()
    if xy.shape[0] < 3 or not np.isfinite(xy).all():
        raise ValueError(f"a polygon ring needs at least 3 finite (lon, lat) vertices, got {xy.tolist()[:4]}")
    if (np.abs(xy[:, 0]) > MAX_RING_LON).any() or (np.abs(xy[:, 1]) > 90.0).any():
        raise ValueError(f"a polygon ring's vertices are (lon, lat) degrees, lon within +-{MAX_RING_LON:g} and lat "
                         f"within +-90, got {xy.tolist()[:4]}")  # fmt: skip
    if not np.array_equal(xy[0], xy[-1]):
        xy = np.vstack([xy, xy[:1]])
    steps = np.diff(xy[:, 0])
    xy[1:, 0] = xy[0, 0] + np.cumsum(steps - 360.0 * np.round(steps / 360.0))
    if abs(xy[-1, 0] - xy[0, 0]) > 1e-9:
        raise ValueError("a polygon ring goes around a pole; split it at the antimeridian into closed rings")
    xy[-1, 0] = xy[0, 0]
    return xy


@dataclass(frozen=True)
class Polygons:
    """Polygons with holes as edge arrays (lon/lat degrees), a bounding box and a slab index each."""

    bbox: np.ndarray  # (n, 4): min lon, min lat, max lon, max lat
    ex1: np.ndarray  # edges: start and end vertex, lon/lat
    ey1: np.ndarray
    ex2: np.ndarray
    ey2: np.ndarray
    slab_first: np.ndarray  # polygon p's slabs are slab_first[p] .. slab_first[p + 1] - 1
    slab_edge_start: np.ndarray  # slab s's edges are slab_edges[slab_edge_start[s] : slab_edge_start[s + 1]]
    slab_edges: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def from_rings(cls, polygons: Iterable[Sequence[Ring]], names: Iterable[str] | None = None) -> Polygons:
        """Polygons given as lists of rings (exterior first, then holes), each ring [(lon, lat), ...]."""
        edges: list[np.ndarray] = []
        owner: list[np.ndarray] = []
        boxes: list[list[float]] = []
        for p, rings in enumerate(polygons):
            unwrapped = [unwrap_ring(r) for r in rings]
            if not unwrapped:
                raise ValueError(f"polygon {p} has no ring")
            centre = unwrapped[0][:, 0].mean()
            for xy in unwrapped[1:]:  # holes in the same 360-degree window as their exterior
                xy[:, 0] += 360.0 * np.round((centre - xy[:, 0].mean()) / 360.0)
            for xy in unwrapped:
                edges.append(np.hstack([xy[:-1], xy[1:]]))
                owner.append(np.full(xy.shape[0] - 1, p, np.int64))
            allxy = np.vstack(unwrapped)
            boxes.append([*allxy.min(axis=0), *allxy.max(axis=0)])
        names = tuple(names) if names is not None else tuple(str(i) for i in range(len(boxes)))
        if len(names) != len(boxes):
            raise ValueError(f"{len(names)} names for {len(boxes)} polygons")
        e = np.vstack(edges) if edges else np.zeros((0, 4))
        edge_poly = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        bbox = np.array(boxes, np.float64).reshape(-1, 4)
        per_poly = np.bincount(edge_poly, minlength=bbox.shape[0])
        n_slabs = np.clip(per_poly // EDGES_PER_SLAB, 1, MAX_SLABS)
        slab_first = np.concatenate([[0], np.cumsum(n_slabs)]).astype(np.int64)
        ex1, ey1, ex2, ey2 = (np.ascontiguousarray(e[:, k]) for k in range(4))
        counts = np.zeros(int(slab_first[-1]), np.int64)
        sk.slab_counts(ey1, ey2, edge_poly, bbox, slab_first, counts)
        slab_edge_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        slab_edges = np.empty(int(slab_edge_start[-1]), np.int64)
        sk.slab_fill(ey1, ey2, edge_poly, bbox, slab_first, slab_edge_start, slab_edges)
        return cls(bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges, names)

    @classmethod
    def from_geojson(cls, source: Path | str | dict, name_key: str = "name") -> Polygons:
        """Every Polygon and MultiPolygon part of a GeoJSON FeatureCollection (a file or a parsed dict)."""
        data = _geojson(source)
        polys: list[Sequence[Ring]] = []
        names: list[str] = []
        for i, feature in enumerate(data.get("features", [])):
            geom: dict[str, Any] = feature.get("geometry") or {}
            name = str((feature.get("properties") or {}).get(name_key, i))
            if geom.get("type") == "Polygon":
                parts = [geom["coordinates"]]
            elif geom.get("type") == "MultiPolygon":
                parts = geom["coordinates"]
            else:
                continue
            polys.extend(parts)
            names.extend([name] * len(parts))
        return cls.from_rings(polys, names)

    def __len__(self) -> int:
        return int(self.bbox.shape[0])

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays that ``shapes_kernel.in_polygon`` takes after (x, y, p), in order."""
        return (self.bbox, self.ex1, self.ey1, self.ex2, self.ey2, self.slab_first, self.slab_edge_start,
                self.slab_edges)  # fmt: skip

    def contains(self, lat: Any, lon: Any) -> np.ndarray:
        """(n_points, n_polygons) bool: whether each point lies in each polygon (NaN points in none)."""
        la, lo = _points(lat, lon)
        out = np.zeros((la.shape[0], len(self)), np.bool_)
        run_rows(sk.contains_many, self.arrays, (la, lo), (out,))
        return out

    def which(self, lat: Any, lon: Any) -> np.ndarray:
        """Index of the first polygon holding each point, -1 for none."""
        la, lo = _points(lat, lon)
        out = np.empty(la.shape[0], np.int32)
        run_rows(sk.first_polygon_many, self.arrays, (la, lo), (out,))
        return out


@dataclass(frozen=True)
class Polyline:
    """One or more lines of (lat, lon) vertices, as great-circle arcs between consecutive vertices."""

    seg: np.ndarray  # (n_segments, 16), see shapes_kernel.segment_chord2

    @classmethod
    def from_parts(cls, parts: Iterable[Sequence[Sequence[float]]]) -> Polyline:
        """Lines given as [(lon, lat), ...] (GeoJSON order); each needs two vertices or more."""
        arrays = [np.asarray(p, np.float64).reshape(-1, 2)[:, :2] for p in parts]
        if not arrays or any(a.shape[0] < 2 or not np.isfinite(a).all() for a in arrays):
            raise ValueError("a polyline needs parts of at least 2 finite (lon, lat) vertices")
        xy = np.vstack(arrays)
        part_start = np.concatenate([[0], np.cumsum([a.shape[0] for a in arrays])]).astype(np.int64)
        seg = np.empty((xy.shape[0] - len(arrays), 16))
        sk.segment_table(np.ascontiguousarray(xy[:, 1]), np.ascontiguousarray(xy[:, 0]), part_start, seg)
        return cls(seg)

    @classmethod
    def from_geojson(cls, source: Path | str | dict) -> Polyline:
        """Every LineString and MultiLineString of a GeoJSON FeatureCollection (points are ignored)."""
        data = _geojson(source)
        parts: list[Sequence[Sequence[float]]] = []
        for feature in data.get("features", []):
            geom = feature.get("geometry") or {}
            if geom.get("type") == "LineString":
                parts.append(geom["coordinates"])
            elif geom.get("type") == "MultiLineString":
                parts.extend(geom["coordinates"])
        return cls.from_parts(parts)

    def distance_km(self, lat: Any, lon: Any) -> np.ndarray:
        """Great-circle distance in km from each point to the nearest point of the line (NaN for NaN)."""
        la, lo = _points(lat, lon)
        out = np.empty(la.shape[0])
        run_rows(sk.polyline_km_many, (self.seg,), (la, lo), (out,))
        return out.reshape(np.shape(lat))


def _geojson(source: Path | str | dict) -> dict:
    if isinstance(source, dict):
        return source
    data: dict = json.loads(Path(source).read_text())
    if data.get("type") != "FeatureCollection":
        raise ValueError(f"{source}: expected a GeoJSON FeatureCollection, found type {data.get('type')!r}")
    return data
