"""Region packs: the ports, anchorages, boundaries, zones, sea lanes and receiving stations of a sea area, as data.

A pack is one GeoJSON FeatureCollection (RFC 7946: coordinates are ``[lon, lat]``, WGS-84). Every feature has
``properties.kind``, ``properties.name`` and ``properties.source`` (where the fact comes from, or that it is an
example), and, by kind:

============ ======================= ===========================================================================
kind         geometry                other properties
============ ======================= ===========================================================================
port         Point or Polygon        ``radius_km`` (> 0) for a Point: the port's extent
terminal     Point or Polygon        ``radius_km`` for a Point
anchorage    Point or Polygon        ``radius_km`` for a Point
pilot        Point or Polygon        ``radius_km`` for a Point: the pilot boarding area
boundary     LineString (or Multi-)  optional ``between``: the two parties, e.g. ``["VN", "CN"]``
zone         Polygon (or Multi-)     ``zone_kind``: one of :data:`ZONE_KINDS`
station      Point                   ``range_km`` (> 0); optional ``id`` (letters, digits, ``-`` and ``_``: it is
                                     the ``s:`` of NMEA tag blocks), by default the name without spaces
lane         LineString              optional ``traffic`` (vessel roles that use it), ``from`` and ``to`` (node
                                     names joining lanes into a network), ``width_km`` (default 1), ``speed_kn``
============ ======================= ===========================================================================

A place given as a Polygon also becomes a zone whose ``zone_kind`` is the place's kind, and its point is the
polygon's vertex mean with the radius that encloses it. Polygons are exterior rings only (no holes).
Any other property is kept in ``props``. A zone file (``--zones FILE.geojson``) is a pack with zones in it.

:func:`load_pack` reads a built-in pack by name (``gulf-of-tonkin``) or any file by path, and refuses a bad
feature with a :class:`PackError` that names the file, the feature and the fix.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from engine.geo.region_pack import (
    EARTH_RADIUS_KM,
    Places,
    RegionPack,
    Shapes,
    Stations,
    haversine_km,
    make_shapes,
)
from engine.geo.shapes import unwrap_ring

__all__ = [
    "EARTH_RADIUS_KM",
    "PackError",
    "Places",
    "RegionPack",
    "Shapes",
    "Stations",
    "haversine_km",
    "load_pack",
    "load_zones",
    "engine_pack",
    "is_example",
    "without_examples",
    "builtin_packs",
    "parse_pack",
]

KINDS = ("port", "terminal", "anchorage", "pilot", "boundary", "zone", "station", "lane")
PLACE_KINDS = ("port", "terminal", "anchorage", "pilot")
ZONE_KINDS = ("restricted", "watch", "anchorage", "fishing", "port", "terminal", "pilot", "protected", "military")
BUILTIN = "engine.geo"  # the packs are engine/geo/packs/*.geojson, shipped as package data
EXAMPLE_KINDS = ("zone", "station", "lane")  # what an example may be that could raise an alert
EXAMPLE_PREFIX = "example:"  # a feature whose source starts so is made up: the simulator and the demo use it
_STATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PackError(ValueError):
    """A region pack or zone file that cannot be used; the message names the file, the feature and the fix."""


def builtin_packs() -> list[str]:
    """Names of the packs shipped with Seawatch."""
    folder = resources.files(BUILTIN) / "packs"
    return sorted(
        p.name.removesuffix(".geojson").replace("_", "-") for p in folder.iterdir() if p.name.endswith(".geojson")
    )


def load_pack(name_or_path: str | Path) -> RegionPack:
    """A built-in pack by name (see :func:`builtin_packs`) or a pack file by path."""
    path = Path(name_or_path)
    if path.suffix.lower() in (".geojson", ".json") or path.exists():
        return parse_pack(_read(path), path.stem, path)
    resource = resources.files(BUILTIN) / "packs" / f"{str(name_or_path).replace('-', '_')}.geojson"
    if not resource.is_file():
        raise PackError(
            f"{name_or_path}: no such region pack; built-in packs are {', '.join(builtin_packs())}, "
            "or give the path of a .geojson pack file (see engine/geo/packs/README.md)"
        )
    return parse_pack(_loads(resource.read_text("utf-8"), str(name_or_path)), str(name_or_path), None)


def load_zones(path: str | Path) -> tuple[Shapes, tuple[dict[str, Any], ...]]:
    """The zones of a zone file, and its features.

    A zone file may be what people draw in common tools (geojson.io, QGIS): a (Multi)Polygon with a ``name`` and
    either ``zone_kind`` or a ``kind`` that is a zone kind (``{"kind": "restricted"}``); its ``source`` defaults
    to the file's name. The user gave these zones, so they are facts to the engine, never examples.
    """
    path = Path(path)
    data = _read(path)
    for feat in data.get("features", []) if isinstance(data, dict) else []:
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            continue
        if "kind" not in props and "zone_kind" in props:
            props["kind"] = "zone"
        elif props.get("kind") in ZONE_KINDS and props["kind"] not in KINDS and "zone_kind" not in props:
            props["zone_kind"], props["kind"] = props["kind"], "zone"
        source = props.get("source")
        if not isinstance(source, str) or not source.strip():
            props["source"] = f"zone file {path.name}"
    pack = parse_pack(data, path.stem, path)
    return pack.zones, tuple(pack.feature_collection("zone")["features"])


def engine_pack(region: str | Path, *, examples: bool = False, zones: str | Path | None = None) -> RegionPack:
    """The pack the engine alerts on: ``region`` without its examples (unless ``examples``), plus the zones of the
    user's zone file ``zones``."""
    pack = load_pack(region)
    if not examples:
        pack = without_examples(pack)
    if zones is not None:
        if not Path(zones).is_file():
            raise PackError(f"{zones}: no such zone file; give a GeoJSON FeatureCollection of zones")
        pack = pack.with_zones(*load_zones(zones))
    return pack


