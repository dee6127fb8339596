"""Deriving the land and coast-distance grids of :mod:`engine.geo.land` from the GLOBE land mask.

The mask ships inside the ``global-land-mask`` package: NOAA GLOBE at 30 arc-seconds (1/120 degree, about
0.93 km), 21600 x 43200 cells, row 0 at 90N, column 0 at 180W. Nothing is downloaded. Building takes tens of
seconds and about 2 GB of memory once; :mod:`engine.geo.land` caches the result on disk.

The coast runs through the midpoints of the edges between land and water cells (the contour marching squares
would draw through the cell centres). Two grids describe the signed distance to it:

* the band: 16 x 16-cell tiles within 12.7 km of a coast, one int8 per cell in units of 100 m (negative on
  land, never zero, +-127 meaning "12.7 km or more"), from an exact Euclidean distance transform per strip
  of rows, with the east-west cell width scaled by the cosine of the strip's latitude;
* the far grid: one int16 per node every 1/24 degree (100 m units), the great-circle distance from the node
  to the nearest coast-edge midpoint, found by propagating nearest sites across the grid (a vector distance
  transform on the sphere), read with bilinear interpolation only where the band says 12.7 km or more.

Tiles that are not in the band are wholly land or wholly water, and the tile table says which.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from feeds.jit import kernel

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
KM_PER_DEG = EARTH_RADIUS_KM * np.pi / 180.0
CELLS_PER_DEG = 120  # GLOBE: 30 arc-seconds
ROWS, COLS = 180 * CELLS_PER_DEG, 360 * CELLS_PER_DEG
TILE = 16  # band tile side in cells: small tiles keep the band close to the coast (about 50 MB in all)
TILE_ROWS, TILE_COLS = ROWS // TILE, COLS // TILE
BAND_UNIT_KM = 0.1
BAND_MAX = 127  # int8: the band holds distances below 12.7 km
BAND_KM = BAND_MAX * BAND_UNIT_KM
FAR_PER_DEG = 24  # nodes per degree (4.6 km): bilinear reads off by 0.8 km at p99, 2.5 km at worst (ridges)
FAR_UNIT_KM = 0.1  # int16 holds 3,277 km: no point on Earth is farther from a coast than about 2,700 km
TILE_WATER, TILE_LAND = -1, -2
SEED_REACH = 3  # nodes each way that a site seeds
STRIP_TILES = 4  # tile rows per distance-transform strip below 60 degrees (see _strip_tiles)
MASK_FILE = "globe_combined_mask_compressed.npz"


def globe_mask_path() -> Path:
    """Where ``global-land-mask`` keeps its GLOBE mask (found without importing the package, which would load
    the whole 930 MB mask at import time)."""
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the global-land-mask package is not installed; pip install global-land-mask")
    return Path(next(iter(spec.submodule_search_locations))) / MASK_FILE


def load_globe_land() -> np.ndarray:
    """The GLOBE land mask as bool (ROWS, COLS), True on land (the package stores True on water)."""
    with np.load(globe_mask_path()) as npz:
        land = npz["mask"]
    np.logical_not(land, out=land)
    if land.shape != (ROWS, COLS):
        raise RuntimeError(f"{globe_mask_path()}: expected a {ROWS} x {COLS} mask, found {land.shape}")
    return land


def build(land: np.ndarray) -> dict[str, np.ndarray]:
    """The tile table, band tiles and far grid (the arrays :class:`engine.geo.land.LandIndex` holds)."""
    per_tile = land.reshape(TILE_ROWS, TILE, TILE_COLS, TILE).sum(axis=(1, 3), dtype=np.int32)
    mixed = (per_tile > 0) & (per_tile < TILE * TILE)
    tiles = np.where(per_tile > 0, TILE_LAND, TILE_WATER).astype(np.int32)
    band: list[np.ndarray] = []
    candidates = _candidate_tiles(mixed)
    r0 = 0
    while r0 < TILE_ROWS:
        r1 = min(r0 + _strip_tiles(r0), TILE_ROWS)
        cols = np.flatnonzero(candidates[r0:r1].any(axis=0))
        for c0, c1 in _runs(cols):
            _band_window(land, r0, r1, c0, c1, tiles, band)
        r0 = r1
    far = far_grid(land)
    stacked = np.concatenate(band) if band else np.zeros((0, TILE, TILE), np.int8)
    return {"tiles": tiles, "band": stacked, "far": far}


def _strip_tiles(r0: int) -> int:
    """Tile rows per distance-transform strip: the east-west cell width of one latitude serves the strip, to
    within 2.6% below 60 degrees (four tile rows, 0.53 degrees); nearer the poles, one tile row."""
    lat = abs(90.0 - r0 * TILE / CELLS_PER_DEG)
    lat_end = abs(90.0 - (r0 + STRIP_TILES) * TILE / CELLS_PER_DEG)
    return STRIP_TILES if max(lat, lat_end) < 60.0 else 1


def cell_km(row: float) -> tuple[float, float]:
    """North-south and east-west size in km of a cell at (fractional) row ``row``."""
    lat = 90.0 - row / CELLS_PER_DEG
    dy = KM_PER_DEG / CELLS_PER_DEG
    return dy, max(dy * np.cos(np.radians(lat)), 1e-3)


def _pad_cols(row: float) -> int:
    """Columns that span BAND_KM east-west at this row (capped: near the poles the band is all longitudes)."""
    _, dx = cell_km(row)
    return int(min(np.ceil(BAND_KM / dx) + 1, COLS // 4))


def _candidate_tiles(mixed: np.ndarray) -> np.ndarray:
    """Tiles that may hold a cell within BAND_KM of a coast: mixed tiles dilated by BAND_KM."""
    pad_rows = int(np.ceil(BAND_KM / cell_km(0)[0] / TILE))  # 14 cells: one tile
    out = np.zeros_like(mixed)
    for r in range(TILE_ROWS):
        near = np.any(mixed[max(r - pad_rows, 0) : r + pad_rows + 1], axis=0)
        q = int(np.ceil(_pad_cols((r + 0.5) * TILE) / TILE))
        # cyclic dilation along the row by q tiles: a cumulative sum over the row with q tiles wrapped
        ext = np.concatenate([near[-q:], near, near[:q]]).astype(np.int32)
        c = np.concatenate([[0], np.cumsum(ext)])
        out[r] = (c[2 * q + 1 :] - c[: -2 * q - 1]) > 0
    return out


def _runs(cols: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive tile columns as [start, stop) pairs."""
    if cols.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cols) > 1)
    starts = np.concatenate([[cols[0]], cols[breaks + 1]])
    stops = np.concatenate([cols[breaks], [cols[-1]]]) + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _band_window(land: np.ndarray, r0: int, r1: int, c0: int, c1: int, tiles: np.ndarray, band: list) -> None:
    """Signed distances for tile rows [r0, r1) x tile columns [c0, c1), appended to ``band`` where they are
    within BAND_KM of a coast."""
    from scipy.ndimage import distance_transform_edt

    pad_r = int(np.ceil(BAND_KM / cell_km(0)[0])) + 1
    row0, row1 = r0 * TILE, r1 * TILE
    pad_c = max(_pad_cols(row0), _pad_cols(row1 - 1))  # the strip's edge nearer a pole is the wider
    rows = np.arange(max(row0 - pad_r, 0), min(row1 + pad_r, ROWS))
    cols = np.arange(c0 * TILE - pad_c, c1 * TILE + pad_c) % COLS
    window = land[rows[:, None], cols[None, :]]
    n_land = int(window.sum())
    if n_land == 0 or n_land == window.size:
        return
    dy, dx = cell_km((row0 + row1) / 2)
    to_land = distance_transform_edt(~window, return_distances=False, return_indices=True, sampling=(dy, dx))
    to_water = distance_transform_edt(window, return_distances=False, return_indices=True, sampling=(dy, dx))
    q = np.empty(window.shape, np.int8)
    _quantise(window, to_land[0], to_land[1], to_water[0], to_water[1], dy, dx, q)
    top, n_r, n_c = row0 - rows[0], r1 - r0, c1 - c0
    core = q[top : top + n_r * TILE, pad_c : pad_c + n_c * TILE]
    blocks = core.reshape(n_r, TILE, n_c, TILE).transpose(0, 2, 1, 3)
    keep = (np.abs(blocks.astype(np.int16)) < BAND_MAX).any(axis=(2, 3))
    first = sum(b.shape[0] for b in band)
    tiles[r0:r1, c0:c1][keep] = first + np.arange(int(keep.sum()), dtype=np.int32)
    band.append(np.ascontiguousarray(blocks[keep]))


