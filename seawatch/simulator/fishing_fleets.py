"""Fishing that looks like a rendezvous and is not (background, never labelled):

* pair trawlers: two boats towing one net between them, 100-300 m apart abeam, moving together at trawling speed
  (2.5-4.5 kn) for hours, hauling together now and then;
* night fleets: several boats of one fleet drifting together at night (light fishing for squid and anchovy), a
  few hundred metres apart (150-600 m), below 1 kn for 3-6 h, never alongside.

Both work inside the pack's fishing grounds and keep to their side of any boundary.
"""

from __future__ import annotations

import numpy as np

from seawatch.simulator.actors import crosses_boundary, go, roam
from seawatch.simulator.geometry import (
    KM_PER_DEG,
    bearing_deg,
    destination,
    distance_to_polyline_km,
    points_in_polygon,
    resample,
    smooth_path,
    towards,
)
from seawatch.simulator.harbour import plan
from seawatch.simulator.motion import DRIFTING, ST_FISHING, ST_UNDERWAY, Track, TrackBuilder
from seawatch.simulator.voyage import Voyage
from seawatch.simulator.world import World, Zone

HOUR = 3600.0
TRAWL_KN = (2.5, 4.5)  # bottom and pair trawling speed (FAO fishing gear fact sheets)
PAIR_ABEAM_KM = (0.13, 0.27)  # the pair's spread: inside 100-300 m with room for GNSS noise
LEG_KM = (2.0, 5.0)
MAX_TURN_DEG = 45.0  # two boats towing one net turn wide and slowly
NIGHT_LOCAL = (18.0, 22.0)  # local hours when a night fleet starts drifting (UTC+7 in the Gulf of Tonkin)
UTC_OFFSET_H = 7.0
NIGHT_HOURS = (3.0, 6.0)
NIGHT_RING_KM = 0.24  # boats round the fleet's centre: neighbours 0.28-0.42 km apart, at most 0.5 km across
NIGHT_DRIFT_KN = (0.2, 0.8)  # the current carries the fleet (below 1 kn)
BOUNDARY_CLEAR_KM = 1.5
GATHER_KM = 1.5


def _status(ais_class: str) -> int:
    return ST_FISHING if ais_class == "A" else ST_UNDERWAY


def _inside(world: World, zone: Zone, lat: float, lon: float, margin_km: float) -> bool:
    la, lo = np.array([lat]), np.array([lon])
    return bool(points_in_polygon(la, lo, zone.lat, zone.lon)[0]) and bool(
        distance_to_polyline_km(la, lo, zone.lat, zone.lon)[0] >= margin_km
    )


def _gentle_walk(
    world: World, rng: np.random.Generator, zone: Zone, start: tuple[float, float], km: float
) -> tuple[np.ndarray, np.ndarray]:
    """Waypoints of a wandering tow inside ``zone``: legs of a few km, turns of at most 45 degrees, steered back
    in near the edge; then smoothed (a wide turn: the pair keeps its spread through it)."""
    lat, lon = [start[0]], [start[1]]
    heading, done = rng.uniform(0, 360), 0.0
    centre = zone.centre
    while done < km:
        leg = rng.uniform(*LEG_KM)
        for attempt in range(30):
            turn = rng.uniform(-MAX_TURN_DEG, MAX_TURN_DEG)
            if attempt >= 10:  # steer towards the middle of the ground
                home = float(
                    bearing_deg(np.array(lat[-1]), np.array(lon[-1]), np.array(centre[0]), np.array(centre[1]))
                )
                turn = float(np.clip((home - heading + 180) % 360 - 180, -MAX_TURN_DEG, MAX_TURN_DEG))
            h = heading + turn
            la, lo = towards(lat[-1], lon[-1], h, leg)
            if _inside(world, zone, la, lo, 2.0) and _clear(world, lat[-1], lon[-1], la, lo):
                break
        heading = h
        lat.append(la)
        lon.append(lo)
        done += leg
    return smooth_path(np.array(lat), np.array(lon), step_km=0.2)


def _clear(world: World, lat1: float, lon1: float, lat2: float, lon2: float) -> bool:
    """A leg that keeps ``BOUNDARY_CLEAR_KM`` off every boundary (a haul's drift and the mate's spread fit)."""
    la, lo = resample(np.array([lat1, lat2]), np.array([lon1, lon2]), 0.5)
    return not crosses_boundary(world, la, lo) and bool((world.boundary_distance_km(la, lo) >= BOUNDARY_CLEAR_KM).all())


def _abeam(track: Track, spread_km: np.ndarray) -> Track:
    """The partner's track: the same knots shifted ``spread_km`` to starboard of the tow's course (held through a
    haul, when the pair drifts with the net between them)."""
    seg = bearing_deg(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:])
    towing = track.mode != DRIFTING
    idx = np.where(towing, np.arange(seg.shape[0]), 0)
    idx = np.maximum.accumulate(idx)  # a haul keeps the course of the tow before it
    course_seg = seg[idx]
    # a knot's course: the mean of the segments either side (sines and cosines: it turns through 0 smoothly)
    rad = np.radians(np.r_[course_seg[:1], course_seg, course_seg[-1:]])
    s, c = np.sin(rad[:-1]) + np.sin(rad[1:]), np.cos(rad[:-1]) + np.cos(rad[1:])
    course = np.degrees(np.arctan2(s, c))
    lat, lon = destination(track.lat, track.lon, course + 90.0, spread_km)
    return Track(track.t.copy(), lat, lon, track.mode.copy(), track.status.copy(), list(track.legs))


