"""Pieces every detector uses: per-vessel state arrays that grow with the fleet, time and distance helpers."""

from __future__ import annotations

import numpy as np

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