@kernel
def _quantise(window, li, lj, wi, wj, dy, dx, q):
    """Signed distance in band units from each cell centre to the coast, never zero, clipped at BAND_MAX.

    The coast is drawn through the midpoints of the edges between land and water cells (the contour that
    marching squares draws through the cell centres, and the sites of the far grid). The nearest such
    midpoint is taken on the edges of the nearest cell of the other kind (which the distance transform
    found): exact but for 0.15 km where cells are square, 0.45 km where they are 18 times wider than tall
    (87 degrees; tests/engine/geo/test_land_build.py). The exact alternative, a transform on a grid of
    half cells, costs three times as long."""
    rows, cols = window.shape
    for i in range(rows):
        for j in range(cols):
            on_land = window[i, j]
            ni = wi[i, j] if on_land else li[i, j]
            nj = wj[i, j] if on_land else lj[i, j]
            best = np.inf
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                mi = ni + di
                mj = nj + dj
                if 0 <= mi < rows and 0 <= mj < cols and window[mi, mj] == on_land:
                    ey = (i - (ni + mi) / 2.0) * dy
                    ex = (j - (nj + mj) / 2.0) * dx
                    best = min(best, ey * ey + ex * ex)
            v = min(max(np.rint(np.sqrt(best) / BAND_UNIT_KM), 1.0), BAND_MAX * 1.0)
            q[i, j] = -np.int8(v) if on_land else np.int8(v)