def pair_trawlers(world: World, n: int) -> list[Voyage]:
    grounds = world.zones_of("fishing")
    out: list[Voyage] = []
    for k in range(n if grounds else 0):
        rng = world.rng("pair-trawl", k)
        zone = grounds[int(rng.integers(len(grounds)))]
        lead = world.registry.vessel("fishing", zone.fleet or "VN")
        mate = world.registry.vessel("fishing", zone.fleet or "VN")
        b = TrackBuilder(-HOUR, *world.point_in(rng, zone, 4.0))
        while b.now < world.horizon + HOUR:
            lat, lon = _gentle_walk(world, rng, zone, b.here, rng.uniform(6.0, 15.0))
            b.move(lat, lon, rng.uniform(*TRAWL_KN), _status(lead.ais_class), slow_kn=2.5, ramp=(False, False))
            if rng.random() < 0.5:  # haul the net together
                b.drift(rng.uniform(20, 45) * 60, rng.uniform(0.2, 0.6), rng.uniform(0, 360), _status(lead.ais_class))
        track = b.build()
        phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(1.5, 4.0) * HOUR
        mid, amp = np.mean(PAIR_ABEAM_KM), (PAIR_ABEAM_KM[1] - PAIR_ABEAM_KM[0]) / 2
        spread = mid + amp * np.sin(2 * np.pi * track.t / period + phase)
        out.append(plan(Voyage(lead, track), "pair_trawl"))
        out.append(plan(Voyage(mate, _abeam(track, spread)), "pair_trawl"))
        lead.extra["pair"] = mate.mmsi
        mate.extra["pair"] = lead.mmsi
    return out


def night_start(world: World, rng: np.random.Generator, hours: float) -> float | None:
    """When a night fleet starts drifting: a local evening that leaves room before and after it in the scenario."""
    local0 = (world.cfg.epoch / HOUR + UTC_OFFSET_H) % 24.0  # local hour at the scenario's start
    first = ((NIGHT_LOCAL[0] - local0) % 24.0) * HOUR
    for day in range(int(world.horizon // (24 * HOUR)) + 2):
        t0 = first + day * 24 * HOUR + rng.uniform(0, NIGHT_LOCAL[1] - NIGHT_LOCAL[0]) * HOUR
        if t0 >= 3 * HOUR and t0 + hours * HOUR <= world.horizon:
            return float(t0)
    return None


def night_fleets(world: World, n: int) -> list[Voyage]:
    grounds = world.zones_of("fishing")
    out: list[Voyage] = []
    for k in range(n if grounds else 0):
        rng = world.rng("night-fleet", k)
        zone = grounds[int(rng.integers(len(grounds)))]
        hours = rng.uniform(*NIGHT_HOURS)
        t0 = night_start(world, rng, hours)
        if t0 is None:
            continue
        t1 = t0 + hours * HOUR
        drift_kn = rng.uniform(*NIGHT_DRIFT_KN)
        for _ in range(50):  # a place where neither the drift nor the fishing round it reaches a boundary
            centre = world.point_in(rng, zone, 6.0)
            drift_brg = rng.uniform(0, 360)
            end = towards(centre[0], centre[1], drift_brg, drift_kn * 1.852 * hours)
            inside = _inside(world, zone, *end, 1.0) and _clear(world, *centre, *end)
            if inside and (world.boundary_distance_km(*centre) > 7.0).all():
                break
        boats = int(rng.integers(world.cfg.night_fleet_boats[0], world.cfg.night_fleet_boats[1] + 1))
        ring = rng.uniform(0, 360) + 360.0 * np.arange(boats - 1) / max(1, boats - 1)
        offsets = [(0.0, 0.0)] + [(float(a), NIGHT_RING_KM + float(rng.uniform(-0.02, 0.02))) for a in ring]
        for ang, r in offsets:
            vessel = world.registry.vessel("fishing", zone.fleet or "VN")
            status = _status(vessel.ais_class)
            b = TrackBuilder(-HOUR, *towards(centre[0], centre[1], rng.uniform(0, 360), rng.uniform(0, GATHER_KM)))
            # fish near the spot until the fleet gathers at dusk (legs of 3 km at most: there well before t0)
            roam(world, b, rng, centre, GATHER_KM, t0 - 1.2 * HOUR, rng.uniform(*TRAWL_KN), status)
            current = (t0, drift_kn, drift_brg)
            kn, arrive = 5.0, t0 - 0.5 * HOUR
            for _ in range(4):  # meet the moving place (the current is far slower than the boat)
                km = float(np.hypot(*_xy(b.here, _place(centre, current, ang, r, arrive))))
                arrive = b.now + km / (kn * 1.852) * HOUR
            go(b, *_place(centre, current, ang, r, arrive), kn)
            b.drift(t1 - b.now, drift_kn, drift_brg, status)
            roam(world, b, rng, b.here, 3.0, world.horizon + HOUR, rng.uniform(*TRAWL_KN), status)
            voyage = plan(Voyage(vessel, b.build()), "night_drift")
            vessel.extra["fleet"] = (k, t0, t1)
            out.append(voyage)
    return out


def _place(
    centre: tuple[float, float], current: tuple[float, float, float], ang: float, r: float, t: float
) -> tuple[float, float]:
    """Where a boat's place in the fleet is at time t: ``r`` km from the centre on bearing ``ang``, the whole fleet
    carried by the ``current`` (t0, kn, bearing) since t0."""
    t0, kn, brg = current
    la, lo = towards(centre[0], centre[1], brg, kn * 1.852 * (t - t0) / HOUR)
    return towards(la, lo, ang, r)


def _xy(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (b[1] - a[1]) * KM_PER_DEG * np.cos(np.radians(a[0])), (b[0] - a[0]) * KM_PER_DEG
