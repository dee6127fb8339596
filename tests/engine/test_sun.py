"""Night from the sun's elevation: against a plain reference and against facts of the sky."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sun import HORIZON_DEG, is_night, sun_elevation
from tests import reference as ref

MINUTE_US = 60_000_000


def _day(date: datetime, lat: float, lon: float) -> np.ndarray:
    t0 = int(date.timestamp() * 1e6)
    t = t0 + MINUTE_US * np.arange(24 * 60)
    return sun_elevation(t, np.full(t.shape, lat), np.full(t.shape, lon))


@settings(deadline=None)
@given(st.integers(0, 4_000_000_000_000_000), st.floats(-90, 90), st.floats(-180, 180))
def test_kernel_matches_reference(t_us: int, lat: float, lon: float) -> None:
    got = sun_elevation(np.array([t_us]), np.array([lat]), np.array([lon]))[0]
    assert math.isclose(got, ref.sun_elevation_deg(t_us, lat, lon), abs_tol=1e-6)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(-90, 90) | st.just(math.nan), st.floats(-180, 180)),
                min_size=1, max_size=40))  # fmt: skip
def test_fixes_sharing_a_time_get_each_their_own_elevation(fixes: list[tuple[int, float, float]]) -> None:
    """The kernel reuses the sun's place while the time stays the same: fixes in runs of one time, with missing
    positions among them, each get the reference elevation of their own place."""
    t = np.array([1_700_000_000_000_000 + k * 7 * MINUTE_US for k, _, _ in fixes])
    lat, lon = np.array([f[1] for f in fixes]), np.array([f[2] for f in fixes])
    got = sun_elevation(t, lat, lon)
    for i in range(len(fixes)):
        if math.isnan(lat[i]):
            assert math.isnan(got[i])
        else:
            assert math.isclose(got[i], ref.sun_elevation_deg(int(t[i]), lat[i], lon[i]), abs_tol=1e-6)


def test_noon_height_at_the_june_solstice_is_90_minus_the_distance_to_the_tropic() -> None:
    hai_phong = (20.8648, 106.6834)
    top = _day(datetime(2024, 6, 20, tzinfo=UTC), *hai_phong).max()
    assert abs(top - (90 - abs(hai_phong[0] - 23.44))) < 0.5


def test_a_day_on_the_equator_lasts_about_12_h_7_min() -> None:
    for month in (1, 4, 7, 10):
        daylight = (_day(datetime(2024, month, 15, tzinfo=UTC), 0.0, 0.0) > HORIZON_DEG).sum()
        assert 720 <= daylight <= 735, month


def test_polar_night_and_midnight_sun() -> None:
    assert (_day(datetime(2024, 12, 21, tzinfo=UTC), 89.9, 0.0) < 0).all()
    assert (_day(datetime(2024, 6, 21, tzinfo=UTC), 89.9, 0.0) > 0).all()


def test_midnight_in_hai_phong_is_night_and_noon_is_day() -> None:
    # Viet Nam is UTC+7: 17:00 UTC is local midnight, 05:00 UTC local noon
    t = np.array([datetime(2024, 6, 1, 17, tzinfo=UTC).timestamp(), datetime(2024, 6, 1, 5, tzinfo=UTC).timestamp()])
    night = is_night((t * 1e6).astype(np.int64), np.array([20.86, 20.86]), np.array([106.68, 106.68]))
    assert night.tolist() == [True, False]
    assert not is_night(np.array([0]), np.array([np.nan]), np.array([0.0]))[0]  # no position: not called night
    assert not is_night(np.array([np.nan]), np.array([20.86]), np.array([106.68]))[0]  # no time: neither
