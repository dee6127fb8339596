"""Pieces every detector uses: per-vessel state arrays that grow with the fleet, time and distance helpers."""

from __future__ import annotations

import threading

import numpy as np

from engine.geo.region_pack import Places
from feeds.jit import kernel

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
KM_PER_NM = 1.852
US_PER_S = 1_000_000
US_PER_H = 3_600_000_000


def grow(arr: np.ndarray, size: int, fill: float | int | bool) -> np.ndarray:
    """``arr`` extended to at least ``size`` rows (per-vessel state as the fleet grows), new rows = ``fill``."""
    if arr.shape[0] >= size:
        return arr
    new_size = max(size, 2 * arr.shape[0], 1024)
    out = np.full((new_size, *arr.shape[1:]), fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@kernel
def mod360(x):
    """``x % 360.0`` as Python (and Numba) compute it, in [0, 360): within one turn either way -- every course
    difference and shifted longitude -- the same value without the division and ``fmod`` that ``%`` pays."""
    if 0.0 < x < 360.0:
        return x  # fmod leaves it as it is
    if -360.0 < x < 0.0:
        return x + 360.0  # fmod leaves it; the remainder takes the divisor's sign: + 360, rounded as % rounds it
    return x % 360.0  # zeros (their sign), whole turns, NaN, infinities


@kernel
def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (NaN in, NaN out)."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(min(1.0, np.sqrt(a)))


@kernel
def haversine_cos_km(lat1, lon1, cos1, lat2, lon2, cos2):
    """:func:`haversine_km` given the cosines of both latitudes (``cos(radians(lat))``), as a walk along a track
    has its last fix's from the step before: the same operations in the same order, so the same value to the bit."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + cos1 * cos2 * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(min(1.0, np.sqrt(a)))


KM_PER_DEG_ARC = 111.2  # a degree of great circle is 111.195 km on the mean sphere; rounded up, a safe bound


@kernel
def surely_within_km(lat1, lon1, lat2, lon2, km):
    """True only when ``haversine_km`` of the two points is at most ``km``, by a cheap upper bound of the distance
    (along the meridian, then along the parallel): False means "measure it" (and for NaN)."""
    if not (abs(lat1) <= 90.0 and abs(lat2) <= 90.0):
        return False
    dlon = abs(lon2 - lon1)
    if dlon >= 360.0:  # below 360, the remainder is dlon itself: the division is skipped, not the rule
        dlon = dlon % 360.0
    dlon = min(dlon, 360.0 - dlon)
    dlat = abs(lat2 - lat1)
    # the cosine is at most 1: when the bound without it is small enough, so is the bound with it (every step
    # rounds monotonically), and most calls (fixes metres apart) end here without a cosine
    if KM_PER_DEG_ARC * (dlat + dlon) * (1.0 + 1e-9) + 1e-9 <= km:
        return True
    bound = KM_PER_DEG_ARC * (dlat + np.cos(np.radians(lat2)) * dlon)
    return bound * (1.0 + 1e-9) + 1e-9 <= km  # a margin for the rounding of haversine_km (1e-12 km at most)


KM_PER_DEG_LAT = 111.19  # a degree of latitude on the mean sphere is 111.195 km; rounded down, a safe bound


@kernel
def _place_gap_km(lat, lon, plat, plon, prad, max_rad, out):
    """Places sorted by latitude: from the point's latitude outwards, up and down, until the latitude difference
    alone puts every further place beyond the best gap so far (the minimum does not depend on the order)."""
    n = plat.shape[0]
    for i in range(lat.shape[0]):
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            out[i] = np.nan
            continue
        best = np.inf
        up = np.searchsorted(plat, lat[i])
        down = up - 1
        while up < n or down >= 0:
            # the latitude difference alone bounds the great-circle distance from below: the nearer side first
            d_up = (plat[up] - lat[i]) * KM_PER_DEG_LAT if up < n else np.inf
            d_down = (lat[i] - plat[down]) * KM_PER_DEG_LAT if down >= 0 else np.inf
            if min(d_up, d_down) - max_rad >= best:
                break
            if d_up <= d_down:
                j = up
                up += 1
                bound = d_up
            else:
                j = down
                down -= 1
                bound = d_down
            if bound - prad[j] >= best:
                continue
            d = haversine_km(lat[i], lon[i], plat[j], plon[j]) - prad[j]
            if d < best:
                best = d
        out[i] = best


@kernel
def _within(gap, limit, strict):
    return gap < limit if strict else gap <= limit


@kernel
def _near_one(lat, lon, plat, plon, prad, max_rad, limit, strict):
    """Some place's edge is at most ``limit`` km (less than, if ``strict``) from the point (places sorted by
    latitude)."""
    # only places within limit + max_rad in latitude can be that near
    reach = (limit + max_rad) / KM_PER_DEG_LAT
    j = np.searchsorted(plat, lat - reach)
    while j < plat.shape[0] and plat[j] <= lat + reach:
        if _within(abs(lat - plat[j]) * KM_PER_DEG_LAT - prad[j], limit, strict) and _within(
            haversine_km(lat, lon, plat[j], plon[j]) - prad[j], limit, strict
        ):
            return True
        j += 1
    return False


@kernel
def _near_place(lat, lon, plat, plon, prad, max_rad, limit, strict, out):
    for i in range(lat.shape[0]):
        out[i] = not (np.isnan(lat[i]) or np.isnan(lon[i])) and _near_one(lat[i], lon[i], plat, plon, prad, max_rad,
                                                                          limit, strict)  # fmt: skip


CELL_OUT, CELL_IN, CELL_MIXED = 0, 1, 2
KM_PER_DEG_MAX = 111.2  # a degree of latitude (and of longitude at the equator) is at most this long: 111.195 km


@kernel
def _near_place_grid(lat, lon, grid, lat0, lon0, cell_deg, plat, plon, prad, max_rad, limit, strict, out):
    n_lat, n_lon = grid.shape
    for i in range(lat.shape[0]):
        out[i] = False
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        ci = np.floor((lat[i] - lat0) / cell_deg)
        cj = np.floor((lon[i] - lon0) / cell_deg)
        c = CELL_MIXED
        if 0 <= ci < n_lat and 0 <= cj < n_lon:
            c = grid[np.int64(ci), np.int64(cj)]
        if c == CELL_MIXED:  # near the limit, or outside the grid: place by place
            out[i] = _near_one(lat[i], lon[i], plat, plon, prad, max_rad, limit, strict)
        else:
            out[i] = c == CELL_IN


Layout = tuple[np.ndarray, float, float, float]  # a NearPlaces grid, its south-west corner (lat, lon), its cell size


class NearPlaces:
    """:func:`near_place` for one set of places and one distance, over many points: a grid of small cells around
    the places says, for most cells, that every point in it is near (or that none is) — decided at the cell's
    centre with a margin of the cell's half-size (the gap to the nearest place changes no faster than the
    distance moved). Points in the other cells, or outside the grid, are measured place by place: the answers are
    those of :func:`near_place`. Grids are kept per process (places, distance), so new detectors reuse them; the
    first call builds one under a lock (detectors that share places may run in threads: one builds, the others
    wait for it and take it)."""

    MAX_CELLS = 4_000_000

    def __init__(self, places: Places | None, limit_km: float, cell_deg: float = 0.02, strict: bool = False) -> None:
        self.limit = float(limit_km)
        self.strict = strict
        self.sorted = None if places is None or not len(places) else _by_latitude(places)
        self.cell_deg = cell_deg  # asked for; a grid too large for MAX_CELLS has larger cells
        self.layout: Layout | None = None  # the grid, its south-west corner (lat, lon) and its cell size

    def _cached(self) -> Layout:
        assert self.sorted is not None
        key = (*(a.tobytes() for a in self.sorted[:3]), self.limit, self.cell_deg)
        with _GRIDS_LOCK:
            if key not in _GRIDS:
                if len(_GRIDS) >= 16:
                    _GRIDS.pop(next(iter(_GRIDS)))
                _GRIDS[key] = self._build()
            return _GRIDS[key]

    def _build(self) -> Layout:
        assert self.sorted is not None
        plat, plon, _, max_rad = self.sorted
        cell = self.cell_deg
        reach = (self.limit + max_rad) / KM_PER_DEG_LAT + cell
        lat_lo, lat_hi = max(-90.0, plat.min() - reach), min(90.0, plat.max() + reach)
        reach_lon = reach / max(np.cos(np.radians(min(89.0, max(abs(lat_lo), abs(lat_hi))))), 1e-3)
        lon_lo, lon_hi = plon.min() - reach_lon, plon.max() + reach_lon
        while (lat_hi - lat_lo) * (lon_hi - lon_lo) / cell**2 > self.MAX_CELLS:
            cell *= 2
        n_lat, n_lon = int(np.ceil((lat_hi - lat_lo) / cell)), int(np.ceil((lon_hi - lon_lo) / cell))
        clat = lat_lo + (np.arange(n_lat) + 0.5) * cell
        clon = lon_lo + (np.arange(n_lon) + 0.5) * cell
        gap = np.empty(n_lat * n_lon)
        _place_gap_km(np.repeat(clat, n_lon), np.tile(clon, n_lat), *self.sorted, gap)
        # the farthest a point of the cell is from its centre: along the meridian, then along the parallel where
        # the cell is widest; and a hair for rounding
        widest = np.cos(np.radians(np.clip(np.abs(clat) - cell / 2, 0.0, 90.0)))
        half = KM_PER_DEG_MAX * cell / 2 * (1.0 + widest) + 1e-6
        cells = gap.reshape(n_lat, n_lon)
        grid = np.full((n_lat, n_lon), CELL_MIXED, np.int8)
        grid[cells + half[:, None] <= self.limit] = CELL_IN
        grid[cells - half[:, None] > self.limit] = CELL_OUT
        grid.flags.writeable = False  # shared by every NearPlaces of these places and distance
        return grid, float(lat_lo), float(lon_lo), float(cell)

    def __call__(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        out = np.zeros(lat.shape[0], np.bool_)
        if self.sorted is None or lat.shape[0] == 0:
            return out
        if self.layout is None:
            self.layout = self._cached()
        grid, lat0, lon0, cell_deg = self.layout
        _near_place_grid(np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64), grid,
                         lat0, lon0, cell_deg, *self.sorted, self.limit, self.strict, out)  # fmt: skip
        return out


_GRIDS: dict[tuple[object, ...], Layout] = {}  # NearPlaces grids, a few at most
_GRIDS_LOCK = threading.Lock()


def _by_latitude(places: Places) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    order = np.argsort(places.lat, kind="stable")
    prad = places.radius_km.astype(np.float64)[order]
    return (places.lat.astype(np.float64)[order], places.lon.astype(np.float64)[order], prad,
            float(prad.max()) if prad.shape[0] else 0.0)  # fmt: skip


def place_gap_km(lat: np.ndarray, lon: np.ndarray, places: Places | None) -> np.ndarray:
    """Distance (km) from each point to the edge of the nearest place (negative inside; inf with no places;
    NaN without a position). The one implementation every detector uses for "how far from port"."""
    if places is None:
        return np.where(np.isnan(lat) | np.isnan(lon), np.nan, np.inf)
    out = np.empty(lat.shape[0], np.float64)
    _place_gap_km(np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64),
                  *_by_latitude(places), out)  # fmt: skip
    return out


def near_place(
    lat: np.ndarray, lon: np.ndarray, places: Places | None, limit_km: float, strict: bool = False
) -> np.ndarray:
    """``place_gap_km(lat, lon, places) <= limit_km`` (``<`` if ``strict``), without the distance to every place:
    it stops at the first place near enough, and looks only at places near enough in latitude."""
    out = np.zeros(lat.shape[0], np.bool_)
    if places is None or not len(places):
        return out
    _near_place(np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64),
                *_by_latitude(places), float(limit_km), strict, out)  # fmt: skip
    return out
