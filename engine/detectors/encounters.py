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
while it was dark is reported as its encounter partner ("... was dark throughout").

A slice is processed once the watermark has passed its end plus ``interp_h`` (all its fixes and the next ones
have arrived), and the "qualified" decision is latched slice by slice, so the alerts do not depend on how the
input was cut into batches. The meeting point is the mean of the pair's midpoints (not antimeridian-aware).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.alerts import AlertRows
from engine.detectors.common import US_PER_H, grow, place_gap_km
from engine.detectors.pairs import close_pairs
from engine.geo.region_pack import Places
from engine.geo.region_pack import haversine_km as great_circle_km
from engine.runner import FINAL_WATERMARK, Step
from engine.sun import is_night

US_PER_MIN = 60_000_000


@dataclass(frozen=True)
class EncounterSettings:
    max_km: float = 0.5  # GFW encounters: within 500 m
    min_h: float = 2.0  # GFW encounters: for at least 2 h
    max_kn: float = 2.0  # GFW encounters: median speed below 2 knots
    offshore_km: float = 10.0  # GFW encounters: at least 10 km from a port or anchorage
    slice_min: float = 10.0  # time slice on which positions are aligned
    stale_min: float = 30.0  # a fix stands for the vessel's position this long (class B at anchor: 3 min reports)
    max_missed: int = 2  # slices apart (or unheard) before a meeting ends
    interp_h: float = 2.0  # fixes up to this far apart are interpolated (sparse, satellite-only reception); alerts
    # wait this long for the next fix, so 0 gives the lowest latency (last fixes carried forward only)
    dark_window_h: float = 12.0  # how far back a vessel that reappears is looked for a partner it met while dark


@dataclass
class Meeting:
    start_us: int
    end_us: int
    last_slice: int
    slices: int = 0
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    km_sum: float = 0.0
    speeds_a: list[float] = field(default_factory=list)
    speeds_b: list[float] = field(default_factory=list)
    qualified: bool = False
    dark: int = -1  # MMSI of a vessel that was dark throughout (its position is where it vanished)
    changed: bool = False


def port_distance_km(places: Places | None, lat: float, lon: float) -> float:
    """Distance from a point to the edge of the nearest place, 0 inside one (inf when there are none)."""
    return float(max(0.0, place_gap_km(np.array([lat]), np.array([lon]), places)[0]))


