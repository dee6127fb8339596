"""From transmitted reports to the feed: reception, then NMEA lines in time order (with the shore's own
transmitters: base stations heard by their receiver, aids to navigation heard like any report)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from seawatch.simulator.beacons import Beacon, aton_rows, base_station_times
from seawatch.simulator.nmea import (
    TYPE1,
    TYPE4,
    TYPE18,
    base_station_fields,
    message_lines,
    pack,
    position_fields,
    position_lines,
)
from seawatch.simulator.reception import receive
from seawatch.simulator.voyage import Emitted
from seawatch.simulator.world import World


def render(world: World, em: Emitted, beacons: list[Beacon] | None = None) -> tuple[bytes, Counter[int]]:
    """The feed bytes (time-ordered lines) and the count of messages heard, by message type."""
    cfg, cov = world.cfg, world.coverage
    rng = world.rng("reception")
    types: Counter[int] = Counter()
    lines: list[bytes] = []
    keys: list[np.ndarray] = []

    p = em.positions
    station = receive(cov, cfg, p["t"], p["true_lat"], p["true_lon"], p["class_b"], rng)
    heard = np.flatnonzero(station >= 0)
    cols = {k: v[heard] for k, v in p.items()}
    station = station[heard]
    fields = position_fields(cols, cfg.epoch)
    unix = np.floor(cfg.epoch + cols["t"]).astype(np.int64)
    channel = rng.random(heard.shape[0]) < 0.5
    for s, sid in enumerate(cov.ids):
        for class_b, layout in ((False, TYPE1), (True, TYPE18)):
            idx = np.flatnonzero((station == s) & (cols["class_b"] == class_b))
            if not idx.size:
                continue
            payload = pack({k: v[idx] for k, v in fields.items()}, layout)
            lines += position_lines(payload, unix[idx], sid.encode("ascii"), channel[idx])
            keys.append(cols["t"][idx])
            types.update(cols["msg_type"][idx].tolist())

    beacons = beacons or []
    brng = world.rng("base-stations")
    for bc in beacons:
        if bc.kind != "base_station":
            continue
        t = base_station_times(world, bc, brng)
        if not t.size:
            continue
        unix = np.floor(cfg.epoch + t).astype(np.int64)
        payload = pack(base_station_fields(bc.mmsi, bc.lat, bc.lon, unix), TYPE4)
        channel_b = np.asarray(brng.random(t.shape[0]) < 0.5)
        lines += position_lines(payload, unix, cov.ids[bc.station].encode("ascii"), channel_b)
        keys.append(t)
        types[4] += int(t.shape[0])

    rows = [(t + 0.5 * i, lat, lon, b, f) for t, lat, lon, b, parts in em.statics for i, f in enumerate(parts)]
    rows += [(t, lat, lon, False, {"type": 14, "mmsi": mmsi, "text": text}) for t, lat, lon, mmsi, text in em.texts]
    rows += aton_rows(world, beacons, world.rng("aton"))
    if rows:
        t = np.array([r[0] for r in rows])
        got = receive(
            cov,
            cfg,
            t,
            np.array([r[1] for r in rows]),
            np.array([r[2] for r in rows]),
            np.array([r[3] for r in rows]),
            rng,
        )
        chan = rng.random(len(rows)) < 0.5
        extra: list[float] = []
        for seq, i in enumerate(np.flatnonzero(got >= 0), start=1):
            f = rows[i][4]
            lines.append(
                message_lines(
                    f,
                    cov.ids[got[i]],
                    int(np.floor(cfg.epoch + t[i])),
                    "B" if chan[i] else "A",
                    seq % 10,
                    seq % 10000 + 1,
                )
            )
            extra.append(float(t[i]))
            types[int(f["type"])] += 1
        keys.append(np.array(extra))
    if not lines:
        return b"", types
    order = np.argsort(np.concatenate(keys), kind="stable")
    return b"".join([lines[i] for i in order]), types
