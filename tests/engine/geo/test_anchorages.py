"""Anchorage discovery: stops against the slow reference on fixed cases and Hypothesis-generated tracks, the
cells, and the distinct-vessel threshold."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.geo.anchorages import AnchorageSettings, anchorages, cell_centre, cell_of, stationary, stops, to_geojson
from tests import reference as ref

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z


def frame(rows) -> pl.DataFrame:
    """(mmsi, t seconds or None, lat, lon, stationary) rows -> the columns ``stops`` takes."""
    mmsi, t, lat, lon, still = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return pl.DataFrame(
        {
            "mmsi": pl.Series(mmsi, dtype=pl.Int64),
            "t": pl.Series([None if s is None else int(s * 1e6) for s in t], dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")
            ),  # fmt: skip
            "lat": pl.Series(lat, dtype=pl.Float64),
            "lon": pl.Series(lon, dtype=pl.Float64),
            "stationary": pl.Series(still, dtype=pl.Boolean),
        }
    )


def as_tuples(found: pl.DataFrame):
    return [(m, s.timestamp(), h, f) for m, s, h, f in found.select("mmsi", "start", "hours", "fixes").iter_rows()]


def test_stationary_prefers_the_speed_to_a_stale_status():
    sog = np.array([0.2, 0.6, np.nan, np.nan, 8.0, np.nan])
    nav = np.array([0, 1, 5, 0, 5, np.nan])
    assert stationary(sog, nav, AnchorageSettings()).tolist() == [True, False, True, False, False, False]


def test_a_stop_ends_at_a_move_a_drift_or_a_silence():
    s = AnchorageSettings(min_hours=1.0)
    hour = 3600
    rows = [(1, T0 + k * 600, 20.0, 107.0, True) for k in range(13)]  # two hours at anchor
    rows += [(1, T0 + 2 * hour + 300, 20.0, 107.0, False)]  # moves
    rows += [(1, T0 + 3 * hour + k * 600, 20.0, 107.0 + k * 0.0005, True) for k in range(13)]  # drifts 52 m a fix
    rows += [(2, T0, 20.0, 107.0, True), (2, T0 + 30 * hour, 20.0, 107.0, True)]  # silent 30 h: no stop
    rows += [(3, T0 + k * 600, 21.0, 108.0, True) for k in range(4)]  # too short
    found = stops(frame(rows), s)
    assert as_tuples(found) == ref.stops(rows, s.drift_km, s.min_hours, s.max_silence_hours)
    assert found["mmsi"].to_list() == [1, 1] and found["hours"][0] == 2.0
    assert found["fixes"].to_list() == [13, 10]  # 0.52 km from where it stopped, the second stop ended


def test_rows_without_time_or_position_are_ignored_and_order_does_not_matter():
    rows = [(7, T0 + k * 3600, 20.0, 107.0, True) for k in range(14)]
    noisy = [*reversed(rows), (7, None, 20.0, 107.0, True), (7, T0 + 5.5 * 3600, float("nan"), 107.0, False)]
    assert as_tuples(stops(frame(noisy), AnchorageSettings())) == as_tuples(stops(frame(rows), AnchorageSettings()))
    assert stops(frame([]), AnchorageSettings()).height == 0


def test_one_ping_is_a_stop_only_of_zero_hours():
    rows = [(9, T0, 20.0, 107.0, True)]
    assert stops(frame(rows), AnchorageSettings()).height == 0
    assert stops(frame(rows), AnchorageSettings(min_hours=0)).rows() == [
        (9, datetime.fromtimestamp(T0, UTC), 0.0, 1, 20.0, 107.0)]  # fmt: skip


def test_a_stop_on_the_antimeridian_averages_there():
    rows = [(5, T0 + k * 3600, -16.0, 179.999 if k % 2 else -179.999, True) for k in range(14)]
    found = stops(frame(rows), AnchorageSettings())
    assert found.height == 1 and abs(abs(found["lon"][0]) - 180.0) < 0.001


@st.composite
def tracks(draw):
    """Vessels that anchor, jitter, move on and fall silent, with duplicate and shuffled times."""
    rows = []
    for mmsi in range(1, draw(st.integers(1, 4)) + 1):
        t, lat, lon = T0, draw(st.floats(-60, 60)), draw(st.floats(-180, 180))
        for _ in range(draw(st.integers(0, 40))):
            t += draw(st.sampled_from([0, 60, 600, 3600, 4 * 3600, 30 * 3600]))
            lat += draw(st.sampled_from([0.0, 0.0, 0.001, -0.003, 0.01]))
            lon = (lon + draw(st.sampled_from([0.0, 0.0, 0.002, -0.004, 0.02])) + 180) % 360 - 180
            rows.append((mmsi, t, lat, lon, draw(st.booleans()) or draw(st.booleans())))
    return draw(st.permutations(rows))


@settings(max_examples=150, deadline=None)
@given(tracks(), st.sampled_from([0.0, 1.0, 12.0]))
def test_stops_match_the_reference(rows, min_hours):
    s = AnchorageSettings(min_hours=min_hours)
    got = as_tuples(stops(frame(rows), s))
    want = ref.stops(rows, s.drift_km, s.min_hours, s.max_silence_hours)
    assert [g[:2] + (round(g[2], 9), g[3]) for g in got] == [w[:2] + (round(w[2], 9), w[3]) for w in want]


@pytest.mark.parametrize("lat", [0.0, 20.7, 60.0, 85.0, -89.999, 89.999])
def test_cells_are_about_half_a_kilometre_and_round_trip(lat):
    lon = np.linspace(-180, 180, 1001)
    cells = cell_of(np.full(lon.shape, lat), lon, 0.5)
    clat, clon = cell_centre(cells, 0.5)
    assert np.array_equal(cell_of(clat, clon, 0.5), cells)
    assert cells[0] == cells[-1]  # 180E is 180W
    (lat0, lat1), (lon0, lon1) = cell_centre(np.array([cells[500], cells[500] + 1]), 0.5)
    width_km = (lon1 - lon0) * 111.195 * np.cos(np.radians(lat0))
    assert lat0 == lat1 and abs(lat0 - lat) < 0.5 / 111.195
    if abs(lat) < 89:  # the last rows before a pole hold one cell or a few
        assert 0.49 < width_km < 0.51


def test_an_anchorage_needs_distinct_vessels():
    t0 = datetime.fromtimestamp(T0, UTC)
    found = pl.DataFrame({
        "mmsi": [1] * 30 + list(range(100, 120)) + list(range(200, 219)),
        "start": [t0] * 69,
        "hours": [13.0] * 69,
        "fixes": [10] * 69,
        "lat": [20.7] * 30 + [20.8] * 20 + [20.9] * 19,
        "lon": [107.1] * 69,
    })  # fmt: skip
    result = anchorages(found, AnchorageSettings())
    assert result.select("vessels", "stops").rows() == [(20, 20)]  # one vessel 30 times is not a port
    assert abs(result["lat"][0] - 20.8) < 1e-9 and result["hours"][0] == 20 * 13.0
    geo = to_geojson(result, AnchorageSettings())
    assert geo["features"][0]["geometry"]["coordinates"] == [107.1, 20.8]
    assert geo["features"][0]["properties"]["vessels"] == 20 and geo["settings"]["min_vessels"] == 20


@pytest.mark.parametrize("bad", [{"cell_km": 0}, {"min_vessels": 0}, {"min_hours": -1}, {"drift_km": float("nan")}])
def test_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        AnchorageSettings(**bad)
