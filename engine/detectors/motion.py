"""Motion detectors: spoofing (impossible jumps and speeds) and loitering (slow for hours at sea, alone: its own
module, :mod:`engine.detectors.loitering`, re-exported here).

Both walk each vessel's fixes in time order with state per vessel id, so stream and batch agree. An episode is
reported as soon as its evidence is complete and re-reported with the same start and a later end while it goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_H, grow, mod360
from engine.detectors.episodes import HEAVY_TYPES, WORKING_TYPES, fmt_h, latest_per_episode, ship_type_at
from engine.detectors.loitering import NOISE_KM, Loitering, LoiteringSettings, loitering_kernel
from engine.detectors.track import NO_SEG, SegmentSettings, Tracker
from engine.fixes import NO_TIME
from engine.runner import Step
from feeds.jit import kernel

__all__ = ["NOISE_KM", "Loitering", "LoiteringSettings", "Spoofing", "SpoofingSettings", "loitering_kernel"]


@dataclass(frozen=True)
class SpoofingSettings:
    max_speed_kn: float = 50.0  # implied speed above this is impossible (DESIGN.md, GFW segmenter)
    heavy_max_speed_kn: float = 30.0  # already impossible for cargo ships and tankers (DESIGN.md, industry practice)
    min_jump_km: float = 3.0  # smaller jumps are GPS noise and station clock skew, whatever the implied speed
    adopt_h: float = 6.0  # a jump the vessel never returns from becomes its track after this long
    # Reports circling round a point at speed are a known GNSS spoofing pattern ("crop circles", C4ADS 2019); a
    # merchant ship does not turn a full circle at 5 kn or more, turning at least 10 degrees a minute.
    circle_deg: float = 360.0
    circle_min_kn: float = 5.0
    circle_min_rate: float = 10.0  # degrees per minute
    circle_max_step_s: float = 300.0  # a longer silence breaks the circle: the turns in it are unknown
    segments: SegmentSettings = field(default_factory=SegmentSettings)


@kernel
def spoofing_kernel(vid, t_us, lat, lon, seg, new_seg, prev_seg, jump_kn, jump_km, ship_type, heavy_lo, heavy_hi,
                    max_kn, heavy_kn, min_km, adopt_us, home, ep, ep_f, out_start, out_f):  # fmt: skip
    """ep[v] = (start, return time or NO_TIME); ep_f[v] = (lat, lon, first km, first kn, max kn, n fixes)."""
    for i in range(vid.shape[0]):
        out_start[i] = NO_TIME
        v = vid[i]
        s = seg[i]
        if s == NO_SEG:
            continue
        if home[v] == NO_SEG:
            home[v] = s
        heavy = heavy_lo <= ship_type[i] <= heavy_hi
        limit = heavy_kn if heavy else max_kn
        jump = jump_km[i] > min_km and jump_kn[i] > limit
        t = t_us[i]
        if ep[v, 0] != NO_TIME:
            ep_f[v, 4] = max(ep_f[v, 4], jump_kn[i]) if jump else ep_f[v, 4]
            ep_f[v, 5] += 1
            out_start[i] = ep[v, 0]
            if s == home[v]:  # back on its track: the episode ends here
                ep[v, 1] = t
                out_f[i, :] = ep_f[v, :]
                ep[v, 0] = NO_TIME
                continue
            if t - ep[v, 0] > adopt_us:  # never came back: the new track is the vessel's now
                home[v] = s
                out_f[i, :] = ep_f[v, :]
                ep[v, 0] = NO_TIME
                continue
            out_f[i, :] = ep_f[v, :]
        elif jump and (new_seg[i] or s == prev_seg[i]):  # a jump onto a track seen before is a second
            # transmitter on the same MMSI (identity_conflict), not a spoofed position
            ep[v, 0] = t
            ep[v, 1] = NO_TIME
            ep_f[v, 0] = lat[i]
            ep_f[v, 1] = lon[i]
            ep_f[v, 2] = jump_km[i]
            ep_f[v, 3] = jump_kn[i]
            ep_f[v, 4] = jump_kn[i]
            ep_f[v, 5] = 1
            out_start[i] = t
            out_f[i, :] = ep_f[v, :]
        elif s != home[v]:  # a new segment without an impossible jump (the old one expired): follow it
            home[v] = s


@kernel
def circling_kernel(vid, t_us, sog, cog, eligible, busy, min_deg, min_kn, min_rate, max_step_us, circ, out_start,
                    out_f):  # fmt: skip
    """Runs of reported courses turning one way at speed. circ[v] = (turned degrees, start, last t, last cog,
    fixes, sum of speeds); rows in a jump episode (``busy``) break the run and are not reported twice."""
    for i in range(vid.shape[0]):
        out_start[i] = NO_TIME
        v = vid[i]
        t = float(t_us[i])
        ok = eligible[i] and not busy[i] and sog[i] >= min_kn and not np.isnan(cog[i])
        turning = False
        if ok and not np.isnan(circ[v, 3]) and 0.0 < t - circ[v, 2] <= max_step_us:
            d = mod360(cog[i] - circ[v, 3])
            d = d - 360.0 if d > 180.0 else d
            rate = abs(d) / ((t - circ[v, 2]) / 60e6)
            turning = rate >= min_rate and (circ[v, 0] == 0.0 or (d > 0.0) == (circ[v, 0] > 0.0))
        if turning:
            circ[v, 0] += d
            circ[v, 4] += 1.0
            circ[v, 5] += sog[i]
        else:
            circ[v, 0] = 0.0
            circ[v, 1] = t
            circ[v, 4] = 1.0
            circ[v, 5] = sog[i]
        circ[v, 2] = t
        circ[v, 3] = cog[i] if ok else np.nan
        if abs(circ[v, 0]) >= min_deg:
            out_start[i] = np.int64(circ[v, 1])
            out_f[i, 0] = abs(circ[v, 0]) / 360.0
            out_f[i, 1] = circ[v, 5] / circ[v, 4]
            out_f[i, 2] = circ[v, 4]


class Spoofing:
    """Impossible jumps: one alert per episode, from the jump away until the vessel is back on its track; and
    reports circling at speed, the pattern of a spoofed GNSS receiver, when no jump gave the vessel away."""

    name = "spoofing"

    def __init__(self, settings: SpoofingSettings | None = None) -> None:
        self.settings = settings or SpoofingSettings()
        self.tracker = Tracker(self.settings.segments)
        self.home = np.zeros(0, np.int64)
        self.ep = np.zeros((0, 2), np.int64)
        self.ep_f = np.zeros((0, 6))
        self.ship_type = np.zeros(0, np.int64)
        self.circ = np.zeros((0, 6))

    def process(self, step: Step) -> list[pl.DataFrame]:
        fixes, size, s = step.fixes, step.fleet.size, self.settings
        self.home = grow(self.home, size, NO_SEG)
        self.ep = grow(self.ep, size, NO_TIME)
        self.ep_f = grow(self.ep_f, size, np.nan)
        self.ship_type = grow(self.ship_type, size, -1)
        self.circ = grow(self.circ, size, np.nan)
        feats = self.tracker.update(fixes, size, features=False)  # segments and jumps are all it judges
        types = ship_type_at(fixes, step.identities, self.ship_type)
        n = len(fixes)
        start, out_f = np.empty(n, np.int64), np.empty((n, 6))
        spoofing_kernel(fixes.vid, fixes.t_us, fixes.lat, fixes.lon, feats.seg, feats.new_seg, feats.prev_seg,
                        feats.jump_kn, feats.jump_km, types,
                        HEAVY_TYPES[0], HEAVY_TYPES[1], s.max_speed_kn, s.heavy_max_speed_kn, s.min_jump_km,
                        int(s.adopt_h * US_PER_H), self.home, self.ep, self.ep_f, start, out_f)  # fmt: skip
        frames = self._circles(step, types, start != NO_TIME)
        rows = latest_per_episode(fixes.vid, start)
        if rows.size == 0:
            return frames
        f = out_f[rows]
        reasons = []
        for r, (km, kn, top, nfix) in zip(rows.tolist(), f[:, 2:6].tolist(), strict=True):
            secs = km / KM_PER_NM / kn * 3600 if np.isfinite(kn) and kn > 0 else 0.0
            took = f"{secs:.0f} s" if secs < 90 else f"{secs / 60:.0f} min"
            spell = fmt_h((fixes.t_us[r] - start[r]) / US_PER_H)
            top_s = "a jump in no time" if not np.isfinite(top) else f"up to {top:,.0f} kn implied"
            first = f"{km:,.0f} km in no time" if secs == 0 else f"{km:,.0f} km in {took}: {kn:,.0f} kn implied"
            reasons.append([f"jumped {first}", f"{int(nfix)} fixes off its track for {spell}, {top_s}"])
        score = np.clip(40 + f[:, 2] / 2, 40, 100)
        return [*frames, AlertRows("spoofing", fixes.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows],
                                   fixes.t_us[rows], f[:, 0], f[:, 1], score, reasons).frame()]  # fmt: skip

    def _circles(self, step: Step, types: np.ndarray, busy: np.ndarray) -> list[pl.DataFrame]:
        fixes, s = step.fixes, self.settings
        eligible = ~fixes.class_b & ~((types >= WORKING_TYPES[0]) & (types <= WORKING_TYPES[1]))
        start, out_f = np.empty(len(fixes), np.int64), np.empty((len(fixes), 3))
        circling_kernel(fixes.vid, fixes.t_us, fixes.sog, fixes.cog, eligible, busy, s.circle_deg, s.circle_min_kn,
                        s.circle_min_rate, s.circle_max_step_s * 1e6, self.circ, start, out_f)  # fmt: skip
        rows = latest_per_episode(fixes.vid, start)
        if rows.size == 0:
            return []
        f = out_f[rows]
        mins = (fixes.t_us[rows] - start[rows]) / 60e6
        reasons = [[f"reported circling: {turns:.1f} turns in {m:.0f} min at {kn:.1f} kn over {int(k)} positions",
                    "a GNSS spoofing pattern, not a merchant ship's track"]
                   for turns, kn, k, m in zip(f[:, 0].tolist(), f[:, 1].tolist(), f[:, 2].tolist(), mins.tolist(),
                                              strict=True)]  # fmt: skip
        score = np.clip(30 + 10 * f[:, 0], 30, 70)
        return [AlertRows("spoofing", fixes.mmsi[rows], np.full(rows.size, NO_OTHER), start[rows], fixes.t_us[rows],
                          fixes.lat[rows], fixes.lon[rows], score, reasons).frame()]  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        out = {f"track_{k}": v for k, v in self.tracker.snapshot().items()}
        out.update({k: getattr(self, k).copy() for k in ("home", "ep", "ep_f", "ship_type", "circ")})
        return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.tracker.restore({k[6:]: v for k, v in arrays.items() if k.startswith("track_")})
        for name in ("home", "ep", "ep_f", "ship_type", "circ"):
            setattr(self, name, arrays[name].copy())
