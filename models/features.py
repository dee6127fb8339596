"""Per-vessel and per-vessel-day features, accumulated chunk by chunk so that memory follows the fleet, not the input.

:class:`FeatureAccumulator` takes the decoded tables of each chunk (the same tables the engine gets) and keeps
partial sums per vessel-day and the latest identity per vessel; partial sums add up, so cutting the input into
chunks anywhere gives the same features. :meth:`FeatureAccumulator.vessels` and :meth:`~FeatureAccumulator.days`
give the finished tables.

Features of a vessel-day (the unusual-behaviour model's inputs, :data:`DAY_FEATURES`):
- ``hours_heard``: hours of the day with at least one position (how continuously it transmits)
- ``slow_frac``: share of positions under 2 kn (GFW loitering speed)
- ``mean_sog``, ``max_sog``: reported speed over ground, knots
- ``extent_km``: radius of gyration of the day's positions (how far it ranges)
- ``night_frac``: share of positions with the sun below the horizon
- ``offshore_km``: mean distance to the coast (GLOBE mask), km
- ``drift_frac``: share of positions drifting: heading and course 45-135 degrees apart at 0.25-20 kn (AMSA)
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from engine.alerts import UTC_US
from engine.geo.land import LandIndex
from engine.sun import is_night
from feeds.jit import kernel

SLOW_KN = 2.0  # GFW loitering: under 2 kn
DRIFT_MIN_DEG, DRIFT_MAX_DEG = 45.0, 135.0  # AMSA drift detector: heading and course 45-135 degrees apart
DRIFT_MIN_KN, DRIFT_MAX_KN = 0.25, 20.0  # ... at 0.25-20 kn
KM_PER_DEG = 111.195  # great-circle km per degree of latitude (R = 6371.0 km)
FOLD_ROWS = 2_000_000  # partial rows kept before they are added up (bounds memory between folds)

DAY_FEATURES = (
    "hours_heard",
    "slow_frac",
    "mean_sog",
    "max_sog",
    "extent_km",
    "night_frac",
    "offshore_km",
    "drift_frac",
)
# how an explanation says each feature: a sentence with one number, and how the number is written
# ("pct": 0.4 -> 40%, "int": 3.2 -> 3, "1f": 3.24 -> 3.2)
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "hours_heard": ("heard in {} h of the day", "int"),
    "slow_frac": ("{} of positions under 2 kn", "pct"),
    "mean_sog": ("{} kn on average", "1f"),
    "max_sog": ("{} kn at most", "1f"),
    "extent_km": ("ranged {} km", "int"),
    "night_frac": ("{} of positions at night", "pct"),
    "offshore_km": ("{} km offshore on average", "int"),
    "drift_frac": ("drifting in {} of positions", "pct"),
}
FEATURE_UNITS = {"hours_heard": " h", "mean_sog": " kn", "max_sog": " kn", "extent_km": " km", "offshore_km": " km"}


def number_text(value: pl.Expr, style: str) -> pl.Expr:
    """A number as an explanation writes it (see :data:`FEATURE_WORDS`)."""
    value = value.fill_nan(None)
    if style == "pct":
        text = pl.format("{}%", (value * 100.0).round(0).cast(pl.Int64))
    elif style == "int":
        text = value.round(0).cast(pl.Int64).cast(pl.String)
    else:
        text = value.round(1).cast(pl.String)
    return text.fill_null("unknown")


_SUMS = ("fixes", "sog_n", "sog_sum", "slow", "lat_sum", "lon_sum", "lat2_sum", "lon2_sum", "night", "coast_n",
         "coast_sum", "drift")  # fmt: skip
_IDENTITY = ("name", "callsign", "imo", "ship_type")
# the columns the accumulator reads (the decoder need build no other for it)
COLUMNS = {"positions": ("mmsi", "t", "lat", "lon", "sog", "cog", "heading"),
           "statics": ("mmsi", "t", "name", "callsign", "imo", "ship_type")}  # fmt: skip
_INT_SUMS = ("fixes", "sog_n", "slow", "night", "coast_n", "drift")  # _day_sums's columns, in its order
_FLOAT_SUMS = ("sog_sum", "sog_max", "lat_sum", "lon_sum", "lat2_sum", "lon2_sum", "coast_sum")
US_PER_DAY, US_PER_H = 86_400_000_000, 3_600_000_000


@kernel
def _slot(mmsi, day, timed, size):
    """Where a (vessel, day) key starts looking in a hash table of ``size`` (a power of two) slots."""
    h = (np.uint64(mmsi) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(day + timed) * np.uint64(0xC2B2AE3D27D4EB4F))
    return np.int64(h >> np.uint64(20)) & (size - 1)


@kernel
def _grown(rows, n):
    """``rows`` with room for ``n`` rows (the new ones zero)."""
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    out[: rows.shape[0]] = rows
    return out


@kernel
def _day_sums(mmsi, t_us, has_t, lat, lon, sog, cog, heading, night, coast):
    """Partial sums per (vessel, UTC day) of fixes with a position, in one pass: rows are put in groups by an
    open-addressing hash table. Returns keys (mmsi, day start in µs, has a time), the integer sums in
    :data:`_INT_SUMS` order then the hours heard as a bit set, and the float sums in :data:`_FLOAT_SUMS` order."""
    n = mmsi.shape[0]
    # the table and the groups grow (4x; the table at half full): a chunk has ~1000 vessel-days however many
    # rows it has, and zeroing room for one group per row would cost more than the sums
    size = 1024
    table = np.full(size, -1, np.int64)
    keys = np.empty((size // 2, 3), np.int64)
    ints = np.zeros((size // 2, 7), np.int64)
    floats = np.zeros((size // 2, 7), np.float64)
    groups = 0
    # the day and the hour of the row before: rows come nearly in time order, so most rows skip the divisions
    day_start, hour_start, hour_bit = np.int64(0), np.int64(1), np.int64(0)
    for i in range(n):
        timed = 1 if has_t[i] else 0
        t = t_us[i]
        day = np.int64(0)
        if timed:
            if not hour_start <= t < hour_start + US_PER_H:
                day_start = (t // US_PER_DAY) * US_PER_DAY
                hour = (t - day_start) // US_PER_H
                hour_start = day_start + hour * US_PER_H
                hour_bit = np.int64(1) << hour
            day = day_start
        slot = _slot(mmsi[i], day, timed, size)
        while True:
            g = table[slot]
            if g < 0:
                g = groups
                groups += 1
                keys[g, 0], keys[g, 1], keys[g, 2] = mmsi[i], day, timed
                floats[g, 1] = np.nan
                table[slot] = g
                if 2 * groups >= size:
                    size *= 4
                    keys, ints, floats = _grown(keys, size // 2), _grown(ints, size // 2), _grown(floats, size // 2)
                    table = np.full(size, -1, np.int64)
                    for k in range(groups):
                        at = _slot(keys[k, 0], keys[k, 1], keys[k, 2], size)
                        while table[at] >= 0:
                            at = (at + 1) & (size - 1)
                        table[at] = k
                break
            if keys[g, 0] == mmsi[i] and keys[g, 1] == day and keys[g, 2] == timed:
                break
            slot = (slot + 1) & (size - 1)
        ints[g, 0] += 1
        s = sog[i]
        if not np.isnan(s):
            ints[g, 1] += 1
            floats[g, 0] += s
            if np.isnan(floats[g, 1]) or s > floats[g, 1]:
                floats[g, 1] = s
            if s < SLOW_KN:
                ints[g, 2] += 1
            if DRIFT_MIN_KN <= s <= DRIFT_MAX_KN:
                diff = abs(heading[i] - cog[i]) % 360.0
                angle = 360.0 - diff if diff > 180.0 else diff
                if DRIFT_MIN_DEG <= angle <= DRIFT_MAX_DEG:
                    ints[g, 5] += 1
        if night[i]:
            ints[g, 3] += 1
        if not np.isnan(coast[i]):
            ints[g, 4] += 1
            floats[g, 6] += coast[i]
        floats[g, 2] += lat[i]
        floats[g, 3] += lon[i]
        floats[g, 4] += lat[i] * lat[i]
        floats[g, 5] += lon[i] * lon[i]
        if timed:
            ints[g, 6] |= hour_bit
    return keys[:groups], ints[:groups], floats[:groups]


class FeatureAccumulator:
    """Partial sums per vessel-day and the latest identity per vessel, chunk by chunk."""

    def __init__(self, land: LandIndex | None = None) -> None:
        self.land = land
        self._parts: list[pl.DataFrame] = []
        self._rows = 0
        self._days = _empty_partial()
        self._last: list[pl.DataFrame] = []
        self._identity: list[pl.DataFrame] = []

    def add(self, positions: pl.DataFrame, statics: pl.DataFrame) -> None:
        """Take one chunk's decoded tables (decoder or archive schema)."""
        if positions.height:
            part = self._partial(positions)
            self._parts.append(part)
            self._rows += part.height
            self._last.append(_last_positions(positions))
            if self._rows > FOLD_ROWS:
                self._fold()
        if statics.height:
            self._identity.append(_latest_identity(statics))
            if len(self._identity) > 64:
                self._identity = [_combine_identity(self._identity)]

    def _partial(self, positions: pl.DataFrame) -> pl.DataFrame:
        p = positions.select("mmsi", "t", "lat", "lon", "sog", "cog", "heading").filter(
            pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan()
        )
        t = p["t"].dt.epoch("us")
        has_t = t.is_not_null().to_numpy()
        t_us = t.fill_null(0).to_numpy().astype(np.int64, copy=False)
        lat, lon = p["lat"].to_numpy(), p["lon"].to_numpy()
        night = is_night(t_us, lat, lon) & has_t if p.height else np.zeros(0, np.bool_)
        coast = self.land.coast_km(lat, lon) if self.land is not None and p.height else np.full(p.height, np.nan)
        sog, cog, heading = (p[c].to_numpy().astype(np.float64, copy=False) for c in ("sog", "cog", "heading"))
        keys, ints, floats = _day_sums(p["mmsi"].to_numpy().astype(np.int64, copy=False), t_us, has_t, lat, lon, sog,
                                       cog, heading, night, np.ascontiguousarray(coast, np.float64))  # fmt: skip
        timed = keys[:, 2] == 1
        frame = pl.DataFrame(
            {
                "mmsi": keys[:, 0],
                "day": pl.Series(keys[:, 1]).cast(UTC_US).set(pl.Series(~timed), None),
                **{name: ints[:, k] for k, name in enumerate(_INT_SUMS)},
                **{name: floats[:, k] for k, name in enumerate(_FLOAT_SUMS)},
                "hours": pl.Series(ints[:, len(_INT_SUMS)].astype(np.int32)).set(pl.Series(~timed), None),
            }
        )
        return frame.with_columns(pl.col("sog_max").fill_nan(None))

    def _fold(self) -> None:
        self._days = _add_up([self._days, *self._parts])
        self._parts, self._rows = [], self._days.height
        self._last = [_combine_last(self._last)]

    def days(self) -> pl.DataFrame:
        """One row per vessel-day: ``mmsi``, ``day`` and :data:`DAY_FEATURES` (NaN where a feature has no data)."""
        self._fold()
        d = self._days
        n = pl.col("fixes").cast(pl.Float64)
        mean_lat, mean_lon = pl.col("lat_sum") / n, pl.col("lon_sum") / n
        var_lat = (pl.col("lat2_sum") / n - mean_lat**2).clip(lower_bound=0.0)
        var_lon = (pl.col("lon2_sum") / n - mean_lon**2).clip(lower_bound=0.0)
        cos = (mean_lat * (math.pi / 180.0)).cos()
        return d.select(
            "mmsi",
            "day",
            "fixes",
            lat=mean_lat,
            lon=mean_lon,
            hours_heard=pl.col("hours").bitwise_count_ones().cast(pl.Float64),
            slow_frac=pl.col("slow") / pl.col("sog_n").cast(pl.Float64),
            mean_sog=pl.col("sog_sum") / pl.col("sog_n").cast(pl.Float64),
            max_sog=pl.col("sog_max"),
            extent_km=KM_PER_DEG * (var_lat + var_lon * cos**2).sqrt(),
            night_frac=pl.col("night") / n,
            offshore_km=pl.col("coast_sum") / pl.col("coast_n").cast(pl.Float64),
            drift_frac=pl.col("drift") / pl.col("sog_n").cast(pl.Float64),
        ).with_columns(pl.col(DAY_FEATURES).fill_null(float("nan")).cast(pl.Float64))

    def vessels(self) -> pl.DataFrame:
        """One row per vessel heard: identity (latest), last position, positions, first and last time."""
        self._fold()
        last = _combine_last(self._last) if self._last else _empty_last()
        ident = _combine_identity(self._identity) if self._identity else _empty_identity()
        counts = self._days.group_by("mmsi").agg(positions=pl.col("fixes").sum())
        return (
            last.join(counts, on="mmsi", how="left")
            .join(ident.drop("t"), on="mmsi", how="full", coalesce=True)
            .with_columns(pl.col("positions").fill_null(0))
            .sort("mmsi")
        )


