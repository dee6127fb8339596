"""Helpers for the motion and geography detector tests: made-up tracks run through the engine."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl

from engine.decode import decode_bytes
from engine.geo.land import LandIndex
from engine.runner import Detector, Engine

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z


@cache
def land() -> LandIndex:
    return LandIndex.load()


def track(mmsi: int, t_s: Sequence[float], lat: Sequence[float], lon: Sequence[float],
          sog: float | Sequence[float] = 10.0, msg_type: int = 1) -> pl.DataFrame:  # fmt: skip
    """A Positions table of one vessel (seconds from T0); columns the detectors do not read are null."""
    schema = decode_bytes(b"", details=False).positions.schema
    n = len(t_s)
    data = {
        "mmsi": np.full(n, mmsi, np.int64),
        "t": pl.Series((T0 + np.asarray(t_s, float)) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
        "lat": np.asarray(lat, float),
        "lon": np.asarray(lon, float),
        "sog": np.broadcast_to(np.asarray(sog, float), (n,)).copy(),
        "msg_type": np.full(n, msg_type, np.int8),
    }
    cols = {name: pl.Series(name, data[name]) if name in data else pl.Series(name, [None] * n) for name in schema}
    return pl.DataFrame(cols).cast(dict(schema))  # type: ignore[arg-type]


def line(t_s: np.ndarray, lat0: float, lon0: float, kn: float, course: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions along a straight course at ``kn`` (flat-earth, fine over hours)."""
    km = kn * 1.852 * t_s / 3600
    lat = lat0 + km * np.cos(np.radians(course)) / 111.195
    lon = lon0 + km * np.sin(np.radians(course)) / (111.195 * np.cos(np.radians(lat0)))
    return lat, lon


def alerts(detectors: Sequence[Detector], *tables: pl.DataFrame) -> pl.DataFrame:
    """All alerts of ``detectors`` over the vessels' tables (one batch, arrival = table order)."""
    d = decode_bytes(b"", details=False)
    pos = pl.concat(tables).drop("seq").sort("t").with_row_index("seq").with_columns(pl.col("seq").cast(pl.Int64))
    pos = pos.select(d.positions.columns)
    engine = Engine(list(detectors))
    engine.process(pos, d.statics, d.events)
    engine.finish()
    return engine.alerts()
