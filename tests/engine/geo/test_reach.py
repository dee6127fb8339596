"""Where a vessel can be now: the water-grid distance kernel against its slow reference (fixed cases and
Hypothesis-generated grids), the reach round real land (Hainan), its polygons (cut at the antimeridian), the speed it
is drawn at, meeting a vessel (against brute force), and the reach against the simulator's dark vessels' truth."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.geo import reach as rc
from engine.geo.land import LandIndex
from tests import reference as ref


@pytest.fixture(scope="module")
def land() -> LandIndex:
    return LandIndex.load()


def both(ok: np.ndarray, ns: float, ew: np.ndarray, i0: int, j0: int, max_km: float) -> tuple[np.ndarray, np.ndarray]:
    return rc.water_km(ok, ns, ew, i0, j0, max_km), ref.water_km(ok, ns, ew, i0, j0, max_km)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert np.allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12, atol=1e-9)


def test_open_water_is_never_shorter_than_the_straight_line_and_at_most_2_7_percent_longer() -> None:
    n = 101
    got, want = both(np.ones((n, n), np.bool_), 1.0, np.ones(n), 50, 50, 1e9)
    assert_same(got, want)
    ii, jj = np.mgrid[0:n, 0:n]
    straight = np.hypot(ii - 50, jj - 50)
    far = straight > 20
    ratio = got[far] / straight[far]
    assert ratio.min() >= 1.0 - 1e-12 and ratio.max() <= 1.0275
    assert got[50, 90] == pytest.approx(40.0) and got[90, 90] == pytest.approx(40 * math.sqrt(2))


def test_a_wall_is_gone_round_through_its_gap() -> None:
    ok = np.ones((21, 21), np.bool_)
    ok[:, 10] = False
    ok[18, 10] = True  # one gap, near the top
    got, want = both(ok, 1.0, np.ones(21), 10, 5, 1e9)
    assert_same(got, want)
    # (10, 5) to (10, 15) is 10 straight: up to the gap (8 rows up, 5 across) and back down instead
    assert got[10, 15] >= 2 * math.hypot(8, 5)
    assert np.isinf(got[:, 10][ok[:, 10] == 0]).all()  # land is never reached


def test_no_corner_is_cut() -> None:
    # water only on the diagonal: every step would pass beside land, so nothing but the start is reached
    ok = np.eye(5, dtype=np.bool_)
    got, want = both(ok, 1.0, np.ones(5), 0, 0, 1e9)
    assert_same(got, want)
    assert np.isfinite(got).sum() == 1


def test_edge_cases_start_on_land_zero_radius_one_cell_and_narrowing_rows() -> None:
    ok = np.ones((7, 9), np.bool_)
    ok[3, 4] = False  # the start itself is land: it is still where the vessel leaves from
    got, want = both(ok, 1.0, np.ones(7), 3, 4, 5.0)
    assert_same(got, want)
    assert got[3, 4] == 0.0 and np.isfinite(got[3, 5])
    got, want = both(ok, 1.0, np.ones(7), 0, 0, 0.0)
    assert_same(got, want)
    assert np.isfinite(got).sum() == 1
    got, want = both(np.ones((1, 1), np.bool_), 2.0, np.ones(1), 0, 0, 10.0)
    assert got.tolist() == want.tolist() == [[0.0]]
    ew = np.cos(np.radians(np.linspace(60, 70, 7)))  # rows narrowing poleward
    got, want = both(np.ones((7, 9), np.bool_), 1.0, ew, 0, 0, 1e9)
    assert_same(got, want)
    assert got[0, 8] > got[6, 8] - 6.0  # east-west along the narrow rows is cheaper


def test_bad_input_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="outside"):
        rc.water_km(np.ones((3, 3), np.bool_), 1.0, np.ones(3), 5, 0, 1.0)
    with pytest.raises(ValueError, match="one width per row"):
        rc.water_km(np.ones((3, 3), np.bool_), 1.0, np.ones(4), 0, 0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        rc.water_km(np.ones((3, 3), np.bool_), 0.0, np.ones(3), 0, 0, 1.0)


Grid = tuple[np.ndarray, float, np.ndarray, int, int, float]


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    rows, cols = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ok = np.array(draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    ns = draw(st.floats(0.1, 5.0))
    ew = np.array(draw(st.lists(st.floats(0.1, 5.0), min_size=rows, max_size=rows)))
    return ok, ns, ew, draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1)), draw(st.floats(0.0, 40.0))


@settings(max_examples=300, deadline=None)
@given(grids())
def test_kernel_equals_reference_on_generated_grids(case: Grid) -> None:
    assert_same(*both(*case))


# ---------------------------------------------------------------- on the Earth


def test_hainan_is_gone_round_not_crossed(land: LandIndex) -> None:
    """West of Hainan to east of it: 294 km straight across the island, ~368 km round it by the Qiongzhou Strait.
    A 333 km reach (10 h at 18 kn) covers the far side as a circle would, but does not reach it by water."""
    r = rc.reach(land, 19.0, 108.4, 10, 18)
    i, j = int(np.argmin(abs(r.lat - 19.0))), int(np.argmin(abs(r.lon - 111.2)))
    straight = (111.2 - 108.4) * rc.KM_PER_DEG * math.cos(math.radians(19.0))
    assert straight < r.radius_km and not r.reachable[i, j]
    longer = rc.reach(land, 19.0, 108.4, 30, 18)
    k, m = int(np.argmin(abs(longer.lat - 19.0))), int(np.argmin(abs(longer.lon - 111.2)))
    assert 1.15 * straight < longer.km[k, m] < 1.4 * straight
    # every reachable cell is water, but those the vessel may cross land to leave its port from
    grid_lat, grid_lon = np.meshgrid(r.lat, r.lon, indexing="ij")
    on_land = land.is_land(grid_lat, grid_lon) & r.reachable
    near = np.hypot(grid_lat - 19.0, (grid_lon - 108.4) * math.cos(math.radians(19.0))) * rc.KM_PER_DEG
    assert (near[on_land] <= rc.LEAVE_PORT_KM + 1e-9).all()
    assert r.area_km2 < math.pi * r.radius_km**2


def test_open_ocean_reach_is_the_circle_within_the_grid_error(land: LandIndex) -> None:
    r = rc.reach(land, 10.0, -140.0, 6, 12)
    assert r.cell_km == pytest.approx(rc.GLOBE_CELL_KM)
    assert 0.95 < r.area_km2 / (math.pi * r.radius_km**2) <= 1.0
    big = rc.reach(land, 10.0, -140.0, 24, 30)
    assert big.cell_km == pytest.approx(big.radius_km / rc.CELLS_PER_RADIUS)
    assert 0.95 < big.area_km2 / (math.pi * big.radius_km**2) <= 1.0


def _ring_km2(ring: list[list[float]], lat0: float) -> float:
    x = np.array([p[0] for p in ring]) * rc.KM_PER_DEG * math.cos(math.radians(lat0))
    y = np.array([p[1] for p in ring]) * rc.KM_PER_DEG
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def test_polygons_are_closed_oriented_and_cover_the_reachable_area(land: LandIndex) -> None:
    r = rc.reach(land, 20.5, 107.3, 6, 12)  # off Ha Long Bay: islands, coast and the Gulf
    feature = rc.reach_feature(r, {"hours": 6})
    polys = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "MultiPolygon" and polys
    area = 0.0
    for poly in polys:
        for k, ring in enumerate(poly):
            assert ring[0] == ring[-1] and len(ring) >= 4
            signed = _ring_km2(ring, 20.5)
            assert (signed > 0) == (k == 0)  # RFC 7946: exterior counter-clockwise, holes clockwise
            area += signed
    assert area == pytest.approx(r.area_km2, rel=0.05)
    assert feature["properties"]["hours"] == 6 and feature["properties"]["area_km2"] == pytest.approx(r.area_km2, 0.01)


def test_no_time_or_no_speed_is_the_fix_cell(land: LandIndex) -> None:
    r = rc.reach(land, 10.0, -140.0, 0, 12)
    assert r.reachable.sum() == 1
    (poly,) = rc.reach_polygons(r)
    assert len(poly[0]) == 5
    with pytest.raises(ValueError, match="not a position"):
        rc.reach(land, 95.0, 0.0, 1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        rc.reach(land, 10.0, 0.0, -1, 1)


def _unwrapped_km2(polys: list[list[list[list[float]]]], lat0: float, lon0: float) -> float:
    """The polygons' area (km2), each longitude taken within 180 degrees of ``lon0`` (the pieces side by side)."""
    unwrapped = [[[[(x - lon0 + 180.0) % 360.0 - 180.0 + lon0, y] for x, y in ring] for ring in poly] for poly in polys]
    return sum(_ring_km2(ring, lat0) for poly in unwrapped for ring in poly)


