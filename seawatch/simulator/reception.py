"""Who hears a report: shore stations with a range and outages, sparse satellite passes far offshore, random loss.

A shore station hears a class A report with probability ``station_p * (1 - (d / R)^k)`` at distance ``d`` within
its range ``R`` (``k``: ``SimConfig.fade_exponent``; the signal fades with distance, and VHF ends at the radio
horizon); class B is heard over ``class_b_range * R``, and ``class_b_loss`` of its reports are never sent (CSTDMA
finds no free slot). Outages last ``outage_hours`` (1-6 h); during one a station hears nothing, so every vessel
that only it covers goes silent at once (that is not dark activity). Beyond every station's range, a satellite
hears some reports during its passes. The feed names the station that heard each report (``SAT`` for the
satellite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.geo.regions import RegionPack
from seawatch.simulator.config import SimConfig
from seawatch.simulator.geometry import haversine_km

SATELLITE = "SAT"
GOOD_COVERAGE = 0.6  # within this share of a station's range reception is near-certain over minutes


@dataclass
class Coverage:
    ids: tuple[str, ...]  # station ids, then SATELLITE
    lat: np.ndarray
    lon: np.ndarray
    range_km: np.ndarray
    outages: list[tuple[int, float, float]]  # (station index, start s, end s)
    passes: np.ndarray  # (n, 2) satellite view windows, seconds

    def up(self, t: np.ndarray) -> np.ndarray:
        """(len(t), stations) booleans: which stations are working at each time."""
        ok = np.ones((np.asarray(t).shape[0], len(self.lat)), bool)
        for s, a, b in self.outages:
            ok[:, s] &= ~((t >= a) & (t < b))
        return ok

    def distances(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return haversine_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None], self.lat[None], self.lon[None])

    def good(
        self,
        t: np.ndarray | float,
        lat: np.ndarray | float,
        lon: np.ndarray | float,
        reach: float = 1.0,
    ) -> np.ndarray:
        """Where and when coverage is good: well inside the range of a working station (``reach``: the share of
        the range a transmitter gets, ``SimConfig.class_b_range`` for class B)."""
        tt, la, lo = np.atleast_1d(t), np.atleast_1d(lat), np.atleast_1d(lon)
        near = self.distances(la, lo) < GOOD_COVERAGE * reach * self.range_km[None]
        return np.asarray((near & self.up(tt)).any(axis=1))

    def outage_free(self, t0: float, t1: float, lat: float, lon: float) -> bool:
        """No station within range of (lat, lon) has an outage overlapping [t0, t1]."""
        d = self.distances(np.array([lat]), np.array([lon]))[0]
        return not any(d[s] < self.range_km[s] and a < t1 and b > t0 for s, a, b in self.outages)


def make_coverage(pack: RegionPack, cfg: SimConfig, rng: np.random.Generator) -> Coverage:
    st = pack.stations
    outages = []
    for s in range(len(st)):
        n = rng.poisson(cfg.outages_per_station_day * cfg.hours / 24.0)
        for _ in range(n):
            length = rng.uniform(*cfg.outage_hours) * 3600.0
            start = rng.uniform(-0.5 * length, cfg.seconds - 0.5 * length)
            outages.append((s, float(start), float(start + length)))
    if not outages and cfg.hours >= 6 and len(st):  # a scenario of some length shows at least one outage
        length = rng.uniform(*cfg.outage_hours) * 3600.0
        start = rng.uniform(0, max(1.0, cfg.seconds - length))
        outages.append((int(rng.integers(len(st))), float(start), float(start + length)))
    first = rng.uniform(0, cfg.satellite_period_s)
    starts = np.arange(first - cfg.satellite_period_s, cfg.seconds, cfg.satellite_period_s)
    starts = starts + rng.normal(0, 300.0, starts.shape[0])  # orbits and several satellites drift the passes
    passes = np.column_stack([starts, starts + cfg.satellite_view_s * rng.uniform(0.6, 1.4, starts.shape[0])])
    return Coverage((*st.ids, SATELLITE), st.lat, st.lon, st.range_km, sorted(outages), passes)


def receive(
    cov: Coverage,
    cfg: SimConfig,
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    class_b: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each report (true position), the index in ``cov.ids`` of the station that heard it, or -1."""
    n = t.shape[0]
    out = np.full(n, -1, np.int64)
    chunk = 200_000
    for a in range(0, n, chunk):
        sl = slice(a, min(n, a + chunk))
        d = cov.distances(lat[sl], lon[sl])
        reach = cov.range_km[None] * np.where(class_b[sl], cfg.class_b_range, 1.0)[:, None]
        sent = ~class_b[sl] | (rng.random(d.shape[0]) >= cfg.class_b_loss)
        p = cfg.station_p * np.clip(1.0 - (d / reach) ** cfg.fade_exponent, 0.0, 1.0) * cov.up(t[sl])
        heard = (rng.random(p.shape) < p) & sent[:, None]
        # the nearest station that heard it stands for the (deduplicated) feed
        d_heard = np.where(heard, d, np.inf)
        best = np.argmin(d_heard, axis=1)
        got = np.isfinite(d_heard[np.arange(best.shape[0]), best])
        block = np.where(got, best, -1)
        offshore = (d >= reach).all(axis=1)
        k = np.searchsorted(cov.passes[:, 0], t[sl], side="right") - 1
        in_view = (k >= 0) & (t[sl] < cov.passes[np.maximum(k, 0), 1])
        sat = offshore & in_view & sent & (rng.random(block.shape[0]) < cfg.satellite_p)
        out[sl] = np.where((block < 0) & sat, len(cov.lat), block)
    return out
