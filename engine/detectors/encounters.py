"""``encounter``: two vessels close and slow at sea for hours, a ship-to-ship transfer (GFW encounters).

Positions reported at different times are aligned on time slices: at the end of each slice a vessel stands
where it is interpolated between its fixes when they are at most ``interp_h`` apart (sparse, satellite-only
reception), else at its last fix, carried forward for up to ``stale_min``. Pairs within ``max_km`` are found
per slice with the grid hash of :mod:`engine.detectors.pairs` (linear time, never all pairs). Consecutive slices
of one pair make a *meeting*; it ends after ``max_missed`` slices apart. A meeting becomes an alert once it has
lasted ``min_h`` with each vessel's median speed under ``max_kn``, at least ``offshore_km`` from every port,
terminal, anchorage and pilot area; the alert is then updated slice by slice while the meeting goes on.

A vessel that goes dark alongside another cannot be paired by position: when a vessel reappears after a
silence of ``min_h``, a vessel that was within ``max_km`` of where it vanished and stayed slow for ``min_h``
while it was dark is reported as its encounter partner ("... was dark throughout"). A vessel may also switch off
far from the meeting, sail to it dark and switch on again once clear of it: then the partner is a vessel that
stayed slow at sea for ``min_h`` (one that reported its type, neither fishing nor at its work: fishing boats
drift at sea all night) at a point the dark vessel could reach from where it vanished and leave in time to
reappear where it did (at its reported speed, plus ``dark_speed_margin``), and it reappeared within
``dark_reappear_h`` of that stop's end (the one whose stop ended last before it reappeared, when several could;
the search: :mod:`engine.detectors.dark_partners`).

A slice is processed once the watermark has passed its end plus ``interp_h`` (all its fixes and the next ones
have arrived), and the "qualified" decision is latched slice by slice, so the alerts do not depend on how the
input was cut into batches. The meeting point is the mean of the pair's midpoints (not antimeridian-aware).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from engine.alerts import AlertRows
from engine.detectors.common import US_PER_H, NearPlaces, grow, mod360, place_gap_km
from engine.detectors.dark_partners import DarkPartners, Flat
from engine.detectors.episodes import fmt_h, ship_type_at
from engine.detectors.pairs import close_pairs
from engine.detectors.transfers import (
    EncounterSettings,
    Meeting,
    alongside_now,
    infer_fleet,
    is_fleet_pair,
    is_service,
    is_slow,
    latest_known_type,
    median_kn,
    meeting_score,
    meeting_words,
)
from engine.geo.region_pack import Places
from engine.runner import FINAL_WATERMARK, Step
from engine.sun import is_night
from feeds.jit import kernel

US_PER_MIN = 60_000_000


def port_distance_km(places: Places | None, lat: float, lon: float) -> float:
    """Distance from a point to the edge of the nearest place, 0 inside one (inf when there are none)."""
    return float(max(0.0, place_gap_km(np.array([lat]), np.array([lon]), places)[0]))


@kernel
def _align_slices(s0, count, slice_us, stale_us, interp_us, back_us, ahead, n_vessels, vid, t, lat, lon, sog, typ,
                  ptr, run_end, last_t, last):  # fmt: skip
    """Slices ``s0 .. s0 + count - 1`` over fixes sorted by (vid, t): vessel ``v``'s rows not yet walked are
    ``ptr[v]:run_end[v]`` (``ptr`` advances). Updates each vessel's last fix (``last_t``, ``last``) and returns, per
    slice (``at``), the vessels that stand somewhere at its end and their (lat, lon, speed, ship type): between two
    fixes at most ``interp_us`` apart (the next one within ``ahead`` slices), interpolated; else the last fix, for
    ``stale_us`` (speed and ship type: the last fix's). Also the vessels heard again after ``back_us`` of silence:
    (slice, vid, t, last t) and where they were last (lat, lon, ship type), where they reappeared (lat, lon) and
    their speeds then and now."""
    ids = np.empty(count * n_vessels, np.int64)
    pos = np.empty((count * n_vessels, 4))
    at = np.zeros(count + 1, np.int64)
    back = np.empty((t.shape[0], 4), np.int64)
    back_f = np.empty((t.shape[0], 7))
    m = 0
    nb = 0
    for k in range(count):
        end = (s0 + k + 1) * slice_us
        horizon = end + ahead * slice_us  # the next fix is looked for in the slices ahead, up to here
        for v in range(n_vessels):
            p = ptr[v]
            if p < run_end[v] and t[p] < end:  # the vessel's fixes in this slice
                if last_t[v] >= 0 and t[p] - last_t[v] >= back_us:
                    back[nb, 0], back[nb, 1], back[nb, 2], back[nb, 3] = k, v, t[p], last_t[v]
                    back_f[nb, 0], back_f[nb, 1], back_f[nb, 2] = last[v, 0], last[v, 1], last[v, 3]
                    back_f[nb, 3], back_f[nb, 4], back_f[nb, 5], back_f[nb, 6] = lat[p], lon[p], last[v, 2], sog[p]
                    nb += 1
                while p < run_end[v] and t[p] < end:
                    p += 1
                last_t[v] = t[p - 1]
                last[v, 0], last[v, 1], last[v, 2], last[v, 3] = lat[p - 1], lon[p - 1], sog[p - 1], typ[p - 1]
                ptr[v] = p
            if last_t[v] < 0 or last_t[v] > end:
                continue
            if p < run_end[v] and t[p] < horizon and t[p] - last_t[v] <= interp_us:
                w = (end - last_t[v]) / (t[p] - last_t[v])
                pos[m, 0] = last[v, 0] + w * (lat[p] - last[v, 0])
                dlon = mod360(lon[p] - last[v, 1] + 180.0) - 180.0  # the short way across the antimeridian
                pos[m, 1] = mod360(last[v, 1] + w * dlon + 180.0) - 180.0
                pos[m, 2], pos[m, 3] = last[v, 2], last[v, 3]
            elif last_t[v] >= end - stale_us:
                pos[m, 0], pos[m, 1], pos[m, 2], pos[m, 3] = last[v, 0], last[v, 1], last[v, 2], last[v, 3]
            else:
                continue
            ids[m] = v
            m += 1
        at[k + 1] = m
    return at, ids[:m], pos[:m], back[:nb], back_f[:nb]


@kernel
def _counting_sort(order, key, base, size):
    """``order`` stably sorted by ``key[order] - base`` (values in ``0 .. size - 1``)."""
    start = np.zeros(size + 1, np.int64)
    for i in order:
        start[key[i] - base + 1] += 1
    for k in range(size):
        start[k + 1] += start[k]
    out = np.empty(order.shape[0], np.int64)
    for i in order:
        out[start[key[i] - base]] = i
        start[key[i] - base] += 1
    return out


@kernel
def _vessel_order(vid, t, n_vessels):
    order = _counting_sort(np.arange(vid.shape[0]), vid, 0, n_vessels)
    # each vessel's rows in time order, as the buffer holds them (old rows are older than new ones)
    for k in range(1, order.shape[0]):
        a, b = order[k - 1], order[k]
        if vid[a] == vid[b] and t[b] < t[a]:
            return order, False
    return order, True


def vessel_order(vid: np.ndarray, t: np.ndarray, n_vessels: int) -> np.ndarray:
    """The order of rows by (vid, t), ties in their order: a counting sort, as the buffer comes nearly sorted (the
    rows left from earlier steps by (vid, t), then this step's fixes by (vid, t), later ones); else lexsort."""
    if vid.shape[0] == 0:
        return np.zeros(0, np.int64)
    order, ok = _vessel_order(np.ascontiguousarray(vid, np.int64), np.ascontiguousarray(t, np.int64), n_vessels)
    return order if ok else np.lexsort((t, vid))


@kernel
def _slice_ends(vid, t, slice_us):
    """Rows (sorted by vessel and time) that are the first or the last of their vessel in their slice: the only
    ones :func:`_align_slices` reads (the first for a silence that ends, the last as the vessel's last fix, the next
    slice's first to interpolate towards). The fixes between them are dropped, so the buffer holds at most two rows
    a vessel a slice waiting for the watermark (issue 14: it held every fix of the last ``interp_h``)."""
    n = vid.shape[0]
    keep = np.zeros(n, np.bool_)
    for i in range(n):
        s = t[i] // slice_us
        first = i == 0 or vid[i - 1] != vid[i] or t[i - 1] // slice_us != s
        last = i == n - 1 or vid[i + 1] != vid[i] or t[i + 1] // slice_us != s
        keep[i] = first or last
    return keep


@kernel
def _run_sums(run_r, run_e, init, lat, lon, km):
    """Per run of rows ``run_r[k]:run_e[k]``: ``init[k]`` plus each row's (lat, lon, km), added in row order."""
    out = init.copy()
    for k in range(run_r.shape[0]):
        for q in range(run_r[k], run_e[k]):
            out[k, 0] += lat[q]
            out[k, 1] += lon[q]
            out[k, 2] += km[q]
    return out


class EncounterDetector(DarkPartners):
    """Detector of ``encounter`` (see the module's docstring)."""

    name = "encounters"

    def __init__(self, places: Places | None = None, settings: EncounterSettings | None = None) -> None:
        self.settings = settings or EncounterSettings()
        self.places = None if places is None else places.of_kind("port", "terminal", "anchorage", "pilot")
        # at sea: at least offshore_km from every place (closer than that is near port)
        self.near_port = NearPlaces(self.places, self.settings.offshore_km, strict=True)
        self.slice_us = int(self.settings.slice_min * US_PER_MIN)
        self.stale_us = int(self.settings.stale_min * US_PER_MIN)
        self.interp_us = int(self.settings.interp_h * US_PER_H)
        self.ahead = -(-self.interp_us // self.slice_us)  # slices looked ahead for the next fix
        # a meeting shorter than this can qualify neither as an encounter nor as a transfer
        self._min_us = min(self.settings.min_h * US_PER_H, self.settings.window_slices * self.slice_us)
        self.next_slice: int | None = None
        self.buffer: dict[str, np.ndarray] = {k: np.zeros(0, np.int64) for k in ("vid", "t")}
        self.buffer.update({k: np.zeros(0, np.float64) for k in ("lat", "lon", "sog", "typ")})
        self.last_t = np.zeros(0, np.int64)
        self.last = np.zeros((0, 4), np.float64)  # lat, lon, sog, ship type of each vessel's last fix
        self.ship_type = np.zeros(0, np.int64)  # each vessel's latest ship type reported (-1 none yet)
        self.meetings: dict[tuple[int, int], Meeting] = {}
        self.next_seq = 0
        self.ended: list[tuple[tuple[int, int], Meeting]] = []  # meetings that ended with news not yet reported
        # slow vessels a slice: (slice, vid, lat, lon, speed, ship type)
        self.history: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        # of those, the ones a vessel may have sailed to dark (:meth:`_sailed_to`): (slice, vid, lat, lon); few
        # (typed, not fishing or at work, not near port), so a reappearance does not walk every anchored ship
        self.stops: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def process(self, step: Step) -> list[pl.DataFrame]:
        f = step.fixes
        n = step.fleet.size
        self.last_t = grow(self.last_t, n, -1)
        self.last = grow(self.last, n, np.nan)
        self.ship_type = grow(self.ship_type, n, -1)
        types = ship_type_at(f, step.identities, self.ship_type)  # as reported up to each fix
        if len(f):
            ok = ~(np.isnan(f.lat) | np.isnan(f.lon))  # a report without a position places nobody
            new = {"vid": f.vid, "t": f.t_us, "lat": f.lat, "lon": f.lon, "sog": f.sog, "typ": types.astype(np.float64)}
            if not ok.all():
                new = {k: v[ok] for k, v in new.items()}
            if len(self.buffer["t"]):  # the buffer is kept by (vid, t)
                both = {k: np.concatenate([self.buffer[k], new[k]]) for k in self.buffer}
                order = vessel_order(both["vid"], both["t"], n)
                new = {k: v[order] for k, v in both.items()}
            self.buffer = new
            first = int(f.t_us.min()) // self.slice_us
            self.next_slice = first if self.next_slice is None else min(self.next_slice, first)
        if self.next_slice is None or not len(self.buffer["t"]):
            return []
        if step.final:
            end_slice = int(self.buffer["t"].max()) // self.slice_us + 1
        else:
            # slices that end, with the time looked ahead for interpolation, before the watermark
            end_slice = (step.watermark_us - self.interp_us) // self.slice_us
        mmsi = step.fleet.mmsi
        b = {k: np.ascontiguousarray(v) for k, v in self.buffer.items()}
        runs = np.searchsorted(b["vid"], np.arange(n + 1))  # vessel v's rows: runs[v]:runs[v + 1]
        ptr, run_end = runs[:-1].copy(), runs[1:].copy()
        # the slices in chunks, so the aligned positions of a chunk stay a few million rows however large the fleet
        chunk = max(1, 1_000_000 // max(1, n))
        for c0 in range(0, max(0, end_slice - self.next_slice), chunk):
            c1 = min(c0 + chunk, end_slice - self.next_slice)
            self._slices(self.next_slice + c0, b, ptr, run_end, c1 - c0, mmsi)
        # what is left of each vessel's rows: those of the slices not yet walked (ptr on)
        left = run_end - ptr
        keep = np.repeat(ptr - np.cumsum(left) + left, left) + np.arange(int(left.sum()))
        keep = keep[_slice_ends(b["vid"][keep], b["t"][keep], self.slice_us)]
        self.buffer = {k: v[keep] for k, v in b.items()}
        self.next_slice = max(self.next_slice, end_slice)
        if step.watermark_us == FINAL_WATERMARK:
            self.next_slice = end_slice
        return self._emit()

    def _slices(self, s0: int, b: dict[str, np.ndarray], ptr: np.ndarray, run_end: np.ndarray, count: int,
                mmsi: np.ndarray) -> None:  # fmt: skip
        """Advance through ``count`` slices from ``s0``: the vessels' last fixes and their positions at each slice's
        end in one compiled pass, then the pairs of every slice in one grid-hash call; then, slice by slice, the
        vessels that reappear after a silence, the meetings that grow and those that end."""
        st = self.settings
        at, ids, pos, back, back_f = _align_slices(
            s0, count, self.slice_us, self.stale_us, self.interp_us, math.ceil(st.min_h * US_PER_H), self.ahead,
            mmsi.shape[0], b["vid"], b["t"], b["lat"], b["lon"], b["sog"], b["typ"], ptr, run_end, self.last_t,
            self.last,
        )  # fmt: skip
        group = np.repeat(np.arange(count), np.diff(at))
        # vessels close together near a port or anchorage are normal traffic, not a meeting at sea: only vessels at
        # sea are paired (anchorages hold most close pairs)
        at_sea = np.flatnonzero(~self.near_port(pos[:, 0], pos[:, 1]) & ~np.isnan(pos[:, 0]) & ~np.isnan(pos[:, 1]))
        i, j, km = close_pairs(pos[at_sea, 0], pos[at_sea, 1], st.max_km, group[at_sea])
        i, j = at_sea[i], at_sea[j]
        pos[:, 3] = infer_fleet(pos[:, 3], i, j, st)  # pairs come from one slice each
        back_ptr = np.searchsorted(back[:, 0], np.arange(count + 1))
        slow = ~(pos[:, 2] >= st.max_kn)  # NaN speed kept: it may be slow
        slow_rows = np.flatnonzero(slow)
        slow_ptr = np.searchsorted(slow_rows, at)
        h_ids, h_pos = ids[slow_rows], pos[slow_rows]
        may_stop = self._may_stop(h_pos[:, 0], h_pos[:, 1], h_pos[:, 3])
        stop_ptr = np.concatenate(([0], np.cumsum(may_stop)))[slow_ptr]
        # the lists as they will grow slice by slice, laid flat for the dark-partner search (when a vessel reappears)
        history = stops = None
        if back.shape[0]:
            history = Flat.of(self.history, s0, slow_ptr, [h_ids, *(np.ascontiguousarray(c) for c in h_pos.T)])
            stops = Flat.of(self.stops, s0, stop_ptr, [h_ids[may_stop], h_pos[may_stop, 0], h_pos[may_stop, 1]])
        n_history, n_stops = len(self.history), len(self.stops)
        window = int(st.dark_window_h * US_PER_H) // self.slice_us
        events: list[tuple[int, int, int, tuple[int, int], Meeting]] = []  # ended meetings: slice, phase, order
        for k in range(count):
            s = s0 + k
            for r in range(back_ptr[k], back_ptr[k + 1]):  # vessels heard again after a silence of min_h
                assert history is not None and stops is not None
                history.hi, stops.hi = n_history + k, n_stops + k  # the lists as they are now
                history.lo, stops.lo = history.hi - len(self.history), stops.hi - len(self.stops)
                found = self._dark_partner(int(back[r, 1]), int(back[r, 2]), int(back[r, 3]), back_f[r].tolist(),
                                           mmsi, history, stops)  # fmt: skip
                events.extend((s, 0, len(events), key, m) for key, m in found)
            lo, hi = slow_ptr[k], slow_ptr[k + 1]
            h = h_pos[lo:hi]
            self.history.append((s, h_ids[lo:hi], h[:, 0], h[:, 1], h[:, 2], h[:, 3]))
            ok = may_stop[lo:hi]
            self.stops.append((s, h_ids[lo:hi][ok], h[ok, 0], h[ok, 1]))
            while self.history and self.history[0][0] < s - window:
                self.history.pop(0)
            while self.stops and self.stops[0][0] < s - window:
                self.stops.pop(0)
        self._grow_meetings(s0, count, group[i], ids[i], ids[j], pos[i], pos[j], km, mmsi, events)
        # in slice order: at each slice the dark partners first, then the meetings that ended, in the order they began
        events.sort(key=lambda e: (e[0], e[1], e[2] if e[1] == 0 else e[4].seq))
        self.ended.extend((key, m) for _, _, _, key, m in events)

    def _grow_meetings(self, s0: int, count: int, pair_k: np.ndarray, va: np.ndarray, vc: np.ndarray,
                       pos_a: np.ndarray, pos_c: np.ndarray, km: np.ndarray, mmsi: np.ndarray,
                       events: list[tuple[int, int, int, tuple[int, int], Meeting]]) -> None:  # fmt: skip
        """The pairs of slices ``s0 .. s0 + count - 1`` (slice index ``pair_k``, vessels ``va``, ``vc`` at ``pos_a``,
        ``pos_c``: lat, lon, speed, ship type; ``km`` apart), in slice order, grow the meetings: pair by pair (a
        meeting goes on while its pair meets again within ``max_missed`` slices), a run of slices at a time. Meetings
        that end (changed since last reported) go to ``events``; the open ones stay in ``self.meetings``, in the order
        they began."""
        gap = self.settings.max_missed + 1
        last_s = s0 + count - 1
        ma, mc = mmsi[va], mmsi[vc]
        swap = mc < ma  # a meeting's key is (lower MMSI, higher MMSI); its speeds_a are the lower one's
        lo_m, hi_m = np.where(swap, mc, ma), np.where(swap, ma, mc)
        kn_a, kn_c = np.where(swap, pos_c[:, 2], pos_a[:, 2]), np.where(swap, pos_a[:, 2], pos_c[:, 2])
        ty_a, ty_c = np.where(swap, pos_c[:, 3], pos_a[:, 3]), np.where(swap, pos_a[:, 3], pos_c[:, 3])
        new: list[tuple[int, Meeting]] = []  # meetings begun here, by the pair that began them
        still: dict[tuple[int, int], Meeting] = {}
        n = lo_m.shape[0]
        if n:
            order = np.lexsort((np.arange(n), hi_m, lo_m))  # by key, then slice
            lo_s, hi_s = lo_m[order], hi_m[order]
            cut = np.flatnonzero((lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])) + 1
            bounds = np.concatenate(([0], cut, [n])).tolist()
            cols = {"s": s0 + pair_k[order], "lat": ((pos_a[:, 0] + pos_c[:, 0]) / 2)[order],
                    "lon": ((pos_a[:, 1] + pos_c[:, 1]) / 2)[order], "km": km[order], "a": kn_a[order],
                    "c": kn_c[order], "ta": ty_a[order], "tc": ty_c[order]}  # fmt: skip
            rows = {name: col.tolist() for name, col in cols.items()}
            order_l, lo_l, hi_l, s_l = order.tolist(), lo_s.tolist(), hi_s.tolist(), rows["s"]
            min_us = self._min_us
            runs: list[tuple[int, int, tuple[int, int], Meeting, bool]] = []  # rows r:e of one meeting; ends after
            for g in range(len(bounds) - 1):
                r, end = bounds[g], bounds[g + 1]
                key = (lo_l[r], hi_l[r])
                m: Meeting | None = self.meetings.pop(key, None)
                if m is not None and s_l[r] - m.last_slice > gap:  # it ended before these slices
                    self._ended(key, m, m.last_slice + gap, events)
                    m = None
                while r < end:
                    e = r + 1
                    while e < end and s_l[e] - s_l[e - 1] <= gap:
                        e += 1
                    ends = e < end or last_s - s_l[e - 1] >= gap
                    if m is None:
                        if ends and (s_l[e - 1] - s_l[r]) * self.slice_us < min_us:
                            r = e  # a new meeting that ends before it could qualify: no news, nothing to keep
                            continue
                        t = (s_l[r] + 1) * self.slice_us
                        m = Meeting(start_us=t, end_us=t, last_slice=s_l[r])
                        new.append((order_l[r], m))
                    runs.append((r, e, key, m, ends))
                    if ends:
                        m = None
                    r = e
                if m is not None:
                    still[key] = m
            # the sums of each run in one compiled pass (added one by one, as the meeting would), then run by run
            init = np.array([(m.lat_sum, m.lon_sum, m.km_sum) for _, _, _, m, _ in runs], np.float64).reshape(-1, 3)
            sums = _run_sums(np.array([run[0] for run in runs], np.int64), np.array([run[1] for run in runs], np.int64),
                             init, cols["lat"], cols["lon"], cols["km"])  # fmt: skip
            for (r, e, key, m, ends), (lat_sum, lon_sum, km_sum) in zip(runs, sums.tolist(), strict=True):
                t_last = (s_l[e - 1] + 1) * self.slice_us
                if not m.qualified and max(m.end_us, t_last) - m.start_us < min_us:  # nothing to decide yet
                    m.end_us, m.last_slice, m.slices = max(m.end_us, t_last), s_l[e - 1], m.slices + e - r
                    m.lat_sum, m.lon_sum, m.km_sum = lat_sum, lon_sum, km_sum
                    m.speeds_a.extend(rows["a"][r:e])
                    m.speeds_b.extend(rows["c"][r:e])
                    m.ks.extend(s_l[r:e])
                    m.kms.extend(rows["km"][r:e])
                    m.type_a = latest_known_type(rows["ta"], r, e, m.type_a)
                    m.type_b = latest_known_type(rows["tc"], r, e, m.type_b)
                else:
                    self._update(m, rows, r, e)
                if ends:
                    self._ended(key, m, m.last_slice + gap, events)
        for key, m in list(self.meetings.items()):  # open meetings not met in these slices
            if last_s - m.last_slice >= gap:
                del self.meetings[key]
                self._ended(key, m, max(m.last_slice + gap, s0), events)
        for _, m in sorted(new, key=lambda pm: pm[0]):  # in the order the pairs began them
            m.seq = self.next_seq
            self.next_seq += 1
        self.meetings = dict(sorted({**self.meetings, **still}.items(), key=lambda km_: km_[1].seq))

    @staticmethod
    def _ended(key: tuple[int, int], m: Meeting, s: int, events: list[tuple[int, int, int, tuple[int, int], Meeting]]
               ) -> None:  # fmt: skip
        if m.changed:
            events.append((s, 1, 0, key, m))

    def _update(self, m: Meeting, rows: dict[str, list[Any]], r: int, e: int) -> None:
        """Meeting ``m`` goes on in the slices of rows ``r:e``, one by one: its sums, distances and speeds grow. It
        qualifies (then, or if it already had, it has news) at the first slice where, at sea and with neither
        vessel at its work, the last ``transfer_min`` were alongside (a transfer) or it has lasted ``min_h``, slow,
        and is not two fishing vessels (an encounter); see transfers.py. An encounter that comes alongside later
        becomes a transfer; a transfer's spell grows with each window that is alongside."""
        st = self.settings
        min_us = st.min_h * US_PER_H
        s_, lat, lon, km, kn_a, kn_c = rows["s"], rows["lat"], rows["lon"], rows["km"], rows["a"], rows["c"]
        for q in range(r, e):
            m.end_us, m.last_slice, m.slices = max(m.end_us, (s_[q] + 1) * self.slice_us), s_[q], m.slices + 1
            m.lat_sum += lat[q]
            m.lon_sum += lon[q]
            m.km_sum += km[q]
            m.speeds_a.append(kn_a[q])
            m.speeds_b.append(kn_c[q])
            m.ks.append(s_[q])
            m.kms.append(km[q])
            m.type_a = latest_known_type(rows["ta"], q, q + 1, m.type_a)
            m.type_b = latest_known_type(rows["tc"], q, q + 1, m.type_b)
            if m.qualified:
                m.changed = True
            if is_service(m, st):
                continue
            # two fishing vessels that travel together (pair trawlers) haul side by side: a transfer between fishing
            # vessels needs a meeting slow as a whole (see transfers.py)
            spell = alongside_now(m, st)
            if spell is not None and is_fleet_pair(m, st) and not self._slow(m):
                spell = None
            if spell is not None and not m.alongside and self._offshore(m) < st.offshore_km:
                spell = None
            if spell is not None:
                if not m.alongside:
                    m.alongside, m.along_s0 = True, spell[0]
                m.along_s1 = spell[1]
                m.qualified = m.changed = True
            elif (not m.qualified and m.end_us - m.start_us >= min_us and not is_fleet_pair(m, st) and self._slow(m)
                  and self._offshore(m) >= st.offshore_km):  # fmt: skip
                m.qualified = m.changed = True

    def _slow(self, m: Meeting) -> bool:
        return is_slow(m.speeds_a, m.speeds_b, self.settings.max_kn)

    def _offshore(self, m: Meeting) -> float:
        return port_distance_km(self.places, m.lat_sum / m.slices, m.lon_sum / m.slices)

    def _emit(self) -> list[pl.DataFrame]:
        out = self.ended + [(key, m) for key, m in self.meetings.items() if m.changed]
        self.ended = []
        for _, m in out:
            m.changed = False
        if not out:
            return []
        rows = []
        for (a, c), m in out:
            off = self._offshore(m)
            why = meeting_words(a, c, m, self.settings, self.slice_us, US_PER_H)
            why.append(f"{off:.0f} km from the nearest port or anchorage")
            if m.route is not None:
                vanished_km, before_h, reappeared_km, after_h = m.route
                hours = (m.end_us - m.start_us) / US_PER_H
                heard = c if m.dark == a else a
                why[0] = (f"encounter: {a} and {c}: {m.dark} was dark while {heard} stayed slow at sea for "
                          f"{hours:.1f} h")  # fmt: skip
                why[1] = f"median speed of {heard} {median_kn(m.speeds_b if m.dark == a else m.speeds_a):.1f} kn"
                why.append(f"{m.dark} was dark throughout: it vanished {vanished_km:.0f} km away {fmt_h(before_h)} "
                           f"before and reappeared {reappeared_km:.0f} km away {fmt_h(after_h)} after the meeting, "
                           f"no faster than it sails")  # fmt: skip
            elif m.dark >= 0:
                why.append(f"{m.dark} was dark throughout: it vanished at the meeting point and reappeared later")
            mid_us = np.array([(m.start_us + m.end_us) // 2])
            if is_night(mid_us, np.array([m.lat_sum / m.slices]), np.array([m.lon_sum / m.slices]))[0]:
                why.append("at night (the sun below the horizon at the meeting point)")
            score = meeting_score(m, self.slice_us, US_PER_H)
            if m.route is not None:  # inferred from where a dark vessel could have been, not seen together
                score = min(score, INFERRED_SCORE_MAX)
            rows.append((a, c, m.start_us, m.end_us, m.lat_sum / m.slices, m.lon_sum / m.slices, score, why))
        cols = list(zip(*rows, strict=True))
        return [
            AlertRows(
                kind="encounter",
                mmsi=np.array(cols[0], np.int64),
                other_mmsi=np.array(cols[1], np.int64),
                start_us=np.array(cols[2], np.int64),
                end_us=np.array(cols[3], np.int64),
                lat=np.array(cols[4], np.float64),
                lon=np.array(cols[5], np.float64),
                score=np.array(cols[6], np.float64),
                reasons=list(cols[7]),
            ).frame()
        ]

    def snapshot(self) -> dict[str, np.ndarray]:
        meetings = [(key, m, False) for key, m in self.meetings.items()] + [(key, m, True) for key, m in self.ended]
        ints = [
            (*key, m.start_us, m.end_us, m.last_slice, m.slices, m.qualified, m.changed, m.dark, ended)
            + (len(m.speeds_a), len(m.speeds_b), m.type_a, m.type_b, m.alongside, m.along_s0, m.along_s1, len(m.ks))
            for key, m, ended in meetings
        ]
        floats = [(m.lat_sum, m.lon_sum, m.km_sum) for _, m, _ in meetings]
        speeds = [v for _, m, _ in meetings for v in (*m.speeds_a, *m.speeds_b)]
        hist = self.history
        return {
            "next_slice": np.array([-1 if self.next_slice is None else self.next_slice], np.int64),
            **{f"buffer_{k}": v.copy() for k, v in self.buffer.items()},
            "last_t": self.last_t.copy(),
            "last": self.last.copy(),
            "ship_type": self.ship_type.copy(),
            "meeting_ints": np.array(ints, np.int64).reshape(-1, MEETING_INTS),
            "meeting_floats": np.array(floats, np.float64).reshape(-1, 3),
            "meeting_speeds": np.array(speeds, np.float64),
            "meeting_ks": np.array([k for _, m, _ in meetings for k in m.ks], np.int64),
            "meeting_kms": np.array([d for _, m, _ in meetings for d in m.kms], np.float64),
            "meeting_routes": np.array([m.route or (math.nan,) * 4 for _, m, _ in meetings], np.float64).reshape(-1, 4),
            "history_slices": np.array([h[0] for h in hist], np.int64),
            "history_sizes": np.array([h[1].shape[0] for h in hist], np.int64),
            "history_vid": np.concatenate([h[1] for h in hist]) if hist else np.zeros(0, np.int64),
            "history_fix": np.concatenate([np.stack(h[2:], axis=1) for h in hist]) if hist else np.zeros((0, 4)),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        nxt = int(arrays["next_slice"][0])
        self.next_slice = None if nxt < 0 else nxt
        self.buffer = {k: arrays[f"buffer_{k}"] for k in ("vid", "t", "lat", "lon", "sog")}
        # ship types came with this version: older snapshots' rows have none known
        self.buffer["typ"] = arrays.get("buffer_typ", np.full(self.buffer["t"].shape, -1.0))
        order = np.lexsort((self.buffer["t"], self.buffer["vid"]))  # by (vid, t), as kept (older snapshots: by slice)
        self.buffer = {k: v[order] for k, v in self.buffer.items()}
        self.last_t, self.last = arrays["last_t"], _columns(arrays["last"], 4)
        self.ship_type = arrays.get("ship_type", np.full(self.last_t.shape, -1, np.int64)).copy()
        self.meetings, self.ended = {}, []
        speeds = arrays["meeting_speeds"].tolist()
        ks = arrays.get("meeting_ks", np.zeros(0, np.int64)).tolist()
        kms = arrays.get("meeting_kms", np.zeros(0)).tolist()
        ints = arrays["meeting_ints"]
        if ints.shape[1] < MEETING_INTS:  # an older snapshot: no ship types, distances or alongside spell
            ints = np.hstack([ints, np.tile([-1, -1, 0, -1, -1, 0], (ints.shape[0], 1))])
        routes = arrays.get("meeting_routes", np.full((ints.shape[0], 4), np.nan)).tolist()  # older: none
        at = at_k = 0
        for row, (lat_sum, lon_sum, km_sum), route in zip(ints.tolist(), arrays["meeting_floats"].tolist(), routes,
                                                          strict=True):  # fmt: skip
            a, c, start, end, last_slice, slices, qualified, changed, dark, ended, na, nb = row[:12]
            type_a, type_b, alongside, along_s0, along_s1, nk = row[12:]
            speeds_a, speeds_b = speeds[at : at + na], speeds[at + na : at + na + nb]
            m = Meeting(start, end, last_slice, slices, lat_sum, lon_sum, km_sum, speeds_a, speeds_b)
            m.qualified, m.dark, m.changed = bool(qualified), dark, bool(changed)
            m.type_a, m.type_b, m.alongside = type_a, type_b, bool(alongside)
            m.along_s0, m.along_s1 = along_s0, along_s1
            m.ks, m.kms = ks[at_k : at_k + nk], kms[at_k : at_k + nk]
            m.route = None if math.isnan(route[0]) else (route[0], route[1], route[2], route[3])
            if not nk:  # an older snapshot: the mean distance at each of its slices, the last ones consecutive
                m.ks = list(range(last_slice - na + 1, last_slice + 1))
                m.kms = [km_sum / max(slices, 1)] * na
            at += na + nb
            at_k += nk
            if ended:
                self.ended.append(((a, c), m))
            else:
                self.meetings[(a, c)] = m
                m.seq = len(self.meetings)
        self.next_seq = len(self.meetings) + 1
        ends = np.cumsum(arrays["history_sizes"])
        fixes = _columns(arrays["history_fix"], 4)
        self.history = []
        for s, e, n in zip(
            arrays["history_slices"].tolist(), ends.tolist(), arrays["history_sizes"].tolist(), strict=True
        ):
            fix = fixes[e - n : e]
            self.history.append((s, arrays["history_vid"][e - n : e], fix[:, 0], fix[:, 1], fix[:, 2], fix[:, 3]))
        self.stops = [self._stops_of(h) for h in self.history]


INFERRED_SCORE_MAX = 70.0  # a meeting with a vessel that sailed to it dark is inferred, never seen: at most "high"
# (engine.alerts' bands), however long it lasted
MEETING_INTS = 18  # columns of a snapshot's meeting_ints (older snapshots: the first 12)


def _columns(arr: np.ndarray, width: int) -> np.ndarray:
    """A snapshot's per-row floats with ``width`` columns: older snapshots' missing ones (ship type) unknown."""
    if arr.shape[1] >= width:
        return arr.copy()
    return np.hstack([arr, np.full((arr.shape[0], width - arr.shape[1]), -1.0)])
