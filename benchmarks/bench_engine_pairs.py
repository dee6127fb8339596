"""Encounter pairing benchmark: the grid hash (Numba) vs a straightforward polars join on grid cells.

    .venv/bin/python benchmarks/bench_engine_pairs.py [--sizes 10000 100000 1000000] [--repeat 3]

One time slice of N vessels at a constant density (one vessel per ~4 km², as busy as a port approach; the area
grows with N), 2 % of them in close pairs. Both methods find every pair within 0.5 km (the GFW encounter
distance); the polars baseline puts each vessel in its 3 x 3 neighbouring cells, joins on the cell and keeps
the pairs within the distance by haversine. Each is run once to warm up (compilation), then timed ``--repeat``
times; the best time is reported, with the pairs found (which must agree).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import polars as pl

from engine.detectors.common import EARTH_RADIUS_KM
from engine.detectors.pairs import KM_PER_DEG, close_pairs

MAX_KM = 0.5  # GFW encounters
KM2_PER_VESSEL = 4.0


def fleet(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    side_deg = math.sqrt(n * KM2_PER_VESSEL) / KM_PER_DEG
    lat = rng.uniform(10.0, 10.0 + side_deg, n)
    lon = rng.uniform(100.0, 100.0 + side_deg, n)
    k = n // 50  # 2 % alongside another vessel
    lat[n - k :] = lat[:k] + rng.uniform(-0.002, 0.002, k)
    lon[n - k :] = lon[:k] + rng.uniform(-0.002, 0.002, k)
    return lat, lon


def polars_pairs(lat: np.ndarray, lon: np.ndarray, max_km: float) -> int:
    """The straightforward way: explode each point into its 3 x 3 cells, join on the cell, filter by distance.
    Longitude cells are widened for the highest latitude so that one cell either way is enough (no wrap-around
    at the antimeridian: the benchmark's area does not cross it)."""
    cell = max_km / KM_PER_DEG
    cell_lon = cell / math.cos(math.radians(float(np.abs(lat).max()) + cell))
    pts = pl.DataFrame({"id": np.arange(lat.shape[0]), "lat": lat, "lon": lon}).with_columns(
        (pl.col("lat") / cell).floor().cast(pl.Int64).alias("ci"),
        (pl.col("lon") / cell_lon).floor().cast(pl.Int64).alias("cj"),
    )
    shifts = pl.DataFrame({"di": np.repeat([-1, 0, 1], 3), "dj": np.tile([-1, 0, 1], 3)})
    probes = pts.join(shifts, how="cross").with_columns(pl.col("ci") + pl.col("di"), pl.col("cj") + pl.col("dj"))
    j = probes.join(pts, on=["ci", "cj"], suffix="_b").filter(pl.col("id") < pl.col("id_b"))
    rad = math.pi / 180
    h = ((pl.col("lat_b") - pl.col("lat")) * rad / 2).sin() ** 2 + (pl.col("lat") * rad).cos() * (
        pl.col("lat_b") * rad
    ).cos() * ((pl.col("lon_b") - pl.col("lon")) * rad / 2).sin() ** 2
    km = 2 * EARTH_RADIUS_KM * h.sqrt().arcsin()
    return j.filter(km <= max_km).height


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    fn()  # warm-up: compilation, allocations
    times, found = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        found = fn()
        times.append(time.perf_counter() - t)
    return min(times), found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    out = sys.stdout
    out.write(f"python {platform.python_version()}, polars {pl.__version__}, {platform.machine()}\n\n")
    out.write("| vessels | pairs | grid hash (s) | per vessel (µs) | polars join (s) | speed-up |\n")
    out.write("|---|---|---|---|---|---|\n")
    for n in args.sizes:
        lat, lon = fleet(n)
        t_grid, pairs = best(lambda: int(close_pairs(lat, lon, MAX_KM)[0].shape[0]), args.repeat)  # noqa: B023
        t_pl, pairs_pl = best(lambda: polars_pairs(lat, lon, MAX_KM), args.repeat)  # noqa: B023
        if pairs != pairs_pl:
            out.write(f"MISMATCH at {n}: grid hash {pairs} pairs, polars {pairs_pl}\n")
            return 1
        out.write(
            f"| {n:,} | {pairs:,} | {t_grid:.3f} | {t_grid / n * 1e6:.2f} | {t_pl:.3f} | {t_pl / t_grid:.1f}x |\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
