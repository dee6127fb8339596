"""Injected behaviour at sea, with ground truth: going dark, ship-to-ship transfers (and the draught change after
one), loitering near the border, entering a restricted zone, crossing the border and back, distress.

Each function builds its actors' voyages (away from the coast, checked against the pack's places) and returns
them with the labels that say what happened, where and when.
"""

from __future__ import annotations

import numpy as np

from seawatch.simulator.actors import (
    HOUR,
    actor,
    clear_hop,
    crosses_boundary,
    crossing_times,
    duration,
    go,
    heard,
    inside_spans,
    roam,
    start_time,
    wander,
)
from seawatch.simulator.fleet import Vessel
from seawatch.simulator.geometry import bearing_deg, haversine_km, resample, towards
from seawatch.simulator.motion import ST_NUC, ST_SART, TrackBuilder
from seawatch.simulator.voyage import Label, Voyage
from seawatch.simulator.world import World, Zone

Injected = tuple[list[Voyage], list[Label]]
TRANSFER_CLEAR_KM = 22.0  # transfers happen > 10 nm from port (DESIGN.md: encounter and draught change rules)
PORT_CLEAR_KM = 18.52  # > 10 nm from the edge of any port, terminal or anchorage (DESIGN.md: draught change)
DRIFT_KM = 8.0  # how far a transfer drifts (0.8 kn for 5 h) or a tanker wanders off the spot in the hour after
SEEN_ALONGSIDE_S = 2.25 * 3600  # an encounter is >= 2 h alongside (DESIGN.md, GFW): heard over that long
DRAUGHT_TRIES = 50
OPEN_SEA_KM = 45.0  # loitering >= 20 nm (37 km) from shore (DESIGN.md, GFW)


def sea_areas(world: World) -> list[Zone]:
    return world.zones_of("fishing") + world.zones_of("watch")


def gap(world: World, rng: np.random.Generator, k: int) -> Injected:
    """Dark for hours where coverage is good; every other one reappears far away."""
    areas = sea_areas(world)
    cov = world.coverage
    for _ in range(200):
        zone = areas[int(rng.integers(len(areas)))]
        length, kn = duration(world, rng, 4, 8), rng.uniform(6, 9)
        ts = start_time(world, rng, length)
        te = ts + length
        b = TrackBuilder(ts - rng.uniform(2, 4) * HOUR, *world.point_in(rng, zone))
        wander(world, b, rng, zone, ts, kn)
        lat, lon = b.build().at(ts)
        if not (
            cov.good(np.array([ts - 1200, ts]), np.array([lat, lat]), np.array([lon, lon])).all()
            and cov.outage_free(ts - HOUR, te + HOUR, lat, lon)
        ):
            continue
        far = k % 2 == 1
        if far:
            others = [z for z in areas if haversine_km(*z.centre, lat, lon) > 60 and z is not zone]
            if not others:
                continue
            zone2 = others[int(rng.integers(len(others)))]
            target = world.point_in(rng, zone2)
            dist = float(haversine_km(lat, lon, *target))
            if dist / 1.852 / (0.85 * length / HOUR) > 14 or not clear_hop(world, *b.here, *target):
                continue
            if crosses_boundary(world, [b.here[0], target[0]], [b.here[1], target[1]]):
                continue
            go(b, *target, max(kn, dist / 1.852 / (0.85 * length / HOUR)))
            zone = zone2
        wander(world, b, rng, zone, te, kn)
        back = b.build().at(te)
        if not cov.good(te, *back)[0]:
            continue
        wander(world, b, rng, zone, te + rng.uniform(2, 4) * HOUR, kn)
        role = "small_tanker" if k % 3 != 2 else "fishing"
        v = actor(world, rng, role, zone.fleet or "VN", class_a=True)
        moved = float(haversine_km(lat, lon, back[0], back[1]))
        detail = f"dark {length / HOUR:.1f} h in good coverage; reappeared {moved:.0f} km away"
        track = b.build()
        return [Voyage(v, track, window=(track.start, track.end), dark=[(ts, te)])], [
            Label("ais_gap", v.mmsi, ts, te, lat, lon, detail=detail)
        ]
    return [], []


