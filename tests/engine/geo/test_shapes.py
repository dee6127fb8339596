"""Point in polygon and distance to a polyline against the slow references in tests/reference.py: fixed edge
cases (holes, NaN, vertices and edges, the antimeridian, zero-length segments) and Hypothesis-generated shapes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.geo import shapes_kernel as sk
from engine.geo.shapes import Polygons, Polyline, unwrap_ring
from feeds.jit import kernel
from tests import reference as ref

GEO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "geo"
SQUARE_WITH_HOLE = [[(0, 0), (10, 0), (10, 10), (0, 10)], [(2, 2), (4, 2), (4, 4), (2, 4)]]
ACROSS_180 = [[(170, -5), (-170, -5), (-170, 5), (170, 5)]]  # 20 degrees wide, drawn across the antimeridian


def kernel_vs_reference(polys, lat, lon):
    got = Polygons.from_rings(polys).contains(lat, lon)
    want = np.array([[ref.point_in_polygon(a, b, rings) for rings in polys] for a, b in zip(lat, lon, strict=True)])
    return got, want.reshape(got.shape)


def test_holes_and_outside():
    lat = [5, 3, 3, 11, -1, 5]
    lon = [5, 3, 1, 5, 5, 9.99]
    got, want = kernel_vs_reference([SQUARE_WITH_HOLE], lat, lon)
    assert got[:, 0].tolist() == [True, False, True, False, False, True]
    assert np.array_equal(got, want)


def test_antimeridian_zone_from_both_sides():
    lat = [0, 0, 0, 0, 0, 4.9, 6]
    lon = [175, -175, 180, -180, 169.9, -170.1, 179]
    got, want = kernel_vs_reference([ACROSS_180], lat, lon)
    assert got[:, 0].tolist() == [True, True, True, True, False, True, False]
    assert np.array_equal(got, want)


def test_nan_points_are_in_no_polygon():
    polys = Polygons.from_rings([SQUARE_WITH_HOLE, ACROSS_180])
    got = polys.contains([np.nan, 5, np.nan], [5, np.nan, np.nan])
    assert not got.any()
    assert polys.which([np.nan], [5]).tolist() == [-1]


def test_vertices_and_edges_decide_the_same_way_as_the_reference():
    rings = SQUARE_WITH_HOLE
    pts = [(y, x) for ring in rings for x, y in ring] + [(0, 5), (10, 5), (5, 0), (5, 10), (3, 2), (2, 3)]
    lat, lon = zip(*pts, strict=True)
    got, want = kernel_vs_reference([rings], list(lat), list(lon))
    assert np.array_equal(got, want)


def test_which_returns_the_first_holder():
    island = [[(2.5, 2.5), (3.5, 2.5), (3.5, 3.5), (2.5, 3.5)]]  # inside the hole of the first
    everything = [[(-20, -20), (20, -20), (20, 20), (-20, 20)]]
    polys = Polygons.from_rings([SQUARE_WITH_HOLE, island, ACROSS_180, everything], names=["a", "b", "c", "d"])
    assert polys.which([5, 3, 0, 50, 3.8], [5, 3, 179, 0, 3.8]).tolist() == [0, 1, 2, -1, 3]
    assert polys.names == ("a", "b", "c", "d")


def test_a_ring_around_a_pole_is_refused():
    with pytest.raises(ValueError, match="pole"):
        unwrap_ring([(-180, 80), (-60, 80), (60, 80), (179, 80)])


def test_big_polygon_uses_many_slabs_and_still_agrees():
    t = np.linspace(0, 2 * np.pi, 4001)[:-1]
    r = 5 + 2 * np.sin(7 * t)  # a star with deep bays
    ring = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).tolist()
    polys = Polygons.from_rings([[ring]])
    assert polys.slab_first[1] > 100
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-8, 8, 300), rng.uniform(-8, 8, 300)
    got, want = kernel_vs_reference([[ring]], lat, lon)
    assert np.array_equal(got, want) and 0.1 < got.mean() < 0.9


coord = st.floats(-20, 20, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def polygon_and_points(draw):
    """A star-shaped ring around a centre (simple, and holding the centre's neighbourhood), sometimes with a
    triangular hole there, and points that include its vertices and an edge midpoint."""
    cx, cy = draw(coord), draw(st.floats(-60, 60).map(lambda v: round(v, 3)))
    n = draw(st.integers(6, 12))
    jitter = draw(st.lists(st.floats(-0.4, 0.4), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(2, 8), min_size=n, max_size=n))
    angles = [2 * math.pi * (k + j) / n for k, j in enumerate(jitter)]  # gaps under 108 degrees
    ring = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)]
    rings = [ring]
    if draw(st.booleans()):
        rings.append([(cx - 0.5, cy - 0.5), (cx + 0.5, cy - 0.5), (cx, cy + 0.5)])
    pts = draw(st.lists(st.tuples(st.floats(cy - 10, cy + 10), st.floats(cx - 10, cx + 10)), max_size=30))
    pts += [(y, x) for x, y in ring[:3]] + [((ring[0][1] + ring[1][1]) / 2, (ring[0][0] + ring[1][0]) / 2)]
    return rings, pts


@settings(max_examples=150, deadline=None)
@given(polygon_and_points(), st.sampled_from([0.0, 180.0, -150.0]))
def test_point_in_polygon_matches_reference(case, shift):
    rings, pts = case
    # moved in longitude, some shapes straddle the antimeridian: the shape and the points move together
    wrap = lambda x: (x + shift + 180.0) % 360.0 - 180.0  # noqa: E731
    moved = [[(wrap(x), y) for x, y in r] for r in rings]
    got, want = kernel_vs_reference([moved], [p[0] for p in pts], [wrap(p[1]) for p in pts])
    assert np.array_equal(got, want)
    for (y, x), inside in zip(pts, got[:, 0], strict=True):  # an independent rule, where it is unambiguous
        if all(_clear_of(y, x, r) for r in rings):
            holes = any(ref.winding_number(x, y, r) != 0 for r in rings[1:])
            assert inside == (ref.winding_number(x, y, rings[0]) != 0 and not holes)


def _clear_of(y, x, ring):
    """Whether (x, y) is at least 1e-6 degrees from every edge of the (unmoved) ring."""
    closed = [*ring, ring[0]]
    for (x1, y1), (x2, y2) in zip(closed[:-1], closed[1:], strict=True):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy or 1.0)))
        if math.hypot(x - x1 - t * dx, y - y1 - t * dy) < 1e-6:
            return False
    return True


# --- polylines ---------------------------------------------------------------------------------------------------
def test_distance_edge_cases():
    line = Polyline.from_parts([[(0, 0), (1, 0)], [(5, 5), (5, 5)]])  # the second part is a point
    lat = [0, 0, 1, 0, 5, 5, np.nan, 0]
    lon = [0.5, 1, 0.5, -1, 5, 6, 0, np.nan]
    got = line.distance_km(lat, lon)
    deg = ref.EARTH_RADIUS_KM * math.pi / 180
    assert got[0] == 0 and got[1] == pytest.approx(0, abs=1e-9)
    assert got[2] == pytest.approx(deg, rel=1e-9) and got[3] == pytest.approx(deg, rel=1e-9)
    assert got[4] == pytest.approx(0, abs=1e-9) and got[5] == pytest.approx(deg * math.cos(math.radians(5)), rel=1e-3)
    assert np.isnan(got[6]) and np.isnan(got[7])


def test_distance_across_the_antimeridian():
    line = Polyline.from_parts([[(179.5, 0), (-179.5, 0)]])
    got = line.distance_km([0.1, 0.0, 0.0], [180.0, -179.0, 179.0])
    deg = ref.EARTH_RADIUS_KM * math.pi / 180
    assert got == pytest.approx([0.1 * deg, 0.5 * deg, 0.5 * deg], rel=1e-6)


lat_st = st.floats(-80, 80, allow_nan=False)
lon_st = st.floats(-180, 180, allow_nan=False)


@st.composite
def line_and_points(draw):
    """A line of short segments (a border: each under ~2 degrees), sometimes with repeated vertices."""
    lat0, lon0 = draw(lat_st), draw(lon_st)
    steps = draw(st.lists(st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)), min_size=1, max_size=8))
    part = [(lon0, lat0)]
    for dlat, dlon in steps:
        lon, lat = part[-1]
        part.append((((lon + dlon + 180) % 360) - 180, max(-85.0, min(85.0, lat + dlat))))
    if draw(st.booleans()):
        part.insert(1, part[0])  # a zero-length segment
    pts = draw(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=20))
    pts = [(max(-89.0, min(89.0, lat0 + a)), ((lon0 + b + 180) % 360) - 180) for a, b in pts]
    pts += [(y, x) for x, y in part[:2]]
    return part, pts


@settings(max_examples=200, deadline=None)
@given(line_and_points())
def test_polyline_distance_matches_reference(case):
    part, pts = case
    got = Polyline.from_parts([part]).distance_km([p[0] for p in pts], [p[1] for p in pts])
    want = np.array([ref.polyline_km(a, b, [part]) for a, b in pts])
    assert np.allclose(got, want, rtol=1e-6, atol=1e-3)


def test_kernels_are_callable_from_other_kernels():
    polys = Polygons.from_rings([SQUARE_WITH_HOLE])
    line = Polyline.from_parts([[(0, 0), (0, 10)]])

    @kernel
    def count_inside_near(lat, lon, bbox, ex1, ey1, ex2, ey2, sf, ses, se, seg, km):
        n = 0
        for i in range(lat.shape[0]):
            px, py, pz = sk.unit_vector(lat[i], lon[i])
            best = np.inf
            for k in range(seg.shape[0]):
                best = min(best, sk.segment_chord2(px, py, pz, seg, k))
            near = 2 * sk.EARTH_RADIUS_KM * np.arcsin(np.sqrt(best) / 2) < km
            if near and sk.in_polygon(lon[i], lat[i], 0, bbox, ex1, ey1, ex2, ey2, sf, ses, se):
                n += 1
        return n

    lat, lon = np.array([5.0, 5.0, 3.0, 5.0, 9.0]), np.array([0.5, 5.0, 3.0, 1.0, 1.3])
    want = polys.contains(lat, lon)[:, 0] & (line.distance_km(lat, lon) < 150.0)
    assert want.tolist() == [True, False, False, True, True]
    assert count_inside_near(lat, lon, *polys.arrays, line.seg, 150.0) == 3


def test_gulf_of_tonkin_boundary_distance_on_real_points():
    path = GEO / "vn_cn_gulf_of_tonkin_boundary_2000.geojson"
    if not path.is_file():
        pytest.skip(f"the Gulf of Tonkin boundary {path} is not here (see ../shared/data/README.md)")
    border = Polyline.from_geojson(path)
    pts = np.loadtxt(GEO / "vn_cn_gulf_of_tonkin_boundary_2000_21pts.csv", delimiter=",", skiprows=1,
                     usecols=(1, 2))  # fmt: skip
    assert np.allclose(border.distance_km(pts[:, 0], pts[:, 1]), 0, atol=1e-6)  # every treaty point is on it
    # Bach Long Vi lies on the Viet Nam side, about 15 km west of the line between points 9 and 10
    d = border.distance_km([20.1333], [107.7167])[0]
    assert d == pytest.approx(ref.polyline_km(20.1333, 107.7167, _parts(path)), rel=1e-9)
    assert 5 < d < 60


def _parts(path):
    import json

    return [f["geometry"]["coordinates"] for f in json.loads(path.read_text())["features"]
            if f["geometry"]["type"] == "LineString"]  # fmt: skip
