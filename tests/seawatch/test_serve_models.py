"""The live scorer follows the model registry: a promoted model scores the vessels at the next cycle, without a
restart and without new data (its reasons then say it learned from analysts' decisions); a rollback returns to
the shipped model; a current version that cannot be loaded leaves the model in use and says so (for /healthz)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.store import Store
from engine.geo.land import LandIndex
from models.files import DEFAULT_DIR, EVIDENCE_FILE
from models.registry import STATE_FILE, ModelWatcher, Registry
from models.scoring import Scorer
from seawatch.serve_job import ScoringSink
from tests.api.helpers import alerts_frame
from tests.models.test_features import T0, no_statics, positions
from tests.models.triaged import fill, train
from tests.seawatch.test_serve_job import SCORING_EVERY_S, _EngineAlerts

pytestmark = pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models")
HINT = "hint from a model trained on simulated traffic only"
LEARNED = "learned from 60 analysts' decisions: "


def _reasons(store: Store) -> list[str]:
    row = store.vessel(574000001)
    return list(row["smuggling_reasons"]) if row else []


def _wait_for(store: Store, words: str) -> float:
    started = time.monotonic()
    while not any(words in r for r in _reasons(store)):
        assert time.monotonic() - started < 10 * SCORING_EVERY_S + 5, f"no {words!r} in {_reasons(store)}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_promoted_model_scores_at_the_next_cycle_and_a_damaged_one_is_reported(tmp_path: Path) -> None:
    triaged = f"sqlite:///{tmp_path / 'triaged.db'}"
    source = Store(triaged)
    fill(source, 80, seed=1)
    source.close()
    train(triaged, tmp_path / "trained", DEFAULT_DIR)
    registry = Registry(tmp_path / "registry")
    version = registry.add(tmp_path / "trained", by="le")
    spare = registry.add(tmp_path / "trained", by="le")

    gap = alerts_frame(1, kind="ais_gap", score=60.0, mmsi0=574000001)
    store = Store(f"sqlite:///{tmp_path / 'seawatch.db'}")
    store.upsert_alerts(gap)
    start = (gap["start"][0] - T0).total_seconds() / 3600 - 1
    fixes = positions([(574000001, start + k / 10, 20.0, 107.5, 8.0, 90.0, 90.0) for k in range(40)])
    watcher = ModelWatcher(registry)
    sink = ScoringSink(Scorer.with_default_models(), _EngineAlerts(gap), store, LandIndex.load(),  # type: ignore[arg-type]
                       SCORING_EVERY_S, models=watcher)  # fmt: skip
    try:
        sink.consume({"positions": fixes, "statics": no_statics()}, gap)
        _wait_for(store, HINT)  # the shipped model: a capped hint
        registry.promote(version, by="admin")
        assert _wait_for(store, LEARNED) < 2 * SCORING_EVERY_S + 1.0  # one cycle, no new data
        assert not any(HINT in r for r in _reasons(store)) and watcher.loaded == version
        # a version damaged after it was added, made current by hand: the analysts' model goes on scoring
        (registry.root / "versions" / spare / EVIDENCE_FILE).write_bytes(b"damaged")
        state = registry.state()
        (registry.root / STATE_FILE).write_text(json.dumps({**state, "current": spare}))
        started = time.monotonic()
        while not watcher.troubles():
            assert time.monotonic() - started < 5, "the damaged model was not reported"
            time.sleep(0.02)
        assert "cannot be loaded" in watcher.troubles()[0] and any(LEARNED in r for r in _reasons(store))
        registry.rollback(by="admin")
        _wait_for(store, HINT)  # back to the base (shipped) models
        assert not watcher.troubles()
    finally:
        sink.score()
        store.close()
