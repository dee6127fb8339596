"""identity_conflict from positions: one MMSI whose fixes alternate between two places too far apart for any
vessel to sail between (two transmitters on one MMSI, each with its own track).

Each vessel keeps up to two tracks (A, B). A fix joins the nearer track it could have reached (implied speed at
most ``max_speed_kn``, or within ``jitter_km``); a fix that neither could reach starts track B anew. Each time
the fixes switch between A and B counts; ``min_switches`` switches make a conflict. A single jump (spoofing, a
bad fix) switches once or twice and is left to the motion detectors. A track silent for ``stale_s`` is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_H, US_PER_S, grow, haversine_km, surely_within_km
from engine.runner import Step
from feeds.jit import kernel

# state columns (float64 per vessel)
A_LAT, A_LON, A_T, B_LAT, B_LON, B_T, CUR, SWITCHES, START, LAST, B0_LAT, B0_LON, MAX_KM, TOUCHED = range(14)
N_STATE = 14


@dataclass(frozen=True)
class TwinSettings:
    max_speed_kn: float = 50.0  # implied speed > 50 kn is impossible (GFW segmenter; DESIGN.md)
    jitter_km: float = 1.0  # GPS noise and reporting jitter: fixes this close are always the same track
    min_switches: int = 4  # A-B-A-B-A: a pattern no single bad fix or one spoofed jump makes
    stale_s: float = 2 * 3600.0  # a track silent for 2 h is over
    score: float = 75.0


@kernel
def _reachable(lat0, lon0, t0, lat, lon, t, max_kmh, jitter_km):
    d = haversine_km(lat0, lon0, lat, lon)
    if d <= jitter_km:
        return True, d
    dt_h = (t - t0) / 3.6e9
    return dt_h > 0 and d / dt_h <= max_kmh, d


@kernel
def _twin_tracks(vid, t, lat, lon, state, max_kmh, jitter_km, stale_us, min_sw, out, n_out):
    """Walk fixes (sorted by vessel, time) through each vessel's two-track state (``state[v]``, in place).
    Episodes that end with at least ``min_sw`` switches are written to ``out`` (vid, start, last, switches, lat,
    lon, max km); returns the new ``n_out``."""
    for i in range(vid.shape[0]):
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        s = state[vid[i]]
        s[TOUCHED] = 1.0
        ti = float(t[i])
        if not np.isnan(s[B_T]) and ti - s[B_T] > stale_us:  # track B over: the episode ends
            n_out = _close(vid[i], s, min_sw, out, n_out)
        if not np.isnan(s[A_T]) and ti - s[A_T] > stale_us:
            if np.isnan(s[B_T]):
                s[A_T] = np.nan
            else:  # track A over: B carries on as the vessel's track
                n_out = _close(vid[i], s, min_sw, out, n_out)
                s[A_LAT], s[A_LON], s[A_T] = s[B_LAT], s[B_LON], s[B_T]
                s[B_T] = np.nan
        if np.isnan(s[A_T]):
            s[A_LAT], s[A_LON], s[A_T], s[CUR] = lat[i], lon[i], ti, 0.0
            continue
        if np.isnan(s[B_T]) and surely_within_km(s[A_LAT], s[A_LON], lat[i], lon[i], jitter_km):
            # one track and a fix within jitter of it (most fixes): it stays on track A, no distance needed
            ok_a, d_a, ok_b, d_b = True, 0.0, False, np.inf
        else:
            ok_a, d_a = _reachable(s[A_LAT], s[A_LON], s[A_T], lat[i], lon[i], ti, max_kmh, jitter_km)
            ok_b, d_b = False, np.inf
            if not np.isnan(s[B_T]):
                ok_b, d_b = _reachable(s[B_LAT], s[B_LON], s[B_T], lat[i], lon[i], ti, max_kmh, jitter_km)
        if ok_a and (not ok_b or d_a <= d_b):
            track = 0.0
        elif ok_b:
            track = 1.0
        else:  # reachable from neither: a new track B (a new episode)
            n_out = _close(vid[i], s, min_sw, out, n_out)
            s[B_LAT], s[B_LON], s[B_T] = lat[i], lon[i], ti
            s[B0_LAT], s[B0_LON], s[START], s[LAST], s[SWITCHES], s[CUR] = lat[i], lon[i], ti, ti, 1.0, 1.0
            s[MAX_KM] = d_a
            continue
        if track == 0.0:
            s[A_LAT], s[A_LON], s[A_T] = lat[i], lon[i], ti
        else:
            s[B_LAT], s[B_LON], s[B_T] = lat[i], lon[i], ti
        if track != s[CUR]:
            s[SWITCHES] += 1.0
            s[LAST] = ti
            s[CUR] = track
            if not np.isnan(s[B_T]):
                s[MAX_KM] = max(s[MAX_KM], haversine_km(s[A_LAT], s[A_LON], s[B_LAT], s[B_LON]))
    return n_out


@kernel
def _close(v, s, min_sw, out, n_out):
    if not np.isnan(s[B_T]) and s[SWITCHES] >= min_sw:
        out[n_out, 0], out[n_out, 1], out[n_out, 2], out[n_out, 3] = v, s[START], s[LAST], s[SWITCHES]
        out[n_out, 4], out[n_out, 5], out[n_out, 6] = s[B0_LAT], s[B0_LON], s[MAX_KM]
        n_out += 1
    s[B_T] = np.nan
    s[SWITCHES] = 0.0
    s[CUR] = 0.0
    return n_out


def twin_tracks(fixes_vid: np.ndarray, t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, state: np.ndarray,
                settings: TwinSettings) -> np.ndarray:  # fmt: skip
    """Run the kernel over fixes sorted by (vid, t); returns the episodes closed meanwhile (rows of 7)."""
    out = np.zeros((fixes_vid.shape[0] + 1, 7), np.float64)
    n = _twin_tracks(np.asarray(fixes_vid, np.int64), np.asarray(t_us, np.int64), np.asarray(lat, np.float64),
                     np.asarray(lon, np.float64), state, settings.max_speed_kn * KM_PER_NM, settings.jitter_km,
                     settings.stale_s * US_PER_S, settings.min_switches, out, 0)  # fmt: skip
    return out[:n]


class TwinTrackDetector:
    """identity_conflict: two simultaneous tracks on one MMSI."""

    name = "twin_tracks"

    def __init__(self, settings: TwinSettings | None = None) -> None:
        self.settings = settings or TwinSettings()
        self.state = np.full((0, N_STATE), np.nan)

    def process(self, step: Step) -> list[pl.DataFrame]:
        self.state = grow(self.state, step.fleet.size, np.nan)
        fx = step.fixes
        self.state[:, TOUCHED] = 0.0
        closed = twin_tracks(fx.vid, fx.t_us, fx.lat, fx.lon, self.state, self.settings)
        s = self.state
        going = np.flatnonzero(
            (s[:, TOUCHED] == 1.0) & ~np.isnan(s[:, B_T]) & (s[:, SWITCHES] >= self.settings.min_switches)
        )
        open_rows = np.column_stack([going, s[going][:, [START, LAST, SWITCHES, B0_LAT, B0_LON, MAX_KM]]])
        rows = np.concatenate([closed, open_rows.reshape(-1, 7)])
        if not rows.shape[0]:
            return []
        vid = rows[:, 0].astype(np.int64)
        reasons = [
            [f"positions alternate between two tracks up to {km:.0f} km apart ({int(sw)} switches in "
             f"{(b - a) / US_PER_H:.1f} h), farther than any vessel sails: two transmitters share one MMSI"]
            for a, b, sw, km in zip(rows[:, 1].tolist(), rows[:, 2].tolist(), rows[:, 3].tolist(), rows[:, 6].tolist(),
                                    strict=True)
        ]  # fmt: skip
        score = np.minimum(95.0, self.settings.score + rows[:, 3])
        return [AlertRows("identity_conflict", step.fleet.mmsi[vid], np.full(vid.shape[0], NO_OTHER),
                          rows[:, 1].astype(np.int64), rows[:, 2].astype(np.int64), rows[:, 4], rows[:, 5], score,
                          reasons).frame()]  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"state": self.state.copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.state = arrays["state"].copy()
