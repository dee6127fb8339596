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
        t_us = p["t"].dt.epoch("us").to_numpy()
        lat, lon = p["lat"].to_numpy(), p["lon"].to_numpy()
        night = is_night(t_us, lat, lon) if p.height else np.zeros(0, np.bool_)
        coast = self.land.coast_km(lat, lon) if self.land is not None and p.height else np.full(p.height, np.nan)
        sog = pl.col("sog").fill_nan(None)
        diff = ((pl.col("heading") - pl.col("cog")).abs() % 360.0).fill_nan(None)
        angle = pl.when(diff > 180.0).then(360.0 - diff).otherwise(diff)
        drifting = angle.is_between(DRIFT_MIN_DEG, DRIFT_MAX_DEG) & sog.is_between(DRIFT_MIN_KN, DRIFT_MAX_KN)
        coast_s = pl.Series("coast", coast).fill_nan(None)
        hour_bit = (pl.lit(2, pl.Int32) ** pl.col("t").dt.hour().cast(pl.Int32)).cast(pl.Int32)
        return (
            p.with_columns(night=pl.Series(night), coast=coast_s, day=pl.col("t").dt.truncate("1d"), hour=hour_bit)
            .group_by("mmsi", "day")
            .agg(
                fixes=pl.len(),
                sog_n=sog.count(),
                sog_sum=sog.sum(),
                sog_max=sog.max(),
                slow=(sog < SLOW_KN).sum(),
                lat_sum=pl.col("lat").sum(),
                lon_sum=pl.col("lon").sum(),
                lat2_sum=(pl.col("lat") ** 2).sum(),
                lon2_sum=(pl.col("lon") ** 2).sum(),
                night=pl.col("night").sum(),
                coast_n=pl.col("coast").count(),
                coast_sum=pl.col("coast").sum(),
                drift=drifting.fill_null(False).sum(),
                hours=pl.col("hour").bitwise_or(),
            )
            .pipe(_cast_partial)
        )

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


def _cast_partial(df: pl.DataFrame) -> pl.DataFrame:
    ints = ("fixes", "sog_n", "slow", "night", "coast_n", "drift")
    return df.with_columns(pl.col(ints).cast(pl.Int64), pl.col("hours").cast(pl.Int32),
                           pl.col("sog_sum", "sog_max", "lat_sum", "lon_sum", "lat2_sum", "lon2_sum",
                                  "coast_sum").cast(pl.Float64))  # fmt: skip


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
