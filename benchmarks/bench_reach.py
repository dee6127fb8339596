"""Where a vessel can be now and what a patrol can meet (issue 17): the reach and the intercept, in process and as
an analyst asks for them over HTTP, each beside a baseline in the same run.

    .venv/bin/python benchmarks/bench_reach.py [--reach-vessels 200] [--fleet-vessels 10000] [--hours 6]
                                               [--meet-vessels 1000000] [--risky 2000] [--requests 5]

In process:
- reach: ``--reach-vessels`` fixes at random points of open water in the Gulf of Tonkin, each drawn ``--hours``
  after its fix at a class top speed (12, 16, 20 or 30 kn in turn) as the route draws it: shortest paths over
  water plus the polygons (``rc.reach`` + ``rc.reach_feature``); the figure for 10,000 vessels is that rate
  carried over. Baseline: the circle of the same radius minus the land on the same grid (no going round it), the
  least any grid method does.
- fleet reach: ``--fleet-vessels`` such fixes at once (``engine.geo.fleet_reach.fleet_reach``: each vessel the
  same reach on a grid of 16 cells per radius, every core), wall and CPU time, best of 3; beside it, the
  per-vessel path above carried over to as many vessels, and the same grids drawn one by one by ``rc.reach``
  (``cells_per_radius=16``, the heap's Dijkstra and the land read through numpy) on ``--reach-vessels`` of them,
  carried over. Its polygons (``rc.reach_feature``) timed apart: the map asks for one vessel's or a few.
- intercept: ``--meet-vessels`` vessels at random offsets and velocities met by one patrol: ``rc.meet_hours_many``
  (numpy) against ``rc.meet_hours`` called vessel by vessel (the route's loop).

``Store.latest_fixes`` over ``--risky`` vessels reporting at the same times (3 points each, SQLite), beside the
join on the time it replaced (``Store._latest_by_time``, its fallback now).

Over HTTP (the app under uvicorn on a loopback port, a temporary SQLite store, httpx; medians of ``--requests``):
``GET /api/v1/intercept`` over ``--risky`` high and critical vessels (the route reads at most 2,000; half heard
now, met on their course, half heard 3 h before, met by their reach) beside ``GET /api/v1/vessels`` reading the
same vessels (500 a page, every page); ``GET /api/v1/vessels/{mmsi}/reach?hours=H`` beside ``GET
/api/v1/vessels/{mmsi}``; ``GET /api/v1/reach`` for 200 of them at once (the route's most) beside the single
route's time for each.
"""

from __future__ import annotations

import argparse
import math
import platform
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numba
import numpy as np
import polars as pl
import uvicorn
from bench_decode import best_of

from api.app import create_app
from api.keys import create_key
from api.routes.reach import FLEET_REACH_MAX
from api.settings import Settings
from api.store import Store
from engine.geo import fleet_reach as fr
from engine.geo import reach as rc
from engine.geo.land import LandIndex
from models.schema import VESSEL_SCHEMA

GULF = (17.5, 21.3, 106.3, 109.3)  # lat, lat, lon, lon: the Gulf of Tonkin's water, Hainan's west coast included
CLASS_KN = (12.0, 16.0, 20.0, 30.0)  # fishing, tanker, cargo, small craft (engine/geo/reach.py)


