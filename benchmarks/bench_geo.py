"""Geography benchmark: land and coast distance, point in polygon, distance to a border; Seawatch's kernels
against a straightforward numpy implementation of the same thing, in the same run.

    .venv/bin/python benchmarks/bench_geo.py [--points 10000000] [--shape-points 1000000]

Points are uniform in the Gulf of Tonkin box (16.5-23N, 104.5-112E) and uniform on the whole sphere. Every
timing is the best of three after a warm-up that pays compilation. Resident memory is measured before and
after looking up points all over the world (which touches every page of the memory-mapped grids); the
package ``global-land-mask`` is measured in a child process, as it loads its whole mask at import.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_decode import best_of as timed_best  # the timing rule of every benchmark here

from engine.geo import land as ld
from engine.geo import land_build as lb
from engine.geo import shapes_kernel as sk
from engine.geo.land import LandIndex
from engine.geo.shapes import Polygons, Polyline

GEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "geo"
GULF = (16.5, 23.0, 104.5, 112.0)


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up: compilation, and the first touch of the memory-mapped grids
    return timed_best(runs, fn)


def rss_mb() -> float:
    """Resident memory now (Linux: /proc; elsewhere the peak, ru_maxrss)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def points(n: int, where: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if where == "gulf":
        return rng.uniform(GULF[0], GULF[1], n), rng.uniform(GULF[2], GULF[3], n)
    return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)


