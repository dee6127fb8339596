"""Track segmentation and per-fix motion features, after Global Fishing Watch's segmenter (gpsdio-segment).

A vessel may hold several *open segments* at once (two transmitters on one MMSI, a spoofed spell beside the true
track). A new fix joins the open segment whose dead-reckoned prediction it matches best, provided the speed it
implies from that segment's last fix is possible; otherwise it opens a new segment, closing the oldest when the
vessel already holds ``MAX_SEGMENTS``. Segment ids count up per vessel, so they are the same in stream and batch.

In the same pass each fix gets its features from the previous fix of its segment: implied speed and course,
acceleration, turn rate, and whether heading and course disagree as in drift (AMSA). ``jump_kn`` is the speed
implied from the vessel's previous fix whatever its segment: what the spoofing detector judges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.detectors.common import EARTH_RADIUS_KM, KM_PER_NM, US_PER_S, grow, haversine_cos_km, haversine_km
from engine.fixes import Fixes
from feeds.jit import kernel

MAX_SEGMENTS = 4  # open segments per vessel (GFW keeps a handful; the oldest is closed first)
SEG_SLOTS = 5  # per open segment: t_us (as float), lat, lon, sog, cog
NO_SEG = -1
COURSE_MIN_KM = 0.05  # a shorter step has no meaningful course (GPS noise is ~10 m)
SANE_KN = 1e6  # a reported speed up to this keeps a dead-reckoned prediction finite (far above any real one)


@dataclass(frozen=True)
class SegmentSettings:
    max_speed_kn: float = 50.0  # faster than this between fixes is impossible (DESIGN.md, GFW segmenter)
    noise_km: float = 0.5  # position noise allowed whatever the time between fixes (GPS + AIS rounding)
    max_gap_h: float = 24.0  # a segment silent longer than this is closed (GFW segmenter max_hours)
    drift_min_deg: float = 45.0  # heading and course differ 45-135 degrees ... (AMSA drift detector)
    drift_max_deg: float = 135.0
    drift_min_kn: float = 0.25  # ... at 0.25-20 kn (AMSA drift detector)
    drift_max_kn: float = 20.0


@kernel
def _angle_diff(a, b):
    """Signed smallest difference b - a in degrees, in (-180, 180]."""
    d = (b - a) % 360.0
    return d - 360.0 if d > 180.0 else d


@kernel
def _bearing(lat1, lon1, lat2, lon2):
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(y, x)) % 360.0


@kernel
def _dead_reckon(lat, lon, sog, cog, dt_h):
    """Position after ``dt_h`` hours at ``sog`` kn on ``cog`` (flat-earth step: fine over minutes to hours)."""
    if np.isnan(sog) or np.isnan(cog) or dt_h <= 0.0:
        return lat, lon
    km = sog * KM_PER_NM * dt_h
    dlat = np.degrees(km * np.cos(np.radians(cog)) / EARTH_RADIUS_KM)
    c = max(np.cos(np.radians(lat)), 1e-6)
    dlon = np.degrees(km * np.sin(np.radians(cog)) / (EARTH_RADIUS_KM * c))
    return lat + dlat, lon + dlon


@kernel
def segment_kernel(vid, t_us, lat, lon, sog, cog, heading, seg_state, seg_id, seg_n, next_seg, last_fix,
                   max_speed_kn, noise_km, max_gap_us, drift_lo, drift_hi, drift_kn_lo, drift_kn_hi, with_features,
                   out_seg, out_kn, out_course, out_accel, out_turn, out_drift, out_jump_kn, out_jump_km, out_new,
                   out_prev_seg):  # fmt: skip
    """One pass over fixes sorted by (vid, time); state arrays are indexed by vid (see :class:`Tracker`).

    seg_state[v, k] = (t_us, lat, lon, sog, cog, implied kn, course) of open segment k's last fix; seg_id[v, k] its
    id (NO_SEG when free); seg_n its fix count; next_seg[v] the next id; last_fix[v] = (t_us, lat, lon) of the
    vessel's last positioned fix and its segment. Fixes without a position get NO_SEG and NaN features; so do all
    fixes without ``with_features`` (segments and jumps only: the motion features do not choose segments).
    """
    n = vid.shape[0]
    n_slots = seg_id.shape[1]
    dist = np.empty(n_slots)  # km from each open segment's last fix
    fits = np.zeros(n_slots, np.bool_)  # the speed from there is possible
    # the cosine of the latitude of the last positioned fix walked, and its vessel: the next fix of that vessel
    # measures from it (most fixes), so each latitude's cosine is taken once
    cos_vid = -1
    cos_last = np.nan
    for i in range(n):
        v = vid[i]
        out_seg[i] = NO_SEG
        if with_features:  # else the feature outputs are not written at all (one element each)
            out_kn[i] = np.nan
            out_course[i] = np.nan
            out_accel[i] = np.nan
            out_turn[i] = np.nan
            out_drift[i] = False
        out_jump_kn[i] = np.nan
        out_jump_km[i] = np.nan
        out_new[i] = False
        out_prev_seg[i] = NO_SEG
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        t = t_us[i]
        had_fix = not np.isnan(last_fix[v, 0])
        prev_lat, prev_lon = last_fix[v, 1], last_fix[v, 2]
        cos_i = np.cos(np.radians(lat[i]))
        d_prev = np.nan
        if had_fix:
            dt_h = (t - last_fix[v, 0]) / (3600.0 * US_PER_S)
            cos_prev = cos_last if cos_vid == v else np.cos(np.radians(prev_lat))
            d_prev = haversine_cos_km(prev_lat, prev_lon, cos_prev, lat[i], lon[i], cos_i)
            out_jump_km[i] = d_prev
            if d_prev <= noise_km:
                out_jump_kn[i] = 0.0
            elif dt_h > 0.0:
                out_jump_kn[i] = d_prev / KM_PER_NM / dt_h
            else:
                out_jump_kn[i] = np.inf
        if not np.isnan(last_fix[v, 3]):
            out_prev_seg[i] = np.int64(last_fix[v, 3])
        last_fix[v, 0] = t
        last_fix[v, 1] = lat[i]
        last_fix[v, 2] = lon[i]
        cos_vid, cos_last = v, cos_i
        best = -1
        best_err = np.inf
        oldest = -1  # where a new segment goes: a free slot, else the one silent longest
        oldest_t = np.inf
        n_fit = 0
        for k in range(n_slots):
            fits[k] = False
            if seg_id[v, k] != NO_SEG and t - seg_state[v, k, 0] > max_gap_us:  # silent too long (GFW max_hours)
                seg_id[v, k] = NO_SEG
            if seg_id[v, k] == NO_SEG:
                if oldest_t > -np.inf:
                    oldest = k
                    oldest_t = -np.inf
                continue
            st = seg_state[v, k]
            if st[0] < oldest_t:
                oldest = k
                oldest_t = st[0]
            dt_h = (t - st[0]) / (3600.0 * US_PER_S)
            # the segment's last fix is most often the vessel's: the same distance, measured once
            same = had_fix and st[1] == prev_lat and st[2] == prev_lon
            dist[k] = d_prev if same else haversine_km(st[1], st[2], lat[i], lon[i])
            if dist[k] > noise_km + max_speed_kn * KM_PER_NM * max(dt_h, 0.0):
                continue
            fits[k] = True
            n_fit += 1
            best = k
        # one segment fits (the usual case): it is the best match, unless its prediction cannot be computed (its
        # error would be NaN, which never wins) -- so the prediction is only computed to choose between several
        only = n_fit == 1 and not np.isnan(dist[best]) and not np.isinf(seg_state[v, best, 4])
        only = only and (np.isnan(seg_state[v, best, 3]) or abs(seg_state[v, best, 3]) <= SANE_KN)
        if not only:
            best = -1
            for k in range(n_slots):
                if not fits[k]:
                    continue
                st = seg_state[v, k]
                dt_h = (t - st[0]) / (3600.0 * US_PER_S)
                plat, plon = _dead_reckon(st[1], st[2], st[3], st[4], dt_h)
                err = haversine_km(plat, plon, lat[i], lon[i])
                if err < best_err:
                    best_err = err
                    best = k
        if best == -1:  # no segment can explain this fix: open one, in the oldest (or a free) slot
            best = oldest
            seg_id[v, best] = next_seg[v]
            out_new[i] = True
            next_seg[v] += 1
            seg_n[v, best] = 0
            seg_state[v, best, 5] = np.nan
            seg_state[v, best, 6] = np.nan
        elif with_features:
            st = seg_state[v, best]
            dt_s = (t - st[0]) / US_PER_S
            d = dist[best]
            if dt_s > 0.0:
                kn = d / KM_PER_NM / (dt_s / 3600.0)
                out_kn[i] = kn
                if d > COURSE_MIN_KM:
                    out_course[i] = _bearing(st[1], st[2], lat[i], lon[i])
                if not np.isnan(st[5]):
                    out_accel[i] = (kn - st[5]) / dt_s  # kn per second
                if not np.isnan(st[6]) and not np.isnan(out_course[i]):
                    out_turn[i] = _angle_diff(st[6], out_course[i]) / dt_s * 60.0  # degrees per minute
        s = sog[i]
        if with_features and not np.isnan(heading[i]) and not np.isnan(cog[i]) and drift_kn_lo <= s <= drift_kn_hi:
            diff = abs(_angle_diff(heading[i], cog[i]))
            out_drift[i] = drift_lo <= diff <= drift_hi
        out_seg[i] = seg_id[v, best]
        last_fix[v, 3] = seg_id[v, best]
        seg_n[v, best] += 1
        seg_state[v, best, 0] = t
        seg_state[v, best, 1] = lat[i]
        seg_state[v, best, 2] = lon[i]
        seg_state[v, best, 3] = sog[i]
        seg_state[v, best, 4] = cog[i]
        if with_features and not np.isnan(out_kn[i]):
            seg_state[v, best, 5] = out_kn[i]
        if with_features and not np.isnan(out_course[i]):
            seg_state[v, best, 6] = out_course[i]


@dataclass(frozen=True)
class TrackFeatures:
    """Per-fix output of :meth:`Tracker.update`, aligned with the fixes."""

    seg: np.ndarray  # int64 segment id within the vessel, NO_SEG without a position
    implied_kn: np.ndarray  # from the previous fix of the same segment
    course: np.ndarray  # degrees, from the previous fix of the same segment (NaN when it did not move)
    accel: np.ndarray  # kn / s
    turn: np.ndarray  # degrees / minute
    drift: np.ndarray  # bool: heading and course disagree as in drift (AMSA)
    jump_kn: np.ndarray  # implied speed from the vessel's previous fix, any segment (inf for a jump in no time)
    jump_km: np.ndarray  # distance from the vessel's previous fix
    new_seg: np.ndarray  # bool: the fix opened a segment
    prev_seg: np.ndarray  # int64 segment of the vessel's previous fix (NO_SEG for its first)


class Tracker:
    """Open segments and last fixes per vessel, carried between steps."""

    def __init__(self, settings: SegmentSettings | None = None) -> None:
        self.settings = settings or SegmentSettings()
        self.seg_state = np.full((0, MAX_SEGMENTS, SEG_SLOTS + 2), np.nan)
        self.seg_id = np.full((0, MAX_SEGMENTS), NO_SEG, np.int64)
        self.seg_n = np.zeros((0, MAX_SEGMENTS), np.int64)
        self.next_seg = np.zeros(0, np.int64)
        self.last_fix = np.full((0, 4), np.nan)

    def _grow(self, size: int) -> None:
        self.seg_state = grow(self.seg_state, size, np.nan)
        self.seg_id = grow(self.seg_id, size, NO_SEG)
        self.seg_n = grow(self.seg_n, size, 0)
        self.next_seg = grow(self.next_seg, size, 0)
        self.last_fix = grow(self.last_fix, size, np.nan)

    def update(self, fixes: Fixes, fleet_size: int, features: bool = True) -> TrackFeatures:
        """Segments and features of ``fixes``; without ``features``, only ``seg``, ``new_seg``, ``prev_seg`` and the
        jumps (``jump_kn``, ``jump_km``) are computed, the rest is NaN (False for ``drift``): read-only arrays that
        take no memory."""
        self._grow(fleet_size)
        n = len(fixes)
        f8, b1, i8 = np.float64, np.bool_, np.int64
        m = n if features else 1  # the features' arrays, or one element the kernel does not write
        out = TrackFeatures(
            np.empty(n, i8), np.empty(m, f8), np.empty(m, f8), np.empty(m, f8), np.empty(m, f8),
            np.empty(m, b1), np.empty(n, f8), np.empty(n, f8), np.empty(n, b1), np.empty(n, i8),
        )  # fmt: skip
        s = self.settings
        segment_kernel(fixes.vid, fixes.t_us, fixes.lat, fixes.lon, fixes.sog, fixes.cog, fixes.heading,
                       self.seg_state, self.seg_id, self.seg_n, self.next_seg, self.last_fix,
                       s.max_speed_kn, s.noise_km, int(s.max_gap_h * 3600 * US_PER_S), s.drift_min_deg,
                       s.drift_max_deg, s.drift_min_kn, s.drift_max_kn, features, out.seg, out.implied_kn, out.course,
                       out.accel, out.turn, out.drift, out.jump_kn, out.jump_km, out.new_seg, out.prev_seg)  # fmt: skip
        if not features:
            nan, false = np.broadcast_to(np.nan, n), np.broadcast_to(False, n)
            out = replace(out, implied_kn=nan, course=nan, accel=nan, turn=nan, drift=false)
        return out

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"seg_state": self.seg_state.copy(), "seg_id": self.seg_id.copy(), "seg_n": self.seg_n.copy(),
                "next_seg": self.next_seg.copy(), "last_fix": self.last_fix.copy()}  # fmt: skip

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        for name in ("seg_state", "seg_id", "seg_n", "next_seg", "last_fix"):
            setattr(self, name, arrays[name].copy())
