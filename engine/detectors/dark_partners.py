"""Meetings with a vessel that stayed dark: the part of :mod:`engine.detectors.encounters` that position pairing
cannot see (its module docstring says when a dark vessel is taken as a meeting's partner).

:class:`DarkPartners` is mixed into :class:`~engine.detectors.encounters.EncounterDetector`: it reads the
detector's slow-vessel ``history`` and ``stops`` (kept slice by slice, in the snapshot through ``history``) and its
settings, and gives the detector the meetings found when a vessel reappears after a silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.detectors.common import KM_PER_NM, US_PER_H, NearPlaces
from engine.detectors.transfers import (
    INFERRED,
    EncounterSettings,
    Meeting,
    is_fleet_pair,
    is_service,
    known_type,
    latest_known_type,
)
from engine.geo.region_pack import haversine_km as great_circle_km
from feeds.jit import kernel

# a dark partner's route to a stop (EncounterDetector._sailed_to): km from where it vanished, hours from vanishing
# to the stop, km to where it reappeared, hours from the stop's end, the stop's first and last slice
Route = tuple[float, float, float, float, int, int]

History = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # slice, vid, lat, lon, kn, type
Stops = tuple[int, np.ndarray, np.ndarray, np.ndarray]  # slice, vid, lat, lon
_ANY_SLICE = (np.iinfo(np.int64).min, np.iinfo(np.int64).max)


@dataclass
class Flat:
    """A list of slices of rows (the detector's ``history`` or ``stops``) laid end to end for a walk through
    slices: entry ``k`` is slice ``number[k]`` and owns rows ``off[k]:off[k + 1]`` of ``cols`` (the tuples' arrays).
    The entries of the old list come first, then the walk's, one a slice; the list holds entries ``lo:hi`` at each
    point of the walk (it gains one a slice and drops the oldest), which the walk sets."""

    number: np.ndarray
    off: np.ndarray
    cols: list[np.ndarray]
    lo: int = 0
    hi: int = 0

    @classmethod
    def of(cls, entries: list[tuple], first: int, new_off: np.ndarray, new_cols: list[np.ndarray]) -> Flat:
        """The ``entries`` (slice, then one array a column), then a slice from ``first`` on for each run of rows
        ``new_off[k]:new_off[k + 1]`` of ``new_cols``."""
        sizes = np.array([e[1].shape[0] for e in entries], np.int64)
        off = np.concatenate(([0], np.cumsum(sizes), sizes.sum() + new_off[1:] - new_off[0])).astype(np.int64)
        slices = np.concatenate(([e[0] for e in entries], first + np.arange(new_off.shape[0] - 1))).astype(np.int64)
        a, z = int(new_off[0]), int(new_off[-1])
        cols = [np.concatenate([*(e[1 + c] for e in entries), col[a:z]]) for c, col in enumerate(new_cols)]
        return cls(slices, off, cols, 0, len(entries))

    def within(self, s0: int, s1: int) -> np.ndarray:
        """The entries the list holds now whose slice is in ``s0 .. s1 - 1``, in list order."""
        sl = self.number[self.lo : self.hi]
        return np.flatnonzero((sl >= s0) & (sl < s1)) + self.lo

    def rows(self, entries: np.ndarray) -> slice | np.ndarray:
        """The rows of ``entries`` one after another (a slice when the entries follow each other)."""
        if entries.shape[0] and entries[-1] - entries[0] == entries.shape[0] - 1:
            return slice(int(self.off[entries[0]]), int(self.off[entries[-1] + 1]))
        return np.concatenate(
            [np.zeros(0, np.int64), *(np.arange(self.off[e], self.off[e + 1]) for e in entries.tolist())]
        )


@kernel
def _partner_seen(a, entries, slice_of, off, vid, lat, lon, kn, ty, lo_s, hi_s, max_missed):
    """Vessel ``a`` among the slow vessels of ``entries`` (in order; those of a slice outside ``lo_s .. hi_s``
    passed over): its first row of each entry that has it, from the first such entry until it is missing from
    entries more than ``max_missed`` slices after the last one it was in. Returns their slices and (lat, lon,
    speed, ship type) rows."""
    n = entries.shape[0]
    s_out = np.empty(n, np.int64)
    f_out = np.empty((n, 4))
    m = 0
    for q in range(n):
        e = entries[q]
        s = slice_of[e]
        if s < lo_s or s > hi_s:
            continue
        found = -1
        for r in range(off[e], off[e + 1]):
            if vid[r] == a:
                found = r
                break
        if found >= 0:
            s_out[m] = s
            f_out[m, 0] = lat[found]
            f_out[m, 1] = lon[found]
            f_out[m, 2] = kn[found]
            f_out[m, 3] = ty[found]
            m += 1
        elif m > 0 and s - s_out[m - 1] > max_missed:
            break
    return s_out[:m], f_out[:m]


class DarkPartners:
    """The dark-partner search of the encounter detector (see the module's docstring)."""

    settings: EncounterSettings
    slice_us: int
    near_port: NearPlaces
    history: list[History]  # slow vessels a slice, the last dark_window_h
    stops: list[Stops]  # of those, the ones another may have sailed to dark (:meth:`_stops_of`)

    def _slow(self, m: Meeting) -> bool:
        raise NotImplementedError  # the detector's

    def _offshore(self, m: Meeting) -> float:
        raise NotImplementedError  # the detector's

    def _dark_partner(self, b: int, t1: int, t0: int, last: list[float], mmsi: np.ndarray, history: Flat,
                      stops: Flat) -> list[tuple[tuple[int, int], Meeting]]:  # fmt: skip
        """Vessel ``b`` reappears at ``t1`` after a silence of ``min_h`` since its fix at ``t0`` (``last``: lat, lon,
        ship type). A vessel that was within ``max_km`` of where ``b`` vanished (then, or within ``max_missed``
        slices) and stayed slow for ``min_h`` while ``b`` was dark met it there: a transfer with one side dark,
        which position pairing cannot see (unless one of them is at its work, or both fish: see transfers.py).
        ``history`` and ``stops`` are the detector's lists as they are now, laid flat (:class:`Flat`)."""
        st = self.settings
        found: list[tuple[tuple[int, int], Meeting]] = []
        lat0, lon0, type0 = last[:3]
        if np.isnan(lat0) or np.isnan(lon0):
            return found
        s0, s1 = t0 // self.slice_us, t1 // self.slice_us
        slices = history.within(s0, s1)
        vid, la, lo, kn, ty = history.cols
        first = history.rows(slices[: st.max_missed + 1])
        near = np.unique(vid[first][great_circle_km(la[first], lo[first], lat0, lon0) <= st.max_km])
        candidates: list[tuple[int, Route | None]] = [(a, None) for a in near[near != b].tolist()]
        if not candidates:
            candidates = self._sailed_to(b, t0, t1, last, stops, stops.within(s0, s1))
        for a, route in candidates:
            lo_s, hi_s = _ANY_SLICE if route is None else route[4:6]
            seen_s, seen_f = _partner_seen(a, slices, history.number, history.off, vid, la, lo, kn, ty, lo_s, hi_s,
                                           st.max_missed)  # fmt: skip
            seen = [(s, *f) for s, f in zip(seen_s.tolist(), seen_f.tolist(), strict=True)]
            if not seen or (seen[-1][0] - seen[0][0] + 1) * self.slice_us < st.min_h * US_PER_H:
                continue
            key = (int(min(mmsi[a], mmsi[b])), int(max(mmsi[a], mmsi[b])))
            m = Meeting(start_us=seen[0][0] * self.slice_us, end_us=(seen[-1][0] + 1) * self.slice_us,
                        last_slice=seen[-1][0], dark=int(mmsi[b]))  # fmt: skip
            a_first = key[0] == mmsi[a]
            speeds = m.speeds_a if a_first else m.speeds_b
            # the distance to where the partner vanished stands for the pair's; one that sailed there dark: unknown
            km0 = float(great_circle_km(seen[0][1], seen[0][2], lat0, lon0)) if route is None else math.nan
            m.route = None if route is None else route[:4]
            for s, la_k, lo_k, kn_k, _ in seen:
                m.slices += 1
                m.lat_sum += la_k
                m.lon_sum += lo_k
                speeds.append(kn_k)
                m.ks.append(s)
                m.kms.append(km0)
            (m.speeds_b if a_first else m.speeds_a).append(0.0)  # dark: no speed heard; it stayed along
            types = (latest_known_type([x[4] for x in seen], 0, len(seen), -1), known_type(type0))
            m.type_a, m.type_b = types if a_first else types[::-1]
            m.km_sum = km0 * m.slices if route is None else 0.0
            if is_service(m, st) or is_fleet_pair(m, st):
                continue
            if self._slow(m) and self._offshore(m) >= st.offshore_km:
                m.qualified = True
                found.append((key, m))
        return found

    def _stops_of(self, h: History) -> Stops:
        """The rows of a slice of slow vessels that another may have met dark (:meth:`_may_stop`)."""
        s, vids, la, lo, _, ty = h
        ok = self._may_stop(la, lo, ty)
        return (s, vids[ok], la[ok], lo[ok])

    def _may_stop(self, la: np.ndarray, lo: np.ndarray, ty: np.ndarray) -> np.ndarray:
        """Which slow vessels (at ``la``, ``lo``, of ship type ``ty``) another may have met dark: the one heard must
        have said what it is, and not a fishing or service vessel (fishing boats drift at sea all night and pair
        trawlers take turns going quiet, so their stops are no evidence of a meeting), and be at sea. Row by row:
        the detector asks once for the slow vessels of all the slices it walks."""
        st = self.settings
        ok = (ty >= 0) & (ty < INFERRED) & ~np.isin(ty, st.fleet_types + st.service_types)
        if ok.any():
            ok[ok] = ~self.near_port(la[ok], lo[ok])
        return ok

    def _sailed_to(self, b: int, t0: int, t1: int, last: list[float], stops: Flat,
                   entries: np.ndarray) -> list[tuple[int, Route | None]]:  # fmt: skip
        """The vessel that ``b`` can have met dark after sailing from where it vanished (``last``: lat, lon, ship
        type, then where it reappeared, its speeds before and after) at ``t0`` to where it reappeared at ``t1``: one
        slow for ``min_h`` of slices (``entries`` of ``stops``), at sea, at points ``b`` could reach in time and
        leave in time, its stop ending within ``dark_reappear_h`` before ``t1``. Returns ``[(a, (km from the
        vanishing point, hours from vanishing to the stop, km to the reappearance, hours from the stop's end, first
        slice, last slice))]`` or ``[]``."""
        st = self.settings
        lat0, lon0, _, lat1, lon1, kn0, kn1 = last
        kn = max(x for x in (kn0, kn1) if not math.isnan(x)) if not (math.isnan(kn0) and math.isnan(kn1)) else math.nan
        if not kn > st.max_kn or np.isnan(lat1) or np.isnan(lon1) or not entries.shape[0]:
            return []  # a vessel that reported no way under it cannot be said to have sailed anywhere
        kmh = kn * KM_PER_NM * st.dark_speed_margin
        rows = stops.rows(entries)
        s = np.repeat(stops.number[entries], stops.off[entries + 1] - stops.off[entries])
        vid, la, lo = (col[rows] for col in stops.cols)
        t_end = (s + 1) * self.slice_us  # where a slice's row stands
        from_p = great_circle_km(la, lo, lat0, lon0)
        to_r = great_circle_km(la, lo, lat1, lon1)
        # b could be beside it then: there from where it vanished, and away in time to reappear where it did
        reach_to = kmh * (t_end - t0) / US_PER_H + st.max_km
        reach_from = kmh * (t1 - t_end) / US_PER_H + st.max_km
        can = (from_p <= reach_to) & (to_r <= reach_from)
        can &= vid != b
        if not can.any():
            return []
        vid, s, from_p, to_r, t_end = vid[can], s[can], from_p[can], to_r[can], t_end[can]
        order = np.lexsort((s, vid))
        vid, s, from_p, to_r, t_end = vid[order], s[order], from_p[order], to_r[order], t_end[order]
        cut = np.flatnonzero((vid[1:] != vid[:-1]) | (s[1:] - s[:-1] > st.max_missed + 1)) + 1
        best: tuple[int, Route] | None = None
        for r, e in zip(np.concatenate(([0], cut)).tolist(), np.concatenate((cut, [vid.shape[0]])).tolist(),
                        strict=True):  # fmt: skip
            if (s[e - 1] - s[r] + 1) * self.slice_us < st.min_h * US_PER_H:
                continue
            after_h = (t1 - t_end[e - 1]) / US_PER_H
            if after_h > st.dark_reappear_h:
                continue
            route = (float(from_p[r]), float((t_end[r] - self.slice_us - t0) / US_PER_H), float(to_r[e - 1]),
                     float(after_h), int(s[r]), int(s[e - 1]))  # fmt: skip
            if best is None or (after_h, int(vid[r])) < (best[1][3], best[0]):
                best = (int(vid[r]), route)
        return [] if best is None else [best]