def _transfer_spot(
    world: World, rng: np.random.Generator, need_coverage: bool, length: float, reach: float = 1.0
) -> tuple[Zone, float, float, float] | None:
    """Where and when a transfer of ``length`` seconds happens: well clear of ports, and heard throughout, by shore
    stations (``need_coverage``; ``reach``: the share of their range the vessels get) or, beyond their range, on
    satellite passes that span an encounter's two hours (a meeting that no one heard for that long leaves no
    evidence of one)."""
    areas = sea_areas(world)
    cov = world.coverage
    for _ in range(400):
        zone = areas[int(rng.integers(len(areas)))]
        lat, lon = world.point_in(rng, zone, 4.0)
        if world.shore_distance_km(lat, lon)[0] < TRANSFER_CLEAR_KM or world.boundary_distance_km(lat, lon)[0] < 10:
            continue
        if world.port_gap_km(lat, lon)[0] < PORT_CLEAR_KM + DRIFT_KM:
            continue
        tm = start_time(world, rng, length)
        times = np.arange(tm, tm + length + 1, 300.0)
        at = np.full(times.shape[0], lat), np.full(times.shape[0], lon)
        if need_coverage:
            if not (cov.good(times, *at, reach).all() and cov.outage_free(tm - HOUR, tm + length + HOUR, lat, lon)):
                continue
        elif not (_satellite_only(world, lat, lon) and _passes_span(world, tm, tm + length) >= SEEN_ALONGSIDE_S):
            continue
        return zone, lat, lon, tm
    return None


def _satellite_only(world: World, lat: float, lon: float) -> bool:
    """Beyond the range of every shore station: only satellite passes hear a vessel there."""
    cov = world.coverage
    return bool((cov.distances(np.array([lat]), np.array([lon]))[0] >= cov.range_km).all())


def _passes_span(world: World, t0: float, t1: float) -> float:
    """From the start of the first satellite pass to the end of the last one wholly inside [t0, t1] (seconds)."""
    p = world.coverage.passes
    inside = p[(p[:, 0] >= t0) & (p[:, 1] <= t1)]
    return float(inside[-1, 1] - inside[0, 0]) if inside.shape[0] else 0.0


def _meet(
    world: World,
    rng: np.random.Generator,
    zone: Zone,
    lat: float,
    lon: float,
    tm: float,
    length: float,
    drift: tuple[float, float],
) -> TrackBuilder:
    """Come in from 8-15 km away, wait near (lat, lon) until ``tm``, drift there for ``length``, leave."""
    for _ in range(50):
        start = towards(lat, lon, rng.uniform(0, 360), rng.uniform(8, 15))
        if clear_hop(world, *start, lat, lon) and not crosses_boundary(world, [start[0], lat], [start[1], lon]):
            break
    b = TrackBuilder(tm - 2 * HOUR, *start)
    go(b, lat, lon, max(4.0, float(haversine_km(lat, lon, *start)) / 1.852 / 1.4), ramp=(False, True))
    if b.now < tm:
        b.drift(tm - b.now, 0.1, rng.uniform(0, 360))
    b.drift(length, drift[0], drift[1])
    wander(world, b, rng, zone, b.now + rng.uniform(2, 4) * HOUR, rng.uniform(6, 9))
    return b


