"""Geography detectors: positions well inland, entering restricted or watched zones, out-of-pattern border crossings.

Each walks each vessel's fixes in time order with state per vessel id (stream = batch), reports an episode as soon
as its evidence is complete and re-reports it with the same start and a later end while it goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_H, grow, haversine_km
from engine.detectors.episodes import fmt_h, latest_per_episode
from engine.fixes import NO_TIME
from engine.geo.land import INLAND_SUSPICIOUS_KM, LandIndex
from engine.geo.region_pack import RegionPack, Shapes
from engine.geo.shapes import Polygons
from engine.runner import Step
from feeds.jit import kernel

OUTSIDE = -1


@kernel
def runs_kernel(vid, t_us, key, rejoin_us, min_fixes, run_t, run_k, out_start, out_n, silence_goes_on, seen_out):
    """Episodes of fixes with the same ``key`` >= 0 (a zone, or 0 for "inland"); fixes with key -1 are outside,
    NaN positions have key -2 and are ignored. An episode goes on while the vessel is back in the same key within
    ``rejoin_us`` of its last fix there; with ``silence_goes_on``, also after any silence in which it was not heard
    outside (nobody saw it leave). run_t[v] = (start, last fix in); run_k[v] = (key, fixes); seen_out[v]: a fix
    outside came since its last one in."""
    for i in range(vid.shape[0]):
        out_start[i] = NO_TIME
        out_n[i] = 0
        k = key[i]
        v = vid[i]
        if k < 0:
            if k == -1:
                seen_out[v] = 1
            continue
        t = t_us[i]
        away = t - run_t[v, 1] > rejoin_us and (seen_out[v] == 1 or not silence_goes_on)
        seen_out[v] = 0
        if run_t[v, 0] == NO_TIME or run_k[v, 0] != k or away:
            run_t[v, 0] = t
            run_k[v, 0] = k
            run_k[v, 1] = 0
        run_t[v, 1] = t
        run_k[v, 1] += 1
        if run_k[v, 1] >= min_fixes:
            out_start[i] = run_t[v, 0]
            out_n[i] = run_k[v, 1]


class _Runs:
    """State and step of :func:`runs_kernel`; subclasses give each fix its key and word the alerts."""

    name = ""
    rejoin_s = 0.0
    min_fixes = 1
    silence_goes_on = False  # an episode goes on after a silence in which the vessel was not heard outside

    def __init__(self) -> None:
        self.run_t = np.zeros((0, 2), np.int64)
        self.run_k = np.zeros((0, 2), np.int64)
        self.seen_out = np.zeros(0, np.int64)

    def _runs(self, step: Step, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.run_t = grow(self.run_t, step.fleet.size, NO_TIME)
        self.run_k = grow(self.run_k, step.fleet.size, OUTSIDE)
        self.seen_out = grow(self.seen_out, step.fleet.size, 0)
        f = step.fixes
        start, count = np.empty(len(f), np.int64), np.empty(len(f), np.int64)
        runs_kernel(f.vid, f.t_us, key.astype(np.int64, copy=False), int(self.rejoin_s * 1e6), self.min_fixes,
                    self.run_t, self.run_k, start, count, self.silence_goes_on, self.seen_out)  # fmt: skip
        return latest_per_episode(f.vid, start), start, count

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"run_t": self.run_t.copy(), "run_k": self.run_k.copy(), "seen_out": self.seen_out.copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.run_t, self.run_k = arrays["run_t"].copy(), arrays["run_k"].copy()
        # an older snapshot: whether a vessel was heard outside since is not known; it was, if it left at all
        self.seen_out = arrays["seen_out"].copy() if "seen_out" in arrays else np.ones(len(self.run_t), np.int64)


def _keys(lat: np.ndarray, lon: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """-2 without a position, the zone index (or 0) inside, -1 outside."""
    key = np.where(inside >= 0, inside, OUTSIDE)
    unplaced = np.isnan(lat) | np.isnan(lon)
    if unplaced.any():  # rarely: most fixes have a position
        key[unplaced] = -2
    return key


@dataclass(frozen=True)
class LandSettings:
    inland_km: float = INLAND_SUSPICIOUS_KM  # >= 2 km inland: coast-line error and harbours excluded (GFW practice)
    min_fixes: int = 2  # one stray fix inland is a receiver glitch more often than a spoofed position
    rejoin_min: float = 30.0  # back inland within this long: the same episode
    # The land mask counts lakes and rivers as land, and ships sail them (the Great Lakes, the Mississippi, the
    # Red River): a run inland is suspicious only when the vessel could not have sailed there, i.e. its first
    # inland fix lies further from the vessel's last fix at sea than this speed allows (as a spoofed fix does).
    # A vessel never seen at sea is on inland water and not flagged.
    arrive_max_kn: float = 50.0  # the impossible-speed bound of DESIGN.md (GFW segmenter)


@kernel
def _arrived_by_jump(vid, t_us, lat, lon, coast, deep, max_kn, sea, state, out):
    """For each fix (sorted by vessel, time): does the vessel's current inland run start with a jump from its
    last fix at sea that no ship could sail? ``sea`` and ``state`` carry the last sea fix and the run's verdict."""
    for i in range(vid.shape[0]):
        v = vid[i]
        t = t_us[i] / 1e6
        if np.isnan(lat[i]) or np.isnan(lon[i]) or np.isnan(coast[i]):
            out[i] = False
            continue
        if coast[i] >= 0.0:  # at sea (or on the coast line): a new inland run will be judged afresh
            sea[v, 0] = t
            sea[v, 1] = lat[i]
            sea[v, 2] = lon[i]
            state[v] = False
            out[i] = False
            continue
        if deep[i] and not state[v] and not np.isnan(sea[v, 0]):
            dt_h = max(t - sea[v, 0], 1.0) / 3600.0
            km = haversine_km(sea[v, 1], sea[v, 2], lat[i], lon[i])
            state[v] = km / KM_PER_NM / dt_h > max_kn
        out[i] = state[v]


