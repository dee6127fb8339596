"""Harbour traffic that looks like trouble and is not (background, never labelled):

* anchorage crowds: many ships at anchor a few hundred metres apart at the pack's largest anchorages, each
  swinging slowly round her anchor with the tide;
* bunkering: a bunker barge made fast alongside a ship at anchor or at her berth, 30-100 m apart for 1-3 h (in
  port, so not a transfer at sea);
* pilot boats (ship type 50) running out from their station to ships at the pilot boarding area, alongside for a
  few minutes at the ship's speed, and back.

Every track stays where the pack says there is water: inside an anchorage's circle, on a ship's own path to her
berth, or on the lanes at the pilot boarding area.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seawatch.simulator.actors import go
from seawatch.simulator.geometry import KM_PER_DEG, bearing_deg, destination, haversine_km, towards
from seawatch.simulator.motion import ANCHORED, MOORED, ST_ANCHORED, ST_MOORED, ST_UNDERWAY, UNDERWAY, TrackBuilder
from seawatch.simulator.voyage import Voyage
from seawatch.simulator.world import World

HOUR = 3600.0
CROWD_SPACING_KM = (0.28, 0.40)  # ships at anchor keep about two swinging circles apart in a crowded anchorage
CROWD_SWING_KM = (0.03, 0.09)  # swinging circle: a ship's length and some chain (below half the spacing)
ALONGSIDE_KM = (0.04, 0.08)  # a barge alongside: hull to hull plus fenders, antenna to antenna 30-100 m
BUNKER_HOURS = (1.0, 3.0)  # a bunker delivery of a few hundred tonnes (industry practice)
PILOT_ALONGSIDE_MIN = (6.0, 15.0)  # boarding or landing a pilot: minutes alongside at the ship's speed
PILOT_OFFSET_KM = (0.025, 0.045)
PILOT_KN = 14.0  # a pilot boat's passage speed to and from the ship
PILOT_REST_S = 1800.0  # a pilot boat takes the next ship at least this long after coming back


def plan(voyage: Voyage, name: str) -> Voyage:
    """Tag a voyage with the background plan it follows (vessels.csv's ``plan``: which hard negative it is)."""
    voyage.vessel.extra["plan"] = name
    return voyage


def _anchorages(world: World) -> list[int]:
    """The pack's anchorages, largest first (a crowd needs room)."""
    places = world.pack.places
    idx = [i for i, k in enumerate(places.kinds) if k == "anchorage"]
    return sorted(idx, key=lambda i: (-float(places.radius_km[i]), str(places.names[i])))


def crowds(world: World, n: int) -> list[Voyage]:
    """``n`` crowds of ships at anchor on a (rotated, jittered) hexagonal grid inside the largest anchorages."""
    from seawatch.simulator.traffic import flag_for  # traffic builds on this module's plans

    places, out = world.pack.places, []
    where = _anchorages(world)
    for k in range(n if where else 0):
        rng = world.rng("crowd", k)
        p = where[k % len(where)]
        lat0, lon0, radius = float(places.lat[p]), float(places.lon[p]), float(places.radius_km[p])
        s, rot = rng.uniform(*CROWD_SPACING_KM), rng.uniform(0, np.pi)
        m = int(radius / s) + 1
        i, j = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1))
        x, y = (i + 0.5 * (j % 2)) * s, j * s * np.sqrt(3) / 2
        x, y = x * np.cos(rot) - y * np.sin(rot), x * np.sin(rot) + y * np.cos(rot)
        inside = np.hypot(x, y) <= radius - CROWD_SWING_KM[1] - 0.05
        x, y = x[inside], y[inside]
        size = min(int(rng.integers(world.cfg.crowd_ships[0], world.cfg.crowd_ships[1] + 1)), x.shape[0])
        seed = int(rng.integers(x.shape[0]))  # the crowd gathers round one spot: the nearest berths of the grid
        pick = np.argsort(np.hypot(x - x[seed], y - y[seed]), kind="stable")[:size]
        for q in np.sort(pick):
            jx, jy = rng.normal(0, 0.015, 2)
            lat = lat0 + (y[q] + jy) / KM_PER_DEG
            lon = lon0 + (x[q] + jx) / (KM_PER_DEG * np.cos(np.radians(lat0)))
            role = str(rng.choice(["cargo", "bulk", "tanker", "container"], p=[0.4, 0.35, 0.2, 0.05]))
            vessel = world.registry.vessel(role, flag_for(str(places.names[p]), rng))
            b = TrackBuilder(-HOUR, lat, lon).stay(world.horizon + 2 * HOUR, ANCHORED, ST_ANCHORED)
            swing = (rng.uniform(*CROWD_SWING_KM), rng.uniform(0, 2 * np.pi))
            out.append(plan(Voyage(vessel, b.build(swing)), "anchorage_crowd"))
    return out


def _berth_stays(voyages: list[Voyage], horizon: float) -> list[tuple[Voyage, float, float]]:
    """(voyage, start, end) of every merchant stay at a berth of 3 h or more inside the scenario."""
    out = []
    for v in voyages:
        for t0, t1, mode, _ in v.track.legs:
            if mode == MOORED and t1 - t0 >= 3 * HOUR and t0 > 0 and t1 < horizon:
                out.append((v, t0, t1))
                break
    return out


