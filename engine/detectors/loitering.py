"""``loitering``: slow for hours at sea, far from shore and from ports and anchorages (GFW loitering), alone.

A vessel's slow spell is a run of slow steps between its fixes (:func:`loitering_kernel`); it becomes an episode
once it has lasted ``min_hours``. Fishing boats, above all at night, drift and work in company (light fishing,
gill nets): a fleet drifting together is fishing, not loitering. GFW computes loitering for carriers; what a patrol
wants is the lone vessel waiting at sea. So the spell's company is measured as it goes: at each slow offshore fix,
the other vessels heard within ``company_km`` in the ``company_window_min`` up to it, slow or working at fishing
speed
(:func:`company_counts`, a grid hash over space and time, never all pairs). When the spell qualifies, a vessel
of a working type that spent most of it with at least ``company_min`` slow working vessels around is judged
a fleet at work: that episode never alerts. Every other spell alerts, with its company in the reasons.

Stream = batch: a fix's company counts only fixes up to its own time, all of which have arrived when it is
processed (they are before the watermark); the slow fixes of the last ``company_window_min`` before the watermark
are kept between steps. The verdict is taken once, at the fix that completes ``min_hours``, and kept with the
episode, so no alert is ever withdrawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import EARTH_RADIUS_KM, KM_PER_NM, US_PER_H, NearPlaces, grow, haversine_km
from engine.detectors.episodes import WORKING_TYPES, fmt_h, latest_per_episode, ship_type_at
from engine.detectors.pairs import KM_PER_DEG, MAX_LAT_FOR_LON
from engine.fixes import NO_TIME, Fixes
from engine.geo.land import LandIndex
from engine.geo.region_pack import Places
from engine.runner import FINAL_WATERMARK, Step
from feeds.jit import kernel

NOISE_KM = 0.5  # position noise: two fixes this close at the same time are the same place
UNDECIDED, ALONE, FLEET = 0.0, 1.0, 2.0  # a spell's verdict (run_f column VERDICT)
# run_f / out_f columns: start point, km travelled, fixes, then the company evidence of the spell until it qualified
LAT, LON, KM, FIXES, COMPANY_S, JUDGED_S, VERDICT, MAX_ANY, MAX_WORK = range(9)
RUN_COLS = 9
# prev_f columns: the last positioned fix's lat, lon, sog, eligible, and its company (any type, working types)
PREV_COLS = 6
COMPANIONS = 8  # companions remembered per vessel: a fleet of 4-6 boats and a few passing by


@dataclass(frozen=True)
class LoiteringSettings:
    max_speed_kn: float = 2.0  # < 2 kn ... (DESIGN.md, GFW loitering)
    min_hours: float = 2.0  # ... for >= 2 h (GFW loitering)
    min_shore_nm: float = 20.0  # >= 20 nm from shore for open-sea loitering (GFW loitering)
    port_km: float = 3.0  # within 3 km of a port or anchorage is a port visit, not loitering (GFW anchorages)
    # Between two fixes the vessel counts as slow when it reported < 2 kn at either and its average speed
    # over the step is < 2 kn (GFW measures loitering on the speed between consecutive positions). Offshore,
    # satellite passes come every ~100 min: a silence of two missed passes still bounds the average speed; a
    # longer one says too little about what happened in it.
    max_silence_h: float = 4.0
    min_positions: int = 3  # one long step between two positions says nothing of what happened in it
    # Company. Boats of a fleet drifting at night keep a few hundred metres apart (light boats space out so their
    # lights do not compete, gill nets need room to drift); 2 km takes the whole fleet and its GNSS noise and
    # still no vessel that merely passes on a lane.
    company_km: float = 2.0
    # Three boats working together are a fleet; a single companion is a pair, the encounter detector's business
    # (a transfer is two vessels), and a lone smuggler meeting one other must still be seen.
    company_min: int = 2
    company_share: float = 0.5  # "most of" the spell until it qualified: more than half of its time in company
    # Others heard at most this long before a fix count as around it: offshore a satellite pass hears a fleet over
    # its 10-15 min of view (one pass every ~100 min); drifting < 1 kn together, 30 min moves boats of one fleet
    # a few hundred metres relative to each other at most.
    company_window_min: float = 30.0
    # A companion sighted beside it at the last satellite pass (one every ~100 min) is still beside it: a fleet
    # heard only from space is seen together once a pass, each boat in some passes and not others.
    company_memory_h: float = 2.0
    # ITU-R M.1371 types 30-59 are craft whose work keeps them slow at sea beside others: fishing fleets (30),
    # tows and their tugs (31, 32, 52), dredgers and dive support with their tenders (33, 34), naval exercises
    # (35), sailing and pleasure flotillas (36, 37), SAR, pollution response and law enforcement on a scene
    # (51, 54, 55). Merchant ships, tankers (a fuel smuggler's) and unknown types never work in a fleet.
    company_types: tuple[int, int] = WORKING_TYPES
    # A fleet's boats do not all drift at once: some still haul or trawl around the ones that stopped (trawling
    # 2.5-5 kn, FAO fishing-gear notes). A working vessel heard below this speed is company too; transit is faster.
    company_fishing_kn: float = 6.0


@kernel
def _cell_of(lat, lon, cell_deg, n_lon):
    ci = np.int64(np.floor((lat + 90.0) / cell_deg))
    x = lon - 360.0 * np.floor((lon + 180.0) / 360.0)  # into [-180, 180)
    cj = np.int64(np.floor((x + 180.0) / (360.0 / n_lon))) % n_lon
    return ci, cj


@kernel
def _company_keys(p_t, p_lat, p_lon, window_us, cell_deg, n_lat, n_lon):
    key = np.empty(p_t.shape[0], np.int64)
    for k in range(p_t.shape[0]):
        ci, cj = _cell_of(p_lat[k], p_lon[k], cell_deg, n_lon)
        key[k] = (p_t[k] // window_us) * (n_lat * n_lon) + ci * n_lon + cj
    return key


@kernel
def _runs(skey, svid, t):
    """Over the fixes sorted by (key, vessel, index): where each run of one vessel in one key ends, and whether its
    times rise in that order (a vessel's fixes come in time order within a step, and later steps are later)."""
    n = skey.shape[0]
    end = np.empty(n, np.int64)
    rising = np.empty(n, np.bool_)
    for r in range(n - 1, -1, -1):
        if r == n - 1 or skey[r + 1] != skey[r] or svid[r + 1] != svid[r]:
            end[r] = r + 1
            rising[r] = True
        else:
            end[r] = end[r + 1]
            rising[r] = rising[r + 1] and t[r] <= t[r + 1]
    return end, rising


@kernel
def _surely_beyond(lat1, lon1, cos1, lat2, lon2, cos2, reach_km):
    """True when two points are certainly more than ``reach_km`` apart on the great circle, from two lower bounds
    that need no trigonometry: the distance along the meridian, and along the parallel at the latitude nearer a
    pole (sin x >= x - x^3/6 and asin y >= y). Most fixes of the cells around a fix are kilometres from it."""
    if abs(lat2 - lat1) * KM_PER_DEG > reach_km:
        return True
    dlon = abs(lon2 - lon1)
    dlon = dlon - 360.0 * np.floor(dlon / 360.0)
    x = np.radians(min(dlon, 360.0 - dlon)) / 2.0  # half the longitude apart, in [0, pi / 2]
    return 2.0 * EARTH_RADIUS_KM * min(cos1, cos2) * x * (1.0 - x * x / 6.0) > reach_km


@kernel
def _last_in_reach(q, r, e, rising, sidx, st, slat, slon, scos, tq, latq, lonq, cosq, window_us, max_km):
    """The last fix (in index order) of the run ``sidx[r:e]`` (one vessel, one key; its times, positions and
    cosines of latitude in ``st``, ``slat``, ``slon``, ``scos``) before fix ``q`` by (time, index), at most
    ``window_us`` before it and ``max_km`` from it; -1 when none."""
    reach_km = max_km * (1.0 + 1e-6)  # the bounds' margin over the haversine's rounding (~1e-12 km)
    k = e - 1
    if rising:  # skip the fixes after q's time at once
        a, b = r, e
        while a < b:
            mid = (a + b) // 2
            if st[mid] <= tq:
                a = mid + 1
            else:
                b = mid
        k = a - 1
    while k >= r:
        j = k
        k -= 1
        if st[j] < tq - window_us:
            if rising:
                break
            continue
        if st[j] > tq or (st[j] == tq and sidx[j] >= q):
            continue
        if _surely_beyond(latq, lonq, cosq, slat[j], slon[j], scos[j], reach_km):
            continue
        if haversine_km(latq, lonq, slat[j], slon[j]) <= max_km:
            return sidx[j]
    return -1


@kernel
def _close_pairs(first, vid, t, lat, lon, skey, sidx, window_us, max_km, cell_deg, n_lat, n_lon, n_vessels, out):
    lon_cell = 360.0 / n_lon
    svid, st, slat, slon = vid[sidx], t[sidx], lat[sidx], lon[sidx]  # in the scan's order: read in runs
    end, rising = _runs(skey, svid, st)
    cos_lat = np.maximum(np.cos(np.radians(lat)), 0.0)
    scos = cos_lat[sidx]
    seen = np.full(n_vessels, -1, np.int64)  # seen[u] == q: vessel u is paired with q, in row at[u] of out
    at = np.zeros(n_vessels, np.int64)
    # where each of the 18 key ranges of the last fix began: the next fix (same vessel, moments later) mostly
    # scans the same ones
    last_lo = np.full(18, -1, np.int64)
    last_r = np.zeros(18, np.int64)
    count = 0
    for q in range(first, vid.shape[0]):
        ci, cj = _cell_of(lat[q], lon[q], cell_deg, n_lon)
        half = cell_deg / np.cos(np.radians(min(abs(lat[q]) + cell_deg, MAX_LAT_FOR_LON)))  # degrees east-west
        x = lon[q] - 360.0 * np.floor((lon[q] + 180.0) / 360.0)
        j_lo = np.int64(np.floor((x + 180.0 - half) / lon_cell))
        j_hi = np.int64(np.floor((x + 180.0 + half) / lon_cell))
        if j_hi - j_lo + 1 >= n_lon:
            j_lo, j_hi = np.int64(0), np.int64(n_lon - 1)
        b = t[q] // window_us
        slot = -1
        for bb in range(b - 1, b + 1):  # the window [t - window, t] lies in this bucket and the one before
            for di in range(-1, 2):
                base = bb * (n_lat * n_lon) + (ci + di) * n_lon
                # a row's cells in the window: one run of keys, two where the window wraps at the antimeridian
                runs = ((base + max(j_lo, 0), base + min(j_hi, n_lon - 1)),
                        (base + j_lo + n_lon, base + n_lon - 1 if j_lo < 0 else base + j_lo + n_lon - 1),
                        (base, base + j_hi - n_lon))  # fmt: skip
                for lo, hi in runs:
                    slot += 1
                    if lo > hi:
                        continue
                    if last_lo[slot] != lo:
                        last_lo[slot] = lo
                        last_r[slot] = np.searchsorted(skey, lo)
                    r = last_r[slot]
                    while r < skey.shape[0] and skey[r] <= hi:
                        u = svid[r]
                        e = end[r]
                        p = -1
                        outside = rising[r] and (st[e - 1] < t[q] - window_us or st[r] > t[q])  # all before or after
                        if u != vid[q] and not outside:
                            p = _last_in_reach(q, r, e, rising[r], sidx, st, slat, slon, scos, t[q], lat[q], lon[q],
                                               cos_lat[q], window_us, max_km)  # fmt: skip
                        r = e
                        if p < 0:
                            continue
                        # one pair per other vessel: the last of its fixes in reach in this scan's order
                        if seen[u] != q:
                            seen[u] = q
                            at[u] = count
                            count += 1
                        if at[u] < out.shape[0]:
                            out[at[u], 0] = p
                            out[at[u], 1] = q
    return count


def close_pairs_in_time(vid: np.ndarray, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, first: int,
                        window_us: int, max_km: float) -> np.ndarray:  # fmt: skip
    """For each fix q >= ``first`` and each other vessel with fixes at most ``max_km`` and at most ``window_us``
    from q, before it by (time, index): one pair (p, q), p the last of those fixes in the grid scan's order (time
    bucket, cell row, cell, index), in q's order. A company needs only who was there, and the latest-scanned fix
    says what the other was (its working type), as the fix-by-fix pairs once did when folded in that order: dense
    fleets reporting every 30 s made those pairs hundreds per fix. Rows before ``first`` are kept from earlier
    steps and pair only with later rows. Positions must not be NaN."""
    if max_km <= 0 or not math.isfinite(max_km) or window_us <= 0:
        raise ValueError(f"company needs a positive distance and window, got {max_km} km and {window_us} us")
    cell_deg = max_km / KM_PER_DEG * (1.0 + 1e-9)  # a hair wider so a neighbour exactly max_km away is in reach
    n_lat, n_lon = math.ceil(180.0 / cell_deg) + 3, max(1, math.ceil(360.0 / cell_deg))
    vid, t = np.ascontiguousarray(vid, np.int64), np.ascontiguousarray(t, np.int64)
    lat, lon = np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64)
    if vid.shape[0] == first:
        return np.zeros((0, 2), np.int64)
    key = _company_keys(t, lat, lon, int(window_us), cell_deg, n_lat, n_lon)
    order = np.lexsort((vid, key))  # by key, then vessel, then index (lexsort is stable)
    n_vessels = int(vid.max()) + 1
    out = np.empty((max(16, 4 * (vid.shape[0] - first)), 2), np.int64)
    while True:
        count = _close_pairs(first, vid, t, lat, lon, key[order], order, int(window_us), float(max_km), cell_deg,
                             n_lat, n_lon, n_vessels, out)  # fmt: skip
        if count <= out.shape[0]:
            return out[:count]
        out = np.empty((count, 2), np.int64)


