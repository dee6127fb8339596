"""An independent "is it land?" for tests: the GLOBE 30" land mask of the global-land-mask package.

Karst islands, piers and narrow channels are below the mask's resolution (about 1 km) and land sources disagree
there (../shared/data/README.md), so a point counts as on land only when the mask says land at the point and all
round it at ``margin_km``: points within about 1 km of a coast are uncertain, not land.
"""

from __future__ import annotations

import numpy as np
from global_land_mask import globe

KM_PER_DEG = 111.195


def is_land(lat, lon) -> np.ndarray:
    return np.asarray(globe.is_land(np.asarray(lat, float), np.asarray(lon, float)))


def surely_land(lat, lon, margin_km: float = 1.0) -> np.ndarray:
    lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    out = is_land(lat, lon)
    for bearing in range(0, 360, 45):
        b = np.radians(bearing)
        dlat = margin_km * np.cos(b) / KM_PER_DEG
        dlon = margin_km * np.sin(b) / (KM_PER_DEG * np.cos(np.radians(lat)))
        out &= is_land(np.clip(lat + dlat, -90, 90), (lon + dlon + 180) % 360 - 180)
    return out