def encounter(world: World, rng: np.random.Generator, k: int) -> Injected:
    """A ship-to-ship transfer; the first one has the smaller vessel dark during it. The receiving vessel's
    draught changes after it (a draught_change label)."""
    dark = k == 0
    offshore = not dark and k % 3 == 2
    # beyond shore coverage only satellite passes (one every ~100 min) see a meeting: those that they see alongside
    # for the 2 h of an encounter last 3.5 h or more
    length = duration(world, rng, 3.5, 6) if offshore else duration(world, rng, 2.2, 5)
    # most within sight of a shore station; the partner may be a class B fishing boat, heard over a shorter range
    spot = _transfer_spot(world, rng, not offshore, length, world.cfg.class_b_range)
    if spot is None:
        return [], []
    zone, lat, lon, tm = spot
    flag = zone.fleet or "VN"
    a = actor(world, rng, "small_tanker", flag, class_a=True)
    b_role = "fishing" if k % 2 == 0 else "small_tanker"
    b = actor(world, rng, b_role, flag, class_a=True if dark else None)
    drift = (rng.uniform(0.2, 0.8), rng.uniform(0, 360))
    track_a = _meet(world, rng, zone, lat, lon, tm, length, drift).build()
    abeam = towards(lat, lon, drift[1] + 90, rng.uniform(0.04, 0.08))  # alongside, fenders out
    track_b = _meet(world, rng, zone, *abeam, tm, length, drift).build()
    va = Voyage(a, track_a, window=(track_a.start, track_a.end))
    vb = Voyage(b, track_b, window=(track_b.start, track_b.end))
    labels = [
        Label(
            "encounter",
            a.mmsi,
            tm,
            tm + length,
            lat,
            lon,
            b.mmsi,
            f"{a.name} and {b.name} alongside {length / HOUR:.1f} h" + ("; " + b.name + " dark" if dark else ""),
        )
    ]
    if dark:
        vb.dark.append((tm - 1200, tm + length + 1200))
        labels.append(
            Label(
                "ais_gap",
                b.mmsi,
                tm - 1200,
                tm + length + 1200,
                lat,
                lon,
                a.mmsi,
                f"dark {(length + 2400) / HOUR:.1f} h in good coverage during a transfer with {a.name}",
            )
        )
    # cargo goes to the receiver: a class A receiver sits deeper; otherwise the tanker rises
    receiver, other, sign = (vb, a, 1.0) if b.ais_class == "A" else (va, b, -1.0)
    change = draught(receiver, other, tm + length + 60, rng, sign)
    if heard(world, receiver.track, change.start - HOUR, change.start + HOUR):
        labels.append(change)
    else:  # beyond shore range the old draught is never heard, so a change would leave no evidence in the feed:
        receiver.draughts.pop()  # the receiver keeps its draught (the draw stays: the rest of the scenario is the same)
    return [va, vb], labels


def draught(voyage: Voyage, other: Vessel | None, t: float, rng: np.random.Generator, sign: float) -> Label:
    old = voyage.vessel.draught
    new = round(max(0.5, old + sign * rng.uniform(1.2, 2.5)), 1)
    voyage.draughts.append((t, new))
    lat, lon = voyage.track.at(t)
    why = f"after a transfer with {other.name}" if other else "at sea, no port call"
    return Label(
        "draught_change",
        voyage.vessel.mmsi,
        t,
        t,
        float(lat),
        float(lon),
        other.mmsi if other else None,
        f"draught {old:.1f} -> {new:.1f} m {why}",
    )


def draught_change(world: World, rng: np.random.Generator, k: int) -> Injected:
    """A tanker that loads or discharges at sea with no other AIS vessel around (the other one is dark).

    Shore stations hear it for an hour either side of the change (drawn a few times): a draught that no station
    heard before or after the change leaves no evidence of it.
    """
    for _ in range(DRAUGHT_TRIES):
        spot = _transfer_spot(world, rng, True, 4 * HOUR)
        if spot is None:
            return [], []
        zone, lat, lon, tc = spot
        b = TrackBuilder(tc - rng.uniform(2, 4) * HOUR, lat, lon)
        wander(world, b, rng, zone, tc + rng.uniform(2, 4) * HOUR, rng.uniform(6, 9))
        track = b.build()
        at_change = track.at(tc)
        if heard(world, track, tc - HOUR, tc + HOUR) and world.port_gap_km(*at_change)[0] >= PORT_CLEAR_KM:
            break
    v = actor(world, rng, "small_tanker", zone.fleet or "VN", class_a=True)
    voyage = Voyage(v, track, window=(track.start, track.end))
    return [voyage], [draught(voyage, None, tc, rng, 1.0 if k % 2 else -1.0)]


