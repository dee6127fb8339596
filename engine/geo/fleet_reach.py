"""Where a whole fleet can be now: the reach of many vessels at once (issue 17: 10,000 in under a second).

Each vessel gets exactly the grid and the shortest paths over water that :func:`engine.geo.reach.reach` draws for
it (the same cells, the same land mask sampled at their centres, the same 16-step Dijkstra that cuts no land
corner, the same leave-the-port allowance near the fix), on a coarser grid: :data:`FLEET_CELLS_PER_RADIUS`
cells from the fix to the edge instead of 200. All of it runs in compiled code, the land read from the GLOBE
index inside the loop (no coordinate arrays), the heap replaced by buckets (Dial's algorithm: the same
distances), vessels split across the cores. The single vessel's route draws its reach with it too, at 200 cells
a radius (4x faster than rc.reach's heap, the same reach).

What the coarser grid costs: a cell is 1/FLEET_CELLS_PER_RADIUS of the radius (a 6 h reach at 20 kn: 14 km), so
a strait narrower than a cell may close, and the traced edge runs up to half a cell off the coast; the grid
distances stay never shorter than the straight line and at most 2.7 % longer in open water (the 16 directions),
so in open water the reach is the circle less at most 2.7 % of its radius at either resolution. The proof
against the simulator's dark vessels (tests/engine/geo/test_fleet_reach.py) holds at this resolution too.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from engine.geo import reach as rc
from engine.geo.land import LandIndex, land_at
from feeds.jit import kernel

# 16 cells per radius: 35 x ~37 cells a vessel (~1,300, 1/125 of the single reach's ~160,000): 10,000 reaches in
# 0.6-0.8 s of CPU (benchmarks/bench_reach.py; 24 cells cost ~2.5x as much); a cell is 6 % of the radius (a 6 h
# reach at 12 kn: 8.3 km cells, at 30 kn: 21 km), and the dark vessels' proof still holds at it.
FLEET_CELLS_PER_RADIUS = 16
COS_MAX_LAT = math.cos(math.radians(rc.MAX_LAT))
VESSELS_PER_THREAD = 16  # a vessel's grid is a thousand cells and more: a few dozen vessels are worth a thread
BLOCKS_PER_THREAD = 8  # blocks near land cost more: several a thread keep both threads busy to the end


@dataclass(frozen=True)
class FleetReach:
    """The reaches of n vessels: vessel k's grid is ``km[offset[k]:offset[k + 1]]`` (km; inf: land or
    beyond the radius) in ``shape[k, :2]`` cells (rows south to north), the fix in row ``shape[k, 2]`` and the
    middle column; its cell centres ``lat[k] + (i - shape[k, 2]) * d_lat[k]``, ``lon[k] + (j - middle) *
    d_lon[k]``, as engine.geo.reach.reach lays them out."""

    km: np.ndarray
    offset: np.ndarray
    shape: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    d_lat: np.ndarray
    d_lon: np.ndarray
    radius_km: np.ndarray
    cell_km: np.ndarray

    def __len__(self) -> int:
        return int(self.radius_km.shape[0])

    def one(self, k: int) -> rc.Reach:
        """Vessel k's reach, as :func:`engine.geo.reach.reach` returns it (its polygons: rc.reach_feature)."""
        n_rows, n_cols, i0 = (int(v) for v in self.shape[k])
        km = self.km[self.offset[k] : self.offset[k + 1]].reshape(n_rows, n_cols)
        lat = self.lat[k] + np.arange(-i0, n_rows - i0) * self.d_lat[k]
        lon = self.lon[k] + np.arange(-(n_cols // 2), n_cols // 2 + 1) * self.d_lon[k]
        return rc.Reach(lat, lon, km, float(self.radius_km[k]), float(self.cell_km[k]))


def fleet_reach(land: LandIndex, lat: np.ndarray, lon: np.ndarray, hours: np.ndarray | float,
                speed_kn: np.ndarray | float, cells_per_radius: int = FLEET_CELLS_PER_RADIUS,
                threads: int | None = None) -> FleetReach:  # fmt: skip
    """The water each vessel can cover from its fix (``lat``, ``lon``) in ``hours`` at ``speed_kn`` (one each, or
    one for all), going round the land, on grids of ``cells_per_radius`` cells from the fix to the edge."""
    la = np.ascontiguousarray(lat, np.float64).ravel()
    lo = np.ascontiguousarray(lon, np.float64).ravel()
    n = la.shape[0]
    h = np.broadcast_to(np.asarray(hours, np.float64), (n,))
    v = np.broadcast_to(np.asarray(speed_kn, np.float64), (n,))
    if lo.shape != la.shape:
        raise ValueError(f"lat and lon must be one per vessel: {la.shape} vs {lo.shape}")
    bad = ~(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= rc.MAX_LAT))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"vessel {k}: ({la[k]}, {lo[k]}) is not a fix the grid holds: give a finite latitude "
                         f"within +-{rc.MAX_LAT:g} and a finite longitude")  # fmt: skip
    radius = h * v * rc.KM_PER_NM
    if not (np.all(h >= 0) and np.all(v >= 0) and np.all(np.isfinite(radius))):
        raise ValueError("hours and speed_kn must be finite and not negative")
    if cells_per_radius < 1:
        raise ValueError(f"cells_per_radius={cells_per_radius}: give at least 1")
    radius = np.ascontiguousarray(radius)
    shape = np.empty((n, 3), np.int64)  # rows, columns, the fix's row
    grid = np.empty((n, 3), np.float64)  # cell_km, d_lat, d_lon
    _shapes(la, radius, int(cells_per_radius), shape, grid)
    offset = np.zeros(n + 1, np.int64)
    np.cumsum(shape[:, 0] * shape[:, 1], out=offset[1:])
    km = np.empty(int(offset[-1]), np.float64)
    _run(land, la, lo, radius, grid, shape, offset, km, threads)
    return FleetReach(km, offset, shape, la, lo, grid[:, 1], grid[:, 2], radius, grid[:, 0])