class LandPosition(_Runs):
    name = "land_position"

    def __init__(self, land: LandIndex, settings: LandSettings | None = None) -> None:
        super().__init__()
        self.land = land
        self.settings = settings or LandSettings()
        self.min_fixes, self.rejoin_s = self.settings.min_fixes, self.settings.rejoin_min * 60
        self.sea = np.full((0, 3), np.nan)  # per vessel: time (s), lat, lon of its last fix at sea
        self.jumped = np.zeros(0, np.bool_)  # per vessel: its current inland run began with an impossible jump

    def snapshot(self) -> dict[str, np.ndarray]:
        return {**super().snapshot(), "sea": self.sea.copy(), "jumped": self.jumped.copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        super().restore(arrays)
        self.sea, self.jumped = arrays["sea"].copy(), arrays["jumped"].copy()

    def process(self, step: Step) -> list[pl.DataFrame]:
        f = step.fixes
        coast = f.coast_km(self.land)
        size = step.fleet.size
        self.sea = grow(self.sea, size, np.nan)
        self.jumped = grow(self.jumped, size, False)
        with np.errstate(invalid="ignore"):
            deep = coast <= -self.settings.inland_km
        jumped = np.empty(len(f), np.bool_)
        _arrived_by_jump(f.vid, f.t_us, f.lat, f.lon, coast, deep, self.settings.arrive_max_kn, self.sea,
                         self.jumped, jumped)  # fmt: skip
        inland = np.where(deep & jumped, 0, OUTSIDE)
        rows, start, count = self._runs(step, _keys(f.lat, f.lon, inland))
        if rows.size == 0:
            return []
        reasons = [[f"{int(n)} positions {-km:.0f} km inland over {fmt_h((t - s) / US_PER_H)}"]
                   for n, km, t, s in zip(count[rows].tolist(), coast[rows].tolist(), f.t_us[rows].tolist(),
                                          start[rows].tolist(), strict=True)]  # fmt: skip
        score = np.clip(50 + 5 * count[rows], 50, 90).astype(np.float64)
        return [AlertRows(self.name, f.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows], f.t_us[rows],
                          f.lat[rows], f.lon[rows], score, reasons).frame()]  # fmt: skip


@dataclass(frozen=True)
class ZoneSettings:
    kinds: tuple[str, ...] = ("restricted", "watch")  # zone kinds that alert on entry (coast guard practice)
    # out and back in within this long is one visit: a vessel working along a zone's edge (a fishing boat, a
    # ship at anchor swinging across it) goes in and out for hours, and an analyst wants one alert a visit
    rejoin_min: float = 60.0


