"""Shared episode helpers, and stream = batch for the motion and geography detectors on a simulated scenario."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import cache

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.decode import decode_bytes
from engine.detectors.border import BorderCrossing
from engine.detectors.episodes import latest_per_episode, ship_type_at
from engine.detectors.geography import LandPosition, ZoneEntry
from engine.detectors.motion import Loitering, Spoofing
from engine.fixes import NO_TIME, Fixes, Identities
from engine.geo.regions import load_pack
from engine.runner import Detector, Engine
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.detectors.scenario_run import run
from tests.engine.detectors.tracks import land


def test_latest_per_episode() -> None:
    vid = np.array([0, 0, 0, 0, 1, 1, 2])
    start = np.array([NO_TIME, 5, 5, 9, 5, NO_TIME, NO_TIME])
    assert latest_per_episode(vid, start).tolist() == [2, 3, 4]
    assert latest_per_episode(vid[:0], start[:0]).size == 0


def test_ship_type_known_at_each_fix() -> None:
    def ints(*x: int) -> np.ndarray:
        return np.array(x, np.int64)

    fixes = Fixes(vid=ints(0, 0, 1), mmsi=ints(1, 1, 2), t_us=ints(10, 30, 10), arrival=ints(0, 2, 3),
                  lat=np.zeros(3), lon=np.zeros(3), sog=np.zeros(3), cog=np.zeros(3), heading=np.zeros(3),
                  nav_status=np.zeros(3, np.int8), msg_type=np.ones(3, np.int8), class_b=np.zeros(3, bool))  # fmt: skip
    ids = Identities(vid=ints(0, 0, 1), mmsi=ints(1, 1, 2), t_us=ints(10, 20, 50), arrival=ints(1, 4, 5),
                     msg_type=np.full(3, 5, np.int8), part=np.full(3, -1, np.int8), imo=ints(-1, -1, -1),
                     ship_type=np.array([30, 70, 80], np.int16), draught=np.full(3, np.nan), name=[None] * 3,
                     callsign=[None] * 3, destination=[None] * 3)  # fmt: skip
    known = np.full(2, -1, np.int64)
    # the report at t=10 arrived after the fix at t=10: not yet known then
    first = ship_type_at(fixes, ids, known)
    assert first.tolist() == [-1, 70, -1]
    assert known.tolist() == [70, 80]
    # another detector's own array, equal before the step: the same answer and the same array after (shared)
    other = np.full(2, -1, np.int64)
    assert ship_type_at(fixes, ids, other) is first
    assert other.tolist() == [70, 80]
    # one that differs (restored from elsewhere) is walked for itself, not given the shared answer
    apart = np.array([36, -1], np.int64)
    assert ship_type_at(fixes, ids, apart).tolist() == [36, 70, -1]
    assert apart.tolist() == [70, 80]
    # the same fixes with other reports: walked again
    assert ship_type_at(fixes, replace(ids, ship_type=np.array([31, 72, 80], np.int16)),
                        np.full(2, -1, np.int64)).tolist() == [-1, 72, -1]  # fmt: skip
    with pytest.raises(ValueError, match="read-only"):
        ship_type_at(fixes, ids, np.full(2, -1, np.int64))[0] = 1


def detectors() -> list[Detector]:
    pack = load_pack("gulf-of-tonkin")
    return [Spoofing(), LandPosition(land()), Loitering(land(), pack.places), ZoneEntry(pack), BorderCrossing(pack)]


@cache
def feed() -> bytes:
    return simulate(SimConfig(hours=8.0, seed=5, vessels=50)).feed


def batch_alerts() -> pl.DataFrame:
    d = decode_bytes(feed(), details=False)
    engine = Engine(detectors())
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()


def test_the_scenario_raises_alerts_of_every_kind_here() -> None:
    kinds = set(batch_alerts()["kind"].to_list())
    assert {"spoofing", "zone_entry", "border_crossing", "loitering"} <= kinds


@pytest.mark.parametrize("seed", [1, 2])
def test_stream_equals_batch_by_seq_ranges(seed: int) -> None:
    d = decode_bytes(feed(), details=False)
    top = int(d.positions["seq"].max()) + 1  # type: ignore[arg-type]
    cuts = sorted(random.Random(seed).sample(range(1, top), 40))
    engine = Engine(detectors())
    for a, b in zip([0, *cuts], [*cuts, top], strict=True):
        engine.process(*(t.filter(pl.col("seq").is_between(a, b - 1)) for t in (d.positions, d.statics, d.events)))
    engine.finish()
    assert_frame_equal(engine.alerts(), batch_alerts())


def test_stream_equals_batch_by_byte_chunks() -> None:
    data = feed()
    rng = random.Random(3)
    cut = run(data, detectors, [rng.randrange(len(data)) for _ in range(25)])
    assert_frame_equal(cut, batch_alerts())
