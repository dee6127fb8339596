"""Shared detector pieces: the distance to the nearest place, and whether one is near."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.common import NearPlaces, haversine_km, near_place, place_gap_km, surely_within_km
from engine.geo.region_pack import Places
from engine.geo.regions import load_pack
from tests import reference as ref


def _places(spots: list[tuple[float, float, float]]) -> Places:
    return Places(tuple(f"p{i}" for i in range(len(spots))), np.array(["port"] * len(spots)),
                  np.array([s[0] for s in spots], np.float64), np.array([s[1] for s in spots], np.float64),
                  np.array([s[2] for s in spots], np.float64), tuple({} for _ in spots))  # fmt: skip


def test_near_place_on_the_region_pack_agrees_with_the_distance() -> None:
    places = load_pack("gulf-of-tonkin").places.of_kind("port", "terminal", "anchorage")
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(18.5, 22.5, 20_000), rng.uniform(105.5, 109.5, 20_000)
    lat[:3], lon[3:5] = np.nan, np.nan
    gap = place_gap_km(lat, lon, places)
    for limit in (0.0, 3.0, 18.52, 60.0):
        assert np.array_equal(near_place(lat, lon, places, limit), gap <= limit)
    assert not near_place(lat, lon, None, 10.0).any()
    assert not near_place(lat, lon, _places([]), 10.0).any()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180)), min_size=1, max_size=20),
       st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180), st.floats(0, 20)), max_size=6),
       st.floats(0, 3000))  # fmt: skip
def test_near_place_matches_the_reference(points: list[tuple[float, float]], spots: list[tuple[float, float, float]],
                                          limit: float) -> None:  # fmt: skip
    lat, lon = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    got = near_place(lat, lon, _places(spots), limit)
    strict = near_place(lat, lon, _places(spots), limit, strict=True)
    for (a, b), g, g_strict in zip(points, got.tolist(), strict.tolist(), strict=True):
        want = ref.place_gap_km(a, b, spots)
        assert g == (want <= limit) or abs(want - limit) < 1e-9
        assert g_strict == (want < limit) or abs(want - limit) < 1e-9


def test_near_places_grid_gives_the_answers_of_near_place() -> None:
    places = load_pack("gulf-of-tonkin").places.of_kind("port", "terminal", "anchorage")
    rng = np.random.default_rng(7)
    # points spread over the region and beyond, and points right at the edge of the distance
    lat, lon = rng.uniform(15.0, 25.0, 50_000), rng.uniform(102.0, 112.0, 50_000)
    bearing = rng.uniform(0, 2 * np.pi, 20_000)
    k = rng.integers(0, len(places), 20_000)
    for limit in (3.0, 18.52):
        km = limit + places.radius_km[k] + rng.normal(0, 1e-3, 20_000)
        edge_lat = places.lat[k] + km * np.cos(bearing) / 111.195
        edge_lon = places.lon[k] + km * np.sin(bearing) / (111.195 * np.cos(np.radians(places.lat[k])))
        all_lat, all_lon = np.concatenate([lat, edge_lat, [np.nan]]), np.concatenate([lon, edge_lon, [1.0]])
        gap = place_gap_km(all_lat, all_lon, places)
        for strict in (False, True):
            grid = NearPlaces(places, limit, strict=strict)
            got = grid(all_lat, all_lon)
            assert np.array_equal(got, near_place(all_lat, all_lon, places, limit, strict))
            assert np.array_equal(got, gap < limit if strict else gap <= limit)
            assert np.array_equal(NearPlaces(places, limit, strict=strict)(all_lat, all_lon), got)  # cached grid
    assert not NearPlaces(None, 3.0)(lat, lon).any()
    assert not NearPlaces(_places([]), 3.0)(lat, lon).any()


def test_near_places_in_threads_build_one_grid_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detectors that share places may run in threads: the first calls of many at once build one grid (the others
    wait for it), and a grid whose cells had to grow (MAX_CELLS) is found again by the cell size asked for."""
    monkeypatch.setattr(NearPlaces, "MAX_CELLS", 100)  # 0.02 deg cells grow to fit: the layout differs from asked
    places = _places([(20.5 + 1e-7 * k, 107.0 + 0.3 * k, 1.0) for k in range(4)])  # places no other test has
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(20.0, 21.0, 5_000), rng.uniform(106.5, 108.5, 5_000)
    want = near_place(lat, lon, places, 4.0)
    grids = [NearPlaces(places, 4.0) for _ in range(8)]
    start = threading.Barrier(len(grids))

    def call(grid: NearPlaces) -> np.ndarray:
        start.wait()
        return grid(lat, lon)

    with ThreadPoolExecutor(len(grids)) as pool:
        got = list(pool.map(call, grids))
    assert all(np.array_equal(g, want) for g in got)
    layouts = [g.layout for g in grids]
    assert all(lay is not None and lay[0] is layouts[0][0] for lay in layouts)  # type: ignore[index]
    assert layouts[0][3] > 0.02  # type: ignore[index]
    again = NearPlaces(places, 4.0)
    assert np.array_equal(again(lat, lon), want) and again.layout is layouts[0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180)), min_size=1, max_size=20),
       st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180), st.floats(0, 20)), min_size=1, max_size=6),
       st.floats(0, 300))  # fmt: skip
