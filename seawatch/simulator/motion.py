"""How a vessel moves: a track of timed knots built leg by leg, and what its AIS reports say at any time.

A :class:`Track` is piecewise linear in time between knots; moving legs follow dense smoothed paths (so the
course turns smoothly), and every segment carries a mode (underway, anchored, moored, drifting) and the
navigational status that the vessel broadcasts. :func:`report_times` follows the reporting intervals of ITU-R
M.1371-5 Table 1 (class A: 10 s under 14 kn, 6 s to 23 kn, 2 s above, 3 min at anchor or moored; class B/CS:
30 s above 2 kn, 3 min below), thinned to a minimum interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seawatch.simulator.geometry import KM_PER_DEG, KM_PER_NM, bearing_deg, haversine_km, path_length_km

UNDERWAY, ANCHORED, MOORED, DRIFTING = 0, 1, 2, 3
# navigational status codes (ITU-R M.1371 message 1, parameter 5)
ST_UNDERWAY, ST_ANCHORED, ST_NUC, ST_MOORED, ST_FISHING, ST_SART, ST_UNDEFINED = 0, 1, 2, 5, 7, 14, 15
TIDE_PERIOD_S = 12.42 * 3600  # semidiurnal tide: anchored ships swing round once per tide
MAX_TURN_DEG_MIN = 90.0  # a rate-of-turn sensor's sustained reading for small craft turning hard
GPS_SIGMA_M = {"A": 4.0, "B": 8.0}  # horizontal GNSS noise of a good class A fix and a cheap class B unit


@dataclass
class Track:
    """Knots (t seconds, lat, lon) and, for each segment between knots, its mode and nav status."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mode: np.ndarray  # int8, len(t) - 1
    status: np.ndarray  # int8, len(t) - 1
    legs: list[tuple[float, float, int, float]] = field(default_factory=list)  # (t0, t1, mode, speed kn)
    # (radius km, phase) of the swing round the anchor; None: drawn when reported. Set, it lets a barge made fast
    # alongside a ship at anchor swing with her (both tracks carry the same swing)
    swing: tuple[float, float] | None = None

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])

    def position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.interp(t, self.t, self.lat), np.interp(t, self.t, self.lon)

    def at(self, t: float) -> tuple[float, float]:
        """Where the vessel is at time ``t``."""
        return float(np.interp(t, self.t, self.lat)), float(np.interp(t, self.t, self.lon))


