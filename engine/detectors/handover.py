"""MMSI handover: a vessel that goes silent just as a new MMSI appears where it was, and stays silent. It is one
vessel that changed its MMSI at sea (``identity_change`` with ``other_mmsi`` = the new MMSI).

A new MMSI's first fix is matched with the nearest vessel whose latest fix is at most ``max_silence_s`` older
and ``max_km`` away; the pair is reported once ``confirm_s`` has passed without the old MMSI reporting again.
The search is vectorised over the fleet and runs once per *new* vessel (rare once the stream has warmed up).

One vessel leaving reception at the range edge while another appears near it is common; what patrols ask is whether
it is the same hull. A hull keeps its dimensions (``to_bow + to_stern`` length, ``to_port + to_starboard`` beam of
types 5/24) and its kind (ship type group), and a vessel that changes its MMSI sails on. So a pair whose static data
contradict each other (both known, and different) is two ships: no alert. A pair whose dimensions agree is the same
hull and the reasons say so; otherwise the new MMSI's first fix must continue the old one's track (where its course
and speed put it, on about its course), and a pair with nothing known of either hull scores lower.
Each vessel's static data are the first reported of each field (per vessel, in time order: the same under any
batching), taken only when reported before the pair is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_S, grow, haversine_km, place_gap_km
from engine.detectors.draught import PORT_KINDS
from engine.detectors.track import _dead_reckon
from engine.fixes import Fixes, Identities
from engine.geo.regions import Places, load_pack
from engine.runner import Step
from feeds.jit import kernel


@dataclass(frozen=True)
class HandoverSettings:
    max_silence_s: float = 2 * 3600.0  # the old MMSI's last report at most 2 h before the new one's first
    max_km: float = 3.0  # plus the distance the old vessel covers at its last speed (+20 %) in the silence
    port_clear_km: float = 10 * KM_PER_NM  # away from ports, where vessels start and end voyages (draught rule)
    # a vessel that changes its MMSI sails on; at the edge of coverage one vessel leaves as another comes in,
    # on opposite courses (seen on the simulated Gulf of Tonkin traffic): courses more than 120 degrees apart
    max_turn_deg: float = 120.0
    warmup_s: float = 1800.0  # when a feed starts every vessel is new: wait for the picture to fill
    confirm_s: float = 3600.0  # and the old MMSI silent for an hour after: it did not just pass by
    min_seen_s: float = 600.0  # the old MMSI had been on the air a while (not two vessels first heard together)
    # the same hull reports the same dimensions: AIS gives them in whole metres from the GPS antenna, and crews
    # re-enter them with a few metres' error (coast guard practice: a hull is identified by length and beam
    # within ~10 %); more than that apart is another hull
    hull_tol: float = 0.10
    hull_tol_m: float = 3.0  # at least 3 m: a 20 m boat's 2 m beam error is entry rounding, not another hull
    # without the hull confirmed by its dimensions, the new MMSI's first fix must continue the old track (a vessel
    # that changes its MMSI does so on its way, not turning round): within max_km plus a quarter of the distance
    # sailed in the silence of where the old course and speed put it, on a course at most 60 degrees off
    drift: float = 0.25
    max_turn_unconfirmed_deg: float = 60.0
    score_same_hull: float = 75.0  # same dimensions (and kind): the evidence patrols act on
    score: float = 65.0  # same kind of ship, track continued
    score_unknown: float = 50.0  # nothing known of one hull: only the track says it is one vessel


MAX_FLOAT = float(np.finfo(np.float64).max)
# ITU-R M.1371 ship types: the first digit is the kind (20 WIG, 40 HSC, 60 passenger, 70 cargo, 80 tanker, 90
# other); in the 30s and 50s each type is its own kind (fishing, towing, dredging, ..., pilot, SAR, tug, ...)
TYPE_GROUP_NAMES = {20: "wing in ground", 30: "fishing", 31: "towing", 32: "towing", 33: "dredging", 34: "diving",
                    35: "military", 36: "sailing", 37: "pleasure craft", 40: "high-speed craft", 50: "pilot",
                    51: "search and rescue", 52: "tug", 53: "port tender", 54: "anti-pollution", 55: "law enforcement",
                    58: "medical transport", 59: "special craft", 60: "passenger", 70: "cargo", 80: "tanker",
                    90: "other type"}  # fmt: skip


@kernel
def _candidates(last, sog, cog, first_t, ship, vids, starts, latest, fx_lat, fx_lon, fx_sog, fx_cog, t_s, v, t1, lat1,
                lon1, cog1, min_seen_s, max_silence_s, max_km, max_turn):  # fmt: skip
    """The vessels that may have become ``v`` (first heard at ``t1``, ``lat1``, ``lon1`` on course ``cog1``): on the
    air ``min_seen_s`` before, silent since their latest fix at most ``max_silence_s`` before, within ``max_km`` plus
    what their last speed (+20 %) covers in the silence, on a course at most ``max_turn`` apart (an unknown course
    never rejects). Their latest fix: the step's row ``latest[k]`` of vessel ``vids[k]`` when it is the vessel's
    (``>= starts[k]``), else the carried ``last`` (lat, lon, t), ``sog``, ``cog``. Returns (vessel, its t, km, km
    from where its course and speed put it at ``t1``, its speed, its course)."""
    lat, lon, tl = last[:, 0].copy(), last[:, 1].copy(), last[:, 2].copy()
    sg, cg = sog.copy(), cog.copy()
    for k in range(vids.shape[0]):
        j = latest[k]
        if j >= starts[k] and j >= 0:
            u = vids[k]
            lat[u], lon[u], tl[u], sg[u], cg[u] = fx_lat[j], fx_lon[j], t_s[j], fx_sog[j], fx_cog[j]
    n = first_t.shape[0]
    out_v = np.empty(n, np.int64)
    out_t = np.empty(n)
    out_d = np.empty(n)
    out_miss = np.empty(n)
    m = 0
    for u in range(n):
        if u == v or not (first_t[u] > 0 and first_t[u] / US_PER_S <= t1 - min_seen_s and ship[u]):
            continue
        if not (tl[u] >= t1 - max_silence_s and tl[u] <= t1):
            continue
        d = haversine_km(lat[u], lon[u], lat1, lon1)
        kn = sg[u]
        if np.isnan(kn):
            kn = 0.0
        elif np.isinf(kn):  # as np.nan_to_num
            kn = MAX_FLOAT if kn > 0 else -MAX_FLOAT
        reach = max_km + 1.2 * kn * KM_PER_NM * (t1 - tl[u]) / 3600
        turn = abs((cg[u] - cog1 + 180.0) % 360.0 - 180.0)  # NaN (unknown course) never rejects
        if d <= reach and not turn > max_turn:
            out_v[m], out_t[m], out_d[m] = u, tl[u], d
            plat, plon = _dead_reckon(lat[u], lon[u], sg[u], cg[u], (t1 - tl[u]) / 3600.0)
            out_miss[m] = haversine_km(plat, plon, lat1, lon1)
            m += 1
    return out_v[:m], out_t[:m], out_d[:m], out_miss[:m], sg[out_v[:m]], cg[out_v[:m]]


def _ship(mmsi: np.ndarray) -> np.ndarray:
    """Ship station MMSIs (MIDXXXXXX, ITU-R M.585): not beacons, aids to navigation, aircraft or malformed ones."""
    lead = np.asarray(mmsi, np.int64) // 100_000_000
    return (lead >= 2) & (lead <= 7)


def _key(vid: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """A sort key for (vessel, time in s) as one float: exact for vessel ids below ~900 000."""
    return vid.astype(np.float64) * 1e10 + t_s


@kernel
def _latest_rows(vid_key, t_s, starts, q_t):
    n_q, n_v = q_t.shape[0], starts.shape[0] - 1
    order = np.argsort(q_t, kind="mergesort")
    out = np.empty((n_q, n_v), np.int64)
    for k in range(n_v):
        p = starts[k] - 1
        for q in order:  # queries in time order: the vessel's rows are walked once
            key = vid_key[k] + q_t[q]
            while p + 1 < starts[k + 1] and vid_key[k] + t_s[p + 1] <= key:
                p += 1
            out[q, k] = p
    return out


def latest_rows(vids: np.ndarray, t_s: np.ndarray, starts: np.ndarray, q_t: np.ndarray) -> np.ndarray:
    """``out[q, k]``: the last row of vessel ``vids[k]`` (rows ``starts[k]:starts[k + 1]``, by time) at or before
    time ``q_t[q]`` as :func:`_key` orders them (searchsorted on the keys, side right), ``starts[k] - 1`` if none."""
    vid_key = vids.astype(np.float64) * 1e10
    return _latest_rows(vid_key, np.ascontiguousarray(t_s, np.float64), np.ascontiguousarray(starts, np.int64),
                        np.ascontiguousarray(q_t, np.float64))  # fmt: skip


TWO_SHIPS, TRACK_BROKEN, SAME_HULL, SAME_KIND, UNKNOWN_HULL = 0, 1, 2, 3, 4
PENDING_COLUMNS = 12  # old vid, new vid, t new, t old last (s), lat, lon, km, km off the old track, old kn, old
# course, new kn, new course


def type_group(ship_type: np.ndarray) -> np.ndarray:
    """The kind of ship (a key of ``TYPE_GROUP_NAMES``) of ITU-R M.1371 ship types; -1 when unknown (0, 1-19, 100+)."""
    t = np.asarray(ship_type, np.int64)
    tens = t // 10 * 10
    group = np.where((tens == 30) | (tens == 50), t, tens)
    group = np.where((group == 56) | (group == 57), 59, group)  # spare types of the 50s: special craft
    group = np.where((group == 38) | (group == 39), 90, group)  # reserved / other of the 30s
    return np.where((t >= 20) & (t < 100), group, -1)


def hull_verdict(group_a: np.ndarray, group_b: np.ndarray, hull_a: np.ndarray, hull_b: np.ndarray,
                 miss_km: np.ndarray, sailed_km: np.ndarray, turn_deg: np.ndarray,
                 s: HandoverSettings) -> np.ndarray:  # fmt: skip
    """Per pair (old, new): ``TWO_SHIPS`` when the static data contradict (length or beam apart by more than the
    tolerance, or another kind of ship where the dimensions do not confirm the hull), ``SAME_HULL`` when length and
    beam agree, else ``TRACK_BROKEN`` when the new MMSI's first fix does not continue the old track (``miss_km`` off
    where it should be, unknown = NaN never breaks; ``turn_deg`` NaN never breaks), else ``SAME_KIND`` when both
    kinds are known and equal, else ``UNKNOWN_HULL``. ``hull_*``: (n, 2) length and beam in metres, NaN unknown."""
    known = ~np.isnan(hull_a) & ~np.isnan(hull_b)
    tol = np.maximum(s.hull_tol * np.fmax(hull_a, hull_b), s.hull_tol_m)
    apart = known & (np.abs(hull_a - hull_b) > tol)
    same_dims = known.all(axis=1) & ~apart.any(axis=1)
    kinds = (group_a >= 0) & (group_b >= 0)
    other_kind = kinds & (group_a != group_b)
    off = miss_km > s.max_km + s.drift * sailed_km
    broken = off | (turn_deg > s.max_turn_unconfirmed_deg)
    out = np.where(kinds, SAME_KIND, UNKNOWN_HULL)
    out = np.where(broken, TRACK_BROKEN, out)
    out = np.where(same_dims, SAME_HULL, out)
    return np.where(apart.any(axis=1) | (other_kind & ~same_dims), TWO_SHIPS, out)


def first_statics(ids: Identities) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per identity row: ship type group (-1 unknown), length and beam (m, NaN unknown). Dimensions are read when
    the rows carry them (``to_bow``, ``to_stern``, ``to_port``, ``to_starboard``; 0 or less is "not available")."""
    group = type_group(ids.ship_type)
    n = len(ids)
    dims = np.full((n, 2), np.nan)
    parts = [getattr(ids, name, None) for name in ("to_bow", "to_stern", "to_port", "to_starboard")]
    if all(p is not None for p in parts):
        a, b, c, d = (np.asarray(p, np.float64) for p in parts)
        dims[:, 0] = np.where((a > 0) & (b > 0), a + b, np.nan)  # one half missing: the antenna's offset only
        dims[:, 1] = np.where((c > 0) & (d > 0), c + d, np.nan)
    return group, dims[:, 0], dims[:, 1]