def _border_spots(world: World, min_shore_km: float) -> list[tuple[float, float, float]]:
    """(lat, lon, bearing of the boundary) every 2 km along the boundaries, far enough from the coast."""
    out = []
    b = world.pack.boundaries
    for i in range(len(b)):
        lat, lon = resample(*b.part(i), 2.0)
        brg = bearing_deg(lat[:-1], lon[:-1], lat[1:], lon[1:])
        ok = world.shore_distance_km(lat[:-1], lon[:-1]) >= min_shore_km
        out += [(float(a), float(o), float(g)) for a, o, g, m in zip(lat[:-1], lon[:-1], brg, ok, strict=True) if m]
    return out


def loitering(world: World, rng: np.random.Generator, k: int) -> Injected:
    """Hours of drifting a few km from the border, far out at sea."""
    spots = _border_spots(world, OPEN_SEA_KM + 8)
    if not spots:
        return [], []
    q_lat, q_lon, brg = spots[int(rng.integers(len(spots)))]
    away = brg + (90 if k % 2 == 0 else -90)
    lat, lon = towards(q_lat, q_lon, away, rng.uniform(3, 8))
    length = duration(world, rng, 2.5, 6)
    ts = start_time(world, rng, length)
    b = TrackBuilder(ts - rng.uniform(2, 3) * HOUR, lat, lon)
    roam(world, b, rng, (lat, lon), 8.0, ts - 1800, rng.uniform(6, 8))
    go(b, lat, lon, 6.0, ramp=(False, True))
    t0 = b.now
    b.drift(length, rng.uniform(0.2, 1.0), away)
    roam(world, b, rng, (lat, lon), 8.0, b.now + rng.uniform(2, 3) * HOUR, rng.uniform(6, 8))
    flag = "VN" if lon < q_lon else "CN"
    v = actor(world, rng, "fishing" if k % 2 == 0 else "small_tanker", flag)
    track = b.build()
    return [Voyage(v, track, window=(track.start, track.end))], [
        Label("loitering", v.mmsi, t0, t0 + length, lat, lon, detail=f"drifting {length / HOUR:.1f} h near the border")
    ]


def zone_entry(world: World, rng: np.random.Generator, k: int) -> Injected:
    zones = world.zones_of("restricted")
    if not zones:
        return [], []
    zone = zones[k % len(zones)]
    c = zone.centre
    half = float(haversine_km(c[0], c[1], zone.lat, zone.lon).max())
    base = world.shore_distance_km(*c)[0]

    def outside() -> tuple[float, float] | None:
        for _ in range(100):
            p = towards(c[0], c[1], rng.uniform(0, 360), half + rng.uniform(8, 15))
            if world.shore_distance_km(*p)[0] >= base + 3:
                return p
        return None

    start, end = outside(), outside()
    if start is None or end is None:
        return [], []
    inside = duration(world, rng, 0.5, 2)
    ts = start_time(world, rng, inside + 2 * HOUR)
    b = TrackBuilder(ts, *start)
    go(b, *world.point_in(rng, zone, 1.5), rng.uniform(6, 9))
    wander(world, b, rng, zone, b.now + inside, 3.5)
    go(b, *end, rng.uniform(6, 9))
    roam(world, b, rng, end, 3.0, b.now + HOUR, 5.0)
    track = b.build()
    spans = inside_spans(track, zone)
    if not spans:
        return [], []  # pragma: no cover - the path goes through the zone by construction
    t_in, t_out = spans[0]
    lat, lon = track.at(t_in)
    v = actor(world, rng, "fishing" if k % 2 == 0 else "cargo", "VN")
    return [Voyage(v, track, window=(track.start, track.end))], [
        Label("zone_entry", v.mmsi, t_in, t_out, float(lat), float(lon), detail=f"entered {zone.name}")
    ]