def sea_points(land: LandIndex, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(GULF[0], GULF[1], 20 * n)
    lon = rng.uniform(GULF[2], GULF[3], 20 * n)
    sea = land.coast_km(lat, lon) > 2.0
    return lat[sea][:n], lon[sea][:n]


def circle_minus_land(land: LandIndex, r: rc.Reach, lat0: float, lon0: float) -> int:
    """The baseline: the cells within the radius in a straight line that are water, traced the same way."""
    grid_lat, grid_lon = np.meshgrid(r.lat, r.lon, indexing="ij")
    km = np.hypot(grid_lat - lat0, (grid_lon - lon0) * np.cos(np.radians(grid_lat))) * rc.KM_PER_DEG
    km[land.is_land(grid_lat, grid_lon)] = np.inf
    return len(rc.reach_polygons(rc.Reach(r.lat, r.lon, km, r.radius_km, r.cell_km)))


def in_process(args: argparse.Namespace, land: LandIndex) -> None:
    lat, lon = sea_points(land, args.reach_vessels)
    rc.reach_feature(rc.reach(land, float(lat[0]), float(lon[0]), 1.0, 12.0), {})  # compile, touch the mask
    grids, t0 = [], time.perf_counter()
    for k, (a, b) in enumerate(zip(lat, lon, strict=True)):
        r = rc.reach(land, float(a), float(b), args.hours, CLASS_KN[k % len(CLASS_KN)])
        rc.reach_feature(r, {})
        grids.append((r, float(a), float(b)))
    reach_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r, a, b in grids:
        circle_minus_land(land, r, a, b)
    circle_s = time.perf_counter() - t0
    n = len(grids)
    print(f"reach, {n} vessels, {args.hours:g} h at 12-30 kn (cells {min(g[0].cell_km for g in grids):.2f}-"
          f"{max(g[0].cell_km for g in grids):.2f} km): {reach_s:.2f} s, {1000 * reach_s / n:.1f} ms a vessel; "
          f"10,000 vessels: {reach_s / n * 10_000:.0f} s (carried over)")  # fmt: skip
    print(f"  baseline, the circle minus the land on the same grids: {circle_s:.2f} s, {1000 * circle_s / n:.1f} ms "
          f"a vessel")  # fmt: skip

    fleet(args, land, reach_s / n)

    rng = np.random.default_rng(1)
    m = args.meet_vessels
    dx, dy = rng.uniform(-300, 300, m), rng.uniform(-300, 300, m)
    vx, vy = rng.uniform(-20, 20, m), rng.uniform(-20, 20, m)
    many_s = best_of(3, lambda: rc.meet_hours_many(dx, dy, vx, vy, 25.0))
    loop_n = min(m, 200_000)  # the loop, on a fifth of them at most, carried over
    t0 = time.perf_counter()
    one = [rc.meet_hours(dx[i], dy[i], vx[i], vy[i], 25.0) for i in range(loop_n)]
    loop_s = (time.perf_counter() - t0) * m / loop_n
    got = rc.meet_hours_many(dx[:loop_n], dy[:loop_n], vx[:loop_n], vy[:loop_n], 25.0)
    same = np.allclose(got, [np.nan if t is None else t for t in one], equal_nan=True)
    print(f"intercept, {m:,} vessels: meet_hours_many {1000 * many_s:.0f} ms (best of 3); vessel by vessel "
          f"{loop_s:.2f} s{' (carried over from ' + format(loop_n, ',') + ')' if loop_n < m else ''}; "
          f"{loop_s / many_s:.0f}x; the same times: {same}")  # fmt: skip


def fleet(args: argparse.Namespace, land: LandIndex, one_s: float) -> None:
    lat, lon = sea_points(land, args.fleet_vessels, seed=4)
    n = len(lat)
    speed = np.array(CLASS_KN)[np.arange(n) % len(CLASS_KN)]
    fr.fleet_reach(land, lat[:50], lon[:50], args.hours, speed[:50])  # compile
    wall, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        got = fr.fleet_reach(land, lat, lon, args.hours, speed)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    k = min(n, args.reach_vessels)
    t0 = time.perf_counter()
    for i in range(k):
        rc.reach(
            land, float(lat[i]), float(lon[i]), args.hours, float(speed[i]), cells_per_radius=fr.FLEET_CELLS_PER_RADIUS
        )
    coarse_s = (time.perf_counter() - t0) / k
    t0 = time.perf_counter()
    for i in range(k):
        rc.reach_feature(got.one(i), {})
    poly_s = (time.perf_counter() - t0) / k
    print(f"fleet reach, {n:,} vessels at once, {args.hours:g} h at 12-30 kn, {fr.FLEET_CELLS_PER_RADIUS} cells "
          f"a radius (cells {got.cell_km.min():.1f}-{got.cell_km.max():.1f} km): {min(wall):.2f} s (best of 3; "
          f"{min(cpu):.2f} s of CPU, {numba.config.NUMBA_NUM_THREADS} threads)")  # fmt: skip
    print(f"  baseline, the per-vessel path (200 cells per radius, polygons included): {one_s * n:.0f} s carried over; "
          f"the same coarse grids one by one (rc.reach): {coarse_s * n:.2f} s carried over from {k}")  # fmt: skip
    print(f"  the fleet's polygons (rc.reach_feature): {1000 * poly_s:.2f} ms a vessel, {poly_s * n:.1f} s for all")


# ---------------------------------------------------------------- over HTTP


def fill(store: Store, land: LandIndex, n: int, now: datetime) -> list[int]:
    lat, lon = sea_points(land, n, seed=2)
    rows = []
    for i in range(len(lat)):
        row: dict[str, Any] = {k: None for k in VESSEL_SCHEMA}
        score = 60.0 + 40.0 * i / max(len(lat) - 1, 1)
        heard = (now if i % 2 else now - timedelta(hours=3)) - timedelta(seconds=7 * i)  # as a feed: no two alike
        row |= {"mmsi": 574_000_000 + i, "name": f"BENCH {i}", "ship_type": (30, 80, 70, 37)[i % 4], "flag": "VN",
                "lat": float(lat[i]), "lon": float(lon[i]), "first_seen": heard, "last_seen": heard, "positions": 10,
                "smuggling_score": score, "fire_score": 5.0, "band": "critical" if score > 75 else "high",
                "smuggling_band": "high", "fire_band": "low", "reasons": [], "smuggling_reasons": [],
                "fire_reasons": []}  # fmt: skip
        rows.append(row)
    store.upsert_vessels(pl.DataFrame(rows, schema=VESSEL_SCHEMA))
    track = [(574_000_000 + i, rows[i]["last_seen"] - timedelta(minutes=10 * k),
              float(lat[i]), float(lon[i]), 8.0 + i % 5, float(37 * i % 360))
             for i in range(len(lat)) for k in range(3)]  # fmt: skip
    cols = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
            "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    store.add_track(pl.DataFrame(track, schema=cols, orient="row"))
    return [r["mmsi"] for r in rows]


def median_ms(client: httpx.Client, urls: list[str], runs: int) -> tuple[float, Any]:
    body = [client.get(u).raise_for_status().json() for u in urls]  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        body = [client.get(u).raise_for_status().json() for u in urls]
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), body


