"""Spoofing and loitering: behaviour on made-up tracks, and the loitering kernel against its reference."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.decode import decode_bytes
from engine.detectors.loitering import COMPANIONS, PREV_COLS, RUN_COLS, close_pairs_in_time, company_at
from engine.detectors.motion import NOISE_KM, Loitering, LoiteringSettings, Spoofing, loitering_kernel
from engine.fixes import NO_TIME
from engine.geo.regions import load_pack
from engine.runner import Detector, Engine
from tests import reference as ref
from tests.engine.detectors.tracks import T0, alerts, land, line, track

OPEN_SEA = (19.3, 107.5)  # mid-gulf, > 60 km from any shore


def test_spoofed_spell_is_one_alert_from_jump_to_return() -> None:
    t = np.arange(0, 4 * 3600, 60.0)
    lat, lon = line(t, *OPEN_SEA, 12.0, 45.0)
    spoofed = (t >= 3600) & (t < 5400)
    lat[spoofed], lon[spoofed] = 20.5 + 0.001 * np.arange(spoofed.sum()) % 0.01, 108.6
    got = alerts([Spoofing()], track(412000001, t, lat, lon, 12.0))
    assert got.height == 1
    row = got.row(0, named=True)
    assert row["kind"] == "spoofing" and row["mmsi"] == 412000001
    assert (row["start"].timestamp() - 1_717_200_000, row["end"].timestamp() - 1_717_200_000) == (3600, 5400)
    assert "jumped" in row["reasons"][0] and "kn implied" in row["reasons"][0]


def test_steady_sailing_and_one_ping_raise_nothing() -> None:
    t = np.arange(0, 3 * 3600, 30.0)
    lat, lon = line(t, *OPEN_SEA, 25.0, 300.0)
    one = track(412000003, [0.0], [19.0], [107.0])
    assert alerts([Spoofing()], track(412000002, t, lat, lon, 25.0), one).height == 0


def test_two_transmitters_on_one_mmsi_alert_once_not_every_swap() -> None:
    t = np.arange(0, 3 * 3600, 60.0)
    lat, lon = line(t, *OPEN_SEA, 10.0, 0.0)
    lat[1::2] += 1.0  # every other report from a vessel 110 km north
    assert alerts([Spoofing()], track(412000004, t, lat, lon, 10.0)).height == 1


def loiterer(mmsi: int, hours: float, kn: float) -> pl.DataFrame:
    t = np.arange(0, hours * 3600, 60.0)
    lat, lon = line(t, *OPEN_SEA, kn, 90.0)
    return track(mmsi, t, lat, lon, kn)


def test_loitering_at_sea_for_two_hours() -> None:
    pack = load_pack("gulf-of-tonkin")
    got = alerts([Loitering(land(), pack.places)], loiterer(412000010, 3.0, 0.8), loiterer(412000011, 1.5, 0.8),
                 loiterer(412000012, 3.0, 5.0))  # fmt: skip
    assert got["mmsi"].to_list() == [412000010]
    row = got.row(0, named=True)
    assert row["end"].timestamp() - row["start"].timestamp() >= 2 * 3600 - 60
    assert "0.8 kn on average" in row["reasons"][0]


def test_no_loitering_near_shore() -> None:
    t = np.arange(0, 4 * 3600, 60.0)
    near = track(412000013, t, np.full(t.size, 20.72), np.full(t.size, 106.9), 0.3)  # Hai Phong approaches
    assert alerts([Loitering(land())], near).height == 0


@st.composite
def slow_rows(draw: st.DrawFn) -> list[tuple]:
    n = draw(st.integers(1, 40))
    vid = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    dt = draw(st.lists(st.sampled_from([0, 60, 1800, 3600, 5 * 3600]), min_size=n, max_size=n))
    t = (np.cumsum(dt) * 1_000_000).tolist()
    lat = draw(st.lists(st.one_of(st.just(np.nan), st.floats(19.0, 19.05)), min_size=n, max_size=n))
    sog = draw(st.lists(st.one_of(st.just(np.nan), st.floats(0, 5)), min_size=n, max_size=n))
    ok = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    working = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    company = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return list(zip(vid, t, lat, [107.5] * n, sog, ok, working, company, strict=True))


@settings(max_examples=150, deadline=None)
@given(slow_rows())
def test_loitering_kernel_matches_reference(rows: list[tuple]) -> None:
    s = LoiteringSettings()
    min_us, silence_us = int(s.min_hours * 3.6e9), int(s.max_silence_h * 3.6e9)
    want = ref.slow_spells(rows, s.max_speed_kn, min_us, s.min_positions, silence_us, s.company_min, s.company_share)
    cols = list(zip(*rows, strict=True))
    vid, t = np.array(cols[0], np.int64), np.array(cols[1], np.int64)
    lat, lon, sog = (np.array(c, np.float64) for c in cols[2:5])
    company = np.column_stack([np.array(cols[7], np.int64)] * 2)
    n = len(rows)
    start, out_f = np.empty(n, np.int64), np.empty((n, RUN_COLS))
    loitering_kernel(vid, t, lat, lon, sog, np.array(cols[5], np.bool_), np.array(cols[6], np.bool_), company,
                     s.max_speed_kn, min_us, s.min_positions, silence_us, NOISE_KM, s.company_min, s.company_share,
                     np.full(3, NO_TIME), np.full((3, PREV_COLS), np.nan), np.full((3, 2), NO_TIME),
                     np.full((3, RUN_COLS), np.nan), start, out_f)  # fmt: skip
    assert [None if x == NO_TIME else x for x in start.tolist()] == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.floats(-0.02, 0.02), st.floats(-0.02, 0.02)),
                max_size=30), st.integers(0, 30))  # fmt: skip
def test_close_pairs_in_time_match_reference(raw: list[tuple[int, int, float, float]], first: int) -> None:
    # minutes and offsets of ~2 km round a point by the antimeridian: the wrap and the window's edges are exercised
    fixes = [(v, m * 60_000_000, 19.3 + a, (179.99 + b + 180.0) % 360.0 - 180.0) for v, m, a, b in raw]
    first = min(first, len(fixes))
    cols: list = list(zip(*fixes, strict=True)) if fixes else [[], [], [], []]
    got = close_pairs_in_time(np.array(cols[0], np.int64), np.array(cols[1], np.int64), np.array(cols[2], float),
                              np.array(cols[3], float), first, 10 * 60_000_000, 2.0)  # fmt: skip
    every = ref.close_pairs_in_time(fixes, first, 10 * 60_000_000, 2.0)
    pairs = {(int(p), int(q)) for p, q in got}
    # one pair for each fix and each other vessel in reach of it, and that pair is one of the fix-by-fix pairs
    assert len(pairs) == len(got) and pairs <= every
    assert sorted((q, fixes[p][0]) for p, q in pairs) == sorted({(q, fixes[p][0]) for p, q in every})


@settings(max_examples=60, deadline=None)
@given(st.floats(-88.0, 88.0), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 20), st.floats(-0.03, 0.03),
                                                  st.floats(-0.3, 0.3)), max_size=20))  # fmt: skip
def test_close_pairs_in_time_at_any_latitude_match_reference(lat0: float, raw: list) -> None:
    # around 2 km apart where a degree of longitude is short: the kernel's cheap bounds never drop a pair in reach
    fixes = [(v, m * 60_000_000, lat0 + a, 30.0 + b) for v, m, a, b in raw]
    cols: list = list(zip(*fixes, strict=True)) if fixes else [[], [], [], []]
    got = close_pairs_in_time(np.array(cols[0], np.int64), np.array(cols[1], np.int64), np.array(cols[2], float),
                              np.array(cols[3], float), 0, 10 * 60_000_000, 2.0)  # fmt: skip
    every = ref.close_pairs_in_time(fixes, 0, 10 * 60_000_000, 2.0)
    assert sorted((int(q), fixes[int(p)][0]) for p, q in got) == sorted({(q, fixes[p][0]) for p, q in every})


def test_close_pairs_in_time_take_the_last_fix_of_each_vessel() -> None:
    # vessel 1 heard three times beside vessel 0's fix in one cell: one pair, from its latest fix in reach; the fix
    # at the same time as vessel 0's (index after it) and the one out of the window do not pair with it
    fixes = [(1, 0, 19.3, 107.5), (1, 5, 19.3, 107.501), (1, 8, 19.301, 107.5), (0, 8, 19.3, 107.5),
             (1, 8, 19.3, 107.5), (1, 20, 19.3, 107.5)]  # fmt: skip
    vid, m, lat, lon = (np.array(c) for c in zip(*fixes, strict=True))
    got = close_pairs_in_time(vid, m * 60_000_000, lat, lon, 3, 6 * 60_000_000, 2.0)
    assert got.tolist() == [[2, 3], [3, 4]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 20)), max_size=20),
       st.lists(st.tuples(st.integers(0, 2), st.integers(0, 20), st.integers(3, 7), st.booleans()), max_size=20))
def test_companions_match_reference(rows: list[tuple[int, int]], sightings: list[tuple[int, int, int, bool]]) -> None:
    rows, sightings = sorted(rows), sorted(sightings, key=lambda x: (x[0], x[1], x[2]))
    out = np.empty((len(rows), 2), np.int64)
    r: list = list(zip(*rows, strict=True)) if rows else [[], []]
    c: list = list(zip(*sightings, strict=True)) if sightings else [[], [], [], []]
    company_at(np.array(r[0], np.int64), np.array(r[1], np.int64), np.array(c[0], np.int64), np.array(c[1], np.int64),
               np.array(c[2], np.int64), np.array(c[3], np.bool_), 5, np.full((3, COMPANIONS, 3), -1, np.int64), out)
    assert [tuple(x) for x in out.tolist()] == ref.companions(rows, sightings, 5)


def statics(mmsi: int, t_s: np.ndarray, ship_type: int) -> pl.DataFrame:
    """Type 24 part B reports of one vessel with its ship type (the columns detectors do not read are null)."""
    schema = decode_bytes(b"", details=False).statics.schema
    n = len(t_s)
    data = {"mmsi": np.full(n, mmsi, np.int64), "msg_type": np.full(n, 24, np.int8), "part": np.ones(n, np.int8),
            "ship_type": np.full(n, ship_type, np.int16),
            "t": pl.Series((T0 + np.asarray(t_s, float)) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
            }  # fmt: skip
    cols = {name: pl.Series(name, data[name]) if name in data else pl.Series(name, [None] * n) for name in schema}
    return pl.DataFrame(cols).cast(dict(schema))  # type: ignore[arg-type]


def alerts_in_steps(detectors: list[Detector], vessels: tuple[tuple[pl.DataFrame, ...], ...], cuts: int, seed: int,
                    tmp: Path | None) -> pl.DataFrame:  # fmt: skip
    """Alerts over the vessels' positions and statics in time order, cut into ``cuts`` + 1 random steps; with
    ``tmp``, the engine is snapshotted and restored (fresh detectors) after every step."""
    d = decode_bytes(b"", details=False)
    both = [pl.concat([v[0] for v in vessels]), pl.concat([v[1] for v in vessels if len(v) > 1] or [d.statics])]
    order = pl.concat([b.select("t", pl.lit(k).alias("table")) for k, b in enumerate(both)]).with_row_index("r")
    seq = order.sort("t", "table", "r", maintain_order=True).with_row_index("seq").sort("r")["seq"].cast(pl.Int64)
    at = [0, len(both[0])]
    pos, sta = (b.drop("seq").with_columns(seq[a : a + len(b)].alias("seq")) for b, a in zip(both, at, strict=True))
    pos, sta = pos.select(d.positions.columns), sta.select(d.statics.columns)
    top = len(seq)
    bounds = [0, *sorted(random.Random(seed).sample(range(1, top), cuts)), top] if cuts else [0, top]
    engine = Engine(detectors)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        engine.process(pos.filter(pl.col("seq").is_between(a, b - 1)), sta.filter(pl.col("seq").is_between(a, b - 1)),
                       d.events)
        if tmp is not None:
            engine.snapshot(tmp / "snap")
            engine = Engine.restore(tmp / "snap", [Loitering(land(), load_pack("gulf-of-tonkin").places)])
    engine.finish()
    return engine.alerts()


def fishing_boat(mmsi: int, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, kn: float,
                 ship_type: int = 30) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """A class B boat's positions (type 18) and its type 24 part B every 6 min, as the fleets report."""
    pos = track(mmsi, t, lat, lon, kn, msg_type=18)
    ts = np.arange(0, t[-1], 360.0)
    return pos, statics(mmsi, ts, ship_type)