def test_near_places_grid_matches_the_reference(
    points: list[tuple[float, float]], spots: list[tuple[float, float, float]], limit: float
) -> None:
    lat, lon = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    for strict in (False, True):
        got = NearPlaces(_places(spots), limit, cell_deg=0.5, strict=strict)(lat, lon)
        assert np.array_equal(got, near_place(lat, lon, _places(spots), limit, strict))


@settings(max_examples=300, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-0.05, 0.05), st.floats(-0.05, 0.05),
       st.sampled_from([0.0, 360.0, -360.0]), st.floats(0, 10))  # fmt: skip
def test_surely_within_only_when_the_distance_is_within(lat: float, lon: float, dlat: float, dlon: float,
                                                        turn: float, km: float) -> None:  # fmt: skip
    lat2 = min(90.0, max(-90.0, lat + dlat))
    lon2 = lon + dlon + turn
    if surely_within_km(lat, lon, lat2, lon2, km):
        assert haversine_km(lat, lon, lat2, lon2) <= km
        assert ref.haversine_km(lat, lon, lat2, lon2) <= km + 1e-9


def test_surely_within_nearby_and_not_for_nan() -> None:
    assert surely_within_km(20.0, 107.0, 20.001, 107.001, 1.0)  # ~150 m
    assert surely_within_km(0.0, 179.9995, 0.0, -179.9995, 1.0)  # across the antimeridian
    assert not surely_within_km(20.0, 107.0, 20.02, 107.0, 1.0)  # 2.2 km
    assert not surely_within_km(np.nan, 107.0, 20.0, 107.0, 1.0)
    assert not surely_within_km(91.0, 107.0, 91.0, 107.0, 1.0)


def _bits(x: float) -> int:
    return int(np.array([x], np.float64).view(np.int64)[0])


@settings(max_examples=300, deadline=None)
@given(st.floats(-1000.0, 1000.0) | st.floats(allow_nan=True, allow_infinity=True))
def test_mod360_is_python_modulo_to_the_bit(x: float) -> None:
    from engine.detectors.common import mod360

    edges = [0.0, -0.0, 360.0, -360.0, 720.0, -1e-300, 1e-300, -1e-14, 359.99999999999994, -359.99999999999994,
             180.0, -180.0, float("inf"), -float("inf"), float("nan")]  # fmt: skip
    for v in [x, *edges]:
        got, want = float(mod360(v)), ref.mod360(v)
        assert _bits(got) == _bits(want) or (np.isnan(got) and np.isnan(want)), v


@settings(max_examples=300, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_haversine_with_cosines_given_is_haversine_to_the_bit(lat1: float, lon1: float, lat2: float,
                                                              lon2: float) -> None:  # fmt: skip
    from engine.detectors.common import haversine_cos_km

    cases = [(lat1, lon1, lat2, lon2), (20.0, 107.0, 20.0, 107.0), (0.0, 179.9, 0.0, -179.9),
             (89.9, 0.0, -89.9, 180.0), (float("nan"), 0.0, 1.0, 1.0), (20.0, 107.0, 20.0, float("nan"))]  # fmt: skip
    for a, b, c, d in cases:
        c1, c2 = np.cos(np.radians(a)), np.cos(np.radians(c))
        got = float(haversine_cos_km(a, b, c1, c, d, c2))
        want = float(haversine_km(a, b, c, d))
        assert _bits(got) == _bits(want) or (np.isnan(got) and np.isnan(want))
        assert np.isclose(got, ref.haversine_cos_km(a, b, c1, c, d, c2), rtol=1e-12, atol=1e-9, equal_nan=True)
