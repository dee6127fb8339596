"""Triage quality: how often analysts agreed with a detector, and the raised bar of a noisy one.

Precision here is the analysts' word over a window of decision times: confirmed / (confirmed + dismissed) of the
alerts whose latest decision falls in the window (escalated alerts are counted but are neither; an alert reopened
to ``new`` is undecided again). It is given per kind, per zone (``zone_entry`` alerts, the zone their reasons name)
and per station (``ais_gap`` alerts whose reasons name a station: only gaps an outage was part of do).

A kind (or a zone) whose precision falls below :attr:`NoisyBar.min_precision`, over at least
:attr:`NoisyBar.min_decisions` confirmed or dismissed alerts, gets a raised bar (:func:`raised_bars`): its alerts
count in the scores only from the median score of its dismissed alerts up, never from above
:attr:`NoisyBar.max_score`; when no dismissed alert scores under that median (a detector that gives one score
to all its alerts of a zone, as zone_entry does: 40 in a watch zone), from just above it, or the bar would take
out none of them. A zone with its own bar leaves its kind's: its decisions do not count in the kind's precision
for the bar, or a fishing ground drawn as a watch zone would raise a bar over every watch zone. The bar is
recomputed from the decisions every scoring, so it falls back by itself when confirmations come or the dismissals
age out of the window. Alerts under it stay stored and listed; only their
points leave the scores, and the vessel's reasons say why (:func:`models.indicators.with_decisions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

import polars as pl

# An alert's latest decision in the window, with what the alert says (api/store: Store.triaged()); a withdrawn
# alert's score and reasons are null (its decision still counts in its kind's precision)
TRIAGED_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType({
    "alert_id": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),  # confirmed, dismissed, escalated, new (reopened: undecided again)
    "reason": pl.String(),  # a dismissal's reason code
    "at": pl.Datetime("us", "UTC"),
    "score": pl.Float64(),
    "reasons": pl.List(pl.String()),
})  # fmt: skip

# Undecided alerts in the window (api/store: Store.undecided()): ``n`` alerts of ``kind``; zone_entry and ais_gap
# alerts come one a row with their reasons (their zone or station is read from them), others one row per kind
UNDECIDED_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType({
    "kind": pl.String(),
    "reasons": pl.List(pl.String()),
    "n": pl.Int64(),
})  # fmt: skip

PLACE_KINDS = ("zone_entry", "ais_gap")  # the kinds whose reasons name a zone or a station
BAR_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType({
    "scope": pl.String(),  # kind or zone
    "kind": pl.String(),
    "zone": pl.String(),  # null for a kind's bar
    "threshold": pl.Float64(),  # alerts count from this score up
    "said": pl.String(),  # "spoofing alerts count from score 70 up: analysts dismissed 14 of 18 in the last 30 days"
})  # fmt: skip
COUNTS = ("confirmed", "dismissed", "escalated")


@dataclass(frozen=True)
class NoisyBar:
    """When a detector's triage precision earns it a raised bar (api/settings.py sets these from SEAWATCH_*)."""

    # below this precision analysts dismiss more than two alerts in three: the detector wastes their watch
    min_precision: float = 0.3
    # fewer decisions than this say little (one analyst's bad morning): no bar
    min_decisions: int = 10
    # the bar never rises above this score: a noisy detector's strongest alerts still count
    max_score: float = 80.0
    window_days: float = 30.0


def alert_zone(reasons: pl.Expr) -> pl.Expr:
    """The zone a zone_entry alert's first reason names ("entered restricted zone Ha Long" -> "Ha Long")."""
    first = reasons.list.first().str.replace(r" when first heard \(its data begins there\)$", "")
    return first.str.extract(r"^(?:entered|inside) \S+ zone (.+)$", 1)


def alert_station(reasons: pl.Expr) -> pl.Expr:
    """The first station a gap's reasons name ("... station CT01 heard 0 of ..."), null when none does."""
    return reasons.list.join(" ; ").str.extract(r"(?:^|\s)station (\S+)\s", 1)


def _with_places(frame: pl.DataFrame) -> pl.DataFrame:
    reasons = pl.col("reasons").fill_null(pl.lit([], pl.List(pl.String)))
    return frame.with_columns(
        zone=pl.when(pl.col("kind") == "zone_entry").then(alert_zone(reasons)),
        station=pl.when(pl.col("kind") == "ais_gap").then(alert_station(reasons)),
    )


