"""Injected deception, with ground truth: spoofed positions (circles far from the true track, or fixes on land),
two vessels sharing one MMSI, identity changes at sea, and malformed MMSIs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seawatch.simulator.actors import HOUR, actor, crosses_boundary, duration, go, heard, start_time, wander
from seawatch.simulator.behaviours import Injected, sea_areas
from seawatch.simulator.geometry import haversine_km
from seawatch.simulator.motion import ST_FISHING, ST_UNDERWAY, TrackBuilder
from seawatch.simulator.traffic import trawl
from seawatch.simulator.voyage import Label, Spoof, Voyage
from seawatch.simulator.world import World, Zone

# Places well inland (city centres: public facts), where a receiver stuck on a false fix may put a ship.
INLAND = (
    ("Ha Noi", 21.0285, 105.8542),
    ("Hai Duong", 20.9397, 106.3307),
    ("Bac Ninh", 21.1861, 106.0763),
    ("Thai Binh", 20.4463, 106.3366),
    ("Nanning", 22.8170, 108.3665),
    ("Qinzhou city", 21.9817, 108.6544),
    ("Wuzhishan (Hainan)", 18.7752, 109.5169),
)
# MMSIs that no ship should carry: test patterns, repeated digits, unallocated MIDs, too few digits
INVALID_MMSI = (123456789, 111111111, 1193046, 999999999, 100000000, 412000000, 57412345, 987654321)
SPOOF_CLEAR_KM = 15.0
SAILING_TRIES = 300  # lanes far offshore are heard only on satellite passes: draw until stations hear the ship
SPOOF_MARGIN_S = 1200.0  # the true track heard 20 min either side of a spoofed spell: the jump away and back
IDENTITY_TRIES = 100


def _lane_run(world: World, rng: np.random.Generator, min_km: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A stretch of an open-sea merchant lane, at least ``min_km`` long, and the lane's index."""
    lanes = world.lanes
    idx = [i for i, t in enumerate(lanes.traffic) if "cargo" in t and lanes.length[i] > min_km + 10]
    lane = idx[int(rng.integers(len(idx)))]
    lat, lon = lanes.dense[lane]
    n = int(min_km / 0.4) + 1
    a = int(rng.integers(0, lat.shape[0] - n))
    if rng.random() < 0.5:
        return lat[a : a + n][::-1], lon[a : a + n][::-1], lane
    return lat[a : a + n], lon[a : a + n], lane


def _sailing(
    world: World, rng: np.random.Generator, spoof_h: tuple[float, float], margin_s: float
) -> tuple[Voyage, float, float]:
    """A merchant ship on a lane, and when a spoofed spell of its reports starts and ends.

    Stations hear the ship where it really is: the ship is drawn (up to ``SAILING_TRIES`` times) where coverage is
    good over the spell and ``margin_s`` either side (its true track before and after is the spell's evidence).
    """
    role = str(rng.choice(["container", "cargo"]))
    for _ in range(SAILING_TRIES):
        kn = rng.uniform(11, 16)
        lat, lon, _ = _lane_run(world, rng, kn * 1.852 * 4.0)  # four hours of sailing
        travel = 4.0 * HOUR
        t0 = start_time(world, rng, travel)
        b = TrackBuilder(t0, float(lat[0]), float(lon[0]))
        b.move(lat, lon, kn, ramp=(False, False))
        track = b.build()
        length = min(duration(world, rng, *spoof_h), 0.4 * (track.end - track.start))
        ts = track.start + rng.uniform(0.25, 0.5) * (track.end - track.start)
        if heard(world, track, ts - margin_s, ts + length + margin_s):
            break
    v = actor(world, rng, role, str(rng.choice(["VN", "FOREIGN", "CN"])), class_a=True)  # once: the registry
    return Voyage(v, track, window=(track.start, track.end)), ts, ts + length


def spoofing(world: World, rng: np.random.Generator, k: int) -> Injected:
    """Reports that circle round a point far from the true track (a GNSS spoofing pattern), then come back."""
    voyage, ts, te = _sailing(world, rng, (0.4, 1.5), SPOOF_MARGIN_S)
    lat, lon = voyage.track.at(ts)
    plat, plon = world.lanes.points()
    d = haversine_km(lat, lon, plat, plon)
    far = np.flatnonzero((d > 60) & (world.shore_distance_km(plat, plon) > SPOOF_CLEAR_KM))
    if not far.size:
        return [], []
    j = int(rng.choice(far))
    voyage.spoofs.append(Spoof(ts, te, float(plat[j]), float(plon[j]), rng.uniform(0.5, 2.0)))
    return [voyage], [
        Label(
            "spoofing",
            voyage.vessel.mmsi,
            ts,
            te,
            float(plat[j]),
            float(plon[j]),
            detail=f"reported a circle {d[j]:.0f} km from its track for {(te - ts) / 60:.0f} min",
        )
    ]


def land_position(world: World, rng: np.random.Generator, k: int) -> Injected:
    """Reports stuck on a fix well inland for a while, from a ship that shore stations hear well."""
    voyage, ts, te = _sailing(world, rng, (0.5, 1.0), 0.0)
    name, lat, lon = INLAND[k % len(INLAND)]
    voyage.spoofs.append(Spoof(ts, te, lat, lon, 0.0))
    return [voyage], [
        Label(
            "land_position",
            voyage.vessel.mmsi,
            ts,
            te,
            lat,
            lon,
            detail=f"reported a position in {name} for {(te - ts) / 60:.0f} min",
        )
    ]


