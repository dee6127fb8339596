"""The fleet's reach (engine/geo/fleet_reach.py): its bucket kernel against the slow reference and the single reach's
kernel (fixed and Hypothesis-generated grids), each vessel's reach against the single reach drawn at the same
resolution (random fixes round real land, near the pole's limit, across the antimeridian), threads changing
nothing, bad input refused, and the reach against the simulator's dark vessels' truth at the fleet's resolution."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings

from engine.geo import fleet_reach as fr
from engine.geo import reach as rc
from engine.geo.land import LandIndex
from tests import reference as ref
from tests.engine.geo.test_reach import Grid, _inside, grids


@pytest.fixture(scope="module")
def land() -> LandIndex:
    return LandIndex.load()


def assert_same(got: np.ndarray, want: np.ndarray, rtol: float = 1e-12) -> None:
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert np.allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=rtol, atol=1e-9)


@settings(max_examples=300, deadline=None)
@given(grids())
def test_bucket_kernel_equals_reference_and_the_heap_kernel_on_generated_grids(case: Grid) -> None:
    got = fr.water_km(*case)
    assert_same(got, ref.water_km(*case))
    assert_same(got, rc.water_km(*case))


def test_bucket_kernel_round_a_wall_in_open_water_and_from_land() -> None:
    ok = np.ones((41, 41), np.bool_)
    ok[5:36, 20] = False  # a wall: the far side is gone round its ends
    ok[20, 10] = False  # the start on land still leaves
    ew = np.cos(np.radians(np.linspace(40, 44, 41)))
    assert_same(fr.water_km(ok, 0.9, ew, 20, 10, 60.0), ref.water_km(ok, 0.9, ew, 20, 10, 60.0))
    assert_same(fr.water_km(ok, 0.9, ew, 20, 10, 60.0), rc.water_km(ok, 0.9, ew, 20, 10, 60.0))


def fixes(land: LandIndex, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixes at sea round Hainan and the Gulf of Tonkin, a few near the grid's latitude limit and across the
    antimeridian, and one on land (a river port)."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(17.0, 22.0, 50 * n), rng.uniform(105.5, 111.5, 50 * n)
    sea = land.coast_km(lat, lon) > 0
    lat, lon = lat[sea][: n - 5], lon[sea][: n - 5]
    return np.r_[lat, 84.5, -84.9, 10.0, -16.5, 21.03], np.r_[lon, 20.0, 150.0, 179.9, -179.95, 105.85]


@pytest.mark.parametrize(("cells", "n"), [(fr.FLEET_CELLS_PER_RADIUS, 60), (7, 60), (rc.CELLS_PER_RADIUS, 12)])
def test_each_vessel_is_the_single_reach_at_the_same_resolution(land: LandIndex, cells: int, n: int) -> None:
    """At the fleet's resolution, a coarser one, and the single reach's own (which its route draws this way)."""
    lat, lon = fixes(land, n, seed=cells)
    rng = np.random.default_rng(3)
    hours, speed = rng.uniform(0.0, 12.0, lat.size), rng.choice([0.0, 8.0, 12.0, 20.0, 30.0], lat.size)
    fleet = fr.fleet_reach(land, lat, lon, hours, speed, cells_per_radius=cells)
    assert len(fleet) == lat.size
    for k in range(lat.size):
        want = rc.reach(land, lat[k], lon[k], hours[k], speed[k], cells_per_radius=cells)
        got = fleet.one(k)
        assert np.allclose(got.lat, want.lat, rtol=0, atol=1e-9) and np.allclose(got.lon, want.lon, rtol=0, atol=1e-9)
        assert got.radius_km == pytest.approx(want.radius_km) and got.cell_km == pytest.approx(want.cell_km)
        assert_same(got.km, want.km)
        assert np.array_equal(got.reachable, want.reachable)


def test_threads_change_nothing_and_one_speed_serves_all(land: LandIndex) -> None:
    lat, lon = fixes(land, 80, seed=5)
    one = fr.fleet_reach(land, lat, lon, 6.0, 16.0, threads=1)
    two = fr.fleet_reach(land, lat, lon, np.full(lat.size, 6.0), np.full(lat.size, 16.0), threads=2)
    assert np.array_equal(one.km, two.km) and np.array_equal(one.offset, two.offset)


def test_bad_input_is_refused_with_the_fix(land: LandIndex) -> None:
    with pytest.raises(ValueError, match=r"vessel 1: \(89.0, 0.0\).*within \+-85"):
        fr.fleet_reach(land, np.array([10.0, 89.0]), np.array([0.0, 0.0]), 6.0, 12.0)
    with pytest.raises(ValueError, match="vessel 0.*finite"):
        fr.fleet_reach(land, np.array([np.nan]), np.array([0.0]), 6.0, 12.0)
    with pytest.raises(ValueError, match="one per vessel"):
        fr.fleet_reach(land, np.array([10.0, 11.0]), np.array([0.0]), 6.0, 12.0)
    with pytest.raises(ValueError, match="not negative"):
        fr.fleet_reach(land, np.array([10.0]), np.array([0.0]), -1.0, 12.0)
    with pytest.raises(ValueError, match="positive"):
        fr.water_km(np.ones((3, 3), np.bool_), 0.0, np.ones(3), 0, 0, 1.0)
    empty = fr.fleet_reach(land, np.array([]), np.array([]), 6.0, 12.0)
    assert len(empty) == 0 and empty.km.size == 0


def test_the_fleet_reach_holds_where_simulated_dark_vessels_truly_were_and_covers_no_land(land: LandIndex) -> None:
    """Issue 17's proof (tests/engine/geo/test_reach.py) at the fleet's coarser resolution, every spell's reach in
    one call: the true position lies in the reach drawn for the time since the last fix heard in >= 99 % of the
    quarter hours, and the reach covers no land but the coast cells next to the water it reaches (at a coarser
    grid the coast's cells are larger: up to 3 % of the reach, against 0.5 % at the single reach's)."""
    from engine.decode import decode_bytes
    from seawatch.simulator.config import SimConfig
    from seawatch.simulator.scenario import simulate

    sc = simulate(SimConfig(hours=24, seed=11))
    pos = decode_bytes(sc.feed, details=False).positions
    epoch = sc.cfg.start.timestamp()
    t_us = pl.col("t").dt.epoch("us")
    spells = []
    for v in sc.voyages:
        for start, stop in v.dark:
            heard = pos.filter((pl.col("mmsi") == v.vessel.mmsi) & (t_us < (epoch + start) * 1e6)).sort("t")
            if heard.height == 0:
                continue
            fix = heard.row(-1, named=True)
            sog = heard.filter(t_us >= (fix["t"].timestamp() - 72 * 3600) * 1e6)["sog"].to_numpy()
            speed, _ = rc.top_speed(v.vessel.ship_type, sog)
            spells.append((v, start, min(stop, sc.cfg.seconds), fix, fix["t"].timestamp() - epoch, speed))
    lat = np.array([s[3]["lat"] for s in spells])
    lon = np.array([s[3]["lon"] for s in spells])
    hours = np.array([(end - t_fix) / 3600 for _, _, end, _, t_fix, _ in spells])
    fleet = fr.fleet_reach(land, lat, lon, hours, np.array([s[5] for s in spells]))
    held, cases = 0, 0
    for k, (v, start, end, fix, t_fix, speed) in enumerate(spells):
        whole = fleet.one(k)
        for t in np.arange(start, end, 900.0):
            at = rc.Reach(whole.lat, whole.lon, whole.km, speed * rc.KM_PER_NM * (t - t_fix) / 3600, whole.cell_km)
            tlat, tlon = v.track.at(t)
            held += bool(_inside(rc.reach_polygons(at), np.array([tlon]), np.array([tlat]))[0])
            cases += 1
        grid_lat, grid_lon = np.meshgrid(whole.lat, whole.lon, indexing="ij")
        near_fix = np.hypot(grid_lat - fix["lat"], (grid_lon - fix["lon"]) * math.cos(math.radians(fix["lat"])))
        covered = land.is_land(grid_lat, grid_lon) & ~(near_fix * rc.KM_PER_DEG <= rc.LEAVE_PORT_KM)
        covered[covered] = _inside(rc.reach_polygons(whole), grid_lon[covered], grid_lat[covered])
        beside_water = np.zeros_like(covered)
        for di, dj in [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]:
            beside_water |= np.roll(whole.reachable, (di, dj), axis=(0, 1))
        assert (covered <= beside_water).all()
        assert covered.sum() <= 0.03 * whole.reachable.sum()
    assert len(spells) >= 4 and cases >= 80
    assert held >= 0.99 * cases, f"{cases - held} of {cases} true positions outside the reach"
