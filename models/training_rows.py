"""Training rows from analysts' decisions: the evidence of each decided vessel as it stood when it was decided.

A decision labels its alert's vessels (both vessels of a pair's alert): confirmed or escalated is a positive,
dismissed a negative; an alert reopened (status ``new``) is no label. Each alert's latest decision is its label.

The store keeps no copy of a vessel's features at the moment of a decision, so they are rebuilt from what it does
keep, time-stamped (``api.store.training``), with the very functions the live scorer uses
(:meth:`models.scoring.Scorer.evidence`, :func:`models.indicators.combine`,
:func:`models.scoring.evidence_features`):
- the alerts the store held at the decision (first stored at or before it), with their stored scores: an alert
  still growing then was stored with its later evidence, the one thing that reaches past the decision;
- the decisions made before it on the vessel's other alerts, applied as the live scorer applied them (a dismissed
  one no longer counts, a confirmed one counts fully); never a decision on the decided alert itself;
- the vessel's positions heard, ship type and unusualness as last scored (the store keeps their latest values only,
  not their history: they enter as the log of the count, a type flag and the worst day's anomaly score; missing
  when the vessel was never scored with an unusual-behaviour model).
Mutes and raised bars are not applied: the store keeps when mutes were in force, but the bars of the past are not
rebuilt.

Rows are split by time (:func:`time_split`): the latest share of the decisions is held out, never the rows of one
decision on both sides, so the held-out figures say how a model fitted on the past does on decisions made after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from engine.alerts import ALERT_SCHEMA
from models.indicators import DECISION_SCHEMA, Weights, combine, with_decisions
from models.scoring import EVIDENCE_FEATURES, Scorer, evidence_features

POSITIVE = ("confirmed", "escalated")
NEGATIVE = ("dismissed",)
# Fewer decisions than these say nothing a held-out figure can show: with 3 of a class held out, one mistake moves
# average precision by a third. Rules of thumb, as the noisy-bar minimum of 10 decisions (api/settings.py).
MIN_DECISIONS = 30
MIN_PER_CLASS_TRAIN = 5
MIN_PER_CLASS_HELD_OUT = 3
HOLD_OUT = 0.25  # the latest quarter of the decisions is held out
_DAYS_SCHEMA = {"mmsi": pl.Int64(), "drift_frac": pl.Float64(), "fixes": pl.Int64()}


class TooFewDecisions(ValueError):
    """The store's decisions are too few (or of one kind) to train and measure a model; the message says how many
    are needed."""


@dataclass(frozen=True)
class Split:
    train: pl.DataFrame
    held_out: pl.DataFrame
    cut: datetime  # decisions from this time on are held out


def labels(decisions: pl.DataFrame) -> pl.DataFrame:
    """Each decided alert's latest decision, when it is a label: ``alert_id``, ``kind``, ``mmsi``, ``other_mmsi``,
    ``status``, ``at``, ``y`` (1 confirmed or escalated, 0 dismissed), oldest first."""
    latest = decisions.sort("at", "id").unique("alert_id", keep="last", maintain_order=True)
    return (
        latest.filter(pl.col("status").is_in([*POSITIVE, *NEGATIVE]))
        .with_columns(y=pl.col("status").is_in(list(POSITIVE)).cast(pl.Int64))
        .select("id", "alert_id", "kind", "mmsi", "other_mmsi", "status", "at", "y")
        .sort("at", "id")
    )


def decision_rows(decisions: pl.DataFrame, alerts: pl.DataFrame, vessels: pl.DataFrame,
                  weights: Weights | None = None) -> pl.DataFrame:  # fmt: skip
    """One row per decided vessel: ``alert_id``, ``at``, ``mmsi``, :data:`EVIDENCE_FEATURES`, the indicator
    ``score`` and ``y``. ``decisions``, ``alerts``, ``vessels``: ``api.store.training.TrainingData``'s frames."""
    scorer = Scorer(weights=weights or Weights())
    rows = []
    for label in labels(decisions).iter_rows(named=True):
        vessels_of = [m for m in (label["mmsi"], label["other_mmsi"]) if m is not None]
        rows.append(_rows_at(scorer, label, vessels_of, decisions, alerts, vessels))
    if not rows:
        return pl.DataFrame(schema={"alert_id": pl.String(), "at": DECISION_SCHEMA["at"], "mmsi": pl.Int64(),
                                    **{f: pl.Float64() for f in EVIDENCE_FEATURES}, "score": pl.Float64(),
                                    "y": pl.Int64()})  # fmt: skip
    return pl.concat(rows, how="vertical")


