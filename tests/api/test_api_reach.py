"""Where a vessel can be now and which risky vessels a patrol can meet, through the real app and store: the reach's
GeoJSON and the speed it is drawn at, the intercept list (on course, by reach when stale), and what is refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.store import Store
from engine.geo import reach as rc
from tests.api.helpers import auth, vessels_frame

V1 = "/api/v1"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # the feed's clock; tracks within retention
PATROL = (20.0, 107.5)  # mid Gulf of Tonkin
TANKER, FAST, FAR, LOW, NOWHERE = 574000004, 574000005, 574000006, 574000001, 574000002


def fill(store: Store) -> None:
    """The high tanker heading west at 10 kn towards the patrol, heard now; the critical fishing boat heard 3 h
    ago at 25 kn to the south; a critical one off the Spratlys; a low one next to the patrol; one without any
    position."""
    last = {TANKER: NOW, FAST: NOW - timedelta(hours=3), FAR: NOW - timedelta(hours=1), LOW: NOW}
    frame = vessels_frame(6).with_columns(
        pl.col("mmsi").replace_strict(last, default=NOW - timedelta(days=1), return_dtype=pl.Datetime("us", "UTC"))
        .alias("last_seen"),
        pl.when(pl.col("mmsi") == NOWHERE).then(None).otherwise(pl.col("lat")).alias("lat"),
        pl.when(pl.col("mmsi") == NOWHERE).then(None).otherwise(pl.col("lon")).alias("lon"),
        pl.when(pl.col("mmsi") == FAST).then(30).otherwise(pl.col("ship_type")).alias("ship_type"),
    )  # fmt: skip
    store.upsert_vessels(frame)
    rows = [(TANKER, NOW - timedelta(minutes=10 * k), 20.0, 108.0 + 0.05 * k, 10.0, 270.0) for k in range(4)]
    rows += [(FAST, NOW - timedelta(hours=3, minutes=10 * k), 18.5 - 0.07 * k, 107.5, 25.0, 0.0) for k in range(6)]
    rows += [(FAR, NOW - timedelta(hours=1), 10.0, 115.0, 8.0, 45.0), (LOW, NOW, 20.0, 107.55, 5.0, 0.0)]
    columns = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
               "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    store.add_track(pl.DataFrame(rows, schema=columns, orient="row"))


@pytest.fixture
def viewer(client: TestClient, keys: dict[str, str]) -> dict[str, str]:
    fill(client.app.state.store)  # type: ignore[attr-defined]
    return auth(keys["viewer"])


def test_reach_of_a_tanker_at_its_class_speed(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(f"{V1}/vessels/{TANKER}/reach", params={"hours": 2}, headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    reach, fix = r.json()["features"]
    assert reach["geometry"]["type"] == "MultiPolygon" and reach["geometry"]["coordinates"]
    p = reach["properties"]
    assert p["kind"] == "reach" and p["hours"] == 2 and p["speed_kn"] == 16.0 and "tanker" in p["speed_why"]
    assert "reach 10.0 kn" in p["speed_why"] and p["radius_km"] == pytest.approx(2 * 16 * 1.852, abs=1e-3)
    assert datetime.fromisoformat(p["at"]) == NOW + timedelta(hours=2)
    assert 0.9 < p["area_km2"] / (math.pi * p["radius_km"] ** 2) <= 1.0  # open water in the middle of the Gulf
    assert fix["geometry"]["coordinates"] == [108.0, 20.0] and fix["properties"]["t"] == NOW.isoformat()


def test_reach_at_the_vessels_own_speed_when_above_its_class(client: TestClient, viewer: dict[str, str]) -> None:
    reach = client.get(f"{V1}/vessels/{FAST}/reach", params={"hours": 1}, headers=viewer).json()["features"][0]
    p = reach["properties"]
    assert p["speed_kn"] == 25.0 and p["speed_why"].startswith("its own top speed: 25.0 kn")
    assert "fishing" in p["speed_why"]


def test_reach_refusals(client: TestClient, viewer: dict[str, str]) -> None:
    assert client.get(f"{V1}/vessels/999/reach", headers=viewer).status_code == 404
    r = client.get(f"{V1}/vessels/{NOWHERE}/reach", headers=viewer)
    assert r.status_code == 404 and "no position" in r.json()["detail"]
    for hours in (0, -1, 49):
        assert client.get(f"{V1}/vessels/{TANKER}/reach", params={"hours": hours}, headers=viewer).status_code == 422


def test_intercept_lists_the_risky_vessels_a_patrol_can_meet_earliest_first(
    client: TestClient, viewer: dict[str, str]
) -> None:
    params = {"from": f"{PATROL[0]},{PATROL[1]}", "speed_kn": 20, "within_h": 3}
    r = client.get(f"{V1}/intercept", params=params, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["start_at"]) == NOW and body["out_of_reach"] == 1  # FAR; LOW is not risky
    fast, tanker = body["items"]  # the fast boat is met first
    # the tanker, heard now, met head on: 0.5 degrees of longitude closed at 20 + 10 kn
    gap_km = rc.to_local_km(*PATROL, 20.0, 108.0)[0]
    assert tanker["mmsi"] == TANKER and tanker["model"] == "course"
    assert tanker["meet_hours"] == pytest.approx(gap_km / (30 * 1.852), abs=1e-3)
    assert tanker["patrol_km"] == pytest.approx(20 * 1.852 * tanker["meet_hours"], rel=1e-3)
    assert tanker["meet_lat"] == pytest.approx(20.0, abs=1e-4) and not tanker["crosses_land"]
    assert datetime.fromisoformat(tanker["meet_at"]) - NOW == pytest.approx(timedelta(hours=tanker["meet_hours"]),
                                                                          abs=timedelta(seconds=4))  # fmt: skip
    # the fast boat, heard 3 h before: met at the nearest edge of where 25 kn for 3 h can have taken it
    north_km = -rc.to_local_km(*PATROL, 18.5, 107.5)[1]
    want = (north_km - 25 * 1.852 * 3) / ((20 + 25) * 1.852)
    assert fast["mmsi"] == FAST and fast["model"] == "reach" and "heard 3.0 h before" in fast["why"]
    assert fast["meet_hours"] == pytest.approx(want, abs=1e-3) and fast["meet_lat"] < PATROL[0]
    assert fast["meet_hours"] < tanker["meet_hours"] <= 3


def test_a_stale_vessel_the_patrol_starts_inside_the_reach_of_is_met_at_once(
    client: TestClient, viewer: dict[str, str]
) -> None:
    params = {"from": "18.9,107.5", "speed_kn": 20, "within_h": 1, "dead_reckon_h": 0.5}
    items = {t["mmsi"]: t for t in client.get(f"{V1}/intercept", params=params, headers=viewer).json()["items"]}
    assert items[FAST]["meet_hours"] == 0 and items[FAST]["patrol_km"] == 0


def test_intercept_refusals(client: TestClient, viewer: dict[str, str]) -> None:
    base = {"from": "20,107.5", "speed_kn": 20, "within_h": 3}
    for bad in ({"from": "abc"}, {"from": "95,0"}, {"from": "1,2,3"}, {"speed_kn": 0}, {"within_h": 100}):
        assert client.get(f"{V1}/intercept", params=base | bad, headers=viewer).status_code == 422, bad


def test_defaults_are_settings_from_the_environment_and_the_query_overrides_them(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import create_app
    from api.keys import create_key
    from api.settings import Settings

    env = {"REACH_HOURS": "2", "DEAD_RECKON_H": "0.5", "PATROL_SPEED_KN": "20", "PATROL_WITHIN_H": "1"}
    for name, value in env.items():
        monkeypatch.setenv(f"SEAWATCH_{name}", value)
    with TestClient(create_app(Settings(environment="production", database_url=db_url))) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        fill(store)
        viewer = auth(create_key(store, "viewer on duty", "viewer"))
        reach = client.get(f"{V1}/vessels/{TANKER}/reach", headers=viewer).json()["features"][0]["properties"]
        assert reach["hours"] == 2 and reach["radius_km"] == pytest.approx(2 * 16 * 1.852, abs=1e-3)
        asked = client.get(f"{V1}/vessels/{TANKER}/reach", params={"hours": 1}, headers=viewer).json()
        assert asked["features"][0]["properties"]["hours"] == 1
        body = client.get(f"{V1}/intercept", params={"from": "18.9,107.5"}, headers=viewer).json()
        assert (body["speed_kn"], body["within_h"]) == (20, 1)
        fast = {t["mmsi"]: t for t in body["items"]}[FAST]  # heard 3 h before: past 0.5 h, met by its reach
        assert fast["model"] == "reach" and fast["meet_hours"] == 0
        # within 4 h: on its course, 25 kn north, 3 h on past the start: a chase closing at 35 kn
        params = {"from": "18.9,107.5", "dead_reckon_h": 4, "speed_kn": 60, "within_h": 2}
        body = client.get(f"{V1}/intercept", params=params, headers=viewer).json()
        assert (body["speed_kn"], body["within_h"]) == (60, 2)
        assert {t["mmsi"]: t for t in body["items"]}[FAST]["model"] == "course"


def test_top_speeds_of_many_vessels_at_once_equal_each_vessels_own(store: Store) -> None:
    """The intercept reads every stale vessel's reported speeds in one query and takes their quantile in polars:
    the same speeds and words as rc.top_speed over each vessel's own track, glitches (over 50 kn), points outside
    its 72 h and vessels without a track included."""
    from api.routes.reach import OWN_SPEED_HOURS, last_fix, top_speeds

    rng = np.random.default_rng(5)
    frame = vessels_frame(20).with_columns(
        pl.Series("ship_type", [(30, 80, 70, 37, None)[i % 5] for i in range(20)], pl.Int64),
        pl.lit(NOW).alias("last_seen"),
    )
    store.upsert_vessels(frame)
    rows = []
    for i, mmsi in enumerate(frame["mmsi"][:16]):  # the last four have no track
        for k in range(int(rng.integers(1, 40))):
            sog = float(rng.choice([rng.uniform(0, 14), rng.uniform(14, 35), 80.0]))  # 80: a glitch
            rows.append((mmsi, NOW - timedelta(hours=i, minutes=97 * k), 20.0, 107.0, sog, 90.0))
    columns = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
               "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    store.add_track(pl.DataFrame(rows, schema=columns, orient="row"))
    vessels = [store.vessel(m) for m in frame["mmsi"]]
    fixes = store.latest_fixes(frame["mmsi"].to_list())
    pairs = [(v, fix) for v in vessels if v is not None and (fix := last_fix(store, v["mmsi"], v, fixes))]
    got = top_speeds(store, pairs)
    for v, fix in pairs:
        track = store.track(v["mmsi"], fix.t - timedelta(hours=OWN_SPEED_HOURS), fix.t)
        sog = np.array([p["sog"] for p in track if p["sog"] is not None], np.float64)
        want = rc.top_speed(v["ship_type"], sog)
        assert got[v["mmsi"]][0] == pytest.approx(want[0], rel=1e-12) and got[v["mmsi"]][1] == want[1]
    assert len(got) == 20 and any("its own top speed" in why for _, why in got.values())


def test_intercept_times_equal_brute_force_over_random_vessels(client: TestClient, keys: dict[str, str]) -> None:
    """The route's meeting times against tests/reference.py's brute force (time steps, then bisection), from each
    vessel's stored fix seen from the patrol's start: on course when heard within dead_reckon_h (where it is when
    the patrol leaves, then its course), else at its reach (its top speed, from its fix's age on)."""
    from tests import reference as ref

    store: Store = client.app.state.store  # type: ignore[attr-defined]
    rng = np.random.default_rng(17)
    n = 30
    frame = vessels_frame(n).with_columns(
        pl.lit("critical").alias("band"),
        pl.Series("ship_type", [(30, 80, 70)[i % 3] for i in range(n)], pl.Int64),
        pl.Series(
            "last_seen", [NOW - timedelta(hours=float(h)) for h in rng.uniform(0, 4, n)], pl.Datetime("us", "UTC")
        ),  # fmt: skip
    )
    store.upsert_vessels(frame)
    lat = PATROL[0] + rng.uniform(-1.2, 1.2, n)
    lon = PATROL[1] + rng.uniform(-1.2, 1.2, n)
    sog, cog = rng.uniform(0, 18, n), rng.uniform(0, 360, n)
    columns = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
               "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    rows = [(m, t, lat[i], lon[i], sog[i], cog[i]) for i, (m, t) in enumerate(frame.select("mmsi", "last_seen").rows())]
    store.add_track(pl.DataFrame(rows, schema=columns, orient="row"))
    params = {"from": f"{PATROL[0]},{PATROL[1]}", "speed_kn": 22, "within_h": 72, "dead_reckon_h": 2}
    body = client.get(f"{V1}/intercept", params=params, headers=auth(keys["viewer"])).json()
    start = datetime.fromisoformat(body["start_at"])
    checked = {"course": 0, "reach": 0}
    for item in body["items"]:
        i = item["mmsi"] - frame["mmsi"][0]
        age_h = (start - datetime.fromisoformat(item["last_fix"]["t"])).total_seconds() / 3600
        east, north = rc.to_local_km(*PATROL, lat[i], lon[i])
        if item["model"] == "course":
            assert age_h <= 2
            vx, vy = sog[i] * math.sin(math.radians(cog[i])), sog[i] * math.cos(math.radians(cog[i]))
            east, north = east + vx * rc.KM_PER_NM * age_h, north + vy * rc.KM_PER_NM * age_h
            want = ref.meet_hours(east, north, vx, vy, 22.0, horizon_h=80)
        else:
            assert age_h > 2
            top, _ = rc.top_speed(int(frame["ship_type"][i]), np.array([sog[i]]))
            want = ref.meet_hours(east, north, top, 0.0, 22.0, head_km=top * rc.KM_PER_NM * age_h, horizon_h=80)
        assert want is not None and item["meet_hours"] == pytest.approx(want, abs=2e-3), item
        checked[item["model"]] += 1
    assert checked["course"] >= 5 and checked["reach"] >= 5 and len(body["items"]) + body["out_of_reach"] == n


def test_fleet_reach_draws_each_vessel_as_the_single_reach_at_the_fleet_resolution(
    client: TestClient, viewer: dict[str, str]
) -> None:
    from engine.geo import fleet_reach as fr
    from engine.geo.land import LandIndex

    r = client.get(f"{V1}/reach", params={"mmsi": [FAST, NOWHERE, TANKER, 999], "hours": 3}, headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert [f["properties"]["mmsi"] for f in body["features"]] == [FAST, TANKER]  # in the order asked
    assert body["missing"] == [NOWHERE, 999]
    land = LandIndex.load()
    for feature, (lat, lon) in zip(body["features"], [(18.5, 107.5), (20.0, 108.0)], strict=True):
        p = feature["properties"]
        one = client.get(f"{V1}/vessels/{p['mmsi']}/reach", params={"hours": 3}, headers=viewer).json()["features"][0]
        assert p["speed_kn"] == one["properties"]["speed_kn"] and p["speed_why"] == one["properties"]["speed_why"]
        assert "16 cells" in p["method"] and p["at"] == one["properties"]["at"]
        want = rc.reach(land, lat, lon, 3, p["speed_kn"], cells_per_radius=fr.FLEET_CELLS_PER_RADIUS)
        assert feature["geometry"] == rc.reach_feature(want, {})["geometry"]
        assert p["area_km2"] == pytest.approx(one["properties"]["area_km2"], rel=0.1)  # the same sea, coarser


def test_fleet_reach_refusals(client: TestClient, viewer: dict[str, str]) -> None:
    assert client.get(f"{V1}/reach", headers=viewer).status_code == 422  # no vessel asked
    assert client.get(f"{V1}/reach", params={"mmsi": list(range(1, 201))}, headers=viewer).status_code == 200
    many = {"mmsi": list(range(1, 202))}
    assert client.get(f"{V1}/reach", params=many, headers=viewer).status_code == 422
    assert client.get(f"{V1}/reach", params={"mmsi": TANKER, "hours": 49}, headers=viewer).status_code == 422
    for bad in (-1, 10**12, "x"):
        assert client.get(f"{V1}/reach", params={"mmsi": [TANKER, bad]}, headers=viewer).status_code == 422
    assert client.get(f"{V1}/reach", params={"mmsi": TANKER}).status_code == 401
    empty = client.get(f"{V1}/reach", params={"mmsi": 999}, headers=viewer).json()
    assert empty["features"] == [] and empty["missing"] == [999]


def test_all_meeting_times_at_once_equal_each_vessels_own() -> None:
    """The intercept route's numpy pass (meet_hours_all), which picks the vessels to answer for, against _meet
    vessel by vessel over random fixes: on course, stale, without a course or a speed, at rest, outrunning the
    patrol (inf and None), glitches above the impossible speed; and within_h cut at a time _meet rounds."""
    from api.routes.reach import _meet, meet_hours_all
    from api.schemas import TrackPoint
    from engine.geo.land import LandIndex

    rng = np.random.default_rng(23)
    n = 400
    located, tops = [], {}
    for i in range(n):
        sog = None if i % 11 == 0 else float(rng.choice([0.2, rng.uniform(0, 40), 60.0]))
        cog = None if i % 7 == 0 else float(rng.uniform(0, 360))
        t = NOW - timedelta(hours=float(rng.uniform(-0.1, 5)))  # a few heard after the feed's clock
        fix = TrackPoint(t=t, lat=PATROL[0] + rng.uniform(-2, 2), lon=PATROL[1] + rng.uniform(-2, 2), sog=sog, cog=cog)
        located.append(({"mmsi": i, "ship_type": 30, "band": "high", "score": 80.0}, fix))
        tops[i] = (float(rng.choice([12.0, 30.0, 45.0])), "a class")
    got = meet_hours_all(located, tops, *PATROL, 24.0, NOW, 2.0)
    land = LandIndex.load()
    for k, (v, fix) in enumerate(located):
        one = _meet(land, v, fix, *PATROL, 24.0, NOW, 2.0, tops[k])
        if one is None:
            assert got[k] == np.inf
        else:
            assert got[k] == pytest.approx(one.meet_hours, abs=5e-4)  # _meet's answer is rounded to 0.001 h
    assert np.isinf(got).sum() >= 10 and np.isfinite(got).sum() >= 200
    assert meet_hours_all([], {}, *PATROL, 24.0, NOW, 2.0).shape == (0,)


def test_latest_fixes_with_shared_report_times_and_a_changed_track_interval(store: Store, db_url: str) -> None:
    """Each vessel's newest stored point, as its track says, when all vessels report at the same times (the read
    by the primary key) and when the track interval changed between writes, so that a vessel's newest thinning
    bucket holds an older point (read again by its time)."""
    columns = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
               "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    rows = [(1000 + i, NOW - timedelta(minutes=10 * k), 20.0 + i / 100, 107.0 + k / 100, float(k), 90.0)
            for i in range(300) for k in range(4)]  # fmt: skip
    store.add_track(pl.DataFrame(rows, schema=columns, orient="row"))
    hourly = Store(db_url, track_interval_s=3600)
    minutely = Store(db_url, track_interval_s=60)
    try:
        hourly.add_track(pl.DataFrame([(7, NOW - timedelta(hours=2), 19.0, 106.0, 3.0, 10.0)], columns, orient="row"))
        minutely.add_track(pl.DataFrame([(7, NOW - timedelta(hours=3), 18.0, 105.0, 4.0, 20.0)], columns, orient="row"))
    finally:
        hourly.close()
        minutely.close()
    got = store.latest_fixes([7, 999, *range(1000, 1300)])
    assert set(got) == {7, *range(1000, 1300)}  # 999 has no track
    for m in [7, 1000, 1123, 1299]:
        newest = store.track(m, NOW - timedelta(days=1), NOW)[-1]
        assert {k: got[m][k] for k in newest} == newest
    assert got[7]["t"] == NOW - timedelta(hours=2) and got[7]["lat"] == 19.0
    assert got[1123]["t"] == NOW and got[1123]["lat"] == pytest.approx(21.23) and got[1123]["sog"] == 0.0


def test_no_reach_is_drawn_beyond_85_degrees(client: TestClient, viewer: dict[str, str]) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    columns = {"mmsi": pl.Int64, "t": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64,
               "sog": pl.Float64, "cog": pl.Float64}  # fmt: skip
    store.add_track(pl.DataFrame([(LOW, NOW + timedelta(minutes=1), 86.0, 10.0, 5.0, 0.0)], columns, orient="row"))
    r = client.get(f"{V1}/vessels/{LOW}/reach", headers=viewer)
    assert r.status_code == 422 and "85 degrees" in r.text
    body = client.get(f"{V1}/reach", params={"mmsi": [LOW, TANKER]}, headers=viewer).json()
    assert body["missing"] == [LOW] and [f["properties"]["mmsi"] for f in body["features"]] == [TANKER]
