"""MMSI handover: a vessel that goes silent just as a new MMSI appears where it was, and stays silent. It is one
vessel that changed its MMSI at sea (``identity_change`` with ``other_mmsi`` = the new MMSI).

A new MMSI's first fix is matched with the nearest vessel whose latest fix is at most ``max_silence_s`` older
and ``max_km`` away; the pair is reported once ``confirm_s`` has passed without the old MMSI reporting again.
The search is vectorised over the fleet and runs once per *new* vessel (rare once the stream has warmed up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_S, grow, haversine_km, place_gap_km
from engine.detectors.draught import PORT_KINDS
from engine.fixes import Fixes
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
    score: float = 65.0


MAX_FLOAT = float(np.finfo(np.float64).max)


@kernel
def _candidates(last, sog, cog, first_t, ship, vids, starts, latest, fx_lat, fx_lon, fx_sog, fx_cog, t_s, v, t1, lat1,
                lon1, cog1, min_seen_s, max_silence_s, max_km, max_turn):  # fmt: skip
    """The vessels that may have become ``v`` (first heard at ``t1``, ``lat1``, ``lon1`` on course ``cog1``): on the
    air ``min_seen_s`` before, silent since their latest fix at most ``max_silence_s`` before, within ``max_km`` plus
    what their last speed (+20 %) covers in the silence, on a course at most ``max_turn`` apart (an unknown course
    never rejects). Their latest fix: the step's row ``latest[k]`` of vessel ``vids[k]`` when it is the vessel's
    (``>= starts[k]``), else the carried ``last`` (lat, lon, t), ``sog``, ``cog``. Returns (vessel, its t, km)."""
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
            m += 1
    return out_v[:m], out_t[:m], out_d[:m]


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
        self.pending = np.zeros((0, 7), np.float64)  # old vid, new vid, t new (s), t old last (s), lat, lon, km
        self.span = np.array([np.inf, -np.inf])  # first and latest fix time of the input (s)

    def process(self, step: Step) -> list[pl.DataFrame]:
        s, fx = self.settings, step.fixes
        size = step.fleet.size
        self.first_t, self.last = grow(self.first_t, size, 0), grow(self.last, size, np.nan)
        self.sog, self.cog = grow(self.sog, size, np.nan), grow(self.cog, size, np.nan)
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
        # one old vessel per new one: the nearest of those that stayed silent (ties: the lower vessel id)
        ready = ready[np.lexsort((ready[:, 0], ready[:, 6], ready[:, 1]))]
        first = np.concatenate(([True], ready[1:, 1] != ready[:-1, 1]))
        return [self._alerts(step, ready[first])]

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
        cand, tl, d = _candidates(self.last, self.sog, self.cog, self.first_t, ship, vids, starts, latest, fx.lat,
                                  fx.lon, fx.sog, fx.cog, t_s, v, t1, lat1, lon1, fx.cog[i], s.min_seen_s,
                                  s.max_silence_s, s.max_km, s.max_turn_deg)  # fmt: skip
        return [(float(c), float(v), float(t1), float(t0), float(lat1), float(lon1), float(km))
                for c, t0, km in zip(cand.tolist(), tl.tolist(), d.tolist(), strict=True)]  # fmt: skip

    def _alerts(self, step: Step, rows: np.ndarray) -> pl.DataFrame:
        old, new = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
        mmsi, other = step.fleet.mmsi[old], step.fleet.mmsi[new]
        minutes = (rows[:, 2] - rows[:, 3]) / 60
        reasons = [
            [f"MMSI changed from {a} to {b} at sea: {a} went silent and {b} appeared {m:.0f} min later at the same "
             f"place, and {a} stayed silent for {self.settings.confirm_s / 3600:.0f} h"]
            for a, b, m in zip(mmsi.tolist(), other.tolist(), minutes.tolist(), strict=True)
        ]  # fmt: skip
        n = rows.shape[0]
        return AlertRows("identity_change", mmsi, other, (rows[:, 3] * US_PER_S).astype(np.int64),
                         (rows[:, 2] * US_PER_S).astype(np.int64), rows[:, 4], rows[:, 5],
                         np.full(n, self.settings.score), reasons).frame()  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        names = ("first_t", "last", "pending", "sog", "cog", "span")
        return {name: getattr(self, name).copy() for name in names}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.first_t, self.last = arrays["first_t"].copy(), arrays["last"].copy()
        self.pending = arrays["pending"].copy()
        self.sog, self.cog = arrays["sog"].copy(), arrays["cog"].copy()
        self.span = arrays["span"].copy()
