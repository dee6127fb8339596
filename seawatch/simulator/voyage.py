"""A voyage: one physical vessel's track plus what it broadcasts (identities, draught, dark spells, spoofed
positions, safety texts), turned into the reports it transmits; and the ground-truth labels of injected behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seawatch.simulator.config import SimConfig
from seawatch.simulator.fleet import Vessel
from seawatch.simulator.geometry import KM_PER_DEG
from seawatch.simulator.motion import Track, kinematics, report_times


@dataclass
class Label:
    """Ground truth of one injected behaviour (times in seconds from the scenario start)."""

    kind: str
    mmsi: int
    start: float
    end: float
    lat: float
    lon: float
    other_mmsi: int | None = None
    detail: str = ""


@dataclass
class Spoof:
    """Reported positions replaced during [t0, t1): a circle round (lat, lon) (a GNSS spoofing pattern), or a
    fixed point (a receiver stuck on a false fix)."""

    t0: float
    t1: float
    lat: float
    lon: float
    radius_km: float = 0.0


@dataclass
class Voyage:
    vessel: Vessel
    track: Track
    window: tuple[float, float] = (-np.inf, np.inf)  # the vessel transmits only inside
    dark: list[tuple[float, float]] = field(default_factory=list)  # transmitter off
    spoofs: list[Spoof] = field(default_factory=list)
    identities: list[tuple[float, Vessel]] = field(default_factory=list)  # identity broadcast from t on
    draughts: list[tuple[float, float]] = field(default_factory=list)  # draught broadcast from t on
    texts: list[tuple[float, str]] = field(default_factory=list)  # type 14 safety broadcasts
    msg_type: int = 0  # 0: by class (1 for A, 18 for B)

    def identity(self, t: np.ndarray) -> tuple[list[Vessel], np.ndarray]:
        """The identities, and for each time the index of the one broadcast then."""
        timeline = [(-np.inf, self.vessel), *sorted(self.identities, key=lambda x: x[0])]
        starts = np.array([x[0] for x in timeline])
        return [x[1] for x in timeline], np.searchsorted(starts, t, side="right") - 1

    def draught(self, t: float) -> float:
        value = self.vessel.draught
        for since, d in sorted(self.draughts):
            if t >= since:
                value = d
        return value

    def silent(self, t: np.ndarray) -> np.ndarray:
        off = (t < self.window[0]) | (t >= self.window[1])
        for a, b in self.dark:
            off |= (t >= a) & (t < b)
        return off


@dataclass
class Emitted:
    """Everything one or more voyages transmit; positions as columns, the rarer messages as rows."""

    positions: dict[str, np.ndarray]
    statics: list[tuple[float, float, float, bool, list[dict[str, Any]]]]  # t, true lat, lon, class B, fields
    texts: list[tuple[float, float, float, int, str]]  # t, true lat, lon, mmsi, text


def emit(voyage: Voyage, cfg: SimConfig, rng: np.random.Generator) -> Emitted:
    v = voyage.vessel
    window = (max(0.0, voyage.window[0]), min(cfg.seconds, voyage.window[1]))
    times = report_times(voyage.track, v.ais_class, cfg.min_interval_s, rng, window)
    kin = kinematics(voyage.track, times, v.ais_class, rng)
    keep = ~voyage.silent(times)
    true_lat, true_lon = voyage.track.position(times)
    lat, lon, sog, cog = kin.lat.copy(), kin.lon.copy(), kin.sog.copy(), kin.cog.copy()
    for sp in voyage.spoofs:
        m = (times >= sp.t0) & (times < sp.t1)
        if not m.any():
            continue
        ang = 2 * np.pi * (times[m] - sp.t0) / 600.0  # once round the circle every 10 minutes
        r = sp.radius_km + rng.normal(0, 0.01, m.sum())
        lat[m] = sp.lat + r * np.cos(ang) / KM_PER_DEG
        lon[m] = sp.lon + r * np.sin(ang) / (KM_PER_DEG * np.cos(np.radians(sp.lat)))
        sog[m] = np.round(2 * np.pi * sp.radius_km / 600.0 * 3600 / 1.852, 1)
        cog[m] = np.round(np.degrees(ang + np.pi / 2) % 360, 1)
    identities, which = voyage.identity(times)
    mmsi = np.array([x.mmsi for x in identities], np.int64)[which]
    msg_type = voyage.msg_type or (1 if v.ais_class == "A" else 18)
    positions = {
        "t": times[keep],
        "lat": lat[keep],
        "lon": lon[keep],
        "true_lat": true_lat[keep],
        "true_lon": true_lon[keep],
        "sog": sog[keep],
        "cog": cog[keep],
        "heading": kin.heading[keep],
        "rot": kin.rot[keep],
        "status": kin.status[keep],
        "mmsi": mmsi[keep],
        "msg_type": np.full(int(keep.sum()), msg_type, np.int8),
        "class_b": np.full(int(keep.sum()), v.ais_class == "B"),
    }
    statics = []
    if v.role != "sart":
        st = np.arange(window[0] + rng.uniform(0, cfg.static_interval_s), window[1], cfg.static_interval_s)
        st = st[~voyage.silent(st)]
        s_lat, s_lon = voyage.track.position(st)
        ids, s_which = voyage.identity(st)
        for t, la, lo, w in zip(st, s_lat, s_lon, s_which, strict=True):
            ident = ids[w]
            if ident.ais_class == "A":
                fields = [ident.static_fields(voyage.draught(float(t)))]
            else:
                fields = list(ident.class_b_fields())
            statics.append((float(t), float(la), float(lo), ident.ais_class == "B", fields))
    texts = []
    for t, text in voyage.texts:
        if window[0] <= t < window[1] and not voyage.silent(np.array([t]))[0]:
            la, lo = voyage.track.at(t)
            texts.append((float(t), la, lo, int(mmsi[0]) if mmsi.size else v.mmsi, text))
    return Emitted(positions, statics, texts)


def concat(parts: list[Emitted]) -> Emitted:
    keys = parts[0].positions.keys() if parts else ()
    positions = {k: np.concatenate([p.positions[k] for p in parts]) for k in keys}
    return Emitted(positions, [s for p in parts for s in p.statics], [x for p in parts for x in p.texts])