def _empty_partial() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"mmsi": pl.Int64(), "day": UTC_US}
    schema.update({c: pl.Float64() for c in ("sog_sum", "sog_max", "lat_sum", "lon_sum", "lat2_sum", "lon2_sum")})
    schema.update({c: pl.Int64() for c in ("fixes", "sog_n", "slow", "night", "coast_n", "drift")})
    schema["coast_sum"] = pl.Float64()
    schema["hours"] = pl.Int32()
    return pl.DataFrame(schema=schema)


def _add_up(parts: list[pl.DataFrame]) -> pl.DataFrame:
    columns = list(_empty_partial().columns)
    return (
        pl.concat([p.select(columns) for p in parts], how="vertical")
        .group_by("mmsi", "day")
        .agg(pl.col(_SUMS).sum(), pl.col("sog_max").max(), pl.col("hours").bitwise_or())
        .select(columns)
        .sort("mmsi", "day")
    )


def _last_positions(positions: pl.DataFrame) -> pl.DataFrame:
    p = positions.select("mmsi", "t", "lat", "lon").filter(pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan())
    return (
        p.group_by("mmsi")
        .agg(pl.col("t").min().alias("first_seen"), pl.all().sort_by("t").last().name.keep())
        .rename({"t": "last_seen"})
    )


