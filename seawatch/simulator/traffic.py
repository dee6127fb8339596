"""Background traffic: the ordinary vessels of the region, each with a plan built on the pack's lanes, anchorages
and fishing grounds, so that nobody sails over land by construction.

* merchant ships (container, cargo, bulk, tankers) come in from the sea edge along the lanes, may wait at an
  anchorage on the way, lie at their berth (loading changes their draught there), and sail out again;
* ships waiting at anchor (close together and slow: that is normal in an anchorage);
* ferries shuttle between their piers in daylight; tugs between berths and the pilot area;
* fishing boats (mostly class B) trawl across their fishing grounds with pauses to haul;
* and the hard negatives of the real sea, each a setting of :class:`SimConfig`: anchorage crowds, bunkering and
  pilot boats (:mod:`harbour`), pair trawlers and fishing fleets drifting at night (:mod:`fishing_fleets`),
  ferries pausing at sea, AIS-SART self-tests (:mod:`beacons`).
Each voyage's vessel says which plan it follows (``vessel.extra["plan"]``, the ``plan`` column of vessels.csv).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seawatch.simulator import harbour
from seawatch.simulator.beacons import sart_tests
from seawatch.simulator.fishing_fleets import night_fleets, pair_trawlers
from seawatch.simulator.fleet import cruise_speed
from seawatch.simulator.geometry import random_points_in_polygon, resample
from seawatch.simulator.lanes import Hop
from seawatch.simulator.motion import ANCHORED, MOORED, ST_ANCHORED, ST_FISHING, ST_MOORED, ST_UNDERWAY, TrackBuilder
from seawatch.simulator.voyage import Voyage
from seawatch.simulator.world import World, Zone

# share of the background fleet by plan (typical of a busy port approach with a large small-craft fleet)
MIX = {
    "fishing": 0.40,
    "container": 0.08,
    "cargo": 0.10,
    "bulk": 0.06,
    "tanker": 0.07,
    "small_tanker": 0.06,
    "anchored": 0.14,
    "ferry": 0.04,
    "tug": 0.05,
}
MERCHANT = ("container", "cargo", "bulk", "tanker", "small_tanker")
LANE_ROLE = {"small_tanker": "tanker"}  # small tankers use the tanker lanes
LOCAL_DAY_UTC = (23.0, 11.0)  # 06:00-18:00 at UTC+7: ferries run in daylight
HOUR = 3600.0


def hard_counts(world: World, count: int) -> tuple[dict[str, int], int]:
    """How many of each hard negative (groups) and how many vessels they take out of a background of ``count``:
    the settings, scaled down where they would take more than ``hard_share`` of it."""
    cfg = world.cfg
    want = {
        "crowds": cfg.anchorage_crowds,
        "bunkerings": cfg.bunkerings,
        "pilot_boats": cfg.pilot_boats,
        "pair_trawlers": cfg.pair_trawlers,
        "night_fleets": cfg.night_fleets,
    }
    size = {
        "crowds": sum(cfg.crowd_ships) / 2,
        "bunkerings": 1.0,
        "pilot_boats": 1.0,
        "pair_trawlers": 2.0,
        "night_fleets": sum(cfg.night_fleet_boats) / 2,
    }
    vessels = sum(want[k] * size[k] for k in want)
    scale = min(1.0, cfg.hard_share * count / vessels) if vessels else 1.0
    got = {k: int(np.floor(v * scale + 0.5)) for k, v in want.items()}
    return got, int(round(sum(got[k] * size[k] for k in got)))


def background(world: World, count: int) -> list[Voyage]:
    hard, taken = hard_counts(world, count)
    voyages = ordinary(world, max(0, count - taken))
    crowd = harbour.crowds(world, hard["crowds"])
    merchants = [v for v in voyages if v.vessel.extra.get("plan") in MERCHANT]
    voyages += crowd
    voyages += harbour.bunkerings(world, hard["bunkerings"], crowd, merchants)
    voyages += harbour.pilot_boats(world, hard["pilot_boats"], merchants)
    voyages += pair_trawlers(world, hard["pair_trawlers"])
    voyages += night_fleets(world, hard["night_fleets"])
    voyages += sart_tests(world, [v for v in voyages if v.vessel.extra.get("plan") in (*MERCHANT, "anchored",
                                                                                     "anchorage_crowd")])  # fmt: skip
    return voyages


def ordinary(world: World, count: int) -> list[Voyage]:
    """The usual traffic of the region, by the shares of ``MIX``."""
    plans = list(MIX)
    shares = np.array([MIX[p] for p in plans])
    counts = np.floor(shares * count).astype(int)
    for i in np.argsort(-(shares * count - counts))[: count - counts.sum()]:
        counts[i] += 1
    voyages: list[Voyage] = []
    for plan, n in zip(plans, counts, strict=True):
        for k in range(int(n)):
            rng = world.rng("background", plan, k)
            if plan == "fishing":
                v = fishing(world, rng, k)
            elif plan == "anchored":
                v = anchored(world, rng)
            elif plan in ("ferry", "tug"):
                v = shuttle(world, rng, plan, k)
            else:
                v = merchant(world, rng, plan)
            voyages.append(harbour.plan(v, plan))
    return voyages


CHINESE_PLACES = ("Fangcheng", "Beihai", "Qinzhou", "Yangpu", "Weizhou", "Basuo")


def flag_for(node: str, rng: np.random.Generator) -> str:
    chinese = any(w in node for w in CHINESE_PLACES)
    weights = (0.1, 0.5, 0.4) if chinese else (0.45, 0.1, 0.45)
    return str(rng.choice(["VN", "CN", "FOREIGN"], p=weights))


def destination_for(node: str) -> str:
    """What a ship bound for ``node`` puts in its destination field (UN/LOCODE-like, as crews write it)."""
    for words, dest in (("Fangcheng", "CNFAN"), ("Beihai", "BEIHAI"), ("Cai Lan", "CAI LAN"), ("B12", "CAI LAN B12"),
                        ("Hon Gai", "HON GAI"), ("Ha Long", "HON GAI"), ("Cam Pha", "CAM PHA"),
                        ("Lach Huyen", "VN LACH HUYEN"), ("Cat Ba", "CAT BA"), ("Bach Long Vi", "BACH LONG VI"),
                        ("Weizhou", "WEIZHOU")):  # fmt: skip
        if words in node:
            return dest
    return "VNHPH"


def sail(world: World, b: TrackBuilder, hops: list[Hop], kn: float, side: float, status: int = ST_UNDERWAY) -> None:
    """Follow ``hops``; slow down at the ends and at each stop on the way (pilot, anchorage)."""
    for i, hop in enumerate(hops):
        lat, lon = world.lanes.hop_path(hop, side)
        speed = min(kn, float(world.lanes.speed[hop.lane]))
        b.move(
            lat, lon, speed, status, ramp=(i == 0, i == len(hops) - 1 or world.lanes.place_kind(hop.dst) is not None)
        )


def anchor_spot(world: World, rng: np.random.Generator, node: str) -> tuple[float, float]:
    """A free-looking spot inside the anchorage ``node`` (its radius less a swinging circle)."""
    p = world.pack.places.index(node)
    r = max(0.1, float(world.pack.places.radius_km[p]) - 0.15) * np.sqrt(rng.random())
    ang = rng.uniform(0, 2 * np.pi)
    lat0, lon0 = float(world.pack.places.lat[p]), float(world.pack.places.lon[p])
    return lat0 + r * np.cos(ang) / 111.2, lon0 + r * np.sin(ang) / (111.2 * np.cos(np.radians(lat0)))


def _stop(world: World, b: TrackBuilder, rng: np.random.Generator, node: str, hours: float, kn: float) -> None:
    """Anchor in an anchorage node (moving to a spot in it first), or moor at a berth."""
    if world.lanes.place_kind(node) == "anchorage":
        lat, lon = anchor_spot(world, rng, node)
        b.move(*resample(np.array([b.here[0], lat]), np.array([b.here[1], lon]), 0.2), min(kn, 4.0), ramp=(False, True))
        b.stay(hours * HOUR, ANCHORED, ST_ANCHORED)
    else:
        b.stay(hours * HOUR, MOORED, ST_MOORED)


def merchant(world: World, rng: np.random.Generator, role: str) -> Voyage:
    lanes, lane_role = world.lanes, LANE_ROLE.get(role, role)
    entries = lanes.sea_nodes(lane_role)
    berths = [n for n in lanes.nodes(lane_role) if lanes.place_kind(n) in ("port", "terminal", "anchorage")]
    berth = str(rng.choice(berths))
    ways = [e for e in entries if lanes.route(e, berth, lane_role) is not None]
    entry, leave = str(rng.choice(ways)), str(rng.choice(ways))
    route_in, route_out = lanes.route(entry, berth, lane_role) or [], lanes.route(berth, leave, lane_role) or []
    vessel = replace(world.registry.vessel(role, flag_for(berth, rng)), destination=destination_for(berth))
    kn = cruise_speed(role, rng)
    side = rng.uniform(0.2, 0.9)
    wait = [h.dst for h in route_in[:-1] if lanes.place_kind(h.dst) == "anchorage"]
    wait_h = rng.uniform(2, 10) if wait and rng.random() < 0.5 else 0.0
    berth_h = rng.uniform(6, 22)
    length_km = sum(float(lanes.length[h.lane]) for h in route_in + route_out)
    total = length_km / (kn * 1.852) * HOUR * 1.3 + (wait_h + berth_h) * HOUR
    t0 = rng.uniform(-0.85 * total, world.horizon - 0.3 * HOUR)
    b = TrackBuilder(t0, *lanes.node_position(entry))
    if wait_h:
        cut = [h.dst for h in route_in].index(wait[0]) + 1
        sail(world, b, route_in[:cut], kn, side)
        _stop(world, b, rng, wait[0], wait_h, kn)
        sail(world, b, route_in[cut:], kn, side)
    else:
        sail(world, b, route_in, kn, side)
    berth_at = b.now
    _stop(world, b, rng, berth, berth_h, kn)
    sail(world, b, route_out, kn, side)
    voyage = Voyage(vessel, b.build(), window=(t0, b.now))
    # loading or discharging at the berth changes the draught: in port, so not an alert
    voyage.draughts.append((berth_at + 0.5 * berth_h * HOUR, round(vessel.draught * rng.uniform(0.55, 0.85), 1)))
    return voyage


def anchored(world: World, rng: np.random.Generator) -> Voyage:
    places = world.pack.places
    names = [n for n, k in zip(places.names, places.kinds, strict=True) if k == "anchorage"]
    node = str(rng.choice(names))
    vessel = world.registry.vessel(
        str(rng.choice(["cargo", "bulk", "tanker", "container"], p=[0.4, 0.3, 0.2, 0.1])), flag_for(node, rng)
    )
    b = TrackBuilder(-HOUR, *anchor_spot(world, rng, node))
    b.stay(world.horizon + 2 * HOUR, ANCHORED, ST_ANCHORED)
    return Voyage(vessel, b.build())


def shuttle(world: World, rng: np.random.Generator, role: str, k: int) -> Voyage:
    """A ferry or tug going back and forth on one of its lanes, with a dwell at each end."""
    lanes = world.lanes
    idx = [i for i, t in enumerate(lanes.traffic) if role in t]
    lane = idx[k % len(idx)]
    home, away = lanes.ends[lane]
    local = "CN" if any(w in home for w in CHINESE_PLACES) else "VN"  # harbour craft fly the local flag
    vessel = replace(world.registry.vessel(role, local), destination=destination_for(away) if role == "ferry" else "")
    kn = cruise_speed(role, rng)
    out, back = Hop(lane, True, home, away), Hop(lane, False, away, home)
    b = TrackBuilder(-rng.uniform(0, 2) * HOUR, *lanes.node_position(home))
    while b.now < world.horizon:
        hour = (b.now / HOUR) % 24
        day = hour >= LOCAL_DAY_UTC[0] or hour < LOCAL_DAY_UTC[1]
        if role == "ferry" and not day:
            b.stay(((LOCAL_DAY_UTC[0] - hour) % 24) * HOUR + rng.uniform(0, 1800), MOORED, ST_MOORED)
            continue
        stop_p = world.cfg.ferry_sea_stop_p if role == "ferry" else 0.0
        trip(world, b, rng, out, kn, stop_p)
        b.stay(rng.uniform(0.6, 1.5 if role == "ferry" else 3.0) * HOUR, MOORED, ST_MOORED)
        trip(world, b, rng, back, kn, stop_p)
        b.stay(rng.uniform(0.6, 1.5 if role == "ferry" else 3.0) * HOUR, MOORED, ST_MOORED)
    return Voyage(vessel, b.build())


def trip(world: World, b: TrackBuilder, rng: np.random.Generator, hop: Hop, kn: float, stop_p: float) -> None:
    """One crossing; with probability ``stop_p`` a brief stop at sea on the way (waiting for traffic in the
    channel, a passenger boat alongside): slow down, drift 5-20 min below 1 kn, go on."""
    side = rng.uniform(0.3, 0.9)
    if rng.random() >= stop_p:
        sail(world, b, [hop], kn, side)
        return
    lat, lon = world.lanes.hop_path(hop, side)
    k = int(rng.uniform(0.3, 0.7) * lat.shape[0])
    b.move(lat[: k + 1], lon[: k + 1], min(kn, float(world.lanes.speed[hop.lane])))
    b.drift(rng.uniform(5, 20) * 60, rng.uniform(0.1, 0.6), rng.uniform(0, 360))
    b.move(lat[k:], lon[k:], min(kn, float(world.lanes.speed[hop.lane])))


def trawl(world: World, b: TrackBuilder, rng: np.random.Generator, zone: Zone, until: float, status: int) -> None:
    """Work a fishing ground: trawl legs between random points, some followed by a pause to haul the net."""
    while b.now < until:
        lat, lon = random_points_in_polygon(rng, 1, zone.lat, zone.lon, margin_km=2.0)
        path = resample(np.array([b.here[0], lat[0]]), np.array([b.here[1], lon[0]]), 0.4)
        b.move(*path, rng.uniform(2.5, 4.5), status, slow_kn=2.5)
        if rng.random() < 0.35:
            b.drift(rng.uniform(15, 40) * 60, rng.uniform(0.2, 0.8), rng.uniform(0, 360), status)


def fishing(world: World, rng: np.random.Generator, k: int) -> Voyage:
    grounds = world.zones_of("fishing")
    zone = grounds[int(rng.integers(len(grounds)))]
    vessel = world.registry.vessel("fishing", zone.fleet or "VN")
    b = TrackBuilder(-HOUR, *world.point_in(rng, zone, 2.0))
    trawl(world, b, rng, zone, world.horizon + HOUR, ST_FISHING if vessel.ais_class == "A" else ST_UNDERWAY)
    return Voyage(vessel, b.build())
