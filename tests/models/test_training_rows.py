"""Training rows from the store's decisions: the evidence as it stood at each decision, split by time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from api.store import Store
from models.registry import held_out_figures
from models.training_rows import MIN_DECISIONS, TooFewDecisions, decision_rows, time_split
from tests.api.helpers import alerts_frame, vessels_frame
from tests.models.triaged import fill


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'seawatch.db'}")


def _rows(store: Store) -> pl.DataFrame:
    data = store.training_data()
    return decision_rows(data.decisions, data.alerts, data.vessels)


def test_a_row_holds_the_evidence_the_store_held_at_the_decision(store: Store) -> None:
    """Vessel 574000001's first gap is decided; a second gap stored after that decision is not in its row, but is
    in the row of the second gap's own decision, where the earlier dismissal is applied (that gap counts nothing)."""
    first = alerts_frame(1, kind="ais_gap", score=60.0, mmsi0=574000001)
    store.upsert_alerts(first)
    store.upsert_vessels(vessels_frame(1))
    store.triage(first["alert_id"][0], "dismissed", "", "le", reason="reception_problem")
    later = alerts_frame(1, kind="ais_gap", score=80.0, mmsi0=574000001).with_columns(
        pl.col("start") + timedelta(days=1), pl.col("end") + timedelta(days=1), alert_id=pl.lit("later")
    )
    store.upsert_alerts(later)
    store.triage("later", "confirmed", "", "le")
    rows = _rows(store).sort("at")
    assert rows["y"].to_list() == [0, 1] and rows["mmsi"].to_list() == [574000001, 574000001]
    assert rows["strength_ais_gap"].to_list() == pytest.approx([0.6, 0.8])  # its own gap, not the later; then 0.8
    assert rows["score"][0] > 0 and rows["tanker"].to_list() == [0.0, 0.0]  # vessels_frame: 574000001 is fishing


def test_a_decision_on_the_alert_itself_never_shapes_its_row(store: Store) -> None:
    """Confirmed, then dismissed: the label is the dismissal, and its row's evidence has the gap as the detector
    scored it, not at the confirmation's full strength."""
    gap = alerts_frame(1, kind="ais_gap", score=60.0, mmsi0=574000001)
    store.upsert_alerts(gap)
    store.triage(gap["alert_id"][0], "confirmed", "", "le")
    store.triage(gap["alert_id"][0], "dismissed", "", "le", reason="data_error")
    (row,) = _rows(store).iter_rows(named=True)
    assert row["y"] == 0 and row["strength_ais_gap"] == pytest.approx(0.6)


def test_pairs_label_both_vessels_and_the_split_keeps_a_decision_on_one_side(store: Store) -> None:
    pairs = alerts_frame(40, kind="encounter", score=60.0, mmsi0=574000001)
    store.upsert_alerts(pairs)
    for i, alert in enumerate(pairs["alert_id"]):
        if i % 2:
            store.triage(alert, "escalated", "", "le")
        else:
            store.triage(alert, "dismissed", "", "le", reason="legitimate_activity")
    rows = _rows(store)
    assert rows.height == 80 and rows.group_by("alert_id").len()["len"].to_list() == [2] * 40
    split = time_split(rows)
    assert split.train["at"].max() < split.held_out["at"].min() == split.cut  # type: ignore[operator]
    assert set(split.train["alert_id"]).isdisjoint(split.held_out["alert_id"])
    assert split.held_out["alert_id"].n_unique() == 10  # the latest quarter of 40 decisions


def test_too_few_decisions_are_refused_saying_how_many_are_needed(store: Store) -> None:
    fill(store, 20)
    with pytest.raises(TooFewDecisions, match=f"20 usable decision.*at least {MIN_DECISIONS}"):
        time_split(_rows(store))


def test_one_kind_of_decision_in_the_held_out_share_is_refused(store: Store) -> None:
    gaps = alerts_frame(40, kind="ais_gap", score=60.0, mmsi0=574000001)
    store.upsert_alerts(gaps)
    for i, alert in enumerate(gaps["alert_id"]):  # the last ten all dismissed
        if i % 2 and i < 30:
            store.triage(alert, "confirmed", "", "le")
        else:
            store.triage(alert, "dismissed", "", "le", reason="other")
    with pytest.raises(TooFewDecisions, match="0 confirmed or escalated and 10 dismissed in the latest 25%"):
        time_split(_rows(store))


def test_held_out_figures_are_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200) + 0.3 * y, 1)  # ties
    ap, auc = held_out_figures(y, p)
    assert ap == pytest.approx(average_precision_score(y, p)) and auc == pytest.approx(roc_auc_score(y, p))
    assert all(np.isnan(held_out_figures(np.ones(5), p[:5])))
