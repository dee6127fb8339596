"""Land positions and zone entries: behaviour on made-up tracks, and the episode kernel against its reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.geography import LandPosition, ZoneEntry, runs_kernel
from engine.fixes import NO_TIME
from engine.geo.regions import load_pack
from engine.geo.shapes import Polygons
from tests import reference as ref
from tests.engine.detectors.tracks import alerts, land, line, track

HANOI = (21.0285, 105.8542)


def test_stuck_inland_is_one_episode_and_a_stray_fix_is_not() -> None:
    t = np.arange(0, 3600, 60.0)
    lat, lon = line(t, 19.3, 107.5, 12.0, 0.0)
    inland = (t >= 600) & (t < 1800)
    lat[inland], lon[inland] = HANOI
    lat2, lon2 = line(t, 19.0, 107.5, 12.0, 0.0)
    lat2[10], lon2[10] = HANOI  # one stray fix
    got = alerts([LandPosition(land())], track(412000020, t, lat, lon), track(412000021, t, lat2, lon2))
    assert got["mmsi"].to_list() == [412000020]
    row = got.row(0, named=True)
    assert (row["start"].timestamp() - 1_717_200_000, row["end"].timestamp() - 1_717_200_000) == (600, 1740)
    assert row["reasons"][0].startswith("20 positions")


def test_entering_a_restricted_zone_of_the_pack() -> None:
    pack = load_pack("gulf-of-tonkin")
    t = np.arange(0, 4 * 3600, 60.0)
    lat, lon = line(t, 20.2, 106.9, 8.0, 90.0)  # eastwards through the firing range west of Bach Long Vi
    got = alerts([ZoneEntry(pack)], track(412000030, t, lat, lon, 8.0))
    assert got.height == 1
    assert "restricted zone Firing range" in got["reasons"][0][0]


def test_zones_as_polygons_across_the_antimeridian_and_nan() -> None:
    zone = Polygons.from_rings([[[(179.5, -1.0), (-179.5, -1.0), (-179.5, 1.0), (179.5, 1.0)]]], ["date line box"])
    t = np.arange(0, 3600, 60.0)
    lon = np.where(t < 1800, 179.0 + t / 1800 * 0.9, -179.9)
    lat = np.zeros(t.size)
    lat[5] = np.nan
    got = alerts([ZoneEntry(zone, ("date line box",), ("watch",))], track(412000031, t, lat, lon))
    assert got.height == 1 and "watch zone date line box" in got["reasons"][0][0]


@st.composite
def keyed_rows(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    n = draw(st.integers(1, 50))
    vid = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    dt = draw(st.lists(st.sampled_from([0, 30, 600, 1200, 3600]), min_size=n, max_size=n))
    key = draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n))
    return list(zip(vid, (np.cumsum(dt) * 1_000_000).tolist(), key, strict=True))


@settings(max_examples=200, deadline=None)
@given(keyed_rows(), st.integers(1, 3), st.booleans())
def test_runs_kernel_matches_reference(rows: list[tuple[int, int, int]], min_fixes: int, silence: bool) -> None:
    rejoin = 900 * 1_000_000
    want = ref.key_runs(rows, rejoin, min_fixes, silence)
    vid, t, key = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    start, count = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
    runs_kernel(vid, t, key, rejoin, min_fixes, np.full((3, 2), NO_TIME), np.full((3, 2), -1), start, count,
                silence, np.zeros(3, np.int64))  # fmt: skip
    got = [None if s == NO_TIME else (s, c) for s, c in zip(start.tolist(), count.tolist(), strict=True)]
    assert got == want


def _box(lat0: float, lat1: float, lon0: float, lon1: float) -> Polygons:
    return Polygons.from_rings([[[(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)]]], ["box"])


def test_a_vessel_inside_when_first_heard_is_inside_not_entered() -> None:
    t = np.arange(0, 2 * 3600, 60.0)
    lat, lon = line(t, 20.05, 107.05, 0.5, 0.0)  # starts inside, creeps north
    lat2, lon2 = line(t, 19.8, 107.05, 8.0, 0.0)  # starts south of the box and sails in
    got = alerts([ZoneEntry(_box(20.0, 20.3, 107.0, 107.1), ("box",))], track(412000032, t, lat, lon, 0.5),
                 track(412000033, t, lat2, lon2, 8.0))  # fmt: skip
    said = {m: r[0] for m, r in zip(got["mmsi"].to_list(), got["reasons"].to_list(), strict=True)}
    assert said[412000032].startswith("inside restricted zone box when first heard")
    assert said[412000033].startswith("entered restricted zone box")


def test_lingering_at_a_zone_edge_is_one_visit() -> None:
    # in and out across the edge every 20 minutes for 6 hours: one visit; after 2 h away, a second one
    t = np.arange(0, 8 * 3600, 60.0)
    inside = ((t // 1200) % 2 == 0) & (t < 6 * 3600) | (t >= 8 * 3600 - 1800)
    lat = np.where(inside, 20.01, 19.99)
    lon = np.full(t.size, 107.05)
    lat[0] = 19.95  # first heard outside
    got = alerts([ZoneEntry(_box(20.0, 20.3, 107.0, 107.1), ("box",))], track(412000034, t, lat, lon, 0.3))
    assert got.height == 2
    assert all(r[0].startswith("entered") for r in got["reasons"].to_list())


def test_a_silence_inside_a_zone_does_not_end_the_visit() -> None:
    """Heard inside, unheard for 3 h (patchy reception offshore), heard inside again: one visit, nobody saw it
    leave. Heard outside in between and away for 2 h: a second visit."""
    t = np.concatenate([np.arange(0, 3600, 60.0), np.arange(4 * 3600, 5 * 3600, 60.0)])
    lat, lon = np.full(t.size, 20.1), np.full(t.size, 107.05)
    lat[0] = 19.95  # first heard outside: it entered
    zone = ZoneEntry(_box(20.0, 20.3, 107.0, 107.1), ("box",))
    got = alerts([zone], track(412000035, t, lat, lon, 0.3))
    assert got.height == 1
    assert got.row(0, named=True)["reasons"][1].startswith("inside 5.0 h")
    out = lat.copy()
    out[59] = 19.95  # its last fix before the silence was outside
    again = alerts([ZoneEntry(_box(20.0, 20.3, 107.0, 107.1), ("box",))], track(412000036, t, out, lon, 0.3))
    assert again.height == 2
