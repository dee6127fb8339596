"""Distress: beacons, nav status and safety broadcasts; the episode kernel against its reference."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.distress import AGROUND, BEACON, NUC, DistressDetector, DistressSettings, _episodes
from seawatch.simulator.scenario import SimConfig, simulate
from tests import reference as ref
from tests.engine.detectors.scenario_run import label_frame, observable, random_cuts, recall, run
from tests.engine.detectors.tracks import alerts, line, track


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return simulate(SimConfig(hours=8, vessels=80, seed=11, injections_per_day=9))


@pytest.fixture(scope="module")
def whole(scenario) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return run(scenario.feed, lambda: [DistressDetector()])


def _kernel(rows: list[tuple[int, int, int]], gap: int) -> list[tuple[int, int, int, int, int]]:
    n_v = max((r[0] for r in rows), default=0) + 1
    vid = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    bits = np.array([r[2] for r in rows], np.int64)
    start, last, b, n = (np.zeros(n_v, np.int64) for _ in range(4))
    lat, lon = np.full(n_v, np.nan), np.full(n_v, np.nan)
    out = np.zeros(len(rows), np.int64)
    nan = np.full(len(rows), np.nan)
    _episodes(vid, t, bits, nan, nan, gap, start, last, b, n, lat, lon, out)
    eps: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(rows):  # rebuild episodes from each row's start
        e = eps.setdefault((r[0], int(out[i])), [r[0], int(out[i]), r[1], 0, 0])
        e[2], e[3], e[4] = r[1], e[3] | r[2], e[4] + 1
    for v in range(n_v):  # the final state is the last episode of each vessel
        if n[v]:
            assert eps[(v, int(start[v]))][2:] == [int(last[v]), int(b[v]), int(n[v])]
    return [(a, s, e, bb, c) for a, s, e, bb, c in eps.values()]


def test_episode_edges() -> None:
    assert _kernel([], 10) == ref.distress_episodes([], 10)
    one = [(0, 5, BEACON)]
    assert _kernel(one, 10) == ref.distress_episodes(one, 10) == [(0, 5, 5, BEACON, 1)]
    rows = [(0, 0, NUC), (0, 10, AGROUND), (0, 21, NUC), (1, 3, BEACON), (1, 3, BEACON)]
    assert _kernel(rows, 10) == ref.distress_episodes(rows, 10)
    assert len(ref.distress_episodes(rows, 10)) == 3


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1000), st.sampled_from([1, 2, 4, 8, 16, 32])),
                max_size=60), st.integers(0, 200))  # fmt: skip
def test_episodes_match_reference(rows: list[tuple[int, int, int]], gap: int) -> None:
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    assert _kernel(rows, gap) == ref.distress_episodes(rows, gap)


def test_simulated_distress_is_found(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    labels = observable(label_frame(scenario.labels, scenario.cfg.epoch), scenario.feed)
    assert labels.filter(pl.col("kind") == "distress").height >= 2  # (a distress far offshore may go unheard)
    got, missed = recall(whole, labels, "distress")
    assert got == 1.0, missed
    sart = whole.filter((pl.col("mmsi") // 1_000_000) == 970)
    assert sart.height >= 1 and (sart["score"] >= 90).all()
    assert any("SART ACTIVE" in " ".join(r) for r in sart["reasons"].to_list())
    # one alert per episode: per vessel, as many alerts as the feed shows stretches of distress evidence (a
    # silence longer than the episode gap, e.g. out of reception, ends an episode)
    pieces = _heard_episodes(scenario.feed, DistressSettings().episode_gap_s)
    per = dict(whole.group_by("mmsi").len().iter_rows())
    assert per == {m: pieces[m] for m in per}


def _heard_episodes(feed: bytes, gap_s: float) -> dict[int, int]:
    """Per MMSI, the stretches of distress evidence in the decoded feed (beacon MMSI, nav status 2/6/14, safety
    text) no more than ``gap_s`` apart."""
    from engine.decode import decode_bytes

    d = decode_bytes(feed, details=False)
    beacon = (pl.col("mmsi") // 1_000_000).is_in([970, 972, 974])
    fixes = d.positions.filter(beacon | pl.col("nav_status").is_in([2, 6, 14])).select("mmsi", "t")
    test = pl.col("text").fill_null("").str.to_uppercase().str.contains(r"\bTEST\b")
    texts = d.events.filter((pl.col("msg_type") == 14) & ~test).select("mmsi", "t")
    rows = pl.concat([fixes, texts]).sort("mmsi", "t")
    gap = (pl.col("t").diff().over("mmsi").dt.total_microseconds() > gap_s * 1e6).fill_null(False)
    per = rows.with_columns(gap.alias("new")).group_by("mmsi").agg((pl.col("new").sum() + 1).alias("n"))
    return dict(per.iter_rows())


def test_no_distress_on_background(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    injected = {lb.mmsi for lb in scenario.labels if lb.kind == "distress"}
    assert whole.filter(~pl.col("mmsi").is_in(list(injected))).height == 0


@pytest.mark.parametrize("seed", [3, 4])
def test_stream_equals_batch(scenario, whole: pl.DataFrame, seed: int) -> None:  # type: ignore[no-untyped-def]
    cut = run(scenario.feed, lambda: [DistressDetector()], random_cuts(len(scenario.feed), seed, 200))
    assert whole.height > 0
    assert cut.equals(whole)


def test_snapshot_restore_roundtrip(scenario) -> None:  # type: ignore[no-untyped-def]
    from engine.decode import decode_bytes
    from engine.runner import Engine

    d = decode_bytes(scenario.feed, details=False)
    det = DistressDetector()
    Engine([det]).process(d.positions, d.statics, d.events)
    again = DistressDetector()
    again.restore(det.snapshot())
    a, b = det.snapshot(), again.snapshot()
    assert all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def _beacon(mmsi: int, t: np.ndarray, status: np.ndarray) -> pl.DataFrame:
    lat, lon = line(t, 20.3, 107.6, 0.3, 45.0)
    return track(mmsi, t, lat, lon, 0.3).with_columns(nav_status=pl.Series(status, dtype=pl.Int8))


def test_a_sart_self_test_is_no_distress_and_a_test_that_turns_active_is() -> None:
    t = np.arange(0, 360, 60.0)  # six reports over five minutes, as a crew tests a SART
    test = _beacon(970123456, t, np.full(t.size, 15))
    t2 = np.arange(0, 1800, 60.0)
    turned = _beacon(970654321, t2, np.where(t2 < 300, 15, 14))
    got = alerts([DistressDetector()], test, turned)
    assert got["mmsi"].to_list() == [970654321]
    assert any("test mode" in r for r in got["reasons"][0])
