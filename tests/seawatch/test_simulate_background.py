"""The hard negatives of the simulator's background traffic: each class is present in a day, behaves as it does at
sea (pair trawlers 100-300 m apart at trawling speed, night fleets drifting 150-600 m apart, barges alongside,
pilot boats alongside, ferries pausing, SART self-tests with nav status 15, base stations and aids to navigation,
station outages of 1-6 h that silence the vessels only they hear, fading and class B loss), and carries no label.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from engine.geo.regions import haversine_km
from seawatch.simulator.config import SimConfig
from seawatch.simulator.reception import Coverage, receive
from seawatch.simulator.voyage import Voyage
from tests.seawatch.conftest import run

HARD = {"anchorage_crowd", "bunkering", "pilot", "pair_trawl", "night_drift", "sart_test"}


def plans(day) -> dict[str, list[Voyage]]:
    out: dict[str, list[Voyage]] = {}
    for v in day.scenario.voyages:
        out.setdefault(v.vessel.extra.get("plan", "injected"), []).append(v)
    return out


def positions(day) -> pl.DataFrame:
    return day.decoded.positions.with_columns(day.seconds_of().alias("s"))


def pairs(pos: pl.DataFrame, a: int, b: int, t0: float, t1: float, tolerance: float) -> np.ndarray:
    """Distances (km) between two vessels' reports at nearly the same time in [t0, t1]."""
    x = pos.filter((pl.col("mmsi") == a) & pl.col("s").is_between(t0, t1)).sort("s")
    y = pos.filter((pl.col("mmsi") == b) & pl.col("s").is_between(t0, t1)).sort("s")
    j = x.join_asof(y.select("s", pl.col("lat").alias("lat_b"), pl.col("lon").alias("lon_b")), on="s",
                    strategy="nearest", tolerance=tolerance).drop_nulls("lat_b")  # fmt: skip
    lat, lon = j["lat"].to_numpy(), j["lon"].to_numpy()
    return np.asarray(haversine_km(lat, lon, j["lat_b"].to_numpy(), j["lon_b"].to_numpy()))


def test_every_hard_negative_class_is_background_without_labels(day, tmp_path):
    got = plans(day)
    assert set(got) >= HARD, set(got)
    labelled = {lb.mmsi for lb in day.scenario.labels} | {lb.other_mmsi for lb in day.scenario.labels}
    for plan in HARD:
        for v in got[plan]:
            assert not v.vessel.injected and v.vessel.mmsi not in labelled, (plan, v.vessel)
    vessels = pl.read_csv(day.scenario.write(tmp_path)["vessels.csv"])
    rows = vessels.filter(pl.col("plan").is_in(sorted(HARD | {"base_station", "aton"})))
    assert set(rows["role"]) == {"background"} and set(rows["plan"]) == HARD | {"base_station", "aton"}
    assert not set(rows["mmsi"]) & labelled


def test_pair_trawlers_tow_together_100_to_300_m_apart_at_trawling_speed(day):
    pos, seen = positions(day), 0
    pts = plans(day)["pair_trawl"]
    assert len(pts) >= 4
    for lead, mate in zip(pts[::2], pts[1::2], strict=True):
        assert lead.vessel.ship_type == mate.vessel.ship_type == 30 and lead.vessel.extra["pair"] == mate.vessel.mmsi
        t = np.arange(0.0, day.scenario.cfg.seconds, 60.0)
        d = haversine_km(*lead.track.position(t), *mate.track.position(t))
        assert (d > 0.1).all() and (d < 0.3).all()
        towing = pos.filter((pl.col("mmsi") == lead.vessel.mmsi) & (pl.col("sog") >= 2.5))
        assert sum(b - a for a, b, mode, kn in lead.track.legs if mode == 0 and 2.5 <= kn <= 4.5) > 12 * 3600
        assert towing.height > 10 and towing["sog"].quantile(0.9) <= 4.7  # class B far out: heard now and then
        d_heard = pairs(pos.filter(pl.col("sog") >= 2.4), lead.vessel.mmsi, mate.vessel.mmsi, 0, 1e9, 5.0)
        if d_heard.size:
            seen += 1
            assert (d_heard > 0.08).all() and (d_heard < 0.33).all()  # GNSS noise and a few seconds between reports
    assert seen >= 1