@pytest.mark.parametrize("lon0", [179.9, -179.95])
def test_antimeridian_reach_is_cut_there_into_pieces_on_either_side(land: LandIndex, lon0: float) -> None:
    """RFC 7946 section 3.1.9: a geometry crossing the antimeridian is cut into pieces on either side of it,
    every longitude within [-180, 180]; the pieces' edges along it meet, and together they are the reach."""
    r = rc.reach(land, 1.0, lon0, 6, 12)
    polys = rc.reach_polygons(r)
    lons = [p[0] for poly in polys for ring in poly for p in ring]
    assert min(lons) >= -180.0 and max(lons) <= 180.0
    east = [poly for poly in polys if max(p[0] for p in poly[0]) > 0]
    west = [poly for poly in polys if min(p[0] for p in poly[0]) < 0]
    assert east and west and len(east) + len(west) == len(polys)
    east_cut = sorted(p[1] for poly in east for p in poly[0] if p[0] == 180.0)
    west_cut = sorted(p[1] for poly in west for p in poly[0] if p[0] == -180.0)
    cell_deg = r.cell_km / rc.KM_PER_DEG  # the cut edges meet, within the simplification's tolerance (a cell)
    assert east_cut and abs(east_cut[0] - west_cut[0]) < cell_deg and abs(east_cut[-1] - west_cut[-1]) < cell_deg
    for poly in polys:
        assert _ring_km2(poly[0], 1.0) > 0  # each piece an exterior ring counter-clockwise
    assert _unwrapped_km2(polys, 1.0, lon0) == pytest.approx(r.area_km2, rel=0.03)
    assert 0.95 < r.area_km2 / (math.pi * r.radius_km**2) <= 1.0


