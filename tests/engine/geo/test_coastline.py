"""The map's land polygons against the land mask they are traced from: inside is land, outside is water."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from engine.geo.coastline import coastline_geojson
from engine.geo.land import LandIndex

GULF = (105.5, 17.0, 110.0, 22.0)  # min_lon, min_lat, max_lon, max_lat: the map's default view
HAI_PHONG = (20.86, 106.68)  # lat, lon: the city, on the Cam river
BACH_LONG_VI = (20.135, 107.725)  # the island in mid-Gulf


@pytest.fixture(scope="module")
def land() -> LandIndex:
    return LandIndex.load()


@pytest.fixture(scope="module")
def gulf(land) -> dict:
    return coastline_geojson(GULF, land)


def _inside(fc: dict, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Even-odd point in polygon over every ring (exteriors and holes alike)."""
    xy = np.column_stack([lon, lat])
    count = np.zeros(len(xy), np.int64)
    for feature in fc["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                count += MplPath(np.asarray(ring)).contains_points(xy)
    return count % 2 == 1


def _signed_area(ring: list[list[float]]) -> float:
    r = np.asarray(ring)
    return 0.5 * float(np.dot(r[:-1, 0], r[1:, 1]) - np.dot(r[1:, 0], r[:-1, 1]))


def test_inside_is_land_and_outside_is_water(gulf, land):
    rng = np.random.default_rng(7)
    lon = rng.uniform(GULF[0], GULF[2], 20_000)
    lat = rng.uniform(GULF[1], GULF[3], 20_000)
    inside = _inside(gulf, lat, lon)
    is_land = land.is_land(lat, lon)
    assert 0.2 < inside.mean() < 0.6  # Vietnam, Guangxi, Leizhou and Hainan: about 38% of the box
    # Disagreement only within a cell of the coast (the simplified edge cuts corners by under a cell).
    assert (is_land[inside]).mean() > 0.97
    assert (~is_land[~inside]).mean() > 0.97
    wrong = inside != is_land
    assert np.all(np.abs(land.coast_km(lat[wrong], lon[wrong])) < 2.0)


def test_hai_phong_and_the_islands_are_there(gulf, land):
    lat, lon = np.array([HAI_PHONG[0], BACH_LONG_VI[0]]), np.array([HAI_PHONG[1], BACH_LONG_VI[1]])
    assert land.is_land(lat, lon).all()
    assert _inside(gulf, lat, lon).all()
    # Hai Phong's coast: polygon vertices within a few km seaward of the city
    coords = np.concatenate([np.asarray(r) for p in gulf["features"][0]["geometry"]["coordinates"] for r in p])
    near = np.hypot(coords[:, 0] - 106.8, coords[:, 1] - 20.75) < 0.1
    assert near.sum() > 10
    # The one-cell islets of Ha Long Bay are kept, not simplified away
    assert gulf["features"][0]["properties"]["polygons"] > 100


def test_geojson_shape_and_orientation(gulf):
    assert gulf["type"] == "FeatureCollection"
    assert gulf["bbox"] == list(GULF)
    (feature,) = gulf["features"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    for polygon in feature["geometry"]["coordinates"]:
        for k, ring in enumerate(polygon):
            assert ring[0] == ring[-1] and len(ring) >= 4
            assert (_signed_area(ring) > 0) == (k == 0)  # RFC 7946: exterior counter-clockwise, holes clockwise
            r = np.asarray(ring)
            assert r[:, 0].min() >= GULF[0] and r[:, 0].max() <= GULF[2]
            assert r[:, 1].min() >= GULF[1] and r[:, 1].max() <= GULF[3]


def test_cached_per_box(gulf, land):
    assert coastline_geojson(GULF, land) is gulf
    assert coastline_geojson(GULF, land, cells=100) is not gulf


def test_coarse_grid_for_a_large_box(land):
    fc = coastline_geojson((90.0, 0.0, 130.0, 30.0), land, cells=200)
    props = fc["features"][0]["properties"]
    assert props["grid_step_deg"] == pytest.approx(0.2)
    assert props["polygons"] > 10


def test_open_sea_has_no_land(land):
    assert coastline_geojson((108.0, 18.5, 108.5, 19.0), land)["features"] == []


@pytest.mark.parametrize(
    "bbox", [(110.0, 17.0, 105.5, 22.0), (105.5, 22.0, 110.0, 17.0), (0.0, 0.0, float("nan"), 1.0), (0, -95, 1, 1)]
)
def test_bad_box_is_refused(land, bbox):
    with pytest.raises(ValueError, match="bbox"):
        coastline_geojson(bbox, land)
