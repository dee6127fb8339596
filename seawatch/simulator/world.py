"""The world a scenario runs in: the region pack, its lanes and zones, the reception model, the identity
registry, and named random streams (so that one part's draws never shift another's: same seed, same bytes)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from engine.geo.regions import RegionPack
from seawatch.simulator.config import SimConfig
from seawatch.simulator.fleet import Registry
from seawatch.simulator.geometry import distance_to_polyline_km, haversine_km, random_points_in_polygon
from seawatch.simulator.lanes import LaneNetwork
from seawatch.simulator.reception import Coverage, make_coverage


@dataclass(frozen=True)
class Zone:
    name: str
    kind: str
    lat: np.ndarray
    lon: np.ndarray
    fleet: str

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.lat[:-1].mean()), float(self.lon[:-1].mean())


class World:
    def __init__(self, cfg: SimConfig, pack: RegionPack):
        self.cfg = cfg
        self.pack = pack
        self.horizon = cfg.seconds
        self.lanes = LaneNetwork(pack)
        self.registry = Registry(self.rng("registry"))
        self.coverage: Coverage = make_coverage(pack, cfg, self.rng("coverage"))
        z = pack.zones
        self.zones = [
            Zone(z.names[i], str(z.kinds[i]), *z.part(i), str(z.props[i].get("fleet", ""))) for i in range(len(z))
        ]

    def rng(self, *keys: str | int) -> np.random.Generator:
        """A generator for one named purpose, derived from the seed."""
        words = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
        return np.random.default_rng([self.cfg.seed, *words])

    def zones_of(self, kind: str, fleet: str | None = None) -> list[Zone]:
        return [z for z in self.zones if z.kind == kind and (fleet is None or z.fleet == fleet)]

    def point_in(self, rng: np.random.Generator, zone: Zone, margin_km: float = 1.5) -> tuple[float, float]:
        lat, lon = random_points_in_polygon(rng, 1, zone.lat, zone.lon, margin_km)
        return float(lat[0]), float(lon[0])

    def shore_distance_km(self, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
        """Distance to the nearest port, terminal, anchorage, pilot area or station: a stand-in for the coast,
        since every one of them is on or near it (the land lookup itself lives in :mod:`engine.geo`)."""
        p, s = self.pack.places, self.pack.stations
        plat, plon = np.concatenate([p.lat, s.lat]), np.concatenate([p.lon, s.lon])
        d = haversine_km(np.atleast_1d(lat)[:, None], np.atleast_1d(lon)[:, None], plat[None], plon[None])
        return np.asarray(d.min(axis=1))

    def port_gap_km(self, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
        """Distance to the edge of the nearest port, terminal or anchorage (where a draught may change)."""
        p = self.pack.places.of_kind("port", "terminal", "anchorage")
        if not len(p):
            return np.full(np.atleast_1d(lat).shape[0], np.inf)
        d = haversine_km(np.atleast_1d(lat)[:, None], np.atleast_1d(lon)[:, None], p.lat[None], p.lon[None])
        return np.asarray((d - p.radius_km[None]).min(axis=1))

    def boundary_distance_km(self, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
        b = self.pack.boundaries
        lat, lon = np.atleast_1d(lat), np.atleast_1d(lon)
        if not len(b):
            return np.full(lat.shape[0], np.inf)
        return np.asarray(np.min([distance_to_polyline_km(lat, lon, *b.part(i)) for i in range(len(b))], axis=0))