def test_a_reach_away_from_the_antimeridian_is_not_cut(land: LandIndex) -> None:
    r = rc.reach(land, 10.0, 179.0, 1, 12)  # 22 km: well short of 180
    (poly,) = rc.reach_polygons(r)
    assert max(p[0] for p in poly[0]) < 179.3


# ---------------------------------------------------------------- the speed


def test_class_top_speeds() -> None:
    assert rc.class_top_speed(30)[0] == 12.0
    assert rc.class_top_speed(70)[0] == rc.class_top_speed(79)[0] == 20.0
    assert rc.class_top_speed(84) == (16.0, "tanker")
    assert rc.class_top_speed(60)[0] == 25.0 and rc.class_top_speed(37)[0] == 30.0
    assert rc.class_top_speed(None) == rc.class_top_speed(0) == rc.class_top_speed(255) == rc.UNKNOWN_TOP_SPEED_KN


def test_top_speed_is_the_higher_of_class_and_own_without_glitches() -> None:
    slow = np.array([8.0, 9.0, 10.0, 102.2, np.nan, 60.0])
    assert rc.observed_top_speed(slow) == pytest.approx(np.quantile([8.0, 9.0, 10.0], 0.95))
    speed, why = rc.top_speed(30, slow)
    assert speed == 12.0 and "fishing" in why and "reach 9.9 kn" in why
    fast = np.full(50, 22.0)
    speed, why = rc.top_speed(30, fast)
    assert speed == 22.0 and "its own top speed" in why and "12 kn" in why
    assert rc.top_speed(80, np.array([]))[1].endswith("no speeds reported")


# ---------------------------------------------------------------- meeting a vessel