def fleet(n: int, hours: float, mmsi0: int = 412100000) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """``n`` boats drifting together at 0.5 kn, 300 m apart in a ring, each reporting every 3 min."""
    t = np.arange(0, hours * 3600, 180.0)
    out = []
    for k in range(n):
        ang = 2 * np.pi * k / n
        lat, lon = line(t, OPEN_SEA[0] + 0.0027 * np.cos(ang), OPEN_SEA[1] + 0.0029 * np.sin(ang), 0.5, 60.0)
        out.append(fishing_boat(mmsi0 + k, t + 7 * k, lat, lon, 0.5))
    return out


def loitering_of(*vessels: tuple[pl.DataFrame, ...], cuts: int = 0, seed: int = 0, tmp: Path | None = None
                 ) -> pl.DataFrame:  # fmt: skip
    return alerts_in_steps([Loitering(land(), load_pack("gulf-of-tonkin").places)], vessels, cuts, seed, tmp)


def test_a_fleet_drifting_together_at_night_is_fishing() -> None:
    assert loitering_of(*fleet(4, 3.0)).height == 0


def test_a_lone_fishing_boat_drifting_far_offshore_loiters() -> None:
    boat = fleet(1, 3.0)
    got = loitering_of(*boat)
    assert got.height == 1 and got["reasons"][0][2] == "alone: no other vessel slow within 2 km"