def border_crossing(world: World, rng: np.random.Generator, k: int) -> Injected:
    """A fishing boat crosses the boundary, works a few hours on the other side, comes back."""
    spots = _border_spots(world, 30.0)
    if not spots:
        return [], []
    q_lat, q_lon, brg = spots[int(rng.integers(len(spots)))]
    home = brg + (90 if k % 2 == 0 else -90)
    near = towards(q_lat, q_lon, home, rng.uniform(5, 10))
    far_home = towards(q_lat, q_lon, home, rng.uniform(15, 20))
    across = towards(q_lat, q_lon, home + 180, rng.uniform(6, 12))
    stay = duration(world, rng, 1, 4)
    ts = start_time(world, rng, stay + HOUR)
    kn = rng.uniform(6, 8)
    b = TrackBuilder(ts - 1.5 * HOUR, *far_home)
    go(b, *near, kn)
    go(b, *across, kn)
    roam(world, b, rng, across, 3.0, b.now + stay, 3.5)
    go(b, *near, kn)
    go(b, *far_home, kn)
    roam(world, b, rng, far_home, 3.0, b.now + HOUR, 4.0)
    track = b.build()
    times = crossing_times(track, world)
    if len(times) < 2:
        return [], []  # pragma: no cover - the path crosses by construction
    flag = "VN" if near[1] < q_lon else "CN"
    v = actor(world, rng, "fishing", flag)
    return [Voyage(v, track, window=(track.start, track.end))], [
        Label(
            "border_crossing",
            v.mmsi,
            times[0],
            times[1],
            q_lat,
            q_lon,
            detail=f"{flag} fishing boat crossed the boundary and came back after {(times[1] - times[0]) / HOUR:.1f} h",
        )
    ]


def distress(world: World, rng: np.random.Generator, k: int) -> Injected:
    """An AIS-SART switched on in a fishing ground (even k), or a ship not under command, drifting (odd k)."""
    length = duration(world, rng, 1.5, 3.5)
    ts = start_time(world, rng, length)
    if k % 2 == 0:
        zone = world.zones_of("fishing")[k // 2 % len(world.zones_of("fishing"))]
        lat, lon = world.point_in(rng, zone, 3.0)
        mmsi = 970_000_000 + int(rng.integers(10, 99)) * 10_000 + int(rng.integers(0, 10_000))
        world.registry.used_mmsi.add(mmsi)
        v = Vessel(mmsi, "SART ACTIVE", "", 0, 0, "A", 0, 0, 0.0, "sart", "SART", injected=True)
        b = TrackBuilder(ts, lat, lon)
        b.drift(length, rng.uniform(0.3, 1.0), rng.uniform(0, 360), ST_SART)
        texts = [(float(t), "SART ACTIVE") for t in np.arange(ts + 30, ts + length, 240.0)]  # every 4 min
        return [Voyage(v, b.build(), window=(ts, ts + length), texts=texts)], [
            Label("distress", mmsi, ts, ts + length, lat, lon, detail="AIS-SART active (MMSI 970, nav status 14)")
        ]
    return _not_under_command(world, rng, length, ts)


def _not_under_command(world: World, rng: np.random.Generator, length: float, ts: float) -> Injected:
    lanes = world.lanes
    idx = [i for i, t in enumerate(lanes.traffic) if "cargo" in t and lanes.length[i] > 80]
    lane = idx[int(rng.integers(len(idx)))]
    lat, lon = lanes.dense[lane]
    ok = np.flatnonzero(world.shore_distance_km(lat, lon) >= 25.0)
    ok = ok[(ok > 100) & (ok < lat.shape[0] - 100)]  # 40 km of lane on either side
    if not ok.size:
        return [], []
    i = int(rng.choice(ok))
    v = actor(world, rng, "cargo", "VN", class_a=True)
    kn = rng.uniform(10, 12)
    before = slice(max(0, i - 90), i + 1)
    travel = float(np.sum(haversine_km(lat[before][:-1], lon[before][:-1], lat[before][1:], lon[before][1:])))
    b = TrackBuilder(ts - travel / 1.852 / kn * HOUR, float(lat[before][0]), float(lon[before][0]))
    b.move(lat[before], lon[before], kn, ramp=(False, True))
    t_stop, here = b.now, b.here
    b.drift(length, rng.uniform(0.3, 1.2), rng.uniform(0, 360), ST_NUC)
    b.move(lat[i + 1 : i + 90], lon[i + 1 : i + 90], kn, ramp=(True, False))
    track = b.build()
    return [Voyage(v, track, window=(track.start, track.end))], [
        Label(
            "distress",
            v.mmsi,
            t_stop,
            t_stop + length,
            *here,
            detail=f"not under command (nav status 2), drifting {length / HOUR:.1f} h",
        )
    ]
