"""Eviction (engine/runner.py, "Bounded memory"): a vessel silent for ``evict_after_s`` loses what its detectors
hold for it past their horizons, and no alert changes -- on a simulated day, with a snapshot and a restore."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.detectors import default_detectors
from engine.detectors.distress import DistressDetector
from engine.detectors.identity import IdentityDetector
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import EVICT_AFTER_S, Detector, Engine
from tests.engine.detectors.scenario import Simulated, simulated

EVICT_S = 3 * 3600.0  # short enough that vessels of a simulated day are evicted (and some come back)


@cache
def _make() -> Callable[[], Sequence[Detector]]:
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    return lambda: default_detectors(pack, land)


def _parts(sim: Simulated, chunks: int, seed: int) -> list[list[pl.DataFrame]]:
    """The scenario's tables cut into ``chunks`` random ``seq`` ranges: micro-batches of a stream."""
    tables = (sim.positions, sim.statics, sim.events)
    top = 1 + max(int(t["seq"].max()) for t in tables)  # type: ignore[arg-type]
    cuts = sorted(random.Random(seed).sample(range(1, top), chunks - 1))
    return [[t.filter(pl.col("seq").is_between(a, b - 1)) for t in tables] for a, b in
            zip([0, *cuts], [*cuts, top], strict=True)]  # fmt: skip


def _stream(parts: list[list[pl.DataFrame]], evict_after_s: float | None,
            snapshot_at: Path | None = None) -> tuple[pl.DataFrame, Engine]:  # fmt: skip
    engine = Engine(_make()(), evict_after_s=evict_after_s)
    for k, part in enumerate(parts):
        engine.process(*part)
        if snapshot_at is not None and k == len(parts) // 2:  # a restart in the middle of the day
            engine.snapshot(snapshot_at)
            engine = Engine.restore(snapshot_at, _make()())
    engine.finish()
    return engine.alerts().sort("alert_id"), engine


@pytest.mark.parametrize("seed", [41])
def test_alerts_are_the_same_with_and_without_eviction(seed: int, tmp_path: Path) -> None:
    parts = _parts(simulated(hours=24.0, seed=seed), chunks=96, seed=seed)
    kept, _ = _stream(parts, evict_after_s=None)
    evicting, engine = _stream(parts, evict_after_s=EVICT_S, snapshot_at=tmp_path / "state")
    assert engine.evictions > 0, "the setting must evict vessels of the day, else the test proves nothing"
    assert engine.evict_after_us == int(EVICT_S * 1e6)  # kept across the restore
    assert kept.height > 0
    assert evicting.equals(kept)
    # the evicted vessels (not heard again) hold no change history any more
    identity = next(d for d in engine.detectors if isinstance(d, IdentityDetector))
    gone = np.flatnonzero(engine.evicted).tolist()
    assert gone and not any(v in identity.history for v in gone)


def _engine_at(now_h: float, detectors: Sequence[Detector]) -> Engine:
    engine = Engine(detectors, evict_after_s=EVICT_S)
    engine.heard = np.array([0, int(now_h * 3.6e9)], np.int64)  # vessel 0 heard at 0 h, vessel 1 at now_h
    engine.evicted = np.zeros(2, np.bool_)
    return engine


def test_a_vessel_is_evicted_once_until_heard_again() -> None:
    class Recorder:
        name = "recorder"

        def __init__(self) -> None:
            self.calls: list[tuple[list[int], int]] = []

        def process(self, step: object) -> list[pl.DataFrame]:
            return []

        def snapshot(self) -> dict[str, np.ndarray]:
            return {}

        def restore(self, arrays: dict[str, np.ndarray]) -> None:
            pass

        def evict(self, vids: np.ndarray, now_us: int) -> None:
            self.calls.append((vids.tolist(), now_us))

    rec = Recorder()
    engine = _engine_at(4.0, [rec])
    engine._evict(int(3.5 * 3.6e9))  # 3.5 h: vessel 0 silent 3.5 h > 3 h
    engine._evict(int(3.9 * 3.6e9))  # once only
    engine._evict(2**63 - 1)  # the end of the input evicts nobody
    assert rec.calls == [([0], int(3.5 * 3.6e9))]
    assert engine.evictions == 1 and engine.evicted.tolist() == [True, False]


def test_the_default_outlasts_the_longest_horizon_dropped() -> None:
    ident = IdentityDetector().settings
    assert max(ident.alternation_window_s, ident.conflict_gap_s) < EVICT_AFTER_S
    assert DistressDetector().settings.episode_gap_s < EVICT_AFTER_S


def test_identity_keeps_what_a_later_row_may_still_use() -> None:
    ident = IdentityDetector()
    ident._grow(2)
    day_us = int(24 * 3.6e9)
    for v, t in ((0, 1), (1, 10 * day_us)):  # vessel 0 changed long ago, vessel 1 just now
        ident.cur["name"][v], ident.before["name"][v] = "NEW", "OLD"
        ident.t_changed["name"][v] = t
        ident.history[v] = [(t, "name", "OLD", "NEW")]
    ident.evict(np.array([0, 1]), now_us=10 * day_us + 1)
    assert ident.history == {}  # the API's cache goes in any case
    assert ident.before["name"].tolist()[:2] == [None, "OLD"]  # vessel 1 may still alternate back
    assert ident.cur["name"].tolist()[:2] == ["NEW", "NEW"]  # a rename across any silence is a change