def without_examples(pack: RegionPack) -> RegionPack:
    """``pack`` with the zones, stations and lanes marked ``example:`` left out.

    ``backtest``, ``detect`` and ``serve`` alert on facts and on the zones the user gives; the examples feed the
    simulator and the demo, and the engine only when asked (``--examples``). Example places (waiting areas,
    ferry piers) stay: a place only ever keeps an alert from being raised (port calls, anchorages), never raises one.
    """
    feats = [f for f in pack.features
             if f["properties"]["kind"] not in EXAMPLE_KINDS or not is_example(f["properties"])]  # fmt: skip
    if len(feats) == len(pack.features):
        return pack
    return parse_pack({"type": "FeatureCollection", "features": feats}, pack.name, pack.path)


def is_example(props: dict[str, Any]) -> bool:
    """Is this feature an example (its ``source`` starts with ``example:``) rather than a fact?"""
    source = props.get("source")
    return isinstance(source, str) and source.strip().lower().startswith(EXAMPLE_PREFIX)


def _read(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PackError(f"{path}: cannot read the pack ({exc.strerror})") from None
    return _loads(text, str(path))


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackError(f"{where}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None


def parse_pack(data: Any, name: str, path: Path | None) -> RegionPack:
    """Validate a GeoJSON FeatureCollection and build the pack's arrays."""
    where = str(path) if path else name
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise PackError(
            f"{where}: a region pack is one GeoJSON FeatureCollection; wrap the features in "
            '{"type": "FeatureCollection", "features": [...]}'
        )
    feats = data.get("features")
    if not isinstance(feats, list):
        raise PackError(f"{where}: 'features' must be a list of GeoJSON features")
    acc = _Accumulator()
    for i, feat in enumerate(feats):
        acc.add(_Feature(where, i, feat))
    return acc.build(name, path, tuple(feats))


class _Feature:
    """One feature being checked; :meth:`fail` raises the error that names it."""

    def __init__(self, where: str, index: int, raw: Any):
        self.where, self.index, self.raw = where, index, raw
        self.props: dict[str, Any] = {}
        if not isinstance(raw, dict) or raw.get("type") != "Feature":
            self.fail("is not a GeoJSON Feature", 'give it "type": "Feature", "geometry" and "properties"')
        props = raw.get("properties")
        if not isinstance(props, dict):
            self.fail("has no properties", "add properties with kind, name and source")
        self.props = props
        self.kind = props.get("kind")
        if self.kind not in KINDS:
            self.fail(f"has kind {self.kind!r}", f"set properties.kind to one of {', '.join(KINDS)}")
        self.name = props.get("name")
        if not isinstance(self.name, str) or not self.name.strip():
            self.fail("has no name", "set properties.name to a non-empty string")
        source = props.get("source")
        if not isinstance(source, str) or not source.strip():
            self.fail("has no source", "set properties.source to where the fact comes from (or say it is an example)")
        geom = raw.get("geometry")
        if not isinstance(geom, dict) or "type" not in geom or "coordinates" not in geom:
            self.fail("has no geometry", "give it a GeoJSON geometry with type and coordinates")
        self.geom_type: str = geom["type"]
        self.coords = geom["coordinates"]

    def fail(self, problem: str, fix: str) -> NoReturn:
        label = f"feature #{self.index}"
        if self.props.get("name"):
            label += f" ({self.props['name']!r})"
        raise PackError(f"{self.where}: {label} {problem}: {fix}")

    def number(self, key: str, positive: bool = True) -> float:
        value = self.props.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or (positive and not value > 0):
            self.fail(f"has {key}={value!r}", f"set properties.{key} to a number above 0 (kilometres)")
        return float(value)

    def ring(self, coords: Any) -> np.ndarray:
        """An (n, 2) lon/lat array, checked for shape and range."""
        try:
            arr = np.asarray(coords, dtype=np.float64)
        except (TypeError, ValueError):
            arr = np.empty((0, 0))
        if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] == 0:
            self.fail(f"has malformed {self.geom_type} coordinates", "write them as [[lon, lat], ...]")
        arr = arr[:, :2]
        if not np.isfinite(arr).all() or (np.abs(arr[:, 0]) > 180).any() or (np.abs(arr[:, 1]) > 90).any():
            self.fail("has coordinates out of range", "write [lon, lat] in degrees (lon first, as GeoJSON says)")
        return arr

    def lines(self) -> list[np.ndarray]:
        if self.geom_type == "LineString":
            parts = [self.ring(self.coords)]
        elif self.geom_type == "MultiLineString" and isinstance(self.coords, list):
            parts = [self.ring(c) for c in self.coords]
        else:
            self.fail(f"is a {self.geom_type}", f"a {self.kind} must be a LineString or MultiLineString")
        for p in parts:
            if p.shape[0] < 2:
                self.fail("has a line of fewer than 2 points", "give each line at least 2 [lon, lat] points")
        return parts

    def polygons(self) -> list[np.ndarray]:
        if self.geom_type == "Polygon":
            rings = [self.coords]
        elif self.geom_type == "MultiPolygon" and isinstance(self.coords, list):
            rings = self.coords
        else:
            self.fail(f"is a {self.geom_type}", f"a {self.kind} area must be a Polygon or MultiPolygon")
        out = []
        for poly in rings:
            if not isinstance(poly, list) or not poly:
                self.fail("has an empty polygon", "give each polygon an exterior ring [[lon, lat], ...]")
            if len(poly) > 1:
                self.fail("has a polygon with holes", "holes are not supported: split the area into polygons")
            ring = self.ring(poly[0])
            if ring.shape[0] < 4 or not np.array_equal(ring[0], ring[-1]):
                self.fail("has a ring that is not closed", "repeat the first point at the end (4 points at least)")
            try:  # the engine's own build of the ring (engine.geo.shapes): one check for the API and the engine
                unwrap_ring(ring.tolist())
            except ValueError as exc:
                problem, _, fix = str(exc).partition("; ")
                self.fail(f"has a ring the engine cannot use ({problem})", fix or "draw the ring again")
            out.append(ring)
        return out

    def point(self) -> np.ndarray:
        if self.geom_type != "Point":
            self.fail(f"is a {self.geom_type}", f"a {self.kind} must be a Point")
        return self.ring([self.coords])[0]


class _Accumulator:
    def __init__(self) -> None:
        self.places: list[tuple[str, str, float, float, float, dict[str, Any]]] = []
        self.lines: dict[str, list[tuple[str, str, np.ndarray, dict[str, Any]]]] = {"boundary": [], "lane": []}
        self.zones: list[tuple[str, str, np.ndarray, dict[str, Any]]] = []
        self.stations: list[tuple[str, str, float, float, float]] = []

    def add(self, f: _Feature) -> None:
        name, kind = str(f.name), str(f.kind)
        if kind in PLACE_KINDS:
            if f.geom_type == "Point":
                lon, lat = f.point()
                self.places.append((name, kind, lat, lon, f.number("radius_km"), f.props))
            else:
                for ring in f.polygons():
                    lon, lat = ring[:-1].mean(axis=0)
                    radius = float(haversine_km(lat, lon, ring[:, 1], ring[:, 0]).max())
                    self.places.append((name, kind, lat, lon, radius, f.props))
                    self.zones.append((name, kind, ring, f.props))
        elif kind in ("boundary", "lane"):
            if kind == "lane":
                if "width_km" in f.props:
                    f.number("width_km")
                traffic = f.props.get("traffic", [])
                if not isinstance(traffic, list) or not all(isinstance(t, str) for t in traffic):
                    f.fail(f"has traffic={traffic!r}", 'set properties.traffic to a list of roles, e.g. ["tanker"]')
            for part in f.lines():
                self.lines[kind].append((name, kind, part, f.props))
        elif kind == "zone":
            zone_kind = f.props.get("zone_kind")
            if zone_kind not in ZONE_KINDS:
                f.fail(f"has zone_kind {zone_kind!r}", f"set properties.zone_kind to one of {', '.join(ZONE_KINDS)}")
            for ring in f.polygons():
                self.zones.append((name, str(zone_kind), ring, f.props))
        else:  # station
            lon, lat = f.point()
            sid = f.props.get("id", name.replace(" ", ""))
            if not isinstance(sid, str) or not _STATION_ID.match(sid):
                f.fail(f"has station id {sid!r}", "set properties.id to 1-32 letters, digits, '-' or '_'")
            if any(s[0] == sid for s in self.stations):
                f.fail(f"repeats station id {sid!r}", "give every station its own properties.id")
            self.stations.append((sid, name, lat, lon, f.number("range_km")))

    def build(self, name: str, path: Path | None, features: tuple[dict[str, Any], ...]) -> RegionPack:
        pl = self.places
        places = Places(
            tuple(p[0] for p in pl),
            np.array([p[1] for p in pl], dtype=str),
            np.array([p[2] for p in pl]),
            np.array([p[3] for p in pl]),
            np.array([p[4] for p in pl]),
            tuple(p[5] for p in pl),
        )
        st = self.stations
        stations = Stations(
            tuple(s[0] for s in st),
            tuple(s[1] for s in st),
            np.array([s[2] for s in st]),
            np.array([s[3] for s in st]),
            np.array([s[4] for s in st]),
        )

        def shapes(rows: list[tuple[str, str, np.ndarray, dict[str, Any]]]) -> Shapes:
            return make_shapes(
                [r[0] for r in rows],
                [r[1] for r in rows],
                [(r[2][:, 1], r[2][:, 0]) for r in rows],
                [r[3] for r in rows],
            )

        return RegionPack(
            name,
            path,
            places,
            shapes(self.lines["boundary"]),
            shapes(self.zones),
            shapes(self.lines["lane"]),
            stations,
            features,
        )
