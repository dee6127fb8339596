"""Engine benchmark: per-fix features and every detector, positions per second on one core.

    NUMBA_NUM_THREADS=1 POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/bench_engine.py [--hours 72 --vessels 1000]

A simulated scenario (decoded once, outside the timing) goes through:
- the track segmenter with its per-fix features (implied speed and course, acceleration, turn rate, drift), and
  a straightforward polars implementation of the same between-fix features (previous fix of the same vessel,
  no segments), in the same run;
- the whole engine: the runner (arrival order, lateness, watermark, dedupe) and every detector of
  ``engine.detectors.default_detectors``, with the time each detector takes.
Every figure is the best of three after a warm-up that pays compilation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_decode import best_of  # noqa: E402  (the same timing rule as the decoder's benchmark)

from engine.decode import decode_bytes  # noqa: E402
from engine.detectors import default_detectors  # noqa: E402
from engine.detectors.track import Tracker  # noqa: E402
from engine.fixes import fixes_from_positions  # noqa: E402
from engine.fleet import VesselIndex  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import load_pack  # noqa: E402
from engine.runner import Engine  # noqa: E402

R_KM = 6371.0088
KM_PER_NM = 1.852


def polars_features(positions: pl.DataFrame) -> pl.DataFrame:
    """Implied speed, course, acceleration and turn rate from each vessel's previous fix, in plain polars."""
    lat, lon = pl.col("lat").radians(), pl.col("lon").radians()
    plat, plon = lat.shift(1).over("mmsi"), lon.shift(1).over("mmsi")
    dt_s = (pl.col("t") - pl.col("t").shift(1).over("mmsi")).dt.total_microseconds() / 1e6
    h = ((lat - plat) / 2).sin() ** 2 + lat.cos() * plat.cos() * ((lon - plon) / 2).sin() ** 2
    km = 2 * R_KM * h.sqrt().clip(upper_bound=1.0).arcsin()
    y = (lon - plon).sin() * lat.cos()
    x = plat.cos() * lat.sin() - plat.sin() * lat.cos() * (lon - plon).cos()
    return (
        positions.sort("mmsi", "t")
        .with_columns(
            (km / KM_PER_NM / (dt_s / 3600)).alias("implied_kn"),
            ((pl.arctan2(y, x).degrees() + 360) % 360).alias("course"),
            dt_s.alias("dt_s"),
        )
        .with_columns(
            ((pl.col("implied_kn") - pl.col("implied_kn").shift(1).over("mmsi")) / pl.col("dt_s")).alias("accel"),
            (
                ((pl.col("course") - pl.col("course").shift(1).over("mmsi") + 540) % 360 - 180) / pl.col("dt_s") * 60
            ).alias("turn"),
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--vessels", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from seawatch.simulator.config import SimConfig  # benchmarks may use the simulator; the engine never does
    from seawatch.simulator.scenario import simulate

    scenario = simulate(SimConfig(hours=args.hours, vessels=args.vessels, seed=args.seed))
    d = decode_bytes(scenario.feed, details=False)
    positions = d.positions.filter(pl.col("t").is_not_null())
    n = positions.height
    fleet = VesselIndex()
    vid = fleet.ids(positions["mmsi"].to_numpy())
    order = np.lexsort((positions["t"].dt.epoch("us").to_numpy(), vid))
    fixes = fixes_from_positions(positions[order], vid[order], np.arange(n))

    Tracker().update(fixes, fleet.size)  # warm-up
    t_kernel = best_of(args.runs, lambda: Tracker().update(fixes, fleet.size))
    polars_features(positions)
    t_polars = best_of(args.runs, lambda: polars_features(positions))

    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    per: dict[str, float] = {}

    def whole() -> Engine:
        engine = Engine(default_detectors(pack, land))
        for det in engine.detectors:
            det.process = _timed(det.process, det.name, per)  # type: ignore[method-assign]
        engine.process(d.positions, d.statics, d.events)
        engine.finish()
        return engine

    whole()
    per.clear()
    best = float("inf")
    per_run: dict[str, float] = {}
    for _ in range(args.runs):
        per.clear()
        t0 = time.perf_counter()
        engine = whole()
        dt = time.perf_counter() - t0
        if dt < best:
            best, per_run = dt, dict(per)
            alerts = engine.alerts().height
    print(
        f"scenario: {args.hours:g} h, {args.vessels} vessels, seed {args.seed}: {n:,} positions, "
        f"{fleet.size:,} vessels, {alerts} alerts"
    )
    print(f"features, Numba segmenter (one core) : {n / t_kernel:>12,.0f} positions/s  ({t_kernel:.3f} s)")
    print(
        f"features, plain polars               : {n / t_polars:>12,.0f} positions/s  ({t_polars:.3f} s)"
        f"  -> Numba is {t_polars / t_kernel:.1f}x"
    )
    print(f"engine + every detector              : {n / best:>12,.0f} positions/s  ({best:.3f} s)")
    state = {d.name: sum(a.nbytes for a in d.snapshot().values()) for d in engine.detectors}
    fleet_bytes = sum(a.nbytes for a in engine.fleet.state().values())
    total_state = sum(state.values()) + fleet_bytes
    print(
        f"state after the run: {total_state / 1e6:.1f} MB for {fleet.size:,} vessels "
        f"({total_state / fleet.size:,.0f} bytes per vessel, arrays grown in steps; largest: "
        + ", ".join(f"{k} {v / fleet.size:,.0f}" for k, v in sorted(state.items(), key=lambda kv: -kv[1])[:4])
        + ")"
    )
    detectors = sum(per_run.values())
    print(f"  runner (arrival, watermark, dedupe, alert book): {best - detectors:.3f} s")
    for name, secs in sorted(per_run.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<16} {secs:.3f} s")


def _timed(fn, name: str, per: dict[str, float]):  # type: ignore[no-untyped-def]
    def run(step):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn(step)
        per[name] = per.get(name, 0.0) + time.perf_counter() - t0
        return out

    return run


if __name__ == "__main__":
    main()