class TrackBuilder:
    """Append legs one after the other; each starts where and when the last one ended."""

    def __init__(self, t: float, lat: float, lon: float):
        self.t, self.lat, self.lon = [np.array([t])], [np.array([lat])], [np.array([lon])]
        self.mode: list[np.ndarray] = []
        self.status: list[np.ndarray] = []
        self.legs: list[tuple[float, float, int, float]] = []

    @property
    def now(self) -> float:
        return float(self.t[-1][-1])

    @property
    def here(self) -> tuple[float, float]:
        return float(self.lat[-1][-1]), float(self.lon[-1][-1])

    def _append(self, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, mode: int, status: int, kn: float) -> None:
        if t.shape[0] == 0:
            return
        t0 = self.now
        self.t.append(t)
        self.lat.append(lat)
        self.lon.append(lon)
        self.mode.append(np.full(t.shape[0], mode, np.int8))
        self.status.append(np.full(t.shape[0], status, np.int8))
        self.legs.append((t0, float(t[-1]), mode, kn))

    def move(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        speed_kn: float,
        status: int = ST_UNDERWAY,
        slow_kn: float = 4.0,
        ramp_km: float = 1.5,
        ramp: tuple[bool, bool] = (True, True),
    ) -> TrackBuilder:
        """Sail along the dense path (lat, lon) from its first point, which should be here, at ``speed_kn``,
        slowing to ``slow_kn`` over ``ramp_km`` at the ends flagged in ``ramp`` (leaving and reaching a stop)."""
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        here = self.here
        if haversine_km(here[0], here[1], lat[0], lon[0]) > 0.05:  # join with a straight piece
            lat, lon = np.concatenate([[here[0]], lat]), np.concatenate([[here[1]], lon])
        s = path_length_km(lat, lon)
        if s[-1] <= 0:
            return self
        mid = (s[1:] + s[:-1]) / 2
        gain = np.ones_like(mid)
        if ramp[0]:
            gain = np.minimum(gain, mid / ramp_km)
        if ramp[1]:
            gain = np.minimum(gain, (s[-1] - mid) / ramp_km)
        kn = min(slow_kn, speed_kn) + (speed_kn - min(slow_kn, speed_kn)) * np.clip(gain, 0.0, 1.0)
        dt = np.diff(s) / (kn * KM_PER_NM) * 3600.0
        keep = dt > 1e-3
        t = self.now + np.cumsum(dt[keep])
        self._append(t, lat[1:][keep], lon[1:][keep], UNDERWAY, status, speed_kn)
        return self

    def stay(self, duration_s: float, mode: int, status: int) -> TrackBuilder:
        """Stay here (anchored, moored) for ``duration_s``."""
        if duration_s > 0:
            lat, lon = self.here
            n = max(1, int(duration_s // 3600) + 1)  # hourly knots keep segments short for later edits
            t = self.now + duration_s * np.arange(1, n + 1) / n
            self._append(t, np.full(n, lat), np.full(n, lon), mode, status, 0.0)
        return self

    def follow(self, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, mode: int, status: int) -> TrackBuilder:
        """Append knots at given times (after now): keeping station on another vessel's track."""
        t, lat, lon = np.asarray(t, float), np.asarray(lat, float), np.asarray(lon, float)
        keep = t > self.now + 1e-3
        if keep.any():
            t, lat, lon = t[keep], lat[keep], lon[keep]
            km = haversine_km(np.concatenate([[self.here[0]], lat[:-1]]), np.concatenate([[self.here[1]], lon[:-1]]),
                              lat, lon)  # fmt: skip
            kn = float(km.sum() / KM_PER_NM / max(t[-1] - self.now, 1.0) * 3600.0)
            self._append(t, lat, lon, mode, status, kn)
        return self

    def drift(self, duration_s: float, speed_kn: float, bearing: float, status: int = ST_UNDERWAY) -> TrackBuilder:
        """Drift in a straight line (engines stopped, or alongside another ship): slow, heading unrelated."""
        if duration_s > 0:
            lat, lon = self.here
            n = max(1, int(duration_s // 1800) + 1)
            f = np.arange(1, n + 1) / n
            d_km = speed_kn * KM_PER_NM * duration_s / 3600.0 * f
            b = np.radians(bearing)
            self._append(
                self.now + duration_s * f,
                lat + d_km * np.cos(b) / KM_PER_DEG,
                lon + d_km * np.sin(b) / (KM_PER_DEG * np.cos(np.radians(lat))),
                DRIFTING,
                status,
                speed_kn,
            )
        return self

    def build(self, swing: tuple[float, float] | None = None) -> Track:
        return Track(
            np.concatenate(self.t),
            np.concatenate(self.lat),
            np.concatenate(self.lon),
            np.concatenate(self.mode) if self.mode else np.empty(0, np.int8),
            np.concatenate(self.status) if self.status else np.empty(0, np.int8),
            list(self.legs),
            swing,
        )


def report_times(
    track: Track, ais_class: str, min_interval: float, rng: np.random.Generator, window: tuple[float, float]
) -> np.ndarray:
    """When the vessel transmits a position, inside ``window`` (M.1371 Table 1 intervals, thinned)."""
    out = []
    lo, hi = max(window[0], track.start), min(window[1], track.end)
    cursor = lo + rng.uniform(0, min_interval)
    for t0, t1, mode, kn in track.legs:
        if t1 <= lo or t0 >= hi:
            continue
        # class A: the 3 min interval is for a ship at anchor or moored (and not moving faster than 3 kn); a ship
        # under way reports every 10 s however slow, drifting included (M.1371-5 Table 1)
        still = mode in (ANCHORED, MOORED) and kn <= 3.0
        if ais_class == "A":
            nominal = 180.0 if still else 10.0 if kn < 14 else 6.0 if kn < 23 else 2.0
        else:
            nominal = 180.0 if kn <= 2.0 else 30.0
        dt = max(nominal, min_interval)
        start = max(cursor, t0, lo)
        times = start + dt * np.arange(int(max(0.0, min(t1, hi) - start) // dt) + 1)
        times = times[times < min(t1, hi)]
        if times.shape[0]:
            out.append(times)
            cursor = float(times[-1]) + dt
    if not out:
        return np.empty(0)
    t = np.concatenate(out)
    jitter = 0.3 if ais_class == "A" else 2.0  # SOTDMA slots are regular; CSTDMA units wait for a free slot
    t = np.sort(t + rng.uniform(-jitter, jitter, t.shape[0]))
    return t[(t >= lo) & (t < hi)]


@dataclass
class Kinematics:
    """What the AIS reports say at given times (true position + GNSS noise, course, speed, heading, turn)."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    sog: np.ndarray
    cog: np.ndarray
    heading: np.ndarray  # NaN: not available
    rot: np.ndarray  # raw ROT indicator (-127..127), -128: not available
    status: np.ndarray


def kinematics(track: Track, times: np.ndarray, ais_class: str, rng: np.random.Generator) -> Kinematics:
    n = times.shape[0]
    k = np.clip(np.searchsorted(track.t, times, side="right") - 1, 0, track.t.shape[0] - 2)
    t0, t1 = track.t[k], track.t[k + 1]
    f = np.clip((times - t0) / (t1 - t0), 0.0, 1.0)
    lat = track.lat[k] + (track.lat[k + 1] - track.lat[k]) * f
    lon = track.lon[k] + (track.lon[k + 1] - track.lon[k]) * f
    seg_brg = bearing_deg(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:])
    seg_kn = haversine_km(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:]) / np.diff(track.t) * 3600
    seg_kn /= KM_PER_NM
    mode, status, brg, kn = track.mode[k], track.status[k], seg_brg[k], seg_kn[k]
    sog = np.abs(kn + rng.normal(0, 0.1, n))
    cog = (brg + rng.normal(0, 1, n) * np.clip(2.0 / np.maximum(kn, 0.1), 0.5, 40.0)) % 360
    bias = rng.normal(0, 1.5)  # a steady offset between heading and course (leeway, compass)
    heading = (brg + bias + rng.normal(0, 0.7, n)) % 360
    # rate of turn: course change between the segment before and this one, per minute of half-segments
    prev = np.maximum(k - 1, 0)
    turn = (seg_brg[k] - seg_brg[prev] + 180) % 360 - 180
    minutes = np.maximum((t1 - track.t[prev]) / 120.0, 0.05)
    rate = np.where(k > 0, turn / minutes, 0.0)
    rate = np.clip(rate, -MAX_TURN_DEG_MIN, MAX_TURN_DEG_MIN)
    rot = np.round(4.733 * np.sqrt(np.abs(rate))) * np.sign(rate)  # ITU-R M.1371: ROT_AIS = 4.733 sqrt(ROT)
    still = (mode == ANCHORED) | (mode == MOORED)
    if still.any():
        swing_km = rng.uniform(0.03, 0.12)  # about a ship's length plus the anchor chain
        phase = rng.uniform(0, 2 * np.pi)
        if track.swing is not None:
            swing_km, phase = track.swing
        theta = phase + 2 * np.pi * times / TIDE_PERIOD_S + 0.2 * np.sin(2 * np.pi * times / 1500.0 + phase)
        anchored = mode == ANCHORED
        lat = lat + np.where(anchored, swing_km * np.cos(theta) / KM_PER_DEG, 0.0)
        lon = lon + np.where(anchored, swing_km * np.sin(theta) / (KM_PER_DEG * np.cos(np.radians(lat))), 0.0)
        swing_kn = swing_km * 2 * np.pi / TIDE_PERIOD_S * 3600 / KM_PER_NM
        sog = np.where(still, np.abs(rng.normal(swing_kn * anchored, 0.05, n)), sog)
        cog = np.where(still, rng.uniform(0, 360, n), cog)
        berth = rng.uniform(0, 360)
        heading = np.where(anchored, (np.degrees(theta) + 180) % 360, np.where(still, berth, heading))
        rot = np.where(still, 0.0, rot)
    drifting = mode == DRIFTING
    if drifting.any():
        heading = np.where(drifting, (rng.uniform(0, 360) + rng.normal(0, 3, n)) % 360, heading)
        rot = np.where(drifting, 0.0, rot)
    sigma = GPS_SIGMA_M[ais_class] / 1000.0 / KM_PER_DEG
    lat = lat + rng.normal(0, sigma, n)
    lon = lon + rng.normal(0, sigma, n) / np.cos(np.radians(lat))
    if ais_class == "B":
        heading = np.full(n, np.nan)  # most class B units have no heading sensor
        rot = np.full(n, -128.0)
    return Kinematics(
        times,
        lat,
        lon,
        np.round(np.minimum(sog, 102.2), 1),
        np.round(cog, 1) % 360,
        np.round(heading) % 360,
        rot,
        status.astype(np.int8),
    )
