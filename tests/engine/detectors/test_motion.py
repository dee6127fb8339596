"""Spoofing and loitering: behaviour on made-up tracks, and the loitering kernel against its reference."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.motion import NOISE_KM, Loitering, LoiteringSettings, Spoofing, loitering_kernel
from engine.fixes import NO_TIME
from engine.geo.regions import load_pack
from tests import reference as ref
from tests.engine.detectors.tracks import alerts, land, line, track

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
    return list(zip(vid, t, lat, [107.5] * n, sog, ok, strict=True))


@settings(max_examples=150, deadline=None)
@given(slow_rows())
def test_loitering_kernel_matches_reference(rows: list[tuple]) -> None:
    s = LoiteringSettings()
    min_us, silence_us = int(s.min_hours * 3.6e9), int(s.max_silence_h * 3.6e9)
    want = ref.slow_spells(rows, s.max_speed_kn, min_us, s.min_positions, silence_us)
    cols = list(zip(*rows, strict=True))
    vid, t = np.array(cols[0], np.int64), np.array(cols[1], np.int64)
    lat, lon, sog = (np.array(c, np.float64) for c in cols[2:5])
    n = len(rows)
    start, out_f = np.empty(n, np.int64), np.empty((n, 4))
    loitering_kernel(vid, t, lat, lon, sog, np.array(cols[5], np.bool_), s.max_speed_kn, min_us, s.min_positions,
                     silence_us,
                     NOISE_KM, np.full(3, NO_TIME), np.full((3, 4), np.nan), np.full((3, 2), NO_TIME),
                     np.full((3, 4), np.nan), start, out_f)  # fmt: skip
    assert [None if x == NO_TIME else x for x in start.tolist()] == want


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