def test_meet_hours_solves_the_interception_quadratic() -> None:
    kn = rc.KM_PER_NM
    assert rc.meet_hours(30 * kn, 0, -10, 0, 20) == pytest.approx(1.0)  # head on: 30 nm closed at 30 kn
    assert rc.meet_hours(10 * kn, 0, 10, 0, 20) == pytest.approx(1.0)  # a chase: 10 nm closed at 10 kn
    assert rc.meet_hours(10 * kn, 0, 20, 0, 20) is None  # as fast, running away
    assert rc.meet_hours(10 * kn, 0, -20, 0, 20) == pytest.approx(0.25)  # as fast, coming: they close at 40 kn
    assert rc.meet_hours(10 * kn, 0, 30, 0, 20) is None  # faster, running away
    assert rc.meet_hours(0, 0, 5, 5, 20) == 0.0
    # a crossing vessel: the meeting point is the patrol's run and the vessel's track at the same time
    t = rc.meet_hours(50.0, 20.0, 0.0, -12.0, 15.0)
    assert t is not None
    x, y = 50.0, 20.0 - 12.0 * kn * t
    assert math.hypot(x, y) == pytest.approx(15.0 * kn * t)
    # a faster vessel crossing ahead can still be met, at the earlier of the two roots
    t = rc.meet_hours(20.0, 20.0, -25.0, 0.0, 20.0)
    assert t is not None and math.hypot(20.0 - 25 * kn * t, 20.0) == pytest.approx(20 * kn * t)


meetings = st.tuples(
    st.floats(-200, 200), st.floats(-200, 200), st.floats(-30, 30), st.floats(-30, 30), st.floats(1, 60)
)


def _agree(got: float | None, want: float | None, case: tuple[float, ...]) -> None:
    """The quadratic's time against brute force's (1e-3 h steps, then bisection); a graze (the vessel's track
    only touches the patrol's circle) may be seen by one and not the other: then the miss is within a step."""
    dx, dy, vx, vy, s = case
    if got is not None and want is not None:
        assert got == pytest.approx(want, abs=1e-6, rel=1e-6)
        return
    t = got if got is not None else want
    if t is None or t > 100.0:
        return
    short = math.hypot(dx + vx * rc.KM_PER_NM * t, dy + vy * rc.KM_PER_NM * t) - s * rc.KM_PER_NM * t
    assert abs(short) < 1e-3 * s * rc.KM_PER_NM, f"{case}: quadratic {got}, brute force {want}"


@settings(max_examples=300, deadline=None)
@given(meetings)
@example((-1.2e-87, 1.4e-45, 1.0, 0.0, 1.0))  # found by Hypothesis: one place, the quadratic said 1.6 s later
def test_meet_hours_equals_brute_force(case: tuple[float, float, float, float, float]) -> None:
    got = rc.meet_hours(*case)
    _agree(got if got is None or got <= 100.0 else None, ref.meet_hours(*case), case)


@settings(max_examples=100, deadline=None)
@given(st.lists(meetings, min_size=1, max_size=40))
def test_meet_hours_many_equals_one_by_one(cases: list[tuple[float, float, float, float, float]]) -> None:
    fixed = [(30 * rc.KM_PER_NM, 0, -10, 0, 20), (10 * rc.KM_PER_NM, 0, 20, 0, 20), (10 * rc.KM_PER_NM, 0, -20, 0, 20),
             (0, 0, 5, 5, 20), (20.0, 20.0, -25.0, 0.0, 20.0), (0, 5, 0, 0, 7)]  # fmt: skip
    for s in {c[4] for c in cases + fixed}:  # one patrol speed a call, as the service asks
        group = [c for c in cases + fixed if c[4] == s]
        dx, dy, vx, vy = (np.array([c[k] for c in group]) for k in range(4))
        many = rc.meet_hours_many(dx, dy, vx, vy, s)
        one = [rc.meet_hours(*c) for c in group]
        assert np.allclose(many, [np.nan if t is None else t for t in one], rtol=1e-9, atol=1e-12, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 300), st.floats(0, 200), st.floats(1, 60), st.floats(0, 40), st.floats(0, 2 * math.pi))
def test_meeting_a_stale_vessel_at_its_reach_equals_brute_force(gap: float, head: float, s: float, top: float,
                                                                 bearing: float) -> None:  # fmt: skip
    got = rc.meet_reach_hours(gap, head, s, top)
    want = ref.meet_hours(gap * math.sin(bearing), gap * math.cos(bearing), top, 0.0, s, head_km=head, horizon_h=200)
    assert want is not None and got == pytest.approx(want, abs=1e-6)


def test_local_plane_round_trip_and_the_short_way_round() -> None:
    east, north = rc.to_local_km(20.0, 179.9, 20.1, -179.9)
    assert east == pytest.approx(0.2 * rc.KM_PER_DEG * math.cos(math.radians(20.0))) and north > 0
    lat, lon = rc.from_local_km(20.0, 179.9, east, north)
    assert lat == pytest.approx(20.1) and lon == pytest.approx(-179.9)