@kernel
def company_at(vid, t_us, s_vid, s_t, s_u, s_work, memory_us, mem, out):
    """Merge-walk rows and sightings, both sorted by (vid, time): each row's (others, working others) sighted beside
    its vessel within ``memory_us`` up to its time. ``mem[v, k]`` = (other vid or -1, last sighted, working): the
    vessel's latest companions, carried between steps (when full, the longest unseen gives way)."""
    j = 0
    m = s_vid.shape[0]
    for i in range(vid.shape[0]):
        while j < m and (s_vid[j] < vid[i] or (s_vid[j] == vid[i] and s_t[j] <= t_us[i])):
            _remember(mem, s_vid[j], s_u[j], s_t[j], s_work[j])
            j += 1
        v = vid[i]
        out[i, 0] = 0
        out[i, 1] = 0
        for k in range(mem.shape[1]):
            if mem[v, k, 0] >= 0 and t_us[i] - mem[v, k, 1] <= memory_us:
                out[i, 0] += 1
                out[i, 1] += mem[v, k, 2]
    while j < m:
        _remember(mem, s_vid[j], s_u[j], s_t[j], s_work[j])
        j += 1


@kernel
def _remember(mem, v, u, t, work):
    slot = 0
    for k in range(mem.shape[1]):
        if mem[v, k, 0] == u:
            slot = k
            break
        if mem[v, k, 0] < 0 or mem[v, k, 1] < mem[v, slot, 1]:
            slot = k
            if mem[v, k, 0] < 0:
                break
    if mem[v, slot, 0] == u and mem[v, slot, 1] > t:
        return
    mem[v, slot, 0] = u
    mem[v, slot, 1] = t
    mem[v, slot, 2] = 1 if work else 0