# --- straightforward numpy versions ------------------------------------------------------------------------------
def is_land_numpy(idx: LandIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return band_numpy(idx, lat, lon) < 0


def band_numpy(idx: LandIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    i = np.minimum(((90.0 - lat) * lb.CELLS_PER_DEG).astype(np.int64), lb.ROWS - 1)
    j = np.minimum(((lon + 180.0) * lb.CELLS_PER_DEG).astype(np.int64), lb.COLS - 1)
    k = idx.tiles[i // lb.TILE, j // lb.TILE]
    inside = idx.band[np.maximum(k, 0), i % lb.TILE, j % lb.TILE].astype(np.int64)
    return np.where(k >= 0, inside, np.where(k == lb.TILE_LAND, -lb.BAND_MAX, lb.BAND_MAX))


def coast_km_numpy(idx: LandIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    v = band_numpy(idx, lat, lon)
    out = v * lb.BAND_UNIT_KM
    far = np.abs(v) >= lb.BAND_MAX
    la, lo = lat[far], lon[far]
    fi = (90.0 - la) * lb.FAR_PER_DEG
    i0 = np.minimum(fi.astype(np.int64), idx.far.shape[0] - 2)
    fj = (lo + 180.0) * lb.FAR_PER_DEG
    j0 = np.minimum(fj.astype(np.int64), idx.far.shape[1] - 1)
    j1 = (j0 + 1) % idx.far.shape[1]
    wi, wj = fi - i0, fj - j0
    top = idx.far[i0, j0] * (1 - wj) + idx.far[i0, j1] * wj
    bottom = idx.far[i0 + 1, j0] * (1 - wj) + idx.far[i0 + 1, j1] * wj
    d = np.maximum(np.abs(top * (1 - wi) + bottom * wi) * lb.FAR_UNIT_KM, lb.BAND_KM)
    out[far] = np.where(v[far] < 0, -d, d)
    return out


def contains_numpy(rings: list[np.ndarray], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Even-odd crossings, one edge at a time over all points (no box, no slabs)."""
    inside = np.zeros(lat.shape[0], bool)
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:], strict=True):
            spans = (y1 > lat) != (y2 > lat)
            with np.errstate(divide="ignore", invalid="ignore"):
                xint = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            inside ^= spans & (lon < xint)
    return inside


def polyline_km_numpy(line: Polyline, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The same vector formula, one segment at a time over all points."""
    la, lo = np.radians(lat), np.radians(lon)
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    best = np.full(lat.shape[0], np.inf)
    for row in line.seg:
        a, b, n, na, bn = row[0:3], row[3:6], row[6:9], row[9:12], row[12:15]
        c2 = np.minimum(((p - a) ** 2).sum(1), ((p - b) ** 2).sum(1))
        if row[15] > 0:
            on_arc = (p @ na >= 0) & (p @ bn >= 0)
            s = p @ n
            c2 = np.where(on_arc, np.minimum(c2, 2 * s * s / (1 + np.sqrt(np.maximum(1 - s * s, 0)))), c2)
        best = np.minimum(best, c2)
    return 2 * sk.EARTH_RADIUS_KM * np.arcsin(np.minimum(np.sqrt(best) / 2, 1))


# --- sections ----------------------------------------------------------------------------------------------------
def land_section(n: int) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    lat_w, lon_w = points(n, "world", 1)
    lat_g, lon_g = points(n, "gulf", 2)
    idx = LandIndex.load()
    out = np.ones(n)
    ld.coast_km_many(idx.tiles, idx.band, idx.far, lat_w[:10], lon_w[:10], out[:10])  # compile first
    before = rss_mb()
    ld.coast_km_many(idx.tiles, idx.band, idx.far, lat_w, lon_w, out)  # touches every page of the grids
    touched = rss_mb()
    mib = {name: getattr(idx, name).nbytes / 2**20 for name in ("tiles", "band", "far")}
    print(f"grids: {idx.nbytes / 2**20:.0f} MiB ({', '.join(f'{k} {v:.1f}' for k, v in mib.items())}); "
          f"resident {before:.0f} MiB with the grids open (memory-mapped) and compiled, {touched:.0f} after {n:,} "
          f"lookups worldwide: +{touched - before:.0f} MiB resident for the lookup")  # fmt: skip
    for where, la, lo in (("gulf", lat_g, lon_g), ("world", lat_w, lon_w)):
        rows += land_rows(idx, where, la, lo)
    return rows


def land_rows(idx: LandIndex, where: str, la: np.ndarray, lo: np.ndarray) -> list[tuple[str, str, float]]:
    n = la.shape[0]
    out, flags = np.ones(n), np.ones(n, bool)
    tiles, band, far = idx.tiles, idx.band, idx.far
    cases = {
        "is_land": (lambda: idx.is_land(la, lo), lambda: ld.is_land_many(tiles, band, la, lo, flags),
                    lambda: is_land_numpy(idx, la, lo)),
        "coast_km": (lambda: idx.coast_km(la, lo), lambda: ld.coast_km_many(tiles, band, far, la, lo, out),
                     lambda: coast_km_numpy(idx, la, lo)),
    }  # fmt: skip
    rows = []
    for name, (ours, one, numpy_fn) in cases.items():
        rows.append((f"{name} {where}", "seawatch, all threads", n / best_of(3, ours)))
        rows.append((f"{name} {where}", "seawatch, one thread", n / best_of(3, one)))
        rows.append((f"{name} {where}", "numpy, same grids", n / best_of(3, numpy_fn)))
    return rows


def global_land_mask_section(n: int) -> list[tuple[str, str, float]]:
    probe = (
        "import os, time, numpy as np\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20\n"
        f"rng = np.random.default_rng(1); lat = rng.uniform(-90, 90, {n}); lon = rng.uniform(-180, 180, {n})\n"
        "before = rss()\n"
        "from global_land_mask import globe\n"
        "globe.is_land(lat[:10], lon[:10]); t = time.perf_counter(); globe.is_land(lat, lon)\n"
        "print(time.perf_counter() - t, rss() - before)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    seconds, grown = map(float, done.stdout.split())
    print(f"global-land-mask package: +{grown:.0f} MiB resident (its whole mask, one byte a cell)")
    return [("is_land world", "global_land_mask.is_land (numpy)", n / seconds)]


def shapes_section(n: int) -> list[tuple[str, str, float]]:
    rows = []
    lat, lon = points(n, "gulf", 3)
    rng = np.random.default_rng(4)
    zones = []
    for _ in range(10):  # ten regional zones of 60 vertices, one with a hole
        c = rng.uniform([17.0, 105.0], [22.5, 111.5])
        t = np.sort(rng.uniform(0, 2 * np.pi, 60))
        r = rng.uniform(0.3, 1.2, 60)
        zones.append([np.stack([c[1] + r * np.cos(t), c[0] + r * np.sin(t)], axis=1)])
    zones[0].append(np.array([[zones[0][0][:, 0].mean() + dx, zones[0][0][:, 1].mean() + dy]
                              for dx, dy in ((-0.1, -0.1), (0.1, -0.1), (0.0, 0.1))]))  # fmt: skip
    polys = Polygons.from_rings([[ring.tolist() for ring in z] for z in zones])
    closed = [[np.vstack([r, r[:1]]) for r in z] for z in zones]
    ours = best_of(3, lambda: polys.contains(lat, lon))
    theirs = best_of(1, lambda: [contains_numpy(z, lat, lon) for z in closed])
    rows.append(("point in 10 zones (60 vertices)", "seawatch", n / ours))
    rows.append(("point in 10 zones (60 vertices)", "numpy, edge by edge", n / theirs))
    land = GEO / "naturalearth_ne_10m_land.geojson"
    if land.is_file():
        ne = Polygons.from_geojson(land)
        secs = best_of(3, lambda: ne.which(lat, lon))
        rows.append((f"which of {len(ne):,} NE land polygons ({ne.ex1.size:,} edges)", "seawatch", n / secs))
    border_path = GEO / "vn_cn_gulf_of_tonkin_boundary_2000.geojson"
    border = (
        Polyline.from_geojson(border_path)
        if border_path.is_file()
        else Polyline.from_parts(
            [json.loads("[[108.1, 21.47], [108.38, 20.4], [107.93, 19.66], [107.16, 18.71], [107.97, 17.78]]")]
        )
    )
    ours = best_of(3, lambda: border.distance_km(lat, lon))
    theirs = best_of(3, lambda: polyline_km_numpy(border, lat, lon))
    label = f"km to the Tonkin border ({border.seg.shape[0]} arcs)"
    rows.append((label, "seawatch", n / ours))
    rows.append((label, "numpy, arc by arc", n / theirs))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--shape-points", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rows = land_section(args.points)
    rows += global_land_mask_section(min(args.points, 2_000_000))
    rows += shapes_section(args.shape_points)
    print(f"\n| {'what':<48} | {'how':<34} | {'points/s':>14} |")
    print(f"|{'-' * 50}|{'-' * 36}|{'-' * 16}|")
    for what, how, rate in rows:
        print(f"| {what:<48} | {how:<34} | {rate / 1e6:>12.2f} M |")


if __name__ == "__main__":
    main()
