"""Draught change at sea: a vessel reports a draught at least ``min_change_m`` different from its previous report
within ``window_s``, away from every port, terminal and anchorage, with no port call in between: it loaded or
discharged at sea (a ship-to-ship transfer, possibly with a dark partner).

Defaults (DESIGN.md): >= 1 m within 24 h, > 10 nm from any port (Pole Star / industry practice).
Per fix: the distance beyond the nearest place's radius (a Numba kernel); per draught report: columnar numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_S, NearPlaces, grow, place_gap_km
from engine.geo.regions import Places, load_pack
from engine.runner import Step

PORT_KINDS = ("port", "terminal", "anchorage")


@dataclass(frozen=True)
class DraughtSettings:
    min_change_m: float = 1.0  # >= 1 m (Pole Star / industry practice)
    window_s: float = 24 * 3600.0  # within 24 h (Pole Star / industry practice)
    port_clear_km: float = 10 * KM_PER_NM  # > 10 nm from any port (Pole Star / industry practice)
    # where the vessel was: its latest fix, if no older than this; else (a vessel back from dark) its first fix
    # after the change, if no later than this
    max_fix_age_s: float = 3 * 3600.0
    hold_s: float = 2 * 3600.0  # a draught that reverts within 2 h is two transmitters on one MMSI, not cargo
    # "no port call" can be said only where the region pack knows the ports: farther than this from all of its
    # places, the vessel is outside the pack's waters (a Gulf of Tonkin pack on a US archive: "13,745 km from the
    # nearest port"), where a crew correcting the draught after leaving port cannot be told from cargo moved
    known_ports_km: float = 300.0
    pack: str = "gulf-of-tonkin"


def _latest_before(vid: np.ndarray, t_s: np.ndarray, qvid: np.ndarray, qt_s: np.ndarray) -> np.ndarray:
    """Index of each query's latest row of the same vessel at or before its time (rows sorted by vid, t); -1."""
    key = vid * (1 << 40) + t_s
    i = np.searchsorted(key, qvid * (1 << 40) + qt_s, side="right") - 1
    ok = (i >= 0) & (vid[np.clip(i, 0, None)] == qvid) if vid.shape[0] else np.zeros(qvid.shape[0], bool)
    return np.where(ok, i, -1)