def same_times(args: argparse.Namespace) -> None:
    """Store.latest_fixes when the vessels report at the same times (a feed's second holds many vessels), beside
    the read it replaced (the join on the time: Store._latest_by_time, now its fallback)."""
    store = Store(f"sqlite:///{Path(tempfile.mkdtemp(prefix='seawatch-bench-fixes-')) / 'seawatch.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    n = args.risky
    track = [(574_000_000 + i, now - timedelta(minutes=10 * k), 20.0, 107.5, 8.0, 90.0) for i in range(n)
             for k in range(3)]  # fmt: skip
    cols = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
            "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    store.add_track(pl.DataFrame(track, schema=cols, orient="row"))
    mmsis = list(range(574_000_000, 574_000_000 + n))
    try:
        new_s = best_of(3, lambda: store.latest_fixes(mmsis))
        with store._read() as conn:
            old_s = best_of(3, lambda: store._latest_by_time(conn, mmsis))
            same = store._latest_by_time(conn, mmsis) == store.latest_fixes(mmsis)
    finally:
        store.close()
    print(f"Store.latest_fixes, {n:,} vessels reporting at the same times: {1000 * new_s:.0f} ms (best of 3); "
          f"baseline, the join on the time: {1000 * old_s:.0f} ms; the same rows: {same}")  # fmt: skip


def over_http(args: argparse.Namespace, land: LandIndex) -> None:
    folder = Path(tempfile.mkdtemp(prefix="seawatch-bench-reach-"))
    store = Store(f"sqlite:///{folder / 'seawatch.db'}")
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    mmsis = fill(store, land, args.risky, now)
    key = create_key(store, "bench", "viewer")
    settings = Settings(environment="development", rate_per_key=0, rate_per_address=0, vessels_cache_s=0)
    app = create_app(settings, store=store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(headers={"X-API-Key": key}, timeout=600) as client:
            pages = math.ceil(len(mmsis) / 500)
            read = [f"{base}/vessels?band=high&band=critical&page_size=500&page={p + 1}" for p in range(pages)]
            read_ms, _ = median_ms(client, read, args.requests)
            meet_ms, (body,) = median_ms(client, [f"{base}/intercept?from=20.0,107.5&speed_kn=25&within_h=6"],
                                         args.requests)  # fmt: skip
            print(f"GET /intercept over {len(mmsis):,} high and critical vessels ({len(body['items'])} met within 6 h, "
                  f"{body['out_of_reach']} not): {meet_ms:.0f} ms; baseline, reading them (GET /vessels, {pages} "
                  f"pages of 500): {read_ms:.0f} ms")  # fmt: skip
            one = mmsis[len(mmsis) // 2]
            plain_ms, _ = median_ms(client, [f"{base}/vessels/{one}"], args.requests)
            reach_ms, _ = median_ms(client, [f"{base}/vessels/{one}/reach?hours={args.hours:g}"], args.requests)
            print(f"GET /vessels/{{mmsi}}/reach?hours={args.hours:g}: {reach_ms:.0f} ms; "
                  f"baseline GET /vessels/{{mmsi}}: {plain_ms:.0f} ms")  # fmt: skip
            some = mmsis[:FLEET_REACH_MAX]
            query = "&".join(f"mmsi={m}" for m in some)
            fleet_ms, (reaches,) = median_ms(client, [f"{base}/reach?{query}&hours={args.hours:g}"], args.requests)
            print(f"GET /reach?mmsi=..&hours={args.hours:g} for {len(some)} vessels ({len(reaches['features'])} "
                  f"reaches): {fleet_ms:.0f} ms; baseline, GET /vessels/{{mmsi}}/reach for each: "
                  f"{reach_ms * len(some) / 1000:.1f} s (carried over)")  # fmt: skip
    finally:
        server.should_exit = True
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reach-vessels", type=int, default=200)
    ap.add_argument("--fleet-vessels", type=int, default=10_000)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--meet-vessels", type=int, default=1_000_000)
    ap.add_argument("--risky", type=int, default=2_000)
    ap.add_argument("--requests", type=int, default=5)
    args = ap.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    land = LandIndex.load()
    in_process(args, land)
    same_times(args)
    over_http(args, land)


if __name__ == "__main__":
    main()