def test_night_fleets_drift_slowly_150_to_600_m_apart_for_hours(day):
    pos, fleets = positions(day), {}
    for v in plans(day)["night_drift"]:
        fleets.setdefault(v.vessel.extra["fleet"], []).append(v)
    assert fleets
    for (_, t0, t1), boats in fleets.items():
        assert len(boats) >= 4 and 3 * 3600 <= t1 - t0 <= 6 * 3600
        local = (day.scenario.cfg.epoch + t0) / 3600 % 24 + 7
        assert 18 <= local % 24 <= 22  # they start at nightfall
        t = np.arange(t0, t1, 60.0)
        for a, b in itertools.combinations(boats, 2):
            d = haversine_km(*a.track.position(t), *b.track.position(t))
            assert (d >= 0.15).all() and (d <= 0.6).all()
        for boat in boats:
            assert boat.vessel.ship_type == 30
            heard = pos.filter((pl.col("mmsi") == boat.vessel.mmsi) & pl.col("s").is_between(t0 + 60, t1 - 60))
            assert (heard["sog"] < 1.0).all()


def test_anchorage_crowds_are_many_ships_at_anchor_close_together(day):
    pos = positions(day)
    crowd = plans(day)["anchorage_crowd"]
    assert len(crowd) >= 12
    lat = np.array([v.track.at(0.0)[0] for v in crowd])
    lon = np.array([v.track.at(0.0)[1] for v in crowd])
    d = haversine_km(lat[:, None], lon[:, None], lat[None], lon[None]) + np.eye(lat.shape[0]) * 1e9
    assert (d.min(axis=1) < 0.6).all() and (d.min(axis=1) > 0.15).all()  # neighbours a few hundred metres off
    heard = pos.filter(pl.col("mmsi").is_in([v.vessel.mmsi for v in crowd]))
    assert heard.height > 0 and (heard["nav_status"] == 1).all() and heard["sog"].quantile(0.99) < 0.5


def test_bunker_barges_lie_30_to_100_m_alongside_in_port_for_1_to_3_h(day):
    pos, world, checked = positions(day), day.scenario.world, 0
    for barge in plans(day)["bunkering"]:
        ship, t0, t1 = barge.vessel.extra["alongside"]
        assert 3600 <= t1 - t0 <= 3 * 3600
        lat, lon = barge.track.at((t0 + t1) / 2)
        assert world.port_gap_km(lat, lon)[0] < 3.0  # at an anchorage or a berth: not at sea
        d = pairs(pos, barge.vessel.mmsi, ship, t0 + 600, t1 - 300, 90.0)
        if d.size:
            checked += 1
            assert (d > 0.03).all() and (d < 0.1).all(), d
    assert checked >= 2


def test_pilot_boats_run_alongside_ships_at_the_boarding_area(day):
    pos, statics = positions(day), day.decoded.statics
    boats = plans(day)["pilot"]
    assert boats and {v.vessel.ship_type for v in boats} == {50}
    assert set(statics.filter(pl.col("mmsi").is_in([v.vessel.mmsi for v in boats]))["ship_type"]) == {50}
    merchants = [v for p in ("container", "cargo", "bulk", "tanker", "small_tanker") for v in plans(day).get(p, [])]
    met = 0
    for boat in boats:
        for ship in merchants:
            d = pairs(pos.filter(pl.col("sog") > 1.0), boat.vessel.mmsi, ship.vessel.mmsi, 0, 1e9, 10.0)
            met += bool((d < 0.1).sum() >= 2)
    assert met >= 2


def test_ferries_pause_at_sea_briefly(day):
    pos, world, stops = positions(day), day.scenario.world, 0
    for ferry in plans(day)["ferry"]:
        for t0, t1, mode, _ in ferry.track.legs:
            if mode != 3 or t1 < 0 or t0 > day.scenario.cfg.seconds:  # DRIFTING
                continue
            assert 5 * 60 - 1 <= t1 - t0 <= 20 * 60 + 1
            assert world.shore_distance_km(*ferry.track.at(t0))[0] > 1.0  # at sea, not at a pier
            w = pos.filter((pl.col("mmsi") == ferry.vessel.mmsi) & pl.col("s").is_between(t0 + 30, t1 - 30))
            assert (w["sog"] < 1.0).all()
            stops += w.height > 0
    assert stops >= 2


