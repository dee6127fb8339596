"""Close pairs of points in linear time: a spatial grid hash, never all pairs.

Points are put in cells ``max_km`` high (in latitude degrees) and about as many degrees wide (a whole number of
cells around the circle, so they wrap at the antimeridian). Away from the equator a neighbour within ``max_km``
may be more than one cell east or west, so each point looks at the cells its window of ``max_km / cos(lat)``
degrees either way touches, in its own row and the next; points are sorted by cell, so the cells of a row in the
window are one run of the sorted points. Each pair is found once, from the point that comes first in cell order,
and reported as ``i < j`` (the input's order) with its great-circle distance. Within 1 degree of a pole the
window is clamped (pairs there may be missed; no shipping). Points may come in groups (time slices) that never
pair across: the group is the most significant part of the cell key, so one call serves every slice.
"""

from __future__ import annotations

import math

import numpy as np

from engine.detectors.common import EARTH_RADIUS_KM, haversine_km
from feeds.jit import kernel

KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180.0
MAX_LAT_FOR_LON = 89.0  # nearer a pole a longitude cell is narrower than any useful distance; clamp the search


@kernel
def _cells(lat, lon, cell_deg, n_lon):
    n = lat.shape[0]
    lon_cell = 360.0 / n_lon  # divides the circle exactly, so the last cell meets the first at the antimeridian
    ci = np.empty(n, np.int64)
    cj = np.empty(n, np.int64)
    for i in range(n):
        ci[i] = np.int64(np.floor((lat[i] + 90.0) / cell_deg))
        x = lon[i] - 360.0 * np.floor((lon[i] + 180.0) / 360.0)  # into [-180, 180)
        cj[i] = np.int64(np.floor((x + 180.0) / lon_cell)) % n_lon
    return ci, cj


@kernel
def _scan(a, k1, k2, skey, sidx, slat, slon, max_km, out_i, out_j, out_d, count):
    """Pairs of sorted point ``a`` with the points after it whose cell key is within [k1, k2]."""
    if k2 < skey[a]:
        return count  # found from the other point's side
    r = a + 1 if k1 <= skey[a] else np.searchsorted(skey, k1)
    while r < skey.shape[0] and skey[r] <= k2:
        d = haversine_km(slat[a], slon[a], slat[r], slon[r])
        if d <= max_km:
            if count < out_i.shape[0]:
                out_i[count] = sidx[a]
                out_j[count] = sidx[r]
                out_d[count] = d
            count += 1
        r += 1
    return count


@kernel
def _sorted_pairs(skey, sci, sidx, slat, slon, max_km, cell_deg, n_lon, max_lat, capacity):
    # sci: each point's row of cells, its group's rows before it (group * rows a group)
    """Pairs among points sorted by cell key (``sidx``: their input rows; ``slon`` in [-180, 180))."""
    out_i = np.empty(capacity, np.int64)
    out_j = np.empty(capacity, np.int64)
    out_d = np.empty(capacity, np.float64)
    lon_cell = 360.0 / n_lon
    count = 0
    # Each pair is found once, from the point that comes first in cell order (the window is symmetric: each
    # point's covers the other's cell). A row's cells in the window are one run of keys, or two where the window
    # wraps at the antimeridian; the points of a run are consecutive in the sorted order.
    for a in range(sidx.shape[0]):
        half = cell_deg / np.cos(np.radians(min(abs(slat[a]) + cell_deg, max_lat)))  # window half-width, degrees
        j_lo = np.int64(np.floor((slon[a] + 180.0 - half) / lon_cell))
        j_hi = np.int64(np.floor((slon[a] + 180.0 + half) / lon_cell))
        if j_hi - j_lo + 1 >= n_lon:
            j_lo, j_hi = np.int64(0), np.int64(n_lon - 1)
        for di in range(0, 2):
            base = (sci[a] + di) * n_lon
            count = _scan(
                a,
                base + max(j_lo, 0),
                base + min(j_hi, n_lon - 1),
                skey,
                sidx,
                slat,
                slon,
                max_km,
                out_i,
                out_j,
                out_d,
                count,
            )
            if j_lo < 0:
                count = _scan(
                    a, base + j_lo + n_lon, base + n_lon - 1, skey, sidx, slat, slon, max_km, out_i, out_j, out_d, count
                )
            if j_hi >= n_lon:
                count = _scan(a, base, base + j_hi - n_lon, skey, sidx, slat, slon, max_km, out_i, out_j, out_d, count)
    return out_i, out_j, out_d, count


def close_pairs(
    lat: np.ndarray, lon: np.ndarray, max_km: float, group: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``(i, j)``, ``i < j``, of points at most ``max_km`` apart (NaN points never pair), and of the
    same ``group`` when groups (int64 >= 0, one a point) are given.

    Returns ``(i, j, km)`` sorted by (i, j).
    """
    if max_km <= 0 or not math.isfinite(max_km):
        raise ValueError(f"max_km must be a positive distance in km, got {max_km}")
    lat = np.ascontiguousarray(lat, np.float64)
    lon = np.ascontiguousarray(lon, np.float64)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length: {lat.shape[0]} and {lon.shape[0]}")
    if group is not None and np.shape(group) != lat.shape:
        raise ValueError(f"group and lat differ in length: {np.shape(group)[0]} and {lat.shape[0]}")
    cell_deg = max_km / KM_PER_DEG * (1.0 + 1e-9)  # a hair wider so a pair exactly max_km apart is in reach
    n_lon = max(1, math.ceil(360.0 / cell_deg))
    idx = np.flatnonzero(~(np.isnan(lat) | np.isnan(lon)))
    ci, cj = _cells(lat[idx], lon[idx], cell_deg, n_lon)
    if ci.shape[0]:
        ci -= ci.min()  # rows from 0: a group's rows (and the one after its last, the window's) are its own
        if group is not None:
            ci += np.asarray(group, np.int64)[idx] * (int(ci.max()) + 2)
    key = ci * n_lon + cj
    order = np.argsort(key, kind="stable")  # numpy's sort: faster than a compiled one
    sidx = idx[order]
    slon = lon[sidx] - 360.0 * np.floor((lon[sidx] + 180.0) / 360.0)  # into [-180, 180)
    args = (key[order], ci[order], sidx, lat[sidx], slon, float(max_km), cell_deg, n_lon, MAX_LAT_FOR_LON)
    capacity = max(16, lat.shape[0])
    while True:
        i, j, d, count = _sorted_pairs(*args, capacity)
        if count <= capacity:
            break
        capacity = int(count)
    i, j, d = np.minimum(i[:count], j[:count]), np.maximum(i[:count], j[:count]), d[:count]
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]
