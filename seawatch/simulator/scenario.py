"""A whole labelled scenario: background traffic plus every alert kind of DESIGN.md injected a few times a day,
heard through the reception model, written as a feed with its ground truth.

Outputs (:meth:`Scenario.write`): ``feed.nmea`` (time-ordered NMEA 4.10 tag blocks ``\\s:STATION,c:UNIX*hh\\``),
``labels.csv`` (label_id, kind, mmsi, other_mmsi, start, end, lat, lon, detail), ``vessels.csv`` (mmsi, role
background/injected, type, class, name, ...), ``zones.geojson`` (the zones and boundaries of the region pack) and
``outages.csv`` (station outages: silence that is not dark activity). The same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.alerts import ALERT_KINDS
from engine.geo.regions import RegionPack, load_pack
from seawatch.simulator import behaviours as be
from seawatch.simulator import deception as de
from seawatch.simulator.beacons import Beacon, beacons
from seawatch.simulator.config import SimConfig
from seawatch.simulator.feed import render
from seawatch.simulator.traffic import MIX, background
from seawatch.simulator.voyage import Label, Voyage, concat, emit
from seawatch.simulator.world import World

KINDS = ALERT_KINDS  # every alert kind of DESIGN.md, in its order
Recipe = Callable[[World, np.random.Generator, int], be.Injected]
RECIPES: dict[str, Recipe] = {
    "ais_gap": be.gap,
    "encounter": be.encounter,
    "loitering": be.loitering,
    "spoofing": de.spoofing,
    "land_position": de.land_position,
    "identity_change": de.identity_change,
    "invalid_identity": de.invalid_identity,
    "zone_entry": be.zone_entry,
    "border_crossing": be.border_crossing,
    "distress": be.distress,
}


def actors(rounds: int) -> int:
    """Vessels the injections add: one per kind and round, two for an encounter, none for the draught changes
    that follow a transfer, plus a lone draught change every other round."""
    return (len(KINDS) - 1) * rounds + rounds + (rounds + 1) // 2


@dataclass
class Scenario:
    cfg: SimConfig
    pack: RegionPack
    world: World
    voyages: list[Voyage]
    labels: list[Label]
    feed: bytes
    types: Counter[int]
    beacons: list[Beacon]

    def iso(self, t: float) -> str:
        return datetime.fromtimestamp(self.cfg.epoch + t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def active_hours(self, v: Voyage) -> float:
        """Hours the voyage's transmitter is on within the scenario (false alerts are counted per such hour)."""
        a = max(0.0, v.window[0], v.track.start)
        b = min(self.cfg.seconds, v.window[1], v.track.end)
        dark = sum(max(0.0, min(b, y) - max(a, x)) for x, y in v.dark)
        return max(0.0, b - a - dark) / 3600.0

    def write(self, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            name: out / name for name in ("feed.nmea", "labels.csv", "vessels.csv", "zones.geojson", "outages.csv")
        }
        paths["feed.nmea"].write_bytes(self.feed)
        with paths["labels.csv"].open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["label_id", "kind", "mmsi", "other_mmsi", "start", "end", "lat", "lon", "detail"])
            for i, lb in enumerate(self.labels, start=1):
                w.writerow(
                    [
                        f"L{i:04d}",
                        lb.kind,
                        lb.mmsi,
                        "" if lb.other_mmsi is None else lb.other_mmsi,
                        self.iso(lb.start),
                        self.iso(lb.end),
                        f"{lb.lat:.5f}",
                        f"{lb.lon:.5f}",
                        lb.detail,
                    ]
                )
        with paths["vessels.csv"].open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(
                [
                    "mmsi", "role", "type", "class", "name", "ship_type", "flag", "callsign", "imo", "length", "plan",
                    "active_hours",
                ]
            )  # fmt: skip
            seen = set()
            for v in self.voyages:
                for ident in [v.vessel, *(x[1] for x in v.identities)]:
                    row = (
                        ident.mmsi,
                        "injected" if ident.injected else "background",
                        ident.role,
                        ident.ais_class,
                        ident.name,
                        ident.ship_type,
                        ident.flag,
                        ident.callsign,
                        ident.imo or "",
                        ident.length,
                        "injected" if ident.injected else v.vessel.extra.get("plan", ident.role),
                        f"{self.active_hours(v):.2f}",
                    )
                    if row not in seen:
                        seen.add(row)
                        w.writerow(row)
            for bc in self.beacons:  # transmitters that are not ships: background, listed so alerts on them count
                # not vessels: they add no vessel-hours to a false-alert rate, but an alert on one counts as false
                w.writerow([bc.mmsi, "background", bc.kind, "", bc.name, "", bc.flag, "", "", "", bc.kind, "0.00"])
        zones = self.pack.feature_collection("zone", "boundary")
        paths["zones.geojson"].write_text(json.dumps(zones, ensure_ascii=False, indent=1) + "\n", "utf-8")
        with paths["outages.csv"].open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["station", "start", "end"])
            for s, a, b in self.world.coverage.outages:
                w.writerow([self.world.coverage.ids[s], self.iso(max(a, 0.0)), self.iso(min(b, self.cfg.seconds))])
        return paths


def rounds(cfg: SimConfig) -> int:
    """How many times each alert kind is injected: ``injections_per_day`` per day, at least once."""
    return max(1, int(round(cfg.injections_per_day * cfg.hours / 24.0)))


def simulate(cfg: SimConfig, pack: RegionPack | None = None) -> Scenario:
    pack = pack or load_pack(cfg.region)
    world = World(cfg, pack)
    n = rounds(cfg)
    bg = background(world, max(0, cfg.vessels - actors(n)))
    # a hard negative's MMSI (or that of a ship a barge, a pilot or a SART test is aboard) is never cloned
    ordinary = [v for v in bg if v.vessel.extra.get("plan") in MIX and not v.vessel.extra.get("served")]
    voyages: list[Voyage] = []
    labels: list[Label] = []
    for kind in KINDS:
        for k in range(n):
            rng = world.rng("inject", kind, k)
            if kind == "identity_conflict":
                got = de.identity_conflict(world, rng, k, ordinary)
            elif kind == "draught_change":  # every transfer has one already; a few happen with no AIS partner
                if k % 2:
                    continue
                got = be.draught_change(world, rng, k)
            else:
                got = RECIPES[kind](world, rng, k)
            voyages += got[0]
            labels += got[1]
    voyages = bg + voyages
    emitted = concat([emit(v, cfg, world.rng("emit", i)) for i, v in enumerate(voyages)])
    shore = beacons(world)
    feed, types = render(world, emitted, shore)
    labels.sort(key=lambda lb: (lb.start, KINDS.index(lb.kind), lb.mmsi))
    return Scenario(cfg, pack, world, voyages, labels, feed, types, shore)
