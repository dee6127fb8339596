"""Transmitters that are not ships (background, never labelled):

* AIS base stations (type 4, M.1371 message 4: UTC and the surveyed position, every 10 s) at the pack's shore
  stations, MMSI ``00MIDxxxx`` (ITU-R M.585 Annex 1: coast stations), heard by their own receiver while it is up;
* aids to navigation (type 21: safe water marks on the fairways' centre lines), MMSI ``99MIDxxxx`` (M.585 Annex 1),
  reporting every 3 min;
* AIS-SART self-tests aboard ships at berth or at anchor: MMSI ``970xxyyyy``, a handful of position reports with
  nav status 15 over a few minutes and a type 14 ``SART TEST`` text (ITU-R M.1371 Annex 9: test mode; IEC
  61097-14), which is not a distress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seawatch.simulator.fleet import Vessel
from seawatch.simulator.harbour import plan
from seawatch.simulator.motion import ANCHORED, MOORED, ST_UNDEFINED, TrackBuilder
from seawatch.simulator.voyage import Voyage
from seawatch.simulator.world import World

HOUR = 3600.0
MID = {"VN": 574, "CN": 412}
SAFE_WATER = 29  # M.1371 Table 74: aid type "safe water" (a fairway's centre line)
SART_TEST_MIN = (3.0, 6.0)  # test mode: a few minutes of reports, then the unit switches itself off
SART_TEST_TEXT = "SART TEST"
CHINESE = ("WEIZHOU", "FANGCHENG", "BEIHAI", "QINZHOU", "YANGPU", "BASUO")


@dataclass(frozen=True)
class Beacon:
    kind: str  # "base_station" or "aton"
    mmsi: int
    name: str
    lat: float
    lon: float
    flag: str
    station: int = -1  # base stations: the index of the receiving station they stand at

    def aton_fields(self, unix: int) -> dict[str, Any]:
        return {
            "type": 21, "mmsi": self.mmsi, "aid_type": SAFE_WATER, "name": self.name, "accuracy": 1,
            "lon": self.lon, "lat": self.lat, "to_bow": 1, "to_stern": 1, "to_port": 1, "to_starboard": 1,
            "epfd": 1, "second": unix % 60, "off_position": 0, "raim": 0, "virtual_aid": 0, "assigned": 0,
        }  # fmt: skip


def _flag(name: str) -> str:
    return "CN" if any(w in name.upper() for w in CHINESE) else "VN"


def beacons(world: World) -> list[Beacon]:
    """The region's base stations (one at each shore station, when enabled) and ``aids_to_navigation`` AtoN."""
    cfg, st, lanes = world.cfg, world.pack.stations, world.lanes
    rng = world.rng("beacons")
    out: list[Beacon] = []
    if cfg.base_station_interval_s > 0:
        for s, sid in enumerate(st.ids):
            flag = _flag(sid)
            mmsi = MID[flag] * 10_000 + 1 + s  # 00MIDxxxx: leading zeros, so MID * 10^4 + xxxx
            lat, lon = float(st.lat[s]), float(st.lon[s])
            out.append(Beacon("base_station", mmsi, f"{sid} AIS BASE"[:20], lat, lon, flag, s))
    fairways = [i for i, t in enumerate(lanes.traffic) if "tug" in t or "ferry" in t]
    for k in range(cfg.aids_to_navigation if fairways else 0):
        lane = fairways[k % len(fairways)]
        dlat, dlon = lanes.dense[lane]
        f = (k // len(fairways) + rng.uniform(0.3, 0.7)) / (cfg.aids_to_navigation // len(fairways) + 1)
        i = min(dlat.shape[0] - 1, int(f * dlat.shape[0]))
        flag = _flag(" ".join(lanes.ends[lane]))
        mmsi = 990_000_000 + MID[flag] * 10_000 + 1 + k
        name = f"{'BEIBU' if flag == 'CN' else 'HAI PHONG'} FAIRWAY {k + 1}"
        out.append(Beacon("aton", mmsi, name, float(dlat[i]), float(dlon[i]), flag))
    return out


def base_station_times(world: World, beacon: Beacon, rng: np.random.Generator) -> np.ndarray:
    """When a base station's own receiver logs its type 4 (M.1371 every 10 s, thinned like the positions), not
    during the station's outages."""
    dt = max(world.cfg.base_station_interval_s, world.cfg.min_interval_s)
    t = np.arange(rng.uniform(0, dt), world.horizon, dt)
    for s, a, b in world.coverage.outages:
        if s == beacon.station:
            t = t[(t < a) | (t >= b)]
    return t


Row = tuple[float, float, float, bool, dict[str, Any]]


def aton_rows(world: World, items: list[Beacon], rng: np.random.Generator) -> list[Row]:
    """(t, lat, lon, class B, fields) of every AtoN report (heard or not: reception decides)."""
    rows = []
    for bc in items:
        if bc.kind != "aton":
            continue
        for t in np.arange(rng.uniform(0, world.cfg.aton_interval_s), world.horizon, world.cfg.aton_interval_s):
            rows.append((float(t), bc.lat, bc.lon, False, bc.aton_fields(int(np.floor(world.cfg.epoch + t)))))
    return rows


def sart_tests(world: World, hosts: list[Voyage]) -> list[Voyage]:
    """``sart_tests_per_day`` self-tests, each aboard a ship lying at anchor or at her berth at the time."""
    rng = world.rng("sart-test")
    n = int(np.floor(world.cfg.sart_tests_per_day * world.horizon / (24 * HOUR) + rng.random()))
    out: list[Voyage] = []
    still = [(v, a, b) for v in hosts for a, b, mode, _ in v.track.legs if mode in (ANCHORED, MOORED)]
    still = [(v, max(a, 0.0), min(b, world.horizon)) for v, a, b in still if min(b, world.horizon) - max(a, 0) > HOUR]
    for _ in range(n if still else 0):
        host, a, b = still[int(rng.integers(len(still)))]
        length = rng.uniform(*SART_TEST_MIN) * 60.0
        ts = float(rng.uniform(a, b - length))
        lat, lon = host.track.at(ts)
        mmsi = 970_000_000 + int(rng.integers(10, 99)) * 10_000 + int(rng.integers(0, 10_000))
        if mmsi in world.registry.used_mmsi:
            continue
        world.registry.used_mmsi.add(mmsi)
        v = Vessel(mmsi, SART_TEST_TEXT, "", 0, 0, "A", 0, 0, 0.0, "sart", host.vessel.flag)
        v.extra["host"] = host.vessel.mmsi
        host.vessel.extra["served"] = True
        track = TrackBuilder(ts, lat, lon).drift(length, 0.05, rng.uniform(0, 360), ST_UNDEFINED).build()
        texts = [(ts + 2.0, SART_TEST_TEXT)]
        out.append(plan(Voyage(v, track, window=(ts, ts + length), texts=texts, msg_type=1), "sart_test"))
    return out