def precision_by(triaged: pl.DataFrame, undecided: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per ``by`` (``kind``, ``zone`` or ``station``): confirmed, dismissed, escalated and undecided alerts,
    ``precision`` (null without a confirmed or dismissed one) and ``dismissal_reasons`` (code -> count), the
    noisiest first."""
    decided = _with_places(triaged).filter(pl.col(by).is_not_null() & pl.col("status").is_in(COUNTS))
    waiting = _with_places(undecided).filter(pl.col(by).is_not_null())
    counts = decided.group_by(by).agg(
        *(((pl.col("status") == s).sum().cast(pl.Int64)).alias(s) for s in COUNTS),
    )
    reasons = (
        decided.filter(pl.col("status") == "dismissed")
        .group_by(by, "reason")
        .len()
        .sort("len", "reason", descending=[True, False])
        .group_by(by, maintain_order=True)
        .agg(dismissal_reasons=pl.struct(reason=pl.col("reason").fill_null("unknown"), n=pl.col("len").cast(pl.Int64)))
    )  # fmt: skip
    left = waiting.group_by(by).agg(undecided=pl.col("n").sum().cast(pl.Int64))
    out = counts.join(left, on=by, how="full", coalesce=True).join(reasons, on=by, how="left")
    out = out.with_columns(pl.col(*COUNTS, "undecided").fill_null(0))
    judged = pl.col("confirmed") + pl.col("dismissed")
    return out.with_columns(
        precision=pl.when(judged > 0).then(pl.col("confirmed") / judged),
        dismissal_reasons=pl.col("dismissal_reasons").fill_null(pl.lit([], out.schema["dismissal_reasons"])),
    ).sort(pl.col("precision").fill_null(2.0), by)


def raised_bars(triaged: pl.DataFrame, bar: NoisyBar) -> pl.DataFrame:
    """The raised bars (:data:`BAR_SCHEMA`) that ``triaged`` (the window's decisions) earns: per kind, and per zone
    of zone_entry alerts, when precision is under ``bar.min_precision`` over at least ``bar.min_decisions``
    confirmed or dismissed alerts; the threshold is their dismissed alerts' median score, at most
    ``bar.max_score`` (just above it when none of them scores under it). A kind's bar leaves out the decisions
    of zones that have their own. A kind whose dismissed alerts' scores are all unknown (withdrawn) gets none."""
    placed = _with_places(triaged)
    zones = _bars(placed, "zone", bar)
    # a zone with its own bar is explained by it: the kind's bar is earned by its other alerts
    elsewhere = placed.join(zones.select("kind", "zone"), on=["kind", "zone"], how="anti")
    frames = [_bars(elsewhere, "kind", bar), zones]
    schema = dict(BAR_SCHEMA)
    return pl.concat([f.select(list(schema)).cast(schema) for f in frames], how="vertical")  # type: ignore[arg-type]


def _bars(triaged: pl.DataFrame, scope: str, bar: NoisyBar) -> pl.DataFrame:
    keys = ["kind"] if scope == "kind" else ["kind", "zone"]
    judged = triaged.filter(pl.col("status").is_in(["confirmed", "dismissed"]))
    if scope == "zone":
        judged = judged.filter(pl.col("zone").is_not_null())
    dismissed = pl.col("status") == "dismissed"
    per = judged.group_by(keys).agg(
        n=pl.len().cast(pl.Int64),
        dismissed=dismissed.sum().cast(pl.Int64),
        median=pl.col("score").filter(dismissed).median(),
        lowest=pl.col("score").filter(dismissed).min(),
    )
    noisy = per.filter(
        (pl.col("n") >= bar.min_decisions)
        & ((pl.col("n") - pl.col("dismissed")) / pl.col("n") < bar.min_precision)
        & pl.col("median").is_not_null()
    )
    # alerts under the bar leave the scores; a bar at the lowest dismissed score would take out none of them
    median = pl.when(pl.col("lowest") >= pl.col("median")).then(pl.col("median").floor() + 1).otherwise("median")
    threshold = median.clip(upper_bound=bar.max_score).round(0)
    days = f"{bar.window_days:g}"
    what = (pl.format("{} alerts", pl.col("kind")) if scope == "kind"
            else pl.format("{} alerts in zone {}", pl.col("kind"), pl.col("zone")))  # fmt: skip
    return noisy.with_columns(threshold=threshold).select(
        scope=pl.lit(scope),
        kind="kind",
        zone=pl.col("zone") if scope == "zone" else pl.lit(None, pl.String),
        threshold="threshold",
        said=pl.format("{} count from score {} up: analysts dismissed {} of {} in the last {} days", what,
                       pl.col("threshold").cast(pl.Int64), pl.col("dismissed"), pl.col("n"), pl.lit(days)),
    )  # fmt: skip


def bars_applied(alerts: pl.DataFrame, bars: pl.DataFrame | None) -> pl.DataFrame:
    """``alerts`` with ``bar`` (the highest raised bar that applies to it, null for none) and ``below_bar`` (that
    bar's words when its score is under it, null otherwise)."""
    if bars is None or bars.height == 0 or alerts.height == 0:
        return alerts.with_columns(bar=pl.lit(None, pl.Float64), below_bar=pl.lit(None, pl.String))
    kinds = bars.filter(pl.col("scope") == "kind").select("kind", k_bar="threshold", k_said="said")
    zones = bars.filter(pl.col("scope") == "zone").select("kind", "zone", z_bar="threshold", z_said="said")
    zone = pl.when(pl.col("kind") == "zone_entry").then(alert_zone(pl.col("reasons")))
    joined = (
        alerts.with_columns(_zone=zone)
        .join(kinds, on="kind", how="left", maintain_order="left")
        .join(zones.rename({"zone": "_zone"}), on=["kind", "_zone"], how="left", maintain_order="left")
    )
    zone_higher = pl.col("z_bar").fill_null(-1.0) > pl.col("k_bar").fill_null(-1.0)
    threshold = pl.when(zone_higher).then(pl.col("z_bar")).otherwise(pl.col("k_bar"))
    said = pl.when(zone_higher).then(pl.col("z_said")).otherwise(pl.col("k_said"))
    return (
        joined.with_columns(bar=threshold)
        .with_columns(below_bar=pl.when(pl.col("score") < pl.col("bar")).then(said))
        .drop("_zone", "k_bar", "k_said", "z_bar", "z_said")
    )


def window_start(now: datetime, bar: NoisyBar) -> datetime:
    return now - timedelta(days=bar.window_days)