def far_grid(land: np.ndarray, far_per_deg: int = FAR_PER_DEG) -> np.ndarray:
    """Signed great-circle distance (FAR_UNIT_KM units, int16) from every far-grid node to the nearest coast.

    ``land`` is any global mask (row 0 at 90N, column 0 at 180W) with a whole number of cells per node."""
    cells_per_deg = land.shape[1] // 360
    n_sites = _count_sites(land)
    sx, sy, sz = (np.empty(n_sites) for _ in range(3))
    _fill_sites(land, float(cells_per_deg), sx, sy, sz)
    n_rows, n_cols = 180 * far_per_deg + 1, 360 * far_per_deg
    lat = np.radians(90.0 - np.arange(n_rows) / far_per_deg)
    lon = np.radians(-180.0 + np.arange(n_cols) / far_per_deg)
    trig = (np.sin(lat), np.cos(lat), np.cos(lon), np.sin(lon))
    best = np.full((n_rows, n_cols), -1, np.int32)
    d2 = np.full((n_rows, n_cols), np.inf, np.float32)
    _seed(sx, sy, sz, *trig, best, d2)
    for _ in range(8):  # raster passes until no node changes (three on the real mask)
        if not _sweep(sx, sy, sz, *trig, best, d2):
            break
    km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(np.sqrt(d2.astype(np.float64)) / 2.0, 1.0))
    step = cells_per_deg // far_per_deg
    node_land = land[np.minimum(np.arange(n_rows) * step, land.shape[0] - 1)][:, np.arange(n_cols) * step]
    q = np.clip(np.rint(km / FAR_UNIT_KM), 1, np.iinfo(np.int16).max).astype(np.int16)
    return np.where(node_land, -q, q).astype(np.int16)


@kernel
def _count_sites(land):
    n = 0
    rows, cols = land.shape
    for i in range(rows):
        for j in range(cols):
            a = land[i, j]
            if i + 1 < rows and land[i + 1, j] != a:
                n += 1
            if land[i, (j + 1) % cols] != a:
                n += 1
    return n


