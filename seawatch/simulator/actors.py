"""Building blocks of injected behaviour: timing, moving about a sea area, and reading back from a track when it
crossed a line or was inside a zone (so labels say exactly what the feed shows)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seawatch.simulator.fleet import Vessel
from seawatch.simulator.geometry import KM_PER_DEG, crossings, points_in_polygon, resample
from seawatch.simulator.motion import ST_UNDERWAY, Track, TrackBuilder
from seawatch.simulator.world import World, Zone

HOUR = 3600.0
CLEAR_KM = 4.0  # straight hops keep this far from every port, anchorage and station (the coast's stand-ins)
HEARD_STEP_S = 300.0  # coverage is checked along a track this often


def duration(world: World, rng: np.random.Generator, lo_h: float, hi_h: float) -> float:
    """A behaviour's length, shortened to fit short scenarios."""
    return float(min(rng.uniform(lo_h, hi_h) * HOUR, 0.45 * world.horizon))


def start_time(world: World, rng: np.random.Generator, length: float) -> float:
    """When a behaviour of ``length`` seconds starts: inside the scenario with a margin at both ends."""
    lo, hi = 0.08 * world.horizon, 0.92 * world.horizon - length
    return float(rng.uniform(lo, hi)) if hi > lo else max(0.0, (world.horizon - length) / 2)


def actor(world: World, rng: np.random.Generator, role: str, flag: str, class_a: bool | None = None) -> Vessel:
    v = world.registry.vessel(role, flag, injected=True)
    if class_a is not None and (v.ais_class == "A") != class_a:
        v = replace(v, ais_class="A" if class_a else "B", imo=0 if not class_a else v.imo)
    return v


def go(
    b: TrackBuilder,
    lat: float,
    lon: float,
    kn: float,
    status: int = ST_UNDERWAY,
    ramp: tuple[bool, bool] = (False, False),
) -> None:
    """Sail straight from here to (lat, lon)."""
    here = b.here
    b.move(*resample(np.array([here[0], lat]), np.array([here[1], lon]), 0.4), kn, status, ramp=ramp)


def clear_hop(world: World, lat1: float, lon1: float, lat2: float, lon2: float) -> bool:
    """Whether a straight hop stays clear of every coast stand-in (apart from where it starts and ends)."""
    lat, lon = resample(np.array([lat1, lat2]), np.array([lon1, lon2]), 1.0)
    d = world.shore_distance_km(lat, lon)
    ends = np.minimum(d[0], d[-1])
    return bool((d[1:-1] >= min(CLEAR_KM, ends)).all())


def wander(
    world: World,
    b: TrackBuilder,
    rng: np.random.Generator,
    zone: Zone,
    until: float,
    kn: float,
    status: int = ST_UNDERWAY,
) -> None:
    """Sail between random points of a (convex, at sea) zone until ``until``, never across a boundary (a zone may
    straddle one: small craft crossing it would be a border crossing that no label tells)."""
    while b.now < until:
        for _ in range(50):
            lat, lon = world.point_in(rng, zone, 1.5)
            if not crosses_boundary(world, [b.here[0], lat], [b.here[1], lon]):
                break
        else:
            b.drift(min(1800.0, until - b.now + 1), 0.5, rng.uniform(0, 360))  # pragma: no cover
            continue
        go(b, lat, lon, kn, status)


def roam(
    world: World,
    b: TrackBuilder,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius_km: float,
    until: float,
    kn: float,
    status: int = ST_UNDERWAY,
    avoid_boundary: bool = True,
) -> None:
    """Sail between random points within ``radius_km`` of ``centre`` (open sea), never across a boundary."""
    while b.now < until:
        for _ in range(50):
            r, a = radius_km * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            lat = centre[0] + r * np.cos(a) / KM_PER_DEG
            lon = centre[1] + r * np.sin(a) / (KM_PER_DEG * np.cos(np.radians(centre[0])))
            if not avoid_boundary or not crosses_boundary(world, [b.here[0], lat], [b.here[1], lon]):
                break
        else:
            lat, lon = b.here  # pragma: no cover - nowhere to go: wait
        if (lat, lon) == b.here:
            b.drift(min(1800.0, until - b.now + 1), 0.5, rng.uniform(0, 360))
        else:
            go(b, lat, lon, kn, status)


def crosses_boundary(world: World, lat: list[float] | np.ndarray, lon: list[float] | np.ndarray) -> bool:
    b = world.pack.boundaries
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    return any(crossings(la, lo, *b.part(i)).size for i in range(len(b)))


def crossing_times(track: Track, world: World) -> list[float]:
    """Times at which the track crosses any boundary, in order."""
    out: list[float] = []
    b = world.pack.boundaries
    for i in range(len(b)):
        blat, blon = b.part(i)
        for k in crossings(track.lat, track.lon, blat, blon):
            out.append(float((track.t[k] + track.t[k + 1]) / 2))
    return sorted(out)


def inside_spans(track: Track, zone: Zone) -> list[tuple[float, float]]:
    """(entry, exit) times of each stay of the track inside the zone (to the resolution of its knots)."""
    t = np.arange(track.start, track.end, 10.0)
    lat, lon = track.position(t)
    inside = points_in_polygon(lat, lon, zone.lat, zone.lon)
    edges = np.diff(inside.astype(np.int8))
    starts = list(t[1:][edges == 1])
    ends = list(t[1:][edges == -1])
    if inside[0]:
        starts.insert(0, float(t[0]))
    if len(ends) < len(starts):
        ends.append(float(t[-1]))
    return [(float(a), float(b)) for a, b in zip(starts, ends, strict=True)]


def heard(world: World, track: Track, t0: float, t1: float, reach: float = 1.0) -> bool:
    """Whether shore stations hear the vessel well wherever it really is over [t0, t1] (clipped to its track):
    a behaviour that no station hears leaves no evidence in the feed, so its label would describe nothing."""
    a, b = max(t0, track.start), min(t1, track.end)
    times = np.linspace(a, b, max(2, int((b - a) // HEARD_STEP_S) + 2))
    lat, lon = track.position(times)
    return bool(np.all(world.coverage.good(times, lat, lon, reach)))