class ZoneEntry(_Runs):
    """One alert per vessel per visit (entry to exit, updated while it lasts). A visit ends when the vessel has
    been heard out of the zone and stayed out for ``rejoin_min``; a silence inside (patchy reception offshore) does
    not end it, as nobody saw it leave. A vessel already inside when it is first heard is "inside", not "entered"
    (the data began there: nobody saw it enter)."""

    name = "zone_entry"
    min_fixes = 1
    silence_goes_on = True

    def __init__(self, zones: RegionPack | Polygons, names: tuple[str, ...] = (),
                 kinds: tuple[str, ...] = (), settings: ZoneSettings | None = None) -> None:  # fmt: skip
        """Zones from a pack (those of ``settings.kinds``), or any polygons with their names and kinds."""
        super().__init__()
        self.settings = settings or ZoneSettings()
        self.rejoin_s = self.settings.rejoin_min * 60
        if isinstance(zones, RegionPack):
            keep = [i for i in range(len(zones.zones)) if zones.zones.kinds[i] in self.settings.kinds]
            self.polygons = _polygons(zones.zones, keep)
            self.names = tuple(zones.zones.names[i] for i in keep)
            self.kinds = tuple(str(zones.zones.kinds[i]) for i in keep)
        else:
            self.polygons, self.names = zones, names or tuple(f"zone {i}" for i in range(len(zones)))
            self.kinds = kinds or ("restricted",) * len(zones)
        self.first_us = np.zeros(0, np.int64)  # per vessel: the time it was first heard (NO_TIME: not yet)

    def snapshot(self) -> dict[str, np.ndarray]:
        return {**super().snapshot(), "first_us": self.first_us.copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        super().restore(arrays)
        # a snapshot from before first_us: its vessels were heard before, when is not known (-1 is no fix's time)
        self.first_us = arrays["first_us"].copy() if "first_us" in arrays else np.full(len(self.run_t), -1)

    def replace_zones(self, zones: RegionPack) -> None:
        """Watch ``zones`` from now on (zones edited while the stream runs); a vessel inside a zone that keeps
        its index goes on in its run, others start afresh."""
        fresh = ZoneEntry(zones, settings=self.settings)
        self.polygons, self.names, self.kinds = fresh.polygons, fresh.names, fresh.kinds

    def process(self, step: Step) -> list[pl.DataFrame]:
        f = step.fixes
        self.first_us = grow(self.first_us, step.fleet.size, NO_TIME)
        placed = ~(np.isnan(f.lat) | np.isnan(f.lon))
        vids, first = np.unique(f.vid[placed], return_index=True)  # rows are sorted by vessel, then time
        new = self.first_us[vids] == NO_TIME
        self.first_us[vids[new]] = f.t_us[placed][first[new]]
        which = self.polygons.which(f.lat, f.lon) if len(self.polygons) else np.full(len(f), OUTSIDE)
        rows, start, count = self._runs(step, _keys(f.lat, f.lon, which))
        if rows.size == 0:
            return []
        began = (start[rows] == self.first_us[f.vid[rows]]).tolist()
        reasons = [[f"{'inside' if b else 'entered'} {self.kinds[z]} zone {self.names[z]}"
                    f"{' when first heard (its data begins there)' if b else ''}",
                    f"inside {fmt_h((t - s) / US_PER_H)} ({int(n)} positions)"]
                   for z, n, t, s, b in zip(which[rows].tolist(), count[rows].tolist(), f.t_us[rows].tolist(),
                                            start[rows].tolist(), began, strict=True)]  # fmt: skip
        score = np.array([70.0 if self.kinds[z] == "restricted" else 40.0 for z in which[rows].tolist()])
        return [AlertRows(self.name, f.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows], f.t_us[rows],
                          f.lat[rows], f.lon[rows], score, reasons).frame()]  # fmt: skip


def _polygons(shapes: Shapes, keep: list[int]) -> Polygons:
    rings = [[np.column_stack(shapes.part(i)[::-1]).tolist()] for i in keep]
    return Polygons.from_rings(rings, [shapes.names[i] for i in keep])