@kernel
def loitering_kernel(vid, t_us, lat, lon, sog, eligible, working, company, max_kn, min_us, min_fixes, silence_us,
                     noise_km, company_min, company_share, prev_t, prev_f, run_t, run_f, out_start, out_f):  # fmt: skip
    """prev_t[v], prev_f[v] = (lat, lon, sog, eligible, company any, company working) of the last positioned fix;
    run_t[v] = (start, NO_TIME); run_f[v] = (lat, lon, km travelled, fixes, seconds in company, seconds judged,
    verdict, most others slow around, most working others slow around). ``company[i]`` = (others slow around,
    working others slow around) at fix i; ``working[i]``: the vessel is of a working type at fix i.

    A slow step is in company when either of its fixes had ``company_min`` working others around. At the fix that
    completes the spell the verdict is taken once: FLEET (never reported) for a vessel of a working type in
    company more than ``company_share`` of the time so far, else ALONE (reported from then on)."""
    for i in range(vid.shape[0]):
        out_start[i] = NO_TIME
        v = vid[i]
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        t = t_us[i]
        slow = False
        km = 0.0
        if prev_t[v] != NO_TIME and eligible[i] and prev_f[v, 3] > 0.0 and t - prev_t[v] <= silence_us:
            km = haversine_km(prev_f[v, 0], prev_f[v, 1], lat[i], lon[i])
            dt_h = (t - prev_t[v]) / US_PER_H
            implied = km / KM_PER_NM / dt_h if dt_h > 0.0 else (0.0 if km <= noise_km else np.inf)
            reported_slow = not prev_f[v, 2] >= max_kn or not sog[i] >= max_kn  # NaN speed counts as slow
            slow = implied < max_kn and reported_slow
        if slow:
            if run_t[v, 0] == NO_TIME:
                run_t[v, 0] = prev_t[v]
                run_f[v, LAT] = prev_f[v, 0]
                run_f[v, LON] = prev_f[v, 1]
                run_f[v, KM] = 0.0
                run_f[v, FIXES] = 1.0
                run_f[v, COMPANY_S] = 0.0
                run_f[v, JUDGED_S] = 0.0
                run_f[v, VERDICT] = UNDECIDED
                run_f[v, MAX_ANY] = prev_f[v, 4]
                run_f[v, MAX_WORK] = prev_f[v, 5]
            run_f[v, KM] += km
            run_f[v, FIXES] += 1.0
            if run_f[v, VERDICT] == UNDECIDED:
                dt_s = (t - prev_t[v]) / 1e6
                run_f[v, JUDGED_S] += dt_s
                if max(float(company[i, 1]), prev_f[v, 5]) >= company_min:
                    run_f[v, COMPANY_S] += dt_s
                run_f[v, MAX_ANY] = max(run_f[v, MAX_ANY], float(company[i, 0]))
                run_f[v, MAX_WORK] = max(run_f[v, MAX_WORK], float(company[i, 1]))
            if t - run_t[v, 0] >= min_us and run_f[v, FIXES] >= min_fixes:
                if run_f[v, VERDICT] == UNDECIDED:
                    fleet = working[i] and run_f[v, COMPANY_S] > company_share * run_f[v, JUDGED_S]
                    run_f[v, VERDICT] = FLEET if fleet else ALONE
                if run_f[v, VERDICT] == ALONE:
                    out_start[i] = run_t[v, 0]
                    out_f[i, :] = run_f[v, :]
        else:
            run_t[v, 0] = NO_TIME
        prev_t[v] = t
        prev_f[v, 0] = lat[i]
        prev_f[v, 1] = lon[i]
        prev_f[v, 2] = sog[i]
        prev_f[v, 3] = 1.0 if eligible[i] else 0.0
        prev_f[v, 4] = company[i, 0]
        prev_f[v, 5] = company[i, 1]


