"""Helpers for the gap and encounter tests: made-up position tables, and a simulated scenario run whole or in
chunks of random sizes (split by ``seq`` ranges)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from engine.decode import decode_bytes
from engine.runner import Detector, Engine
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.detectors.scenario_run import run

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z


def empty_tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    d = decode_bytes(b"", details=False)
    return d.statics, d.events


def positions(mmsi: int, t_s: np.ndarray, lat: np.ndarray, lon: np.ndarray, sog: float = 0.5,
              msg_type: int = 1) -> pl.DataFrame:  # fmt: skip
    """A Positions table of one vessel (seconds from T0); columns the detectors do not read are null."""
    schema = decode_bytes(b"", details=False).positions.schema
    n = len(t_s)
    data: dict[str, Any] = {
        "mmsi": np.full(n, mmsi, np.int64),
        "t": pl.Series((T0 + np.asarray(t_s, float)) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
        "lat": np.asarray(lat, float),
        "lon": np.asarray(lon, float),
        "sog": np.full(n, sog, float),
        "msg_type": np.full(n, msg_type, np.int8),
        "seq": np.zeros(n, np.int64),
    }
    cols = [pl.Series(name, data[name]) if name in data else pl.Series(name, [None] * n) for name in schema]
    return pl.DataFrame(cols).cast(schema)


@dataclass(frozen=True)
class Simulated:
    positions: pl.DataFrame
    statics: pl.DataFrame
    events: pl.DataFrame
    labels: pl.DataFrame  # kind, mmsi, other_mmsi, start, end (UTC)
    feed: bytes


@cache
def simulated(hours: float = 6.0, seed: int = 7) -> Simulated:
    sc = simulate(SimConfig(hours=hours, seed=seed))
    d = decode_bytes(sc.feed, details=False)
    epoch = sc.cfg.start.timestamp()
    rows = [(lb.kind, lb.mmsi, lb.other_mmsi, lb.start, lb.end) for lb in sc.labels]
    labels = pl.DataFrame(rows, schema=["kind", "mmsi", "other_mmsi", "start", "end"], orient="row").with_columns(
        ((pl.col(c) + epoch) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")) for c in ("start", "end")
    )
    return Simulated(d.positions, d.statics, d.events, labels, sc.feed)


def framed_alerts(feed: bytes, make: Callable[[], Sequence[Detector]], chunks: int, seed: int = 0) -> pl.DataFrame:
    """Alerts of ``make()``'s detectors over the feed's bytes framed in ``chunks`` pieces cut at random offsets."""
    cuts = sorted(random.Random(seed).sample(range(1, len(feed)), chunks - 1)) if chunks > 1 else []
    return run(feed, make, cuts)


def chunked_alerts(sim: Simulated, make: Callable[[], Sequence[Detector]], chunks: int, seed: int = 0) -> pl.DataFrame:
    """Alerts of ``make()``'s detectors over the scenario cut into ``chunks`` random ``seq`` ranges."""
    engine = Engine(list(make()))
    top = 1 + max(int(t["seq"].max()) for t in (sim.positions, sim.statics, sim.events))  # type: ignore[arg-type]
    cuts = sorted(random.Random(seed).sample(range(1, top), chunks - 1)) if chunks > 1 else []
    for a, b in zip([0, *cuts], [*cuts, top], strict=True):
        part = [t.filter(pl.col("seq").is_between(a, b - 1)) for t in (sim.positions, sim.statics, sim.events)]
        engine.process(*part)
    engine.finish()
    return engine.alerts()