def test_sart_self_tests_send_a_few_reports_with_status_15_and_a_test_text(day):
    pos, events = positions(day), day.decoded.events
    tests = plans(day)["sart_test"]
    assert tests
    for v in tests:
        assert str(v.vessel.mmsi).startswith("970")
        w = pos.filter(pl.col("mmsi") == v.vessel.mmsi)
        assert 0 < w.height <= 15 and w["s"].max() - w["s"].min() <= 6 * 60
        assert (w["nav_status"] == 15).all()
        texts = events.filter((pl.col("mmsi") == v.vessel.mmsi) & (pl.col("msg_type") == 14))["text"].to_list()
        assert texts in ([], ["SART TEST"])
    distress = [lb.mmsi for lb in day.scenario.labels if lb.kind == "distress"]
    assert not {v.vessel.mmsi for v in tests} & set(distress)


def test_base_stations_and_aids_to_navigation_broadcast_from_shore_mmsis(day):
    events = day.decoded.events.with_columns(day.seconds_of().alias("s"))
    cov = day.scenario.world.coverage
    base = events.filter(pl.col("msg_type") == 4)
    assert base.height > 1000
    assert ((base["mmsi"] // 10_000).is_in([574, 412])).all()  # 00MIDxxxx (M.585): 7 digits as an integer
    aton = events.filter(pl.col("msg_type") == 21)
    assert aton.height > 100 and (aton["mmsi"] // 10_000_000 == 99).all() and (aton["aid_type"] == 29).all()
    for s, a, b in cov.outages:  # a base station's own receiver is down in its outage
        assert base.filter((pl.col("source") == cov.ids[s]) & pl.col("s").is_between(a, b - 1)).height == 0


@pytest.fixture(scope="module")
def outages():
    """Half a day with many outages (4 a station a day), so that some silence vessels only their station hears."""
    return run(SimConfig(hours=12, vessels=150, seed=7, outages_per_station_day=4.0))


def test_outages_last_1_to_6_h_and_silence_the_vessels_only_that_station_hears(outages):
    day = outages
    cov, cfg = day.scenario.world.coverage, day.scenario.cfg
    pos = positions(day)
    lengths = np.array([b - a for _, a, b in cov.outages]) / 3600
    assert lengths.size >= 2 and (lengths >= 1).all() and (lengths <= 6).all()
    silenced = went = 0

    def only(d: np.ndarray, s: int) -> np.ndarray:  # well inside station s's range and beyond every other's
        return (d[:, s] < 0.6 * cov.range_km[s]) & (np.delete(d / cov.range_km, s, axis=1) > 1).all(axis=1)

    for s, a, b in cov.outages:
        t = np.arange(max(a, 0) + 60, min(b, cfg.seconds) - 60, 120.0)
        for v in day.scenario.voyages if t.size else []:
            inside = only(cov.distances(*v.track.position(t)), s) & (t > v.track.start) & (t < v.track.end)
            if not inside.any():
                continue
            silenced += 1
            w = pos.filter((pl.col("mmsi") == v.vessel.mmsi) & pl.col("s").is_between(a, b))
            heard_at = w["s"].to_numpy()
            assert not only(cov.distances(*v.track.position(heard_at)), s).any(), (cov.ids[s], v.vessel.name)
            before = pos.filter((pl.col("mmsi") == v.vessel.mmsi) & pl.col("s").is_between(a - 3600, a))
            went += before.height > 0  # heard while the station worked, silent where only it hears in its outage
    assert silenced >= 3 and went >= 1


@pytest.mark.parametrize("class_b", [False, True])
def test_reception_fades_with_range_and_class_b_loses_about_30_percent(class_b):
    cfg = SimConfig()
    no_pass = np.array([[-2e9, -1e9]])
    cov = Coverage(("X", "SAT"), np.array([20.0]), np.array([107.0]), np.array([50.0]), [], no_pass)
    n = 20_000
    heard = []
    for km in (2.0, 15.0, 30.0, 40.0):
        lat = np.full(n, 20.0 + km / 111.195)
        got = receive(cov, cfg, np.zeros(n), lat, np.full(n, 107.0), np.full(n, class_b), np.random.default_rng(1))
        heard.append(float((got == 0).mean()))
    assert heard == sorted(heard, reverse=True) and heard[0] - heard[-1] > 0.3  # fading with distance
    near = cfg.station_p * (1 - (2.0 / 50.0 / (cfg.class_b_range if class_b else 1.0)) ** cfg.fade_exponent)
    expected = near * (1 - cfg.class_b_loss) if class_b else near
    assert abs(heard[0] - expected) < 0.015