class EncounterDetector:
    """Detector of ``encounter`` (see the module's docstring)."""

    name = "encounters"

    def __init__(self, places: Places | None = None, settings: EncounterSettings | None = None) -> None:
        self.settings = settings or EncounterSettings()
        self.places = None if places is None else places.of_kind("port", "terminal", "anchorage", "pilot")
        self.slice_us = int(self.settings.slice_min * US_PER_MIN)
        self.stale_us = int(self.settings.stale_min * US_PER_MIN)
        self.interp_us = int(self.settings.interp_h * US_PER_H)
        self.ahead = -(-self.interp_us // self.slice_us)  # slices looked ahead for the next fix
        self.next_slice: int | None = None
        self.buffer: dict[str, np.ndarray] = {k: np.zeros(0, np.int64) for k in ("vid", "t")}
        self.buffer.update({k: np.zeros(0, np.float64) for k in ("lat", "lon", "sog")})
        self.last_t = np.zeros(0, np.int64)
        self.last = np.zeros((0, 3), np.float64)  # lat, lon, sog of each vessel's last fix
        self.meetings: dict[tuple[int, int], Meeting] = {}
        self.ended: list[tuple[tuple[int, int], Meeting]] = []  # meetings that ended with news not yet reported
        self.history: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # slow vessels a slice

    def process(self, step: Step) -> list[pl.DataFrame]:
        f = step.fixes
        n = step.fleet.size
        self.last_t = grow(self.last_t, n, -1)
        self.last = grow(self.last, n, np.nan)
        if len(f):
            ok = ~(np.isnan(f.lat) | np.isnan(f.lon))  # a report without a position places nobody
            new = {"vid": f.vid, "t": f.t_us, "lat": f.lat, "lon": f.lon, "sog": f.sog}
            self.buffer = {k: np.concatenate([self.buffer[k], new[k][ok]]) for k in self.buffer}
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
        slices = self.buffer["t"] // self.slice_us
        order = np.lexsort((self.buffer["t"], self.buffer["vid"], slices))
        b = {k: v[order] for k, v in self.buffer.items()}
        sl = slices[order]
        bounds = np.searchsorted(sl, np.arange(self.next_slice, end_slice + self.ahead + 1))
        for k, s in enumerate(range(self.next_slice, end_slice)):
            rows = {key: v[bounds[k] : bounds[k + 1]] for key, v in b.items()}
            ahead = {key: v[bounds[k + 1] : bounds[k + 1 + self.ahead]] for key, v in b.items()}
            self._slice(s, rows, ahead, mmsi)
        keep = sl >= end_slice
        self.buffer = {k: v[keep] for k, v in b.items()}
        self.next_slice = max(self.next_slice, end_slice)
        if step.watermark_us == FINAL_WATERMARK:
            self.next_slice = end_slice
        return self._emit()

    def _slice(self, s: int, rows: dict[str, np.ndarray], ahead: dict[str, np.ndarray], mmsi: np.ndarray) -> None:
        """Advance to the end of slice ``s``: update the vessels' last fixes, align them at the slice's end (carried
        forward, or interpolated towards the next fix in ``ahead``), pair them, grow the meetings."""
        st = self.settings
        if len(rows["vid"]):
            last_of_vessel = np.flatnonzero(np.append(np.diff(rows["vid"]) != 0, True))
            v = rows["vid"][last_of_vessel]
            idx = last_of_vessel
            first = np.flatnonzero(np.insert(np.diff(rows["vid"]) != 0, 0, True))
            back = (self.last_t[rows["vid"][first]] >= 0) & (
                rows["t"][first] - self.last_t[rows["vid"][first]] >= st.min_h * US_PER_H
            )
            for r in first[back].tolist():
                self._dark_partner(int(rows["vid"][r]), int(rows["t"][r]), mmsi)
            self.last_t[v] = rows["t"][idx]
            self.last[v] = np.stack([rows["lat"][idx], rows["lon"][idx], rows["sog"][idx]], axis=1)
        slice_end = (s + 1) * self.slice_us
        active, pos = self._aligned(slice_end, ahead)
        slow = ~(pos[:, 2] >= st.max_kn)  # NaN speed kept: it may be slow
        self.history.append((s, active[slow], pos[slow, 0], pos[slow, 1], pos[slow, 2]))
        keep_from = s - int(st.dark_window_h * US_PER_H) // self.slice_us
        while self.history and self.history[0][0] < keep_from:
            self.history.pop(0)
        if active.shape[0] >= 2:
            i, j, km = close_pairs(pos[:, 0], pos[:, 1], st.max_km)
            # vessels close together near a port or anchorage are normal traffic, not a meeting at sea: drop those
            # pairs before any per-pair work (anchorages hold most close pairs)
            at_sea = place_gap_km(pos[:, 0], pos[:, 1], self.places) >= st.offshore_km
            keep = at_sea[i] & at_sea[j]
            i, j, km = i[keep], j[keep], km[keep]
            for a, c, d in zip(i.tolist(), j.tolist(), km.tolist(), strict=True):
                self._meet(s, slice_end, (int(active[a]), pos[a]), (int(active[c]), pos[c]), d, mmsi)
        for key in [k for k, m in self.meetings.items() if s - m.last_slice > st.max_missed]:
            ended = self.meetings.pop(key)
            if ended.changed:
                self.ended.append((key, ended))

    def _dark_partner(self, b: int, t1: int, mmsi: np.ndarray) -> None:
        """Vessel ``b`` reappears after a silence of ``min_h``. A vessel that was within ``max_km`` of where ``b``
        vanished (then, or within ``max_missed`` slices) and stayed slow for ``min_h`` while ``b`` was dark met it
        there: a transfer with one side dark, which position pairing cannot see."""
        st = self.settings
        t0 = int(self.last_t[b])
        lat0, lon0 = float(self.last[b, 0]), float(self.last[b, 1])
        if np.isnan(lat0) or np.isnan(lon0):
            return
        s0, s1 = t0 // self.slice_us, t1 // self.slice_us
        slices = [h for h in self.history if s0 <= h[0] < s1]
        near: set[int] = set()
        for _, vids, la, lo, _ in slices[: st.max_missed + 1]:
            near.update(vids[great_circle_km(la, lo, lat0, lon0) <= st.max_km].tolist())
        near.discard(b)
        for a in sorted(near):
            seen: list[tuple[int, float, float, float]] = []
            for s, vids, la, lo, kn in slices:
                k = np.flatnonzero(vids == a)
                if k.shape[0]:
                    seen.append((s, float(la[k[0]]), float(lo[k[0]]), float(kn[k[0]])))
                elif seen and s - seen[-1][0] > st.max_missed:
                    break
            if not seen or (seen[-1][0] - seen[0][0] + 1) * self.slice_us < st.min_h * US_PER_H:
                continue
            key = (int(min(mmsi[a], mmsi[b])), int(max(mmsi[a], mmsi[b])))
            m = Meeting(start_us=seen[0][0] * self.slice_us, end_us=(seen[-1][0] + 1) * self.slice_us,
                        last_slice=seen[-1][0], dark=int(mmsi[b]))  # fmt: skip
            speeds = m.speeds_a if key[0] == mmsi[a] else m.speeds_b
            for _, la_k, lo_k, kn_k in seen:
                m.slices += 1
                m.lat_sum += la_k
                m.lon_sum += lo_k
                speeds.append(kn_k)
            (m.speeds_b if key[0] == mmsi[a] else m.speeds_a).append(0.0)  # dark: no speed heard; it stayed along
            m.km_sum = float(great_circle_km(seen[0][1], seen[0][2], lat0, lon0)) * m.slices
            if self._slow(m) and self._offshore(m) >= st.offshore_km:
                m.qualified = True
                self.ended.append((key, m))

    def _aligned(self, t: int, ahead: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The vessels that stand somewhere at time ``t`` and their (lat, lon, speed): between two fixes at most
        ``interp_h`` apart, interpolated; else the last fix, for ``stale_min``."""
        known = (self.last_t >= 0) & (self.last_t <= t)
        carried = known & (self.last_t >= t - self.stale_us)
        nv, first = np.unique(ahead["vid"], return_index=True)
        prev_t = self.last_t[nv]
        ok = known[nv] & (ahead["t"][first] - prev_t <= self.interp_us)
        nv, first, prev_t = nv[ok], first[ok], prev_t[ok]
        ids = np.union1d(np.flatnonzero(carried), nv)
        pos = self.last[ids].copy()
        w = (t - prev_t) / (ahead["t"][first] - prev_t)
        prev = self.last[nv]
        dlon = (ahead["lon"][first] - prev[:, 1] + 180.0) % 360.0 - 180.0  # the short way across the antimeridian
        k = np.searchsorted(ids, nv)
        pos[k, 0] = prev[:, 0] + w * (ahead["lat"][first] - prev[:, 0])
        pos[k, 1] = (prev[:, 1] + w * dlon + 180.0) % 360.0 - 180.0
        return ids, pos

    def _meet(self, s: int, t: int, va: tuple[int, np.ndarray], vc: tuple[int, np.ndarray], km: float,
              mmsi: np.ndarray) -> None:  # fmt: skip
        st = self.settings
        (a, pa), (c, pc) = va, vc
        if mmsi[c] < mmsi[a]:
            (a, pa), (c, pc) = (c, pc), (a, pa)
        key = (int(mmsi[a]), int(mmsi[c]))
        m = self.meetings.get(key)
        if m is None:
            m = self.meetings[key] = Meeting(start_us=t, end_us=t, last_slice=s)
        m.end_us, m.last_slice, m.slices = max(m.end_us, t), s, m.slices + 1
        m.lat_sum += (pa[0] + pc[0]) / 2
        m.lon_sum += (pa[1] + pc[1]) / 2
        m.km_sum += km
        m.speeds_a.append(float(pa[2]))
        m.speeds_b.append(float(pc[2]))
        if m.qualified:
            m.changed = True
        elif (m.end_us - m.start_us) >= st.min_h * US_PER_H and self._slow(m) and self._offshore(m) >= st.offshore_km:
            m.qualified = m.changed = True

    def _slow(self, m: Meeting) -> bool:
        speeds = [np.nanmedian(x) if not np.all(np.isnan(x)) else np.nan for x in (m.speeds_a, m.speeds_b)]
        return all(bool(v < self.settings.max_kn) for v in speeds)

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
            hours = (m.end_us - m.start_us) / US_PER_H
            kn_a, kn_b = (float(np.nanmedian(x)) for x in (m.speeds_a, m.speeds_b))
            off = self._offshore(m)
            why = [
                f"{a} and {c} within {self.settings.max_km:g} km for {hours:.1f} h "
                f"(mean {m.km_sum / m.slices * 1000:.0f} m apart)",
                f"median speeds {kn_a:.1f} and {kn_b:.1f} kn",
                f"{off:.0f} km from the nearest port or anchorage",
            ]
            if m.dark >= 0:
                why.append(f"{m.dark} was dark throughout: it vanished at the meeting point and reappeared later")
            mid_us = np.array([(m.start_us + m.end_us) // 2])
            if is_night(mid_us, np.array([m.lat_sum / m.slices]), np.array([m.lon_sum / m.slices]))[0]:
                why.append("at night (the sun below the horizon at the meeting point)")
            score = min(100.0, 40.0 + 15.0 * hours)
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
            + (len(m.speeds_a), len(m.speeds_b))
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
            "meeting_ints": np.array(ints, np.int64).reshape(-1, 12),
            "meeting_floats": np.array(floats, np.float64).reshape(-1, 3),
            "meeting_speeds": np.array(speeds, np.float64),
            "history_slices": np.array([h[0] for h in hist], np.int64),
            "history_sizes": np.array([h[1].shape[0] for h in hist], np.int64),
            "history_vid": np.concatenate([h[1] for h in hist]) if hist else np.zeros(0, np.int64),
            "history_fix": np.concatenate([np.stack(h[2:], axis=1) for h in hist]) if hist else np.zeros((0, 3)),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        nxt = int(arrays["next_slice"][0])
        self.next_slice = None if nxt < 0 else nxt
        self.buffer = {k: arrays[f"buffer_{k}"] for k in ("vid", "t", "lat", "lon", "sog")}
        self.last_t, self.last = arrays["last_t"], arrays["last"]
        self.meetings, self.ended = {}, []
        speeds = arrays["meeting_speeds"].tolist()
        at = 0
        for row, (lat_sum, lon_sum, km_sum) in zip(
            arrays["meeting_ints"].tolist(), arrays["meeting_floats"].tolist(), strict=True
        ):
            a, c, start, end, last_slice, slices, qualified, changed, dark, ended, na, nb = row
            speeds_a, speeds_b = speeds[at : at + na], speeds[at + na : at + na + nb]
            m = Meeting(start, end, last_slice, slices, lat_sum, lon_sum, km_sum, speeds_a, speeds_b)
            m.qualified, m.dark, m.changed = bool(qualified), dark, bool(changed)
            at += na + nb
            if ended:
                self.ended.append(((a, c), m))
            else:
                self.meetings[(a, c)] = m
        ends = np.cumsum(arrays["history_sizes"])
        self.history = []
        for s, e, n in zip(
            arrays["history_slices"].tolist(), ends.tolist(), arrays["history_sizes"].tolist(), strict=True
        ):
            fix = arrays["history_fix"][e - n : e]
            self.history.append((s, arrays["history_vid"][e - n : e], fix[:, 0], fix[:, 1], fix[:, 2]))
