"""Per-vessel-day features: against a plain per-row reference, and the same however the input is chunked."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.alerts import UTC_US
from engine.sun import is_night
from models.features import DAY_FEATURES, FeatureAccumulator

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def positions(rows: list[tuple[int, float, float, float, float, float, float]]) -> pl.DataFrame:
    """(mmsi, hours after T0, lat, lon, sog, cog, heading)"""
    return pl.DataFrame(
        [{"mmsi": m, "t": T0 + timedelta(hours=h), "lat": la, "lon": lo, "sog": s, "cog": c, "heading": hd}
         for m, h, la, lo, s, c, hd in rows],
        schema={"mmsi": pl.Int64, "t": UTC_US, "lat": pl.Float64, "lon": pl.Float64, "sog": pl.Float64,
                "cog": pl.Float64, "heading": pl.Float64},
    )  # fmt: skip


def no_statics() -> pl.DataFrame:
    return pl.DataFrame(schema={"mmsi": pl.Int64, "t": UTC_US, "imo": pl.Int64, "callsign": pl.String,
                                "name": pl.String, "ship_type": pl.Int16})  # fmt: skip


def reference_days(p: pl.DataFrame) -> dict[tuple[int, datetime], dict[str, float]]:
    """The features, one vessel-day at a time, in plain Python."""
    out: dict[tuple[int, datetime], dict[str, float]] = {}
    rows = [r for r in p.iter_rows(named=True) if not (math.isnan(r["lat"]) or math.isnan(r["lon"]))]
    keys = sorted({(r["mmsi"], r["t"].replace(hour=0, minute=0, second=0, microsecond=0)) for r in rows})
    for mmsi, day in keys:
        rs = [r for r in rows if r["mmsi"] == mmsi and r["t"].replace(hour=0, minute=0, second=0, microsecond=0) == day]
        sogs = [r["sog"] for r in rs if not math.isnan(r["sog"])]
        lat = [r["lat"] for r in rs]
        lon = [r["lon"] for r in rs]
        mlat, mlon = sum(lat) / len(lat), sum(lon) / len(lon)
        cos = math.cos(math.radians(mlat))
        var = sum((a - mlat) ** 2 + ((b - mlon) * cos) ** 2 for a, b in zip(lat, lon, strict=True)) / len(lat)
        t_us = np.array([int(r["t"].timestamp() * 1e6) for r in rs])
        night = is_night(t_us, np.array(lat), np.array(lon))

        def drifting(r: dict) -> bool:
            if math.isnan(r["sog"]) or math.isnan(r["cog"]) or math.isnan(r["heading"]):
                return False
            d = abs(r["heading"] - r["cog"]) % 360
            d = 360 - d if d > 180 else d
            return 45 <= d <= 135 and 0.25 <= r["sog"] <= 20

        out[(mmsi, day)] = {
            "hours_heard": float(len({r["t"].hour for r in rs})),
            "slow_frac": sum(s < 2 for s in sogs) / len(sogs) if sogs else math.nan,
            "mean_sog": sum(sogs) / len(sogs) if sogs else math.nan,
            "max_sog": max(sogs) if sogs else math.nan,
            "extent_km": 111.195 * math.sqrt(var),
            "night_frac": float(night.mean()),
            "drift_frac": sum(drifting(r) for r in rs) / len(sogs) if sogs else math.nan,
        }
    return out


row = st.tuples(
    st.sampled_from([1, 2, 3]),
    st.floats(0, 47.9),
    st.floats(17, 22) | st.just(math.nan),
    st.floats(105.5, 110),
    st.floats(0, 30) | st.just(math.nan),
    st.floats(0, 359.9) | st.just(math.nan),
    st.floats(0, 359) | st.just(math.nan),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row, min_size=1, max_size=40), st.integers(1, 7))
def test_features_match_the_reference_however_chunked(rows, chunk) -> None:  # type: ignore[no-untyped-def]
    p = positions(rows)
    whole = FeatureAccumulator()
    whole.add(p, no_statics())
    days = whole.days()
    ref = reference_days(p)
    assert set(zip(days["mmsi"].to_list(), days["day"].to_list(), strict=True)) == set(ref)
    for r in days.iter_rows(named=True):
        want = ref[(r["mmsi"], r["day"])]
        for name, value in want.items():
            got = r[name]
            assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value, rel=1e-6, abs=1e-3), name
    parts = FeatureAccumulator()
    for i in range(0, p.height, chunk):
        parts.add(p[i : i + chunk], no_statics())
    assert_frame_equal(parts.days(), days, check_exact=False, rel_tol=1e-6, abs_tol=1e-3)


def test_offshore_distance_uses_the_land_index_when_given() -> None:
    pytest.importorskip("global_land_mask")
    from engine.geo.land import LandIndex

    acc = FeatureAccumulator(LandIndex.load())
    acc.add(positions([(1, 1.0, 19.5, 107.5, 5.0, 90.0, 90.0)]), no_statics())
    assert 60 < acc.days()["offshore_km"][0] < 200  # mid-Gulf, between Hainan and Viet Nam
    bare = FeatureAccumulator()
    bare.add(positions([(1, 1.0, 19.5, 107.5, 5.0, 90.0, 90.0)]), no_statics())
    assert math.isnan(bare.days()["offshore_km"][0])  # no land index: unknown, not zero


def test_latest_identity_and_last_position_per_vessel() -> None:
    statics = pl.DataFrame(
        [{"mmsi": 1, "t": T0, "imo": 9000001, "callsign": "AAA", "name": "OLD NAME", "ship_type": 30},
         {"mmsi": 1, "t": T0 + timedelta(hours=2), "imo": 0, "callsign": "", "name": "NEW NAME", "ship_type": None}],
        schema=no_statics().schema,
    )  # fmt: skip
    acc = FeatureAccumulator()
    acc.add(positions([(1, 3.0, 20.0, 107.0, 1.0, 0.0, 0.0)]), statics[:1])
    acc.add(positions([(1, 1.0, 19.0, 106.0, 1.0, 0.0, 0.0)]), statics[1:])
    v = acc.vessels().row(0, named=True)
    assert (v["name"], v["callsign"], v["imo"], v["ship_type"]) == ("NEW NAME", "AAA", 9000001, 30)
    assert (v["lat"], v["lon"], v["positions"]) == (20.0, 107.0, 2)  # the latest fix, not the last to arrive
    assert v["first_seen"] == T0 + timedelta(hours=1)
    assert set(DAY_FEATURES) <= set(acc.days().columns)


def test_thousands_of_vessel_days_in_one_chunk_are_each_their_own_group() -> None:
    """More groups than the sums' hash table starts with (it grows while it fills): every vessel-day is kept
    apart, with its own count and sums, as a plain polars group-by counts them."""
    rng = np.random.default_rng(3)
    n = 20_000
    p = pl.DataFrame(
        {
            "mmsi": rng.integers(200_000_000, 200_003_000, n),
            "t": [T0 + timedelta(hours=float(h)) for h in rng.uniform(0, 72, n)],
            "lat": rng.uniform(17, 22, n),
            "lon": rng.uniform(105.5, 110, n),
            "sog": rng.uniform(0, 20, n),
            "cog": rng.uniform(0, 360, n),
            "heading": rng.uniform(0, 360, n),
        },
        schema_overrides={"t": UTC_US},
    )
    acc = FeatureAccumulator()
    acc.add(p, no_statics())
    got = acc.days().select("mmsi", "day", "fixes", "mean_sog").sort("mmsi", "day")
    want = (
        p.group_by("mmsi", day=pl.col("t").dt.truncate("1d"))
        .agg(fixes=pl.len(), mean_sog=pl.col("sog").mean())
        .sort("mmsi", "day")
    )
    assert got.height == want.height > 4000
    assert_frame_equal(got, want, check_dtypes=False, check_exact=False, rel_tol=1e-9)