def _run(land: LandIndex, la: np.ndarray, lo: np.ndarray, radius: np.ndarray, grid: np.ndarray, shape: np.ndarray,
         offset: np.ndarray, km: np.ndarray, threads: int | None) -> None:  # fmt: skip
    """_reaches split across ``threads`` (default: Numba's number; the kernel releases the GIL) in contiguous
    blocks (strided views would cost the kernel a slower compiled variant), BLOCKS_PER_THREAD of them a thread
    so that a block of vessels near land, which cost more, does not leave the other threads idle."""
    n = la.shape[0]
    workers = min(threads or int(getattr(numba.config, "NUMBA_NUM_THREADS")), max(n // VESSELS_PER_THREAD, 1))  # noqa: B009
    fixed = (land.tiles, land.band, rc.STEPS, km)
    rows = (la, lo, radius, grid, shape, offset[:-1])
    if workers <= 1:
        _reaches(*fixed, *rows)
        return
    bounds = np.linspace(0, n, workers * BLOCKS_PER_THREAD + 1).astype(np.int64)
    with ThreadPoolExecutor(workers) as pool:
        blocks = [slice(bounds[b], bounds[b + 1]) for b in range(len(bounds) - 1)]
        list(pool.map(lambda part: _reaches(*fixed, *(r[part] for r in rows)), blocks))


@kernel
def _shapes(lat, radius_km, cells_per_radius, shape, grid):
    """Each vessel's grid as engine.geo.reach.reach lays it out: rows and columns, cell sizes, first row's lat."""
    for k in range(lat.shape[0]):
        cell_km = max(radius_km[k] / cells_per_radius, rc.GLOBE_CELL_KM)
        d_lat = cell_km / rc.KM_PER_DEG
        d_lon = d_lat / max(math.cos(math.radians(lat[k])), COS_MAX_LAT)
        half_lat = int(math.ceil(radius_km[k] / cell_km)) + 1
        first, rows, top = 0, 0, 0.0
        for i in range(-half_lat, half_lat + 1):
            a = lat[k] + i * d_lat
            if abs(a) <= rc.MAX_LAT:
                if rows == 0:
                    first = i
                rows += 1
                top = max(top, abs(a))
        cos_edge = max(math.cos(math.radians(min(top, rc.MAX_LAT))), 1e-3)
        half_lon = int(math.ceil(radius_km[k] / (rc.KM_PER_DEG * cos_edge * d_lon))) + 1
        shape[k, 0], shape[k, 1], shape[k, 2] = rows, 2 * half_lon + 1, -first
        grid[k, 0], grid[k, 1], grid[k, 2] = cell_km, d_lat, d_lon


PAD = 2  # land round each grid, two cells deep: a step (at most two cells) never leaves the padded grid


@kernel
def _reaches(tiles, band, steps, km_out, lat, lon, radius_km, grid, shape, offset):
    """Each vessel's water grid (GLOBE land at the cell centres, passable within LEAVE_PORT_KM of the fix) and its
    shortest paths from the fix, written to its own slice of km_out."""
    most = 0
    for k in range(lat.shape[0]):
        most = max(most, (shape[k, 0] + 2 * PAD) * (shape[k, 1] + 2 * PAD))
    # the buckets' room, shared by the vessels in turn: a cell is taken once and improves at most its
    # steps.shape[0] neighbours (allocated per vessel, it cost a system call or two each)
    cell = np.empty(steps.shape[0] * most + 1, np.int64)
    nxt = np.empty_like(cell)
    for k in range(lat.shape[0]):
        n_rows, n_cols = shape[k, 0], shape[k, 1]
        i0, half_lon = shape[k, 2], (n_cols - 1) // 2
        d_lat, d_lon = grid[k, 1], grid[k, 2]
        width = n_cols + 2 * PAD
        ok = np.zeros((n_rows + 2 * PAD) * width, np.bool_)
        ew = np.empty(n_rows)
        for i in range(n_rows):
            a = lat[k] + (i - i0) * d_lat
            c = math.cos(math.radians(a))
            ew[i] = d_lon * rc.KM_PER_DEG * c
            for j in range(n_cols):
                b = lon[k] + (j - half_lon) * d_lon
                near = math.hypot(a - lat[k], (b - lon[k]) * c) * rc.KM_PER_DEG <= rc.LEAVE_PORT_KM
                ok[(i + PAD) * width + j + PAD] = near or not land_at(tiles, band, a, b)
        km = _bucket_paths(ok, width, d_lat * rc.KM_PER_DEG, ew, (i0 + PAD) * width + half_lon + PAD, radius_km[k],
                           steps, cell, nxt)  # fmt: skip
        o = offset[k]
        for i in range(n_rows):
            for j in range(n_cols):
                km_out[o + i * n_cols + j] = km[(i + PAD) * width + j + PAD]


@kernel
def _bucket_paths(ok, width, ns_km, ew_km, start, max_km, steps, cell, nxt):
    """engine.geo.reach's Dijkstra over ``ok`` (a grid ``width`` cells wide, flattened, PAD land cells round it):
    the same steps, the same step lengths, so the same distances; its heap replaced by buckets as wide as the
    shortest step (Dial's algorithm): a cell taken from bucket b can only put its neighbours in later buckets,
    so the cells of one bucket are final in any order, and pushing and popping are array writes (``cell``,
    ``nxt``: the buckets' room, steps.shape[0] x ok's size + 1)."""
    n_steps = steps.shape[0]
    to, via1, via2 = np.empty(n_steps, np.int64), np.empty(n_steps, np.int64), np.empty(n_steps, np.int64)
    for s in range(n_steps):  # the cells a step passes beside (engine.geo.reach._step_open), as flat offsets
        di, dj = steps[s, 0], steps[s, 1]
        si = 1 if di > 0 else -1 if di < 0 else 0
        sj = 1 if dj > 0 else -1 if dj < 0 else 0
        to[s] = di * width + dj
        via1[s], via2[s] = to[s], to[s]
        if abs(di) == 1 and abs(dj) == 1:
            via1[s], via2[s] = di * width, dj
        elif abs(dj) == 2:
            via1[s], via2[s] = sj, di * width + sj
        elif abs(di) == 2:
            via1[s], via2[s] = si * width, si * width + dj
    n_rows = ew_km.shape[0]
    length = np.empty((n_rows, n_steps))
    for i in range(n_rows):
        for s in range(n_steps):
            di, dj = steps[s, 0], steps[s, 1]
            # a step out of the rows ends on the padding's land: its length is never used
            dx = dj * 0.5 * (ew_km[i] + ew_km[min(max(i + di, 0), n_rows - 1)])
            dy = di * ns_km
            length[i, s] = math.sqrt(dx * dx + dy * dy)
    km = np.full(ok.shape[0], np.inf)
    km[start] = 0.0
    step_km = min(ns_km, ew_km.min())
    n_buckets = int(max_km / step_km) + 2
    head = np.full(n_buckets, -1, np.int64)  # each bucket a stack linked through nxt
    done = np.zeros(ok.shape[0], np.bool_)
    cell[0], nxt[0], head[0], used = start, -1, 0, 1
    for b in range(n_buckets):
        while head[b] >= 0:
            e = head[b]
            head[b] = nxt[e]
            c = cell[e]
            if done[c]:
                continue
            done[c] = True
            d, row = km[c], c // width - PAD
            for s in range(n_steps):
                t = c + to[s]
                if done[t] or not (ok[t] and ok[c + via1[s]] and ok[c + via2[s]]):  # final already, or blocked
                    continue
                nd = d + length[row, s]
                if nd < km[t] and nd <= max_km:
                    km[t] = nd
                    # rounding may put it in bucket b itself: the next one, where nothing can come before it
                    into = min(max(int(nd / step_km), b + 1), n_buckets - 1)
                    cell[used], nxt[used], head[into] = t, head[into], used
                    used += 1
    return km


def water_km(passable: np.ndarray, ns_km: float, ew_km: np.ndarray, i0: int, j0: int, max_km: float) -> np.ndarray:
    """:func:`engine.geo.reach.water_km` by the fleet's bucket kernel (the same arguments, the same answer): for
    the tests against the slow reference and the single reach's kernel."""
    ok, ew = rc.checked_grid(passable, ns_km, ew_km, i0, j0, max_km)
    padded = np.zeros((ok.shape[0] + 2 * PAD, ok.shape[1] + 2 * PAD), np.bool_)
    padded[PAD:-PAD, PAD:-PAD] = ok
    width = padded.shape[1]
    room = np.empty(len(rc.STEPS) * padded.size + 1, np.int64)
    start = (i0 + PAD) * width + j0 + PAD
    km = _bucket_paths(padded.ravel(), width, float(ns_km), ew, start, float(max_km), rc.STEPS, room, room.copy())
    return km.reshape(padded.shape)[PAD:-PAD, PAD:-PAD].copy()