class HandoverDetector:
    """identity_change by a change of MMSI at sea."""

    name = "handover"

    def __init__(self, settings: HandoverSettings | None = None, places: Places | None = None) -> None:
        self.settings = settings or HandoverSettings()
        self.places = places if places is not None else load_pack("gulf-of-tonkin").places.of_kind(*PORT_KINDS)
        self.sog = np.zeros(0, np.float64)  # speed at the latest fix (kn)
        self.cog = np.zeros(0, np.float64)  # course at the latest fix (degrees)
        self.first_t = np.zeros(0, np.int64)  # first fix (µs), 0 = never
        self.last = np.zeros((0, 3), np.float64)  # latest fix: lat, lon, t (s)
        self.pending = np.zeros((0, PENDING_COLUMNS), np.float64)
        self.span = np.array([np.inf, -np.inf])  # first and latest fix time of the input (s)
        # the first reported ship type group, length, beam of each vessel, and when (s; inf = never)
        self.statics = np.zeros((0, 3), np.float64)
        self.statics_t = np.zeros((0, 3), np.float64)

    def _learn_statics(self, ids: Identities, size: int) -> None:
        self.statics = grow(self.statics, size, np.nan)
        self.statics_t = grow(self.statics_t, size, np.inf)
        if not len(ids):
            return
        group, length, beam = first_statics(ids)
        t_s = ids.t_us / US_PER_S
        for k, values in enumerate((np.where(group >= 0, group, np.nan), length, beam)):
            rows = np.flatnonzero(~np.isnan(values))  # rows in (vid, t) order: the first of each vessel first
            vid, first = np.unique(ids.vid[rows], return_index=True)
            fresh = np.isinf(self.statics_t[vid, k])
            self.statics[vid[fresh], k] = values[rows[first[fresh]]]
            self.statics_t[vid[fresh], k] = t_s[rows[first[fresh]]]

    def _hull(self, vid: np.ndarray, cutoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kind (-1 unknown) and (length, beam) of vessels ``vid`` as first reported before ``cutoff`` (s)."""
        known = self.statics_t[vid] < cutoff[:, None]
        values = np.where(known, self.statics[vid], np.nan)
        return np.where(np.isnan(values[:, 0]), -1, values[:, 0]).astype(np.int64), values[:, 1:]

    def process(self, step: Step) -> list[pl.DataFrame]:
        s, fx = self.settings, step.fixes
        size = step.fleet.size
        self.first_t, self.last = grow(self.first_t, size, 0), grow(self.last, size, np.nan)
        self.sog, self.cog = grow(self.sog, size, np.nan), grow(self.cog, size, np.nan)
        self._learn_statics(step.identities, size)
        t_s = fx.t_us / US_PER_S
        if len(fx):
            self.span = np.array([min(self.span[0], t_s.min()), max(self.span[1], t_s.max())])
        vids, starts = fx.vessel_runs()
        firsts = starts[:-1]
        new = self.first_t[vids] == 0
        self.first_t[vids[new]] = fx.t_us[firsts[new]]  # before matching: a vessel first heard earlier in the step
        late = t_s[firsts] >= self.span[0] + s.warmup_s
        late &= _ship(step.fleet.mmsi[vids])  # a SART that appears where a vessel went silent is no new MMSI
        ship = np.zeros(self.first_t.shape[0], np.bool_)
        ship[:size] = _ship(step.fleet.mmsi)
        found = []
        fx_key = _key(fx.vid, t_s)
        match_v, match_i = vids[new & late], firsts[new & late]
        # every vessel's latest fix in the step at each new vessel's first: one sweep per vessel, in chunks
        chunk = max(1, 4_000_000 // max(1, vids.shape[0]))
        for c in range(0, match_v.shape[0], chunk):
            latest = latest_rows(vids, t_s, starts, t_s[match_i[c : c + chunk]])
            for k, (v, i) in enumerate(zip(match_v[c : c + chunk].tolist(), match_i[c : c + chunk].tolist(),
                                           strict=True)):  # fmt: skip
                found.extend(self._match(fx, t_s, latest[k], vids, starts, ship, int(v), int(i)))
        if found:
            self.pending = np.concatenate([self.pending, np.array(found, np.float64)])
        # an old MMSI heard again within confirm_s after the new one appeared was not replaced
        if self.pending.shape[0] and len(fx):
            old, t1 = self.pending[:, 0].astype(np.int64), self.pending[:, 2]
            nxt = np.searchsorted(fx_key, _key(old, t1), side="right")  # its first fix after t1
            kk = np.clip(nxt, 0, len(fx) - 1)
            again = (nxt < len(fx)) & (fx.vid[kk] == old) & (t_s[kk] <= t1 + s.confirm_s)
            self.pending = self.pending[~again]
        if len(fx):
            end = starts[1:] - 1
            self.last[vids] = np.stack([fx.lat[end], fx.lon[end], t_s[end]], axis=1)
            self.sog[vids] = fx.sog[end]
            self.cog[vids] = fx.cog[end]
        # silent for confirm_s: the input must reach that far (at the end of the input the watermark is infinite)
        if step.final:
            self.pending = self.pending[self.pending[:, 2] + s.confirm_s <= self.span[1]]
        done = self.pending[:, 2] + s.confirm_s <= min(step.watermark_us / US_PER_S, self.span[1])
        ready, self.pending = self.pending[done], self.pending[~done]
        if not ready.shape[0]:
            return []
        # two ships (contradicting statics, or another kind of ship off the old track) are no candidates
        verdict, kinds, hulls = self._verdict(ready)
        keep = (verdict != TWO_SHIPS) & (verdict != TRACK_BROKEN)
        ready, verdict, kinds, hulls = ready[keep], verdict[keep], kinds[keep], hulls[keep]
        if not ready.shape[0]:
            return []
        # one old vessel per new one: the nearest of those that stayed silent (ties: the lower vessel id)
        order = np.lexsort((ready[:, 0], ready[:, 6], ready[:, 1]))
        ready, verdict, kinds, hulls = ready[order], verdict[order], kinds[order], hulls[order]
        first = np.concatenate(([True], ready[1:, 1] != ready[:-1, 1]))
        return [self._alerts(step, ready[first], verdict[first], kinds[first], hulls[first])]

    def _verdict(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pending pair: its :func:`hull_verdict`, the old and new kinds (n, 2) and hulls (n, 2, 2), from the
        statics first reported before the pair was confirmed (the same under any batching)."""
        s = self.settings
        old, new = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
        cutoff = rows[:, 2] + s.confirm_s
        kind_a, hull_a = self._hull(old, cutoff)
        kind_b, hull_b = self._hull(new, cutoff)
        silence_h = (rows[:, 2] - rows[:, 3]) / 3600
        sailed = np.nan_to_num(rows[:, 8]) * KM_PER_NM * silence_h
        turn = np.abs((rows[:, 9] - rows[:, 11] + 180.0) % 360.0 - 180.0)
        verdict = hull_verdict(kind_a, kind_b, hull_a, hull_b, rows[:, 7], sailed, turn, s)
        return verdict, np.stack([kind_a, kind_b], axis=1), np.stack([hull_a, hull_b], axis=1)


    def _match(
        self,
        fx: Fixes,
        t_s: np.ndarray,
        latest: np.ndarray,
        vids: np.ndarray,
        starts: np.ndarray,
        ship: np.ndarray,
        v: int,
        i: int,
    ) -> list[tuple[float, ...]]:
        """The vessel that went silent where ``v`` first appears (row ``i``), if any."""
        s = self.settings
        t1, lat1, lon1 = t_s[i], fx.lat[i], fx.lon[i]
        if np.isnan(lat1) or np.isnan(lon1):
            return []
        if place_gap_km(np.array([lat1]), np.array([lon1]), self.places)[0] <= s.port_clear_km:
            return []
        # every vessel's latest fix at or before t1 (this step's, else the carried one) near enough, on a course
        # the new MMSI could continue
        cand, tl, d, miss, kn, course = _candidates(
            self.last, self.sog, self.cog, self.first_t, ship, vids, starts, latest, fx.lat, fx.lon, fx.sog, fx.cog,
            t_s, v, t1, lat1, lon1, fx.cog[i], s.min_seen_s, s.max_silence_s, s.max_km, s.max_turn_deg,
        )  # fmt: skip
        return [(float(c), float(v), float(t1), float(t0), float(lat1), float(lon1), float(km), float(off),
                 float(k0), float(c0), float(fx.sog[i]), float(fx.cog[i]))
                for c, t0, km, off, k0, c0 in zip(cand.tolist(), tl.tolist(), d.tolist(), miss.tolist(), kn.tolist(),
                                                  course.tolist(), strict=True)]  # fmt: skip

    def _alerts(self, step: Step, rows: np.ndarray, verdict: np.ndarray, kinds: np.ndarray,
                hulls: np.ndarray) -> pl.DataFrame:  # fmt: skip
        s = self.settings
        old, new = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
        mmsi, other = step.fleet.mmsi[old], step.fleet.mmsi[new]
        minutes = (rows[:, 2] - rows[:, 3]) / 60
        reasons = []
        for k, (a, b, m) in enumerate(zip(mmsi.tolist(), other.tolist(), minutes.tolist(), strict=True)):
            words = [f"MMSI changed from {a} to {b} at sea: {a} went silent and {b} appeared {m:.0f} min later at "
                     f"the same place, and {a} stayed silent for {s.confirm_s / 3600:.0f} h"]  # fmt: skip
            words.append(_hull_words(int(verdict[k]), kinds[k], hulls[k]))
            words.append(_track_words(rows[k]))
            reasons.append(words)
        score = np.select([verdict == SAME_HULL, verdict == SAME_KIND], [s.score_same_hull, s.score], s.score_unknown)
        return AlertRows("identity_change", mmsi, other, (rows[:, 3] * US_PER_S).astype(np.int64),
                         (rows[:, 2] * US_PER_S).astype(np.int64), rows[:, 4], rows[:, 5], score,
                         reasons).frame()  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        names = ("first_t", "last", "pending", "sog", "cog", "span", "statics", "statics_t")
        return {name: getattr(self, name).copy() for name in names}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.first_t, self.last = arrays["first_t"].copy(), arrays["last"].copy()
        pending = arrays["pending"]
        self.pending = np.full((pending.shape[0], PENDING_COLUMNS), np.nan)  # a snapshot from before the track
        self.pending[:, : pending.shape[1]] = pending  # columns: unknown, as no evidence either way
        self.sog, self.cog = arrays["sog"].copy(), arrays["cog"].copy()
        self.span = arrays["span"].copy()
        self.statics = arrays.get("statics", np.zeros((0, 3))).copy()
        self.statics_t = arrays.get("statics_t", np.zeros((0, 3))).copy()


def _kind_name(group: int) -> str:
    return TYPE_GROUP_NAMES.get(group, f"ship type {group}")


def _hull_words(verdict: int, kinds: np.ndarray, hulls: np.ndarray) -> str:
    """What the two identities' static data say: "same hull: 182 m x 28 m, tanker" and the like."""
    a, b = int(kinds[0]), int(kinds[1])
    if verdict == SAME_HULL:
        size = f"{hulls[1, 0]:.0f} m x {hulls[1, 1]:.0f} m"
        if a >= 0 and b >= 0 and a != b:
            return f"same hull: {size}, ship type changed from {_kind_name(a)} to {_kind_name(b)}"
        kind = b if b >= 0 else a
        return f"same hull: {size}" + (f", {_kind_name(kind)}" if kind >= 0 else "")
    if verdict == SAME_KIND:
        return f"same kind of ship: {_kind_name(a)} (no dimensions of both to compare)"
    unknown = " and ".join(w for w, g in (("the old", a), ("the new", b)) if g < 0) or "both"
    return f"hull not confirmed: no static data of {unknown} MMSI to compare"


def _track_words(row: np.ndarray) -> str:
    """The track through the change: "through the change: 7.0 kn on 78 deg, then 7.1 kn on 77 deg, 0.1 km off where
    its course and speed put it"."""
    def leg(kn: float, course: float) -> str:
        return ("? kn" if np.isnan(kn) else f"{kn:.1f} kn") + ("" if np.isnan(course) else f" on {course:.0f} deg")

    off = "" if np.isnan(row[7]) else f", {row[7]:.1f} km off where its course and speed put it"
    return f"through the change: {leg(row[8], row[9])}, then {leg(row[10], row[11])}{off}"