def identity_conflict(world: World, rng: np.random.Generator, k: int, background: list[Voyage]) -> Injected:
    """A second vessel, far away, broadcasting the MMSI of a vessel that is on the air all along."""
    hosts = [
        v
        for v in background
        if v.track.start <= 0
        and v.track.end >= world.horizon
        and v.window[0] <= 0
        and v.window[1] >= world.horizon
        and v.vessel.role != "sart"
    ]
    if not hosts:
        return [], []
    length = duration(world, rng, 4, 12)
    ts = start_time(world, rng, length)
    heard = [v for v in hosts if world.coverage.good(ts, *v.track.at(ts))[0]]  # so both are seen
    host = (heard or hosts)[int(rng.integers(len(heard or hosts)))]
    h_lat, h_lon = host.track.at(ts)
    areas = [z for z in sea_areas(world) if haversine_km(*z.centre, h_lat, h_lon) > 80]
    if not areas:
        return [], []
    zone = areas[int(rng.integers(len(areas)))]
    b = TrackBuilder(ts, *world.point_in(rng, zone))
    lat, lon = b.here
    wander(world, b, rng, zone, ts + length, rng.uniform(6, 9))
    twin = actor(world, rng, "fishing" if host.vessel.ais_class == "B" else "cargo", zone.fleet or "VN")
    twin = replace(twin, mmsi=host.vessel.mmsi, ais_class=host.vessel.ais_class)
    dist = float(haversine_km(lat, lon, h_lat, h_lon))
    return [Voyage(twin, b.build(), window=(ts, ts + length))], [
        Label(
            "identity_conflict",
            host.vessel.mmsi,
            ts,
            ts + length,
            lat,
            lon,
            detail=f"{host.vessel.name} and {twin.name} broadcast one MMSI {dist:.0f} km apart",
        )
    ]


def _through(world: World, b: TrackBuilder, rng: np.random.Generator, zone: Zone, kn: float) -> tuple[float, float]:
    """Sail one long straight leg across the zone (to the farthest of a few points that crossing no boundary
    reaches); the leg's start and end times."""
    t0, here = b.now, b.here
    points = [world.point_in(rng, zone, 1.5) for _ in range(12)]
    points = [p for p in points if not crosses_boundary(world, [here[0], p[0]], [here[1], p[1]])] or [here]
    far = max(points, key=lambda p: float(haversine_km(here[0], here[1], p[0], p[1])))
    if far != here:
        go(b, *far, kn)
    return t0, b.now


def identity_change(world: World, rng: np.random.Generator, k: int) -> Injected:
    """New name and call sign at sea (every other one: a new MMSI too; a tanker may also pose as cargo).

    The vessel sails on through the change: it swaps identity in the middle of a straight leg (a vessel that
    changes its MMSI does not turn round as it does), where shore stations hear it before and after (a change
    that no station hears leaves no evidence).
    """
    areas = sea_areas(world)
    role = "small_tanker" if k % 2 == 0 else "fishing"
    reach = world.cfg.class_b_range if role == "fishing" else 1.0  # most fishing boats carry class B
    for _ in range(IDENTITY_TRIES):
        zone = areas[int(rng.integers(len(areas)))]
        length = duration(world, rng, 4, 8)
        ts = start_time(world, rng, length)
        kn = rng.uniform(6, 9)
        b = TrackBuilder(ts, *world.point_in(rng, zone))
        wander(world, b, rng, zone, ts + length * rng.uniform(0.2, 0.45), kn)
        leg0, leg1 = _through(world, b, rng, zone, kn)
        tc = leg0 + (leg1 - leg0) * rng.uniform(0.35, 0.65)
        wander(world, b, rng, zone, max(ts + length, b.now + HOUR), kn)
        track = b.build()
        if heard(world, track, tc - HOUR, tc + HOUR, reach):
            break
    flag = zone.fleet or "VN"
    v = actor(world, rng, role, flag)
    reg = world.registry
    new = replace(v, name=reg.name(v.role, flag), callsign=reg.callsign(v.mmsi))
    if k % 2 == 1:
        new = replace(new, mmsi=reg.mmsi(flag))
    if v.ais_class == "A" and v.role == "small_tanker":
        new = replace(new, ship_type=70, imo=reg.imo())
    changes = [f"name {v.name} -> {new.name}", f"call sign {v.callsign} -> {new.callsign}"]
    if new.mmsi != v.mmsi:
        changes.append(f"MMSI {v.mmsi} -> {new.mmsi}")
    if new.ship_type != v.ship_type:
        changes.append(f"ship type {v.ship_type} -> {new.ship_type}, IMO {v.imo} -> {new.imo}")
    lat, lon = track.at(tc)
    voyage = Voyage(v, track, window=(track.start, track.end), identities=[(tc, new)])
    other = new.mmsi if new.mmsi != v.mmsi else None
    return [voyage], [Label("identity_change", v.mmsi, tc, tc, float(lat), float(lon), other, "; ".join(changes))]


def invalid_identity(world: World, rng: np.random.Generator, k: int) -> Injected:
    """A fishing boat on the air all day with a malformed or default MMSI."""
    mmsi = INVALID_MMSI[k % len(INVALID_MMSI)] + (k // len(INVALID_MMSI))
    if mmsi in world.registry.used_mmsi:
        return [], []
    world.registry.used_mmsi.add(mmsi)
    zone = world.zones_of("fishing")[int(rng.integers(len(world.zones_of("fishing"))))]
    v = replace(actor(world, rng, "fishing", zone.fleet or "VN"), mmsi=mmsi)
    b = TrackBuilder(-HOUR, *world.point_in(rng, zone, 2.0))
    lat, lon = b.here
    trawl(world, b, rng, zone, world.horizon + HOUR, ST_FISHING if v.ais_class == "A" else ST_UNDERWAY)
    return [Voyage(v, b.build())], [
        Label("invalid_identity", mmsi, 0.0, world.horizon, lat, lon, detail=f"MMSI {mmsi} is not a ship's MMSI")
    ]
