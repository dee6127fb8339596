"""A made-up day of two receiving stations for the station and gap tests: station ``A`` goes down for a while,
station ``B`` stays up; every vessel's copies carry the station that heard them (``source``)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.runner import Detector, Engine
from tests.engine.detectors.scenario import T0, empty_tables, positions

H = 3600.0
TARGET = 574000001  # heard by A only, near B's vessels
A_ONLY = [574000100 + k for k in range(6)]  # six vessels only A hears: ~60 messages per 10 min
B_ONLY = [574000200 + k for k in range(4)]  # neighbours of the target heard by B: good coverage throughout
BOTH = [574000300 + k for k in range(2)]  # heard by both: every message twice


@dataclass(frozen=True)
class Day:
    table: pl.DataFrame  # positions with source and seq (arrival order = time order, copies next to each other)
    down: tuple[float, float]  # station A's outage, hours from T0 (empty when A never went down)
    back_s: float  # the first message A heard after its outage (s from T0)
    last_s: float  # the last message A heard before it (s from T0)


def day(down: tuple[float, float] | None = (4.0, 6.5), target_silent_h: float = 0.0, hours: float = 12.0) -> Day:
    """``hours`` of traffic, one message a minute from each vessel. Station A hears nothing during ``down``; the
    target falls silent with it and stays silent ``target_silent_h`` more past A's return (with ``down`` None: a
    target silent ``target_silent_h`` from hour 4, A up all day)."""
    t = np.arange(0, hours * H, 60.0)
    lo, hi = (down[0] * H, down[1] * H) if down else (np.inf, np.inf)
    a_up = (t < lo) | (t >= hi)
    quiet_from = 4 * H if down is None else lo
    quiet_to = (hi if down else quiet_from) + target_silent_h * H
    parts = []

    def add(mmsi: int, keep: np.ndarray, lat: float, lon: float, source: str, shift: float = 0.0) -> None:
        times = t[keep] + shift
        n = times.shape[0]
        frame = positions(mmsi, times, np.full(n, lat), np.full(n, lon))
        parts.append(frame.with_columns(pl.lit(source).alias("source")))

    target_keep = a_up & ((t < quiet_from) | (t >= quiet_to))
    add(TARGET, target_keep, 20.2, 108.3, "A", 1.0)
    for k, m in enumerate(A_ONLY):
        add(m, a_up, 20.6 + 0.02 * k, 108.0, "A", 2.0 + k)
    for k, m in enumerate(B_ONLY):
        add(m, np.ones(t.shape, bool), 20.25 + 0.01 * k, 108.35, "B", 10.0 + k)
    for k, m in enumerate(BOTH):
        add(m, a_up, 20.4, 108.1 + 0.01 * k, "A", 20.0 + k)
        add(m, np.ones(t.shape, bool), 20.4, 108.1 + 0.01 * k, "B", 20.0 + k)
    table = pl.concat(parts).sort("t", "mmsi", "source")
    table = table.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    a = table.filter(pl.col("source") == "A")["t"].dt.epoch("us").to_numpy() / 1e6 - T0
    last = float(a[a < lo].max()) if down else float("nan")
    back = float(a[a >= hi].min()) if down and (a >= hi).any() else float("nan")
    return Day(table, down or (), back, last)


def chunked(table: pl.DataFrame, make: Callable[[], Sequence[Detector]], chunks: int, seed: int) -> Engine:
    """The engine after ``table`` cut in ``chunks`` random ``seq`` ranges and finished."""
    engine = Engine(list(make()))
    top = int(table["seq"].max()) + 1  # type: ignore[arg-type]
    cuts = sorted(random.Random(seed).sample(range(1, top), chunks - 1)) if chunks > 1 else []
    for a, b in zip([0, *cuts], [*cuts, top], strict=True):
        engine.process(table.filter(pl.col("seq").is_between(a, b - 1)), *empty_tables())
    engine.finish()
    return engine


def at(s: float) -> pl.Series:
    """Seconds from T0 as the engine's UTC times (microseconds)."""
    return pl.Series([int(round((T0 + s) * 1e6))]).cast(pl.Datetime("us", "UTC"))