@kernel
def _fill_sites(land, per_deg, sx, sy, sz):
    """Unit vectors of the midpoints of every land/water cell edge (the coast, as the cells draw it)."""
    rows, cols = land.shape
    n = 0
    for i in range(rows):
        for j in range(cols):
            a = land[i, j]
            if i + 1 < rows and land[i + 1, j] != a:
                n = _put(sx, sy, sz, n, 90.0 - (i + 1.0) / per_deg, -180.0 + (j + 0.5) / per_deg)
            if land[i, (j + 1) % cols] != a:
                n = _put(sx, sy, sz, n, 90.0 - (i + 0.5) / per_deg, -180.0 + (j + 1.0) / per_deg)


@kernel
def _put(sx, sy, sz, n, lat_deg, lon_deg):
    la = np.radians(lat_deg)
    lo = np.radians(lon_deg)
    sx[n] = np.cos(la) * np.cos(lo)
    sy[n] = np.cos(la) * np.sin(lo)
    sz[n] = np.sin(la)
    return n + 1


@kernel
def _chord2(sx, sy, sz, s, slat, clat, clon, slon):
    x = clat * clon - sx[s]
    y = clat * slon - sy[s]
    z = slat - sz[s]
    return x * x + y * y + z * z


@kernel
def _seed(sx, sy, sz, slat, clat, clon, slon, best, d2):
    """Each site to the nodes within SEED_REACH of it, each node keeping its nearest site. Seeding more than
    the nearest node keeps the sites of small islands alive, one per direction, for the far nodes."""
    n_rows, n_cols = best.shape
    per_deg = (n_cols // 360) * 1.0
    for s in range(sx.shape[0]):
        lat = np.degrees(np.arcsin(min(max(sz[s], -1.0), 1.0)))
        lon = np.degrees(np.arctan2(sy[s], sx[s]))
        ci = int(np.rint((90.0 - lat) * per_deg))
        cj = int(np.rint((lon + 180.0) * per_deg))
        for i in range(max(ci - SEED_REACH, 0), min(ci + SEED_REACH + 1, n_rows)):
            for jj in range(cj - SEED_REACH, cj + SEED_REACH + 1):
                j = jj % n_cols
                d = np.float32(_chord2(sx, sy, sz, s, slat[i], clat[i], clon[j], slon[j]))
                if d < d2[i, j]:
                    d2[i, j] = d
                    best[i, j] = s


@kernel
def _try(sx, sy, sz, slat, clat, clon, slon, best, d2, i, j, ni, nj):
    s = best[ni, nj]
    if s < 0 or s == best[i, j]:
        return False
    d = np.float32(_chord2(sx, sy, sz, s, slat[i], clat[i], clon[j], slon[j]))
    if d < d2[i, j]:  # compared as stored (float32), so two sites at equal distance cannot swap forever
        d2[i, j] = d
        best[i, j] = s
        return True
    return False


@kernel
def _sweep(sx, sy, sz, slat, clat, clon, slon, best, d2):
    """One forward and one backward raster pass over the 8-neighbourhood (longitude wraps around).

    Returns whether any node changed."""
    n_rows, n_cols = best.shape
    changed = False
    for i in range(n_rows):
        for j in range(n_cols):
            for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):
                ni = i + di
                if ni >= 0:
                    changed |= _try(sx, sy, sz, slat, clat, clon, slon, best, d2, i, j, ni, (j + dj) % n_cols)
        for j in range(n_cols - 1, -1, -1):
            changed |= _try(sx, sy, sz, slat, clat, clon, slon, best, d2, i, j, i, (j + 1) % n_cols)
    for i in range(n_rows - 1, -1, -1):
        for j in range(n_cols - 1, -1, -1):
            for di, dj in ((1, 1), (1, 0), (1, -1), (0, 1)):
                ni = i + di
                if ni < n_rows:
                    changed |= _try(sx, sy, sz, slat, clat, clon, slon, best, d2, i, j, ni, (j + dj) % n_cols)
        for j in range(n_cols):
            changed |= _try(sx, sy, sz, slat, clat, clon, slon, best, d2, i, j, i, (j - 1) % n_cols)
    return changed