def _empty_last() -> pl.DataFrame:
    return pl.DataFrame(schema={"mmsi": pl.Int64(), "first_seen": UTC_US, "last_seen": UTC_US, "lat": pl.Float64(),
                                "lon": pl.Float64()})  # fmt: skip


def _combine_last(parts: list[pl.DataFrame]) -> pl.DataFrame:
    if not parts:
        return _empty_last()
    both = pl.concat(parts, how="vertical")
    return both.group_by("mmsi").agg(
        pl.col("first_seen").min(), pl.col("last_seen", "lat", "lon").sort_by("last_seen").last()
    )


def _latest_identity(statics: pl.DataFrame) -> pl.DataFrame:
    s = statics.select("mmsi", "t", *_IDENTITY).with_columns(
        pl.col("name", "callsign").str.strip_chars().replace("", None),
        pl.col("imo").cast(pl.Int64).replace(0, None),
        pl.col("ship_type").cast(pl.Int64).replace(0, None),
    )
    return s.sort("t").group_by("mmsi").agg(pl.col("t").max(), *(pl.col(c).drop_nulls().last() for c in _IDENTITY))


def _empty_identity() -> pl.DataFrame:
    return pl.DataFrame(schema={"mmsi": pl.Int64(), "t": UTC_US, "name": pl.String(), "callsign": pl.String(),
                                "imo": pl.Int64(), "ship_type": pl.Int64()})  # fmt: skip


def _combine_identity(parts: list[pl.DataFrame]) -> pl.DataFrame:
    both = pl.concat(parts, how="vertical")
    return both.sort("t").group_by("mmsi").agg(pl.col("t").max(), *(pl.col(c).drop_nulls().last() for c in _IDENTITY))