class Loitering:
    """Slow for hours at sea, far from shore and from ports and anchorages (GFW loitering), unless a vessel of a
    working type spent it in a fleet (see the module's docstring)."""

    name = "loitering"

    def __init__(self, land: LandIndex, places: Places | None = None, settings: LoiteringSettings | None = None):
        self.settings = settings or LoiteringSettings()
        self.land = land
        self.places = places
        self.near_port = NearPlaces(places, self.settings.port_km)
        self.prev_t = np.zeros(0, np.int64)
        self.prev_f = np.zeros((0, PREV_COLS))
        self.run_t = np.zeros((0, 2), np.int64)
        self.run_f = np.zeros((0, RUN_COLS))
        self.ship_type = np.zeros(0, np.int64)
        # slow fixes near the open sea of the last company window before the watermark: vid, t, lat, lon, working
        self.near_t = np.zeros(0, np.int64)
        self.near_vid = np.zeros(0, np.int64)
        self.near_f = np.zeros((0, 3))  # lat, lon, working (1.0 / 0.0)
        self.mem = np.full((0, COMPANIONS, 3), -1, np.int64)  # each vessel's latest companions (see company_at)

    def _eligible(self, fixes: Fixes) -> tuple[np.ndarray, np.ndarray]:
        lat, lon = fixes.lat, fixes.lon
        shore = fixes.coast_km(self.land)
        with np.errstate(invalid="ignore"):
            ok = shore >= self.settings.min_shore_nm * KM_PER_NM
        if self.places is not None and len(self.places) and ok.any():
            idx = np.flatnonzero(ok)
            ok[idx[self.near_port(lat[idx], lon[idx])]] = False
        return ok, shore

    def _company(self, step: Step, shore: np.ndarray, working: np.ndarray) -> np.ndarray:
        """(others, working others) sighted slow beside each fix's vessel within the memory (see the module)."""
        fixes, s = step.fixes, self.settings
        window_us = int(s.company_window_min * 60e6)
        with np.errstate(invalid="ignore"):
            # slow by its own report (NaN says nothing), or working at fishing speed, and offshore: a vessel within
            # company_km of an open-sea fix is itself well offshore (the margin covers the coast grid's error)
            slow = (fixes.sog < s.max_speed_kn) | ((working > 0) & (fixes.sog < s.company_fishing_kn))
            slow &= shore >= s.min_shore_nm * KM_PER_NM - 2 * s.company_km
        p = np.flatnonzero(slow)
        first = self.near_t.size
        self.near_t = np.concatenate([self.near_t, fixes.t_us[p]])
        self.near_vid = np.concatenate([self.near_vid, fixes.vid[p]])
        self.near_f = np.concatenate([self.near_f, np.column_stack([fixes.lat[p], fixes.lon[p], working[p]])])
        pairs = np.zeros((0, 2), np.int64)
        if p.size:
            pairs = close_pairs_in_time(self.near_vid, self.near_t, self.near_f[:, 0], self.near_f[:, 1], first,
                                        window_us, s.company_km)  # fmt: skip
        # each pair is a sighting of either vessel beside the other, at the later fix's time
        a, b = pairs[:, 0], pairs[:, 1]
        s_vid = np.concatenate([self.near_vid[a], self.near_vid[b]])
        s_u = np.concatenate([self.near_vid[b], self.near_vid[a]])
        s_t = np.concatenate([self.near_t[b], self.near_t[b]])
        s_work = np.concatenate([self.near_f[b, 2], self.near_f[a, 2]]) > 0
        order = np.lexsort((s_u, s_t, s_vid))
        out = np.empty((len(fixes), 2), np.int64)
        company_at(fixes.vid, fixes.t_us, s_vid[order], s_t[order], s_u[order], s_work[order],
                   int(s.company_memory_h * US_PER_H), self.mem, out)  # fmt: skip
        # later steps' fixes are after the watermark: they pair with fixes no further than a window before it
        keep = self.near_t >= step.watermark_us - window_us if step.watermark_us != FINAL_WATERMARK else None
        if keep is None or not keep.all():
            keep = np.zeros(self.near_t.size, np.bool_) if keep is None else keep
            self.near_t, self.near_vid, self.near_f = self.near_t[keep], self.near_vid[keep], self.near_f[keep]
        return out

    def process(self, step: Step) -> list[pl.DataFrame]:
        fixes, s = step.fixes, self.settings
        size = step.fleet.size
        self.prev_t = grow(self.prev_t, size, NO_TIME)
        self.prev_f = grow(self.prev_f, size, np.nan)
        self.run_t = grow(self.run_t, size, NO_TIME)
        self.run_f = grow(self.run_f, size, np.nan)
        self.ship_type = grow(self.ship_type, size, -1)
        self.mem = grow(self.mem, size, -1)
        types = ship_type_at(fixes, step.identities, self.ship_type)
        working = (types >= s.company_types[0]) & (types <= s.company_types[1])
        eligible, shore = self._eligible(fixes)
        company = self._company(step, shore, working)
        n = len(fixes)
        start, out_f = np.empty(n, np.int64), np.empty((n, RUN_COLS))
        loitering_kernel(fixes.vid, fixes.t_us, fixes.lat, fixes.lon, fixes.sog, eligible, working, company,
                         s.max_speed_kn, int(s.min_hours * US_PER_H), s.min_positions, int(s.max_silence_h * US_PER_H),
                         NOISE_KM, s.company_min, s.company_share, self.prev_t, self.prev_f, self.run_t, self.run_f,
                         start, out_f)  # fmt: skip
        rows = latest_per_episode(fixes.vid, start)
        if rows.size == 0:
            return []
        f = out_f[rows]
        hours = (fixes.t_us[rows] - start[rows]) / US_PER_H
        mean_kn = f[:, KM] / KM_PER_NM / np.maximum(hours, 1e-9)
        reasons = [
            [f"slow for {fmt_h(h)} at sea: {kn:.1f} kn on average over {int(k)} positions",
             f"{sh:.0f} km from shore, away from ports and anchorages", self._company_words(g, int(ty))]
            for kn, k, h, sh, g, ty in zip(mean_kn.tolist(), f[:, FIXES].tolist(), hours.tolist(),
                                           shore[rows].tolist(), f.tolist(), types[rows].tolist(), strict=True)
        ]  # fmt: skip
        score = np.clip(20 + 10 * hours, 0, 80)
        return [AlertRows("loitering", fixes.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows], fixes.t_us[rows],
                          f[:, LAT], f[:, LON], score, reasons).frame()]  # fmt: skip

    def _company_words(self, f: list[float], ship_type: int) -> str:
        s = self.settings
        km = f"{s.company_km:g} km"
        if f[MAX_ANY] <= 0:
            return f"alone: no other vessel slow within {km}"
        others = f"up to {int(f[MAX_ANY])} other vessel{'s' if f[MAX_ANY] > 1 else ''} slow within {km}"
        lo, hi = s.company_types
        if not lo <= ship_type <= hi:
            kind = "of unknown type" if ship_type < 0 else f"of ship type {ship_type}"
            return f"{others}; a vessel {kind} does not work in a fishing fleet"
        share = 100.0 * f[COMPANY_S] / f[JUDGED_S] if f[JUDGED_S] > 0 else 0.0
        return f"{others}, with {s.company_min}+ working vessels only {share:.0f} % of the time: not a fleet at work"

    def snapshot(self) -> dict[str, np.ndarray]:
        names = ("prev_t", "prev_f", "run_t", "run_f", "ship_type", "near_t", "near_vid", "near_f", "mem")
        return {k: getattr(self, k).copy() for k in names}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        for k in ("prev_t", "prev_f", "run_t", "run_f"):
            setattr(self, k, arrays[k].copy())
        # a snapshot from before company was measured: no fix of it was in company, nothing waits
        if self.prev_f.shape[1] < PREV_COLS:
            self.prev_f = np.column_stack([self.prev_f, np.zeros((self.prev_f.shape[0], PREV_COLS - 4))])
        if self.run_f.shape[1] < RUN_COLS:
            extra = np.zeros((self.run_f.shape[0], RUN_COLS - 4))
            extra[:, VERDICT - 4] = ALONE  # an open spell of the old rule was already reported as it was
            self.run_f = np.column_stack([self.run_f, extra])
        self.ship_type = arrays.get("ship_type", np.full(self.prev_t.shape[0], -1, np.int64)).copy()
        self.near_t = arrays.get("near_t", np.zeros(0, np.int64)).copy()
        self.near_vid = arrays.get("near_vid", np.zeros(0, np.int64)).copy()
        self.near_f = arrays.get("near_f", np.zeros((0, 3))).copy()
        self.mem = arrays.get("mem", np.full((0, COMPANIONS, 3), -1, np.int64)).copy()