def test_a_run_across_hainan_crosses_land_and_one_across_the_gulf_does_not(land: LandIndex) -> None:
    assert rc.run_crosses_land(land, 19.0, 108.4, 19.0, 111.2)
    assert not rc.run_crosses_land(land, 20.0, 107.5, 20.0, 108.0)
    assert not rc.run_crosses_land(land, 19.0, 108.4, 19.0, 108.41)  # shorter than the ends left out


# ---------------------------------------------------------------- the simulator's truth


def _inside(polys: list[list[list[list[float]]]], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points inside the MultiPolygon (inside an exterior ring and none of its holes): matplotlib's test, an
    independent one."""
    from matplotlib.path import Path as MPath

    pts = np.column_stack([lon, lat])
    out = np.zeros(len(pts), np.bool_)
    for poly in polys:
        hit = MPath(np.array(poly[0])).contains_points(pts)
        for hole in poly[1:]:
            hit &= ~MPath(np.array(hole)).contains_points(pts)
        out |= hit
    return out


def test_the_reach_holds_where_simulated_dark_vessels_truly_were_and_covers_no_land(land: LandIndex) -> None:
    """Issue 17's proof: every vessel the simulator switched dark (its truth, a day, seed 11), seen as the service
    sees it: the last fix heard before it went dark (the decoded feed), the speed from its ship type and reported
    speeds. Every quarter hour of its silence, its true position lies in the reach drawn for the time since that
    fix (in >= 99 % of cases; all of them now); and the reach covers no land but along the coast, where tracing
    the cells and simplifying by half a cell may take in a land cell next to water it reaches."""
    from engine.decode import decode_bytes
    from seawatch.simulator.config import SimConfig
    from seawatch.simulator.scenario import simulate

    sc = simulate(SimConfig(hours=24, seed=11))
    pos = decode_bytes(sc.feed, details=False).positions
    epoch = sc.cfg.start.timestamp()
    t_us = pl.col("t").dt.epoch("us")
    held, cases, spells = 0, 0, 0
    for v in sc.voyages:
        for start, stop in v.dark:
            heard = pos.filter((pl.col("mmsi") == v.vessel.mmsi) & (t_us < (epoch + start) * 1e6)).sort("t")
            if heard.height == 0:
                continue
            fix = heard.row(-1, named=True)
            t_fix = fix["t"].timestamp() - epoch
            sog = heard.filter(t_us >= (fix["t"].timestamp() - 72 * 3600) * 1e6)["sog"].to_numpy()
            speed, _ = rc.top_speed(v.vessel.ship_type, sog)
            end = min(stop, sc.cfg.seconds)
            spells += 1
            # one grid for the whole silence; the reach at each time is its cells within that time's distance
            whole = rc.reach(land, fix["lat"], fix["lon"], (end - t_fix) / 3600, speed)
            for t in np.arange(start, end, 900.0):
                at = rc.Reach(whole.lat, whole.lon, whole.km, speed * rc.KM_PER_NM * (t - t_fix) / 3600, whole.cell_km)
                lat, lon = v.track.at(t)
                held += bool(_inside(rc.reach_polygons(at), np.array([lon]), np.array([lat]))[0])
                cases += 1
            grid_lat, grid_lon = np.meshgrid(whole.lat, whole.lon, indexing="ij")
            on_land = land.is_land(grid_lat, grid_lon)
            near_fix = np.hypot(grid_lat - fix["lat"], (grid_lon - fix["lon"]) * math.cos(math.radians(fix["lat"])))
            covered = on_land & ~(near_fix * rc.KM_PER_DEG <= rc.LEAVE_PORT_KM)
            covered[covered] = _inside(rc.reach_polygons(whole), grid_lon[covered], grid_lat[covered])
            beside_water = np.zeros_like(covered)
            for di, dj in [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]:
                beside_water |= np.roll(whole.reachable, (di, dj), axis=(0, 1))
            assert (covered <= beside_water).all()
            assert covered.sum() < 0.005 * whole.reachable.sum()
    assert spells >= 4 and cases >= 80
    assert held >= 0.99 * cases, f"{cases - held} of {cases} true positions outside the reach"
