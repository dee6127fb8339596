"""The arrays a region pack is read into: places with radii, polylines and polygon rings flattened with
offsets, stations, and the pack that holds them (see :mod:`engine.geo.regions` for the file format)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


@dataclass(frozen=True)
class Places:
    """Points with a radius: ports, terminals, anchorages, pilot areas (one row each)."""

    names: tuple[str, ...]
    kinds: np.ndarray  # str
    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray
    props: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.names)

    def of_kind(self, *kinds: str) -> Places:
        return self.take(np.flatnonzero(np.isin(self.kinds, kinds)))

    def take(self, idx: np.ndarray) -> Places:
        return Places(
            tuple(self.names[i] for i in idx),
            self.kinds[idx],
            self.lat[idx],
            self.lon[idx],
            self.radius_km[idx],
            tuple(self.props[i] for i in idx),
        )

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Shapes:
    """Polylines or polygon rings, flattened: part ``i`` is ``lat[offsets[i]:offsets[i+1]]`` (same for lon)."""

    names: tuple[str, ...]
    kinds: np.ndarray  # str: zone_kind for zones, "boundary" or "lane" for lines
    offsets: np.ndarray  # int64, len(names) + 1
    lat: np.ndarray
    lon: np.ndarray
    props: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.names)

    def part(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) of part ``i``."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.lat[a:b], self.lon[a:b]

    def of_kind(self, *kinds: str) -> Shapes:
        idx = np.flatnonzero(np.isin(self.kinds, kinds))
        return make_shapes(
            [self.names[i] for i in idx],
            [str(self.kinds[i]) for i in idx],
            [self.part(int(i)) for i in idx],
            [self.props[i] for i in idx],
        )

    def __add__(self, other: Shapes) -> Shapes:
        parts = [self.part(i) for i in range(len(self))] + [other.part(i) for i in range(len(other))]
        return make_shapes(
            [*self.names, *other.names],
            [*self.kinds.tolist(), *other.kinds.tolist()],
            parts,
            [*self.props, *other.props],
        )


@dataclass(frozen=True)
class Stations:
    """Receiving stations: where they are and how far they hear."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    range_km: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class RegionPack:
    """Everything a pack holds, as numpy arrays; ``features`` keeps the GeoJSON features as read."""

    name: str
    path: Path | None
    places: Places
    boundaries: Shapes
    zones: Shapes
    lanes: Shapes
    stations: Stations
    features: tuple[dict[str, Any], ...] = field(repr=False, default=())

    def with_zones(self, zones: Shapes, features: tuple[dict[str, Any], ...] = ()) -> RegionPack:
        """This pack with ``zones`` (e.g. from :func:`load_zones`) added to its own."""
        return replace(self, zones=self.zones + zones, features=self.features + features)

    def feature_collection(self, *kinds: str) -> dict[str, Any]:
        """The pack's features of ``kinds`` (all when none is given) as a GeoJSON FeatureCollection."""
        feats = [f for f in self.features if not kinds or f["properties"]["kind"] in kinds]
        return {"type": "FeatureCollection", "name": self.name, "features": feats}

    def bbox(self) -> tuple[float, float, float, float]:
        """(lat_min, lat_max, lon_min, lon_max) over every coordinate of the pack."""
        lat = np.concatenate([self.places.lat, self.boundaries.lat, self.zones.lat, self.lanes.lat, self.stations.lat])
        lon = np.concatenate([self.places.lon, self.boundaries.lon, self.zones.lon, self.lanes.lon, self.stations.lon])
        return float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max())


def make_shapes(
    names: list[str], kinds: list[str], parts: list[tuple[np.ndarray, np.ndarray]], props: list[dict[str, Any]]
) -> Shapes:
    sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    lat = np.concatenate([p[0] for p in parts]) if parts else np.empty(0)
    lon = np.concatenate([p[1] for p in parts]) if parts else np.empty(0)
    return Shapes(
        tuple(names), np.array(kinds, dtype=str), offsets, lat.astype(np.float64), lon.astype(np.float64), tuple(props)
    )


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km, broadcast over arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))