def test_two_boats_together_are_no_fleet() -> None:
    assert loitering_of(*fleet(2, 3.0)).height == 2  # one companion: a pair, not a fleet


def test_a_tanker_drifting_among_fishing_boats_loiters() -> None:
    t = np.arange(0, 3 * 3600, 180.0)
    lat, lon = line(t, *OPEN_SEA, 0.5, 60.0)
    tanker = fishing_boat(412200000, t + 5, lat + 0.001, lon, 0.5, ship_type=80)
    got = loitering_of(*fleet(4, 3.0), tanker)
    assert got["mmsi"].to_list() == [412200000]
    assert got["reasons"][0][2].startswith("up to 4 other vessels slow within 2 km; a vessel of ship type 80")


def test_a_boat_of_unknown_type_among_a_fleet_is_judged_like_any_other() -> None:
    t = np.arange(0, 3 * 3600, 180.0)
    lat, lon = line(t, *OPEN_SEA, 0.5, 60.0)
    unknown = (track(412300000, t + 5, lat - 0.001, lon, 0.5, msg_type=18),)
    assert loitering_of(*fleet(4, 3.0), unknown)["mmsi"].to_list() == [412300000]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fleet_and_loner_stream_equals_batch_with_snapshots(seed: int, tmp_path: Path) -> None:
    t = np.arange(0, 3 * 3600, 180.0)
    lat, lon = line(t, OPEN_SEA[0] + 0.3, OPEN_SEA[1], 0.4, 10.0)
    vessels = [*fleet(4, 3.0), fishing_boat(412400000, t, lat, lon, 0.4),
               fishing_boat(412400001, t, *line(t, OPEN_SEA[0] + 0.001, OPEN_SEA[1], 0.5, 60.0), 0.5, 80)]  # fmt: skip
    batch = loitering_of(*vessels)
    assert sorted(batch["mmsi"].to_list()) == [412400000, 412400001]
    assert_frame_equal(loitering_of(*vessels, cuts=25, seed=seed), batch)
    assert_frame_equal(loitering_of(*vessels, cuts=8, seed=seed, tmp=tmp_path), batch)


def test_circling_at_speed_with_no_jump_is_spoofing() -> None:
    t = np.arange(0, 900, 30.0)
    ang = 2 * np.pi * t / 600  # once round every 10 minutes, as spoofed receivers report
    lat = OPEN_SEA[0] + 0.7 * np.cos(ang) / 111.195
    lon = OPEN_SEA[1] + 0.7 * np.sin(ang) / 111.195
    circle = track(412000005, t, lat, lon, 14.3).with_columns(pl.Series("cog", np.degrees(ang + np.pi / 2) % 360))
    got = alerts([Spoofing()], circle)
    assert got.height == 1 and got["reasons"][0][0].startswith("reported circling: 1.")
    fishing = circle.with_columns(pl.lit(412000006, pl.Int64).alias("mmsi"), pl.lit(18, pl.Int8).alias("msg_type"))
    assert alerts([Spoofing()], fishing).height == 0  # class B craft do turn circles (purse seines, trawls)
