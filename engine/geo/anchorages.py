"""Ports and anchorages found in AIS itself, for regions without a pack, after Global Fishing Watch.

GFW's method (globalfishingwatch.org/datasets-and-code/anchorages; GlobalFishingWatch/anchorages_pipeline,
anchorage_cfg.yaml): a vessel is *stationary* while it stays within 0.5 km of where it stopped for at least
12 hours; a grid cell about 0.5 km across where at least 20 distinct vessels were stationary is an anchorage.
Here a stop starts and goes on while the vessel reports under 0.5 knots (or, without a speed, nav status 1 "at
anchor" or 5 "moored"); it ends when the vessel moves, drifts more than 0.5 km from the stop's first fix, or
falls silent for more than 24 hours. Positions without a time cannot show a stay: they are left out, and
counted. The cells are about 0.5 km square everywhere: rows of equal latitude, each cut into as many columns as
its circumference holds (GFW uses S2 level-14 cells of the same size).

Stops are found by a kernel over positions sorted by vessel and time; cells and counts are polars.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.geo.anchorage_settings import AnchorageSettings
from feeds.jit import kernel

__all__ = ["AnchorageSettings", "anchorages", "cell_centre", "cell_of", "stationary", "stops", "to_geojson"]

KM_PER_DEG = 6371.0088 * np.pi / 180.0
MICROS_PER_HOUR = 3_600_000_000
ROW_SHIFT = 1 << 20  # cell id = row * ROW_SHIFT + col (a row of 0.5 km cells has at most 80,000 columns)
STATIONARY_NAV_STATUS = (1, 5)  # ITU-R M.1371: 1 at anchor, 5 moored


def stationary(sog: np.ndarray, nav_status: np.ndarray, settings: AnchorageSettings) -> np.ndarray:
    """Fixes that count towards a stop: slower than ``stopped_knots``, or at anchor / moored without a speed.

    A stale nav status beside a real speed is common (crews forget to change it), so the speed decides."""
    sog = np.asarray(sog, np.float64)
    moored = np.isin(np.asarray(nav_status), STATIONARY_NAV_STATUS)
    with np.errstate(invalid="ignore"):
        return (sog < settings.stopped_knots) | (np.isnan(sog) & moored)


def stops(positions: pl.DataFrame, settings: AnchorageSettings) -> pl.DataFrame:
    """Stationary periods of at least ``min_hours``: mmsi, start, hours, fixes, lat, lon (their mean).

    ``positions`` needs mmsi, t, lat, lon and a boolean ``stationary``; rows without t, lat or lon are
    ignored, the rest sorted by vessel and time here (at equal times, moving fixes first)."""
    p = (
        positions.lazy()
        .filter(pl.col("t").is_not_null() & pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan())
        .sort("mmsi", "t", "stationary", "lat", "lon")  # a full order: equal times give the same stops
        .select(
            pl.col("mmsi").cast(pl.Int64),
            pl.col("t").dt.epoch("us").alias("us"),
            pl.col("lat").cast(pl.Float64),
            pl.col("lon").cast(pl.Float64),
            pl.col("stationary").cast(pl.Boolean),
        )
        .collect()
    )
    mmsi, us, lat, lon = (p[c].to_numpy() for c in ("mmsi", "us", "lat", "lon"))
    n = p.height
    first, last, fixes = (np.empty(n, np.int64) for _ in range(3))
    mlat, mlon = np.empty(n), np.empty(n)
    k = _stops(mmsi, us, lat, lon, p["stationary"].to_numpy(), settings.drift_km,
               int(settings.min_hours * MICROS_PER_HOUR), int(settings.max_silence_hours * MICROS_PER_HOUR),
               first, last, fixes, mlat, mlon)  # fmt: skip
    return pl.DataFrame(
        {
            "mmsi": mmsi[first[:k]],
            "start": pl.Series(us[first[:k]]).cast(pl.Datetime("us", "UTC")),
            "hours": (us[last[:k]] - us[first[:k]]) / MICROS_PER_HOUR,
            "fixes": fixes[:k],
            "lat": mlat[:k],
            "lon": mlon[:k],
        }
    )


@kernel
def _wrap(dlon):
    return (dlon + 180.0) % 360.0 - 180.0


@kernel
def _stops(mmsi, us, lat, lon, flag, drift_km, min_us, max_gap_us, first, last, fixes, mlat, mlon):
    """Stationary periods of rows sorted by (mmsi, us): rows first[k]..last[k] (stationary fixes only) and
    their mean position. Returns how many periods were written."""
    n = mmsi.shape[0]
    k = 0
    start = -1
    prev = -1
    for r in range(n + 1):
        close = r == n or start < 0 or mmsi[r] != mmsi[start] or not flag[r]
        if not close and (us[r] - us[prev] > max_gap_us or _km(lat[start], lon[start], lat[r], lon[r]) > drift_km):
            close = True
        if close and start >= 0:
            if us[prev] - us[start] >= min_us:
                k = _emit(start, prev, lat, lon, flag, first, last, fixes, mlat, mlon, k)
            start = -1
        if r < n and flag[r]:
            if start < 0:
                start = r
            prev = r
    return k


@kernel
def _km(lat1, lon1, lat2, lon2):
    """Distance in km, flat-Earth: exact enough at the half-kilometre scale of a stop."""
    dy = (lat2 - lat1) * KM_PER_DEG
    dx = _wrap(lon2 - lon1) * KM_PER_DEG * np.cos(np.radians(0.5 * (lat1 + lat2)))
    return np.sqrt(dx * dx + dy * dy)


@kernel
def _emit(a, b, lat, lon, flag, first, last, fixes, mlat, mlon, k):
    sy = 0.0
    sx = 0.0
    m = 0
    for r in range(a, b + 1):
        if flag[r]:
            sy += lat[r]
            sx += _wrap(lon[r] - lon[a])  # around the first fix: a stop on the antimeridian averages right
            m += 1
    first[k] = a
    last[k] = b
    fixes[k] = m
    mlat[k] = sy / m
    mlon[k] = _wrap(lon[a] + sx / m)
    return k + 1


def cell_of(lat: np.ndarray, lon: np.ndarray, cell_km: float) -> np.ndarray:
    """Cell ids of about ``cell_km`` square: row of latitude, then column within the row."""
    lat = np.asarray(lat, np.float64)
    lon = (np.asarray(lon, np.float64) + 180.0) % 360.0 - 180.0
    dlat = cell_km / KM_PER_DEG
    row = np.clip(np.floor((lat + 90.0) / dlat), 0, np.floor(180.0 / dlat) - 1).astype(np.int64)
    cols = _columns(row, dlat)
    col = np.minimum(np.floor((lon + 180.0) / 360.0 * cols), cols - 1).astype(np.int64)
    return row * ROW_SHIFT + col


def cell_centre(cell: np.ndarray, cell_km: float) -> tuple[np.ndarray, np.ndarray]:
    """The (lat, lon) of the centres of cells made by :func:`cell_of`."""
    cell = np.asarray(cell, np.int64)
    dlat = cell_km / KM_PER_DEG
    row, col = cell // ROW_SHIFT, cell % ROW_SHIFT
    return -90.0 + (row + 0.5) * dlat, -180.0 + (col + 0.5) * 360.0 / _columns(row, dlat)


def _columns(row: np.ndarray, dlat: float) -> np.ndarray:
    centre = np.radians(-90.0 + (row + 0.5) * dlat)
    return np.maximum(np.floor(360.0 * np.cos(centre) / dlat), 1.0)


def anchorages(found: pl.DataFrame, settings: AnchorageSettings) -> pl.DataFrame:
    """Cells where at least ``min_vessels`` distinct vessels stopped: cell, lat, lon (mean of the stops,
    weighted by their hours), vessels, stops, hours, first and last start; most vessels first."""
    cells = cell_of(found["lat"].to_numpy(), found["lon"].to_numpy(), settings.cell_km)
    weight = pl.col("hours") + 1e-9  # stops of zero hours (min_hours 0) still place the point
    out = (
        found.with_columns(pl.Series("cell", cells))
        .group_by("cell")
        .agg(
            ((pl.col("lat") * weight).sum() / weight.sum()).alias("lat"),
            ((pl.col("lon") * weight).sum() / weight.sum()).alias("lon"),
            pl.col("mmsi").n_unique().alias("vessels"),
            pl.len().alias("stops"),
            pl.col("hours").sum().alias("hours"),
            pl.col("start").min().alias("first"),
            pl.col("start").max().alias("last"),
        )
        .filter(pl.col("vessels") >= settings.min_vessels)
        .sort(["vessels", "hours", "cell"], descending=[True, True, False])
    )
    return out


def to_geojson(found: pl.DataFrame, settings: AnchorageSettings) -> dict:
    """The anchorages as a GeoJSON FeatureCollection of points, with the settings that found them."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(r["lon"], 6), round(r["lat"], 6)]},
            "properties": {
                "cell": int(r["cell"]),
                "vessels": int(r["vessels"]),
                "stops": int(r["stops"]),
                "hours": round(float(r["hours"]), 2),
                "first": r["first"].isoformat() if r["first"] is not None else None,
                "last": r["last"].isoformat() if r["last"] is not None else None,
            },
        }
        for r in found.iter_rows(named=True)
    ]
    return {"type": "FeatureCollection", "settings": vars(settings), "features": features}