class DraughtDetector:
    """draught_change: loaded or discharged at sea."""

    name = "draught"

    def __init__(self, settings: DraughtSettings | None = None, places: Places | None = None) -> None:
        self.settings = settings or DraughtSettings()
        self.places = places if places is not None else load_pack(self.settings.pack).places.of_kind(*PORT_KINDS)
        self.near_port = NearPlaces(self.places, self.settings.port_clear_km)
        self.draught = np.zeros((0, 2), np.float64)  # last reported draught (m), its time (s)
        self.fix = np.zeros((0, 4), np.float64)  # latest fix: lat, lon, t (s), gap to the nearest place (km)
        self.port_t = np.zeros(0, np.float64)  # latest fix within port_clear_km of a place (s)
        self.before = np.zeros((0, 2), np.float64)  # the draught before the last change, and its last report (s)
        self.pending: dict[int, list[tuple[float, ...]]] = {}  # changes held for hold_s: one alert row each
        # changes with no recent fix before them, waiting for the vessel's first fix after: (t, prev_t, d,
        # prev_d, latest port call before the change)
        self.unplaced: dict[int, list[tuple[float, ...]]] = {}

    def process(self, step: Step) -> list[pl.DataFrame]:
        s = self.settings
        size = step.fleet.size
        self.draught, self.fix = grow(self.draught, size, np.nan), grow(self.fix, size, np.nan)
        self.port_t = grow(self.port_t, size, -np.inf)
        self.before = grow(self.before, size, np.nan)
        fx, ids = step.fixes, step.identities
        # every fix: in port or not (port calls); the distance itself only where a change or the state needs it
        in_port = self.near_port(fx.lat, fx.lon)
        fx_t = fx.t_us // US_PER_S
        ok = (ids.draught > 0) & np.isfinite(ids.draught)
        vid, t, d = ids.vid[ok], ids.t_us[ok] // US_PER_S, ids.draught[ok]
        out = []
        if vid.shape[0]:
            first = np.concatenate(([True], vid[1:] != vid[:-1]))
            prev_d, prev_t = np.roll(d, 1), np.roll(t, 1).astype(np.float64)
            prev_d[first], prev_t[first] = self.draught[vid[first], 0], self.draught[vid[first], 1]
            change = np.flatnonzero((np.abs(d - prev_d) >= s.min_change_m) & (t - prev_t <= s.window_s))
            if change.shape[0]:
                self._hold(step, in_port, fx_t, vid[change], t[change], d[change], prev_d[change], prev_t[change])
            last = np.concatenate((vid[1:] != vid[:-1], [True]))
            self.draught[vid[last]] = np.stack([d[last], t[last]], axis=1)
        if len(fx):
            vids, starts = fx.vessel_runs()
            end = starts[1:] - 1
            gap = place_gap_km(fx.lat[end], fx.lon[end], self.places)
            self.fix[vids] = np.stack([fx.lat[end], fx.lon[end], fx_t[end], gap], axis=1)
            port_rows = np.flatnonzero(in_port)
            np.maximum.at(self.port_t, fx.vid[port_rows], fx_t[port_rows].astype(np.float64))
        if self.unplaced:
            self._place(step, in_port, fx_t)
        out.append(self._emit(step))
        return [f for f in out if f.height]

    def _hold(self, step: Step, in_port_fix: np.ndarray, fx_t: np.ndarray, vid: np.ndarray, t: np.ndarray,
              d: np.ndarray, prev_d: np.ndarray, prev_t: np.ndarray) -> None:  # fmt: skip
        """Changes at sea wait ``hold_s``; a return to the value before (alternation) cancels them."""
        s, fx = self.settings, step.fixes
        i = _latest_before(fx.vid, fx_t, vid, t)
        has = i >= 0
        j = np.clip(i, 0, None)
        lat = np.where(has, fx.lat[j] if len(fx) else np.nan, self.fix[vid, 0])
        lon = np.where(has, fx.lon[j] if len(fx) else np.nan, self.fix[vid, 1])
        when = np.where(has, fx_t[j] if len(fx) else np.nan, self.fix[vid, 2])
        gap_j = place_gap_km(fx.lat[j], fx.lon[j], self.places) if len(fx) else np.nan
        where_gap = np.where(has, gap_j, self.fix[vid, 3])
        in_port = np.flatnonzero(in_port_fix)
        k = _latest_before(fx.vid[in_port], fx_t[in_port], vid, t)
        port_t = np.where(k >= 0, fx_t[in_port][np.clip(k, 0, None)] if in_port.shape[0] else 0, self.port_t[vid])
        fresh = t - when <= s.max_fix_age_s
        at_sea = fresh & (where_gap > s.port_clear_km) & (where_gap <= s.known_ports_km) & (port_t < prev_t)
        for r in range(vid.shape[0]):  # one iteration per change
            v = int(vid[r])
            bd, bt = self.before[v]
            if abs(d[r] - bd) < s.min_change_m / 2 and t[r] - bt <= s.hold_s:  # back to the value before
                self.pending[v] = [p for p in self.pending.get(v, []) if t[r] >= p[0] + s.hold_s]
                self.unplaced[v] = [p for p in self.unplaced.get(v, []) if t[r] >= p[0] + s.hold_s]
            elif at_sea[r]:
                row = (float(t[r]), prev_t[r], d[r], prev_d[r], lat[r], lon[r], where_gap[r])
                self.pending.setdefault(v, []).append(tuple(float(x) for x in row))
            elif not fresh[r]:  # no recent fix before the change (dark, or unheard): judge it by the next fix
                waiting = (float(t[r]), prev_t[r], d[r], prev_d[r], port_t[r])
                self.unplaced.setdefault(v, []).append(tuple(float(x) for x in waiting))
            self.before[v] = (prev_d[r], prev_t[r])
        self.unplaced = {v: c for v, c in self.unplaced.items() if c}

    def _place(self, step: Step, in_port_fix: np.ndarray, fx_t: np.ndarray) -> None:
        """Changes waiting for a fix: placed at the vessel's first fix at or after them, if it comes within
        ``max_fix_age_s`` and is at sea with no port call since the draught before; dropped otherwise."""
        s, fx = self.settings, step.fixes
        key = fx.vid * (1 << 40) + fx_t
        for v in sorted(self.unplaced):
            left = []
            for change in self.unplaced[v]:
                t, prev_t, d, prev_d, port_t = change
                i = int(np.searchsorted(key, v * (1 << 40) + int(t), side="left")) if len(fx) else 0
                if i < len(fx) and fx.vid[i] == v:
                    gap = float(place_gap_km(fx.lat[i : i + 1], fx.lon[i : i + 1], self.places)[0])
                    known = s.port_clear_km < gap <= s.known_ports_km
                    if fx_t[i] - t <= s.max_fix_age_s and known and port_t < prev_t:
                        row = (t, prev_t, d, prev_d, float(fx.lat[i]), float(fx.lon[i]), gap)
                        self.pending.setdefault(v, []).append(row)
                elif (t + s.max_fix_age_s) * US_PER_S >= step.watermark_us:
                    left.append(change)  # its first fix after may still come
            self.unplaced[v] = left
        self.unplaced = {v: c for v, c in self.unplaced.items() if c}

    def _emit(self, step: Step) -> pl.DataFrame:
        hold = self.settings.hold_s
        ready = [
            (v, p)
            for v in sorted(self.pending)
            for p in self.pending[v]
            if (p[0] + hold) * US_PER_S <= step.watermark_us
        ]
        self.pending = {
            v: [p for p in ps if (p[0] + hold) * US_PER_S > step.watermark_us] for v, ps in self.pending.items()
        }
        self.pending = {v: ps for v, ps in self.pending.items() if ps}
        n = len(ready)
        a = np.array([p for _, p in ready], np.float64).reshape(n, 7)
        t, prev_t, d, prev_d = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        reasons = [
            [f"draught {p[3]:.1f} -> {p[2]:.1f} m ({p[2] - p[3]:+.1f} m) within {(p[0] - p[1]) / 3600:.1f} h",
             _where_words(p[6])]
            for _, p in ready
        ]  # fmt: skip
        score = np.round(np.clip(40 + 15 * np.abs(d - prev_d), 0, 85), 1)
        vid = np.array([v for v, _ in ready], np.int64)
        mmsi = step.fleet.mmsi[vid] if n else np.zeros(0, np.int64)
        return AlertRows("draught_change", mmsi, np.full(n, NO_OTHER), prev_t.astype(np.int64) * US_PER_S,
                         t.astype(np.int64) * US_PER_S, a[:, 4], a[:, 5], score, reasons).frame()  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        flat = [(v, *p) for v in sorted(self.pending) for p in self.pending[v]]
        pending = np.array(flat, np.float64).reshape(-1, 8)
        unplaced = np.array([(v, *p) for v in sorted(self.unplaced) for p in self.unplaced[v]], np.float64)
        return {"draught": self.draught.copy(), "fix": self.fix.copy(), "port_t": self.port_t.copy(),
                "before": self.before.copy(), "pending": pending, "unplaced": unplaced.reshape(-1, 6)}  # fmt: skip

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.draught, self.fix, self.port_t = arrays["draught"].copy(), arrays["fix"].copy(), arrays["port_t"].copy()
        self.before = arrays["before"].copy()
        self.pending = {}
        for row in arrays["pending"].tolist():
            self.pending.setdefault(int(row[0]), []).append(tuple(row[1:]))
        self.unplaced = {}
        for row in arrays.get("unplaced", np.zeros((0, 6))).tolist():  # older snapshots have none
            self.unplaced.setdefault(int(row[0]), []).append(tuple(row[1:]))


def _where_words(gap_km: float) -> str:
    if not np.isfinite(gap_km):
        return "no port, terminal or anchorage of the region pack to compare with; no port call in between"
    return f"at sea, {gap_km:.0f} km from the nearest port, terminal or anchorage; no port call in between"