def _rows_at(scorer: Scorer, label: dict[str, object], mmsis: list[int], decisions: pl.DataFrame,
             alerts: pl.DataFrame, vessels: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
    at = pl.lit(label["at"], DECISION_SCHEMA["at"])
    theirs = pl.col("mmsi").is_in(mmsis) | pl.col("other_mmsi").is_in(mmsis)
    known = alerts.filter(theirs & (pl.col("created_at") <= at)).select(list(ALERT_SCHEMA))
    before = (
        decisions.filter((pl.col("at") < at) & (pl.col("alert_id") != label["alert_id"]))
        .sort("at", "id")
        .unique("alert_id", keep="last", maintain_order=True)
        .select(list(DECISION_SCHEMA))
    )
    counted, _ = with_decisions(known, before)
    fleet = pl.DataFrame({"mmsi": mmsis}, schema={"mmsi": pl.Int64()}).join(vessels, on="mmsi", how="left")
    asof = counted["end"].max() if counted.height else label["at"]
    unusual = fleet.select("mmsi", "unusual")
    fleet, evidence = scorer.evidence(counted, fleet.drop("unusual"), pl.DataFrame(schema=_DAYS_SCHEMA), asof)  # type: ignore[arg-type]
    fleet = fleet.join(unusual, on="mmsi", how="left")  # as last scored: the scorer without its model has none
    indicator = combine(evidence, fleet, scorer.weights, corroborate=True).select("mmsi", "score")
    feats = evidence_features(counted, evidence, fleet, indicator)
    return feats.join(indicator, on="mmsi", how="left").select(
        pl.lit(label["alert_id"], pl.String).alias("alert_id"),
        at.alias("at"),
        "mmsi",
        *[pl.col(f).cast(pl.Float64) for f in EVIDENCE_FEATURES],
        pl.col("score").fill_null(0.0),
        pl.lit(label["y"], pl.Int64).alias("y"),
    )


def time_split(rows: pl.DataFrame, hold_out: float = HOLD_OUT) -> Split:
    """The rows of the earlier decisions to train on and of the latest ``hold_out`` share of them to measure on;
    refuses (:class:`TooFewDecisions`) what is too few to do either, saying how many are needed."""
    decided = rows.unique("alert_id", keep="first").sort("at", "alert_id")
    counts = decided.group_by("y").len()
    have = {int(y): int(n) for y, n in counts.iter_rows()}
    said = (f"the store holds {decided.height} usable decision(s) ({have.get(1, 0)} confirmed or escalated, "
            f"{have.get(0, 0)} dismissed)")  # fmt: skip
    need = (f"retraining needs at least {MIN_DECISIONS}, with at least {MIN_PER_CLASS_TRAIN} of each kind before "
            f"the latest {hold_out:.0%} and {MIN_PER_CLASS_HELD_OUT} of each in it (held out to measure the "
            "model)")  # fmt: skip
    if decided.height < MIN_DECISIONS:
        raise TooFewDecisions(f"{said}; {need}: triage more alerts")
    cut_index = min(decided.height - 1, math.floor(decided.height * (1.0 - hold_out)))
    cut: datetime = decided["at"][cut_index]
    train, held = rows.filter(pl.col("at") < cut), rows.filter(pl.col("at") >= cut)
    for name, part, least in (("before", train, MIN_PER_CLASS_TRAIN), ("in", held, MIN_PER_CLASS_HELD_OUT)):
        per = part.unique("alert_id").group_by("y").len()
        n = {int(y): int(k) for y, k in per.iter_rows()}
        if min(n.get(0, 0), n.get(1, 0)) < least:
            raise TooFewDecisions(f"{said}, {n.get(1, 0)} confirmed or escalated and {n.get(0, 0)} dismissed {name} "
                                  f"the latest {hold_out:.0%} (from {cut:%Y-%m-%d %H:%M} UTC); {need}: triage "
                                  "more alerts of the missing kind")  # fmt: skip
    return Split(train=train, held_out=held, cut=cut)
