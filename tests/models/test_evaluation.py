"""Alerts against labels: matching, the per-kind table and the precision-recall curve, on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from engine.alerts import ALERT_SCHEMA
from models.evaluation import heard_labels, measure, pr_curve

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _alerts(rows: list[tuple[str, str, int, int | None, float, float]]) -> pl.DataFrame:
    """(id, kind, mmsi, other, start hour, score)"""
    return pl.DataFrame(
        [{"alert_id": a, "kind": k, "mmsi": m, "other_mmsi": o, "start": T0 + timedelta(hours=h),
          "end": T0 + timedelta(hours=h + 1), "lat": 0.0, "lon": 0.0, "score": s, "reasons": []}
         for a, k, m, o, h, s in rows],
        schema=ALERT_SCHEMA,
    )  # fmt: skip


def _labels(rows: list[tuple[str, str, int, int | None, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"label_id": i, "kind": k, "mmsi": m, "other_mmsi": o, "start": T0 + timedelta(hours=h),
          "end": T0 + timedelta(hours=h + 1)} for i, k, m, o, h in rows],
        schema={"label_id": pl.String, "kind": pl.String, "mmsi": pl.Int64, "other_mmsi": pl.Int64,
                "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")},
    )  # fmt: skip


ALERTS = _alerts([
    ("a1", "ais_gap", 1, None, 0, 90.0),  # matches L1
    ("a2", "ais_gap", 2, None, 5, 70.0),  # no label: wrong
    ("a3", "encounter", 3, 4, 2, 80.0),  # matches L3 named the other way round
    ("a4", "ais_gap", 1, None, 10, 40.0),  # same vessel, another time: wrong
])  # fmt: skip
LABELS = _labels([("L1", "ais_gap", 1, None, 0), ("L2", "ais_gap", 5, None, 0), ("L3", "encounter", 4, 3, 2)])


def test_pr_curve_steps_down_the_scores() -> None:
    curve = pr_curve(ALERTS, LABELS).filter(pl.col("kind") == "all")
    got = [(r["threshold"], r["precision"], r["recall"]) for r in curve.iter_rows(named=True)]
    assert got == [(90.0, 1.0, pytest.approx(1 / 3)), (80.0, 1.0, pytest.approx(2 / 3)),
                   (70.0, pytest.approx(2 / 3), pytest.approx(2 / 3)), (40.0, 0.5, pytest.approx(2 / 3))]  # fmt: skip
    gaps = pr_curve(ALERTS, LABELS).filter(pl.col("kind") == "ais_gap")
    assert gaps["recall"].max() == pytest.approx(0.5) and gaps["precision"].min() == pytest.approx(1 / 3)


def test_measure_counts_recall_precision_and_background() -> None:
    vessels = pl.DataFrame({"mmsi": [1, 2, 3, 4, 5], "role": ["injected", "background", "injected", "injected",
                                                              "injected"]})  # fmt: skip
    table = {r["kind"]: r for r in measure(ALERTS, LABELS, vessels, hours=10.0).iter_rows(named=True)}
    assert table["ais_gap"]["recall"] == 0.5 and table["ais_gap"]["precision"] == pytest.approx(1 / 3)
    assert table["ais_gap"]["false_background"] == 1  # a2 on vessel 2
    assert table["ais_gap"]["false_per_1000_vh"] == pytest.approx(1000 * 1 / (1 * 10.0))
    assert table["encounter"]["recall"] == 1.0 and table["encounter"]["precision"] == 1.0


def test_a_draught_change_is_observable_when_the_statics_show_it() -> None:
    labels = _labels([("D1", "draught_change", 1, None, 5), ("D2", "draught_change", 2, None, 5)])
    labels = labels.with_columns(pl.col("start").alias("end"))
    t = [T0 + timedelta(hours=h) for h in (1, 6, 1, 6)]
    statics = pl.DataFrame({"mmsi": [1, 1, 2, 2], "t": t, "draught": [3.0, 4.6, 4.6, 4.6]},
                           schema_overrides={"t": pl.Datetime("us", "UTC")})  # fmt: skip
    table = measure(ALERTS.head(0), labels, pl.DataFrame({"mmsi": [9], "role": ["background"]}), hours=1.0,
                    kinds=["draught_change"], positions=statics.select("mmsi", "t"), statics=statics)  # fmt: skip
    assert table["observable"][0] == 1  # vessel 2's statics never showed its old draught


def test_what_counts_as_heard_depends_on_the_kind() -> None:
    labels = _labels([
        ("G1", "ais_gap", 1, None, 5),  # heard before and after the silence: observable
        ("G2", "ais_gap", 2, None, 5),  # heard before only (never came back): not
        ("L1", "loitering", 3, None, 5),  # two fixes within the span: observable
        ("L2", "loitering", 4, None, 5),  # one fix: where it was, not that it stayed
        ("E1", "encounter", 5, 6, 5),  # both vessels heard twice: observable
        ("E2", "encounter", 7, 8, 5),  # the partner heard only before: one track, not a meeting
        ("E3", "encounter", 10, 11, 5),  # the partner dark throughout, heard before and after: its evidence
        ("S1", "spoofing", 9, None, 5),  # one falsified fix heard is evidence
    ])  # fmt: skip
    fixes = [(1, 4.0), (1, 7.0), (2, 4.0), (3, 5.2), (3, 5.8), (4, 5.5), (5, 5.1), (5, 5.9), (6, 5.2), (6, 5.3),
             (7, 5.1), (7, 5.5), (8, 3.0), (9, 5.5), (10, 5.2), (10, 5.4), (11, 2.0), (11, 9.0)]  # fmt: skip
    positions = pl.DataFrame({"mmsi": [m for m, _ in fixes], "t": [T0 + timedelta(hours=h) for _, h in fixes]},
                             schema_overrides={"t": pl.Datetime("us", "UTC")})  # fmt: skip
    assert heard_labels(labels, positions) == {"G1", "L1", "E1", "E3", "S1"}
    instant = _labels([("I1", "identity_change", 1, None, 5), ("I2", "identity_change", 2, None, 5)])
    instant = instant.with_columns(pl.col("start").alias("end"))  # a name changed at 5 h: heard before and after?
    assert heard_labels(instant, positions) == {"I1"}
    table = measure(ALERTS.head(0), labels, pl.DataFrame({"mmsi": [99], "role": ["background"]}), hours=1.0,
                    kinds=["ais_gap", "loitering", "encounter"], positions=positions)  # fmt: skip
    assert table["observable"].to_list() == [1, 1, 2]
