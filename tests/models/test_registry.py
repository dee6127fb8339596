"""The model registry: a model is promoted only when it beats the current one on its held-out decisions; rollback;
the live scorer's watcher follows the current version and keeps the old model when a new one cannot be loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.store import Store
from models.files import DEFAULT_DIR, EVIDENCE_FILE
from models.registry import STATE_FILE, ModelWatcher, NotBetter, Registry, RegistryError
from models.scoring import ANALYSTS, Scorer, learned_from
from tests.models.triaged import fill, train

pytestmark = pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model folders trained from two triaged stores: "good" on the analysts' rule throughout, "noisy" on coin
    tosses for the first three quarters of the decisions (its held-out quarter follows the rule)."""
    root = tmp_path_factory.mktemp("trained")
    out = {}
    for name, noisy in (("good", 0.0), ("noisy", 0.75)):
        url = f"sqlite:///{root / name}.db"
        store = Store(url)
        fill(store, 80, noisy_share=noisy, seed=1)
        store.close()
        train(url, root / name, DEFAULT_DIR)
        out[name] = root / name
    return out


def test_a_store_trained_model_says_what_it_learned_from_and_how_it_did(trained: dict[str, Path]) -> None:
    from models.files import load_model

    meta = load_model(trained["good"] / EVIDENCE_FILE).metadata
    assert learned_from(meta) == ANALYSTS and meta["decisions"] == 80 and meta["decisions_trained"] == 60
    held = meta["held_out"]
    assert held["decisions"] == 20 and held["current"] == "base"
    # the analysts' rule (tankers confirmed, fishing vessels with more evidence dismissed) is learned; the shipped
    # model and the indicators rank the other way
    assert held["model_ap"] > 0.95 > held["current_ap"] and held["model_ap"] > held["indicator_ap"]


def test_a_better_model_is_promoted_a_worse_one_is_not_and_rollback_returns(
    tmp_path: Path, trained: dict[str, Path]
) -> None:
    registry = Registry(tmp_path / "registry")
    good, noisy = registry.add(trained["good"], by="le"), registry.add(trained["noisy"], by="le")
    assert (good, noisy) == ("0001", "0002") and registry.current() is None
    promoted = registry.promote(good, by="admin")
    assert promoted.better and promoted.current == "base" and registry.current() == good
    with pytest.raises(NotBetter, match="version 0002 is not promoted: average precision") as refused:
        registry.promote(noisy, by="admin")
    c = refused.value.comparison
    assert c.current == good and c.model_ap <= c.current_ap and c.rows == 20  # the noisy one's held-out rows
    assert registry.current() == good
    forced = registry.promote(noisy, by="admin", force=True)
    assert not forced.better and registry.current() == noisy
    assert registry.rollback(by="admin") == (noisy, good) and registry.current() == good
    assert registry.rollback(by="admin") == (good, None) and registry.current() is None
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback(by="admin")
    history = registry.state()["history"]
    assert [(e["action"], e["version"], e["forced"]) for e in history] == [
        ("promote", good, False),
        ("promote", noisy, True),
        ("rollback", good, False),
        ("rollback", None, False),
    ]
    assert [v["version"] for v in registry.versions()] == [good, noisy]


def test_unknown_versions_and_folders_without_held_out_decisions_are_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry")
    with pytest.raises(RegistryError, match="no model version '0007'"):
        registry.promote("0007", by="admin")
    assert not (tmp_path / "registry").exists()  # a refusal makes nothing
    with pytest.raises(RegistryError, match="no usable held-out decisions"):
        registry.add(DEFAULT_DIR, by="le")  # the shipped models were not trained from a store


def test_the_watcher_loads_the_current_version_and_keeps_the_old_when_it_cannot(
    tmp_path: Path, trained: dict[str, Path]
) -> None:
    registry = Registry(tmp_path / "registry")
    good, noisy = registry.add(trained["good"], by="le"), registry.add(trained["noisy"], by="le")
    watcher, scorer = ModelWatcher(registry), Scorer.with_default_models()
    assert not watcher.changed() and watcher.scorer(scorer) is scorer
    registry.promote(good, by="admin")
    assert watcher.changed()
    scorer = watcher.scorer(scorer)
    assert scorer.evidence_model is not None and learned_from(scorer.evidence_model.metadata) == ANALYSTS
    assert watcher.loaded == good and not watcher.troubles()
    (registry.root / "versions" / noisy / EVIDENCE_FILE).write_bytes(b"not a model")  # damaged after it was added
    state = registry.state()
    (registry.root / STATE_FILE).write_text(json.dumps({**state, "current": noisy}))
    kept = watcher.scorer(scorer)
    assert kept is scorer and watcher.loaded == good and not watcher.changed()  # not tried again every cycle
    (trouble,) = watcher.troubles()
    assert f"model version {noisy} is current in the registry but cannot be loaded" in trouble
    assert trouble.endswith(f"scoring with version {good}")
    registry.rollback(by="admin")  # the damaged version's promotion was by hand: rollback goes to the base
    assert watcher.scorer(scorer) is not scorer and watcher.loaded is None and not watcher.troubles()
