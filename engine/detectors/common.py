"""Pieces every detector uses: per-vessel state arrays that grow with the fleet, time and distance helpers."""

from __future__ import annotations

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
def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (NaN in, NaN out)."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(min(1.0, np.sqrt(a)))


KM_PER_DEG_LAT = 111.19  # a degree of latitude on the mean sphere is 111.195 km; rounded down, a safe bound


@kernel
def _place_gap_km(lat, lon, plat, plon, prad, out):
    for i in range(lat.shape[0]):
        best = np.inf
        for j in range(plat.shape[0]):
            # the latitude difference alone bounds the great-circle distance from below: skip far places cheaply
            if abs(lat[i] - plat[j]) * KM_PER_DEG_LAT - prad[j] >= best:
                continue
            d = haversine_km(lat[i], lon[i], plat[j], plon[j]) - prad[j]
            if d < best:
                best = d
        out[i] = np.nan if np.isnan(lat[i]) or np.isnan(lon[i]) else best


def place_gap_km(lat: np.ndarray, lon: np.ndarray, places: Places | None) -> np.ndarray:
    """Distance (km) from each point to the edge of the nearest place (negative inside; inf with no places;
    NaN without a position). The one implementation every detector uses for "how far from port"."""
    if places is None:
        return np.where(np.isnan(lat) | np.isnan(lon), np.nan, np.inf)
    out = np.empty(lat.shape[0], np.float64)
    _place_gap_km(np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64),
                  places.lat.astype(np.float64), places.lon.astype(np.float64),
                  places.radius_km.astype(np.float64), out)  # fmt: skip
    return out