def bunkerings(world: World, n: int, anchored: list[Voyage], merchants: list[Voyage]) -> list[Voyage]:
    """``n`` bunker barges, alternately at an anchorage (alongside a ship at anchor, swinging with her) and at a
    berth (alongside a moored ship); each waits nearby before and after."""
    out: list[Voyage] = []
    ships = [v for v in anchored if v.track.swing is not None]
    stays = _berth_stays(merchants, world.horizon)
    for k in range(n):
        rng = world.rng("bunker", k)
        at_anchor = (k % 2 == 0 and ships) or not stays
        if at_anchor and not ships:
            break
        vessel = world.registry.vessel("bunker", "VN")
        length = rng.uniform(*BUNKER_HOURS) * HOUR
        side = rng.uniform(*ALONGSIDE_KM)
        if at_anchor:
            ship = ships[int(rng.integers(len(ships)))]
            lat, lon = ship.track.at(0.0)
            ta = rng.uniform(0.1, 0.9) * world.horizon - 0.5 * length
            wait = towards(lat, lon, rng.uniform(0, 360), rng.uniform(0.35, 0.6))
            swing = ship.track.swing
            mode, kn = ANCHORED, 5.0
        else:
            ship, a, e = stays[int(rng.integers(len(stays)))]
            lat, lon = ship.track.at(a)
            ta = rng.uniform(a + 0.2 * HOUR, max(a + 0.3 * HOUR, e - length - 0.2 * HOUR))
            k_in = np.flatnonzero((ship.track.t < a) & (haversine_km(ship.track.lat, ship.track.lon, lat, lon) > 0.4))
            wait = (float(ship.track.lat[k_in[-1]]), float(ship.track.lon[k_in[-1]])) if k_in.size else (lat, lon)
            swing, mode, kn = None, MOORED, 4.0
        spot = towards(lat, lon, rng.uniform(0, 360), side)
        b = TrackBuilder(-HOUR, *wait)
        travel = float(haversine_km(*wait, *spot)) / (kn * 1.852) * HOUR
        b.stay(ta - travel - b.now, mode, ST_ANCHORED if mode == ANCHORED else ST_MOORED)
        go(b, *spot, kn)
        b.stay(length, mode, ST_MOORED)
        go(b, *wait, kn)
        b.stay(world.horizon + HOUR - b.now, mode, ST_ANCHORED if mode == ANCHORED else ST_MOORED)
        track = b.build(swing)
        voyage = Voyage(vessel, track)
        voyage.vessel.extra["alongside"] = (ship.vessel.mmsi, ta, ta + length)
        ship.vessel.extra["served"] = True
        out.append(plan(voyage, "bunkering"))
    return out


def _meetings(world: World, merchants: list[Voyage], node: str) -> list[tuple[float, Voyage]]:
    """(time, voyage) of each merchant's pass of the pilot boarding area ``node`` inside the scenario."""
    lat0, lon0 = world.lanes.node_position(node)
    out = []
    for v in merchants:
        d = haversine_km(v.track.lat, v.track.lon, lat0, lon0)
        near = np.flatnonzero(d < 0.5)
        if not near.size:
            continue
        # a ship may pass twice (in and out): one meeting for each pass
        for run in np.split(near, np.flatnonzero(np.diff(near) > 1) + 1):
            i = int(run[np.argmin(d[run])])
            t = float(v.track.t[i])
            if 0.5 * HOUR < t < world.horizon - 0.5 * HOUR:
                out.append((t, v))
    return sorted(out, key=lambda x: (x[0], x[1].vessel.mmsi))


def pilot_boats(world: World, n: int, merchants: list[Voyage]) -> list[Voyage]:
    """``n`` pilot boats stationed off the pilot boarding area, taking the passing merchants in turn."""
    lanes = world.lanes
    nodes = [x for x in sorted(lanes.adj) if lanes.place_kind(x) == "pilot"]
    if not nodes or n < 1:
        return []
    node = nodes[0]
    meetings = _meetings(world, merchants, node)
    # the station: on a lane's centre line (water, and clear of traffic that keeps to starboard), 1.2 km out
    hop = sorted(lanes.adj[node], key=lambda h: (-float(lanes.length[h.lane]), h.lane))[0]
    clat, clon = lanes.hop_path(hop, 0.0)
    k = int(np.searchsorted(np.cumsum(np.r_[0.0, haversine_km(clat[:-1], clon[:-1], clat[1:], clon[1:])]), 1.2))
    station = (float(clat[k]), float(clon[k]))
    out = []
    for j in range(n):
        rng = world.rng("pilot", j)
        vessel = world.registry.vessel("pilot", "VN")
        b = TrackBuilder(-HOUR, *station)
        for tm, ship in meetings[j::n]:
            span = rng.uniform(*PILOT_ALONGSIDE_MIN) * 60.0
            t = np.arange(tm - span / 2, tm + span / 2, 20.0)
            slat, slon = ship.track.position(t)
            course = bearing_deg(slat[:-1], slon[:-1], slat[1:], slon[1:])
            side = rng.uniform(*PILOT_OFFSET_KM)
            olat, olon = destination(slat[:-1], slon[:-1], course - 90.0, side)  # to the ship's port side
            travel = float(haversine_km(*b.here, olat[0], olon[0])) / (PILOT_KN * 1.852) * HOUR
            if t[0] - travel < b.now + PILOT_REST_S:
                continue
            b.stay(t[0] - travel - b.now, ANCHORED, ST_ANCHORED)
            go(b, float(olat[0]), float(olon[0]), PILOT_KN)
            b.follow(t[1:-1], olat[1:], olon[1:], UNDERWAY, ST_UNDERWAY)
            go(b, *station, PILOT_KN, ramp=(True, True))
            ship.vessel.extra["served"] = True
        b.stay(world.horizon + HOUR - b.now, ANCHORED, ST_ANCHORED)
        out.append(plan(Voyage(replace(vessel, destination="PILOT STATION"), b.build()), "pilot"))
    return out
