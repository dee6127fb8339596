"""Alerts against labels: recall per kind, false alerts on background traffic, and a precision-recall curve.

The same functions serve ``benchmarks/quality.py``, the backtest report and the tests, so the numbers in the
report are the numbers the tests measure.

An alert *matches* a label of the same kind and MMSI whose [start, end] overlaps the alert's, with ``slack``
(1 h) either side (a pair's alert may name either vessel first). Recall = labels matched / labels. A false alert
is an alert that matches no label and involves a background vessel (vessels.csv role ``background``, either vessel
of a pair); false alerts are counted per 1000 background vessel-hours (the sum of vessels.csv ``active_hours``
where it has them, else background vessels x the hours the data spans). These are the rules by which independent
labelled days (``../shared/data/scenarios``) are scored where they are held back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import polars as pl

SLACK = timedelta(hours=1)


def matches(alerts: pl.DataFrame, labels: pl.DataFrame, slack: timedelta = SLACK) -> pl.DataFrame:
    """Every (alert, label) pair that match: same kind, same vessel (either of a pair), overlapping in time."""
    labels = labels.with_columns(pl.col("start").cast(alerts["start"].dtype), pl.col("end").cast(alerts["end"].dtype))
    # a pair's alert names the smaller MMSI first; a label may name either vessel first
    mirrored = labels.filter(pl.col("other_mmsi").is_not_null()).with_columns(
        pl.col("other_mmsi").alias("mmsi"), pl.col("mmsi").alias("other_mmsi")
    )
    either = pl.concat([labels, mirrored.select(labels.columns)], how="vertical_relaxed")
    return alerts.join(either, on=["kind", "mmsi"], suffix="_label").filter(
        (pl.col("start") <= pl.col("end_label") + slack) & (pl.col("end") + slack >= pl.col("start_label"))
    )


def pr_curve(alerts: pl.DataFrame, labels: pl.DataFrame, slack: timedelta = SLACK) -> pl.DataFrame:
    """Precision and recall when only alerts scoring at least ``threshold`` are kept, for every kind together
    (``kind`` "all") and per kind: columns ``kind``, ``threshold``, ``precision``, ``recall``.

    Precision counts an alert as right when it matches a label; alerts on labelled vessels that match no label
    count as wrong, so it is a lower bound.
    """
    pairs = matches(alerts, labels, slack)
    hit = set(pairs["alert_id"].to_list())
    label_of = pairs.group_by("alert_id").agg(pl.col("label_id"))
    rows = []
    kinds = ["all", *sorted(set(labels["kind"].to_list()) | set(alerts["kind"].to_list()))]
    for kind in kinds:
        al = alerts if kind == "all" else alerts.filter(pl.col("kind") == kind)
        n_labels = labels.height if kind == "all" else labels.filter(pl.col("kind") == kind).height
        if al.height == 0 or n_labels == 0:
            continue
        al = al.join(label_of, on="alert_id", how="left").sort("score", descending=True)
        found: set[str] = set()
        right = 0
        for i, (aid, score, ids) in enumerate(al.select("alert_id", "score", "label_id").iter_rows()):
            right += aid in hit
            found.update(ids or ())
            last = i + 1 == al.height or al["score"][i + 1] != score
            if last:  # one point per distinct score: alerts tied on a score are kept or dropped together
                rows.append({"kind": kind, "threshold": score, "precision": right / (i + 1),
                             "recall": len(found) / n_labels})  # fmt: skip
    return pl.DataFrame(rows, schema={"kind": pl.String(), "threshold": pl.Float64(), "precision": pl.Float64(),
                                      "recall": pl.Float64()})  # fmt: skip


MIN_DRAUGHT_M = 1.0  # the draught_change rule's smallest change (DESIGN.md)


def draught_heard(labels: pl.DataFrame, statics: pl.DataFrame) -> set[str]:
    """draught_change labels whose change shows in the statics heard: last draught before vs first after."""
    lab = labels.filter(pl.col("kind") == "draught_change").select("label_id", "mmsi", at="start")
    d = statics.select("mmsi", "t", "draught").filter(pl.col("draught").is_not_nan() & (pl.col("draught") > 0))
    d = d.with_columns(pl.col("t").cast(lab["at"].dtype)).sort("t")
    lab = lab.sort("at")
    before = lab.join_asof(d, left_on="at", right_on="t", by="mmsi", strategy="backward", check_sortedness=False)
    after = lab.join_asof(d, left_on="at", right_on="t", by="mmsi", strategy="forward", check_sortedness=False)
    both = before.select("label_id", old="draught").join(after.select("label_id", new="draught"), on="label_id")
    shown = both.filter((pl.col("new") - pl.col("old")).abs() >= MIN_DRAUGHT_M)
    return set(shown["label_id"].to_list())


TRACK_KINDS = ("loitering", "encounter")  # behaviours over time: judged from a track, not from one fix
MIN_TRACK_FIXES = 2  # one fix shows where a vessel was, not that it stayed there or met anyone


def heard_labels(labels: pl.DataFrame, positions: pl.DataFrame) -> set[str]:
    """The labels that left evidence in the decoded ``positions``; what no station heard cannot be found.

    - a silence (``ais_gap``): its vessel heard before the silence began and after it ended;
    - a behaviour over time (``TRACK_KINDS``): at least ``MIN_TRACK_FIXES`` positions of its vessel within the
      span; the other vessel of a pair either as well, or heard before and after the span (it met the first one
      dark: where it vanished and reappeared is the evidence);
    - an instant (a label whose start is its end, such as a change of name): its vessel heard before and after;
    - anything else: a position of its vessel within the span (a spoofed spell no station heard cannot be found).
    """
    fixes = positions.select("mmsi", "t")
    span = labels.select("label_id", "kind", "start", "end", vessel="mmsi", partner=pl.lit(False))
    pairs = labels.filter(pl.col("other_mmsi").is_not_null()).select("label_id", "kind", "start", "end",
                                                                      vessel="other_mmsi", partner=pl.lit(True))
    counted = pl.concat([span, pairs]).join(fixes, left_on="vessel", right_on="mmsi", how="left")
    per_vessel = counted.group_by("label_id", "kind", "vessel", "partner").agg(
        within=pl.col("t").is_between(pl.col("start"), pl.col("end")).sum(),
        start=pl.col("start").first(),
        end=pl.col("end").first(),
        before=(pl.col("t") < pl.col("start")).any(),
        after=(pl.col("t") > pl.col("end")).any(),
    )
    needed = pl.when(pl.col("kind").is_in(TRACK_KINDS)).then(MIN_TRACK_FIXES).otherwise(1)
    around = pl.col("before") & pl.col("after")
    ok = (pl.when((pl.col("kind") == "ais_gap") | (pl.col("start") == pl.col("end"))).then(around)
          .when(pl.col("partner") & pl.col("kind").is_in(TRACK_KINDS)).then((pl.col("within") >= needed) | around)
          .otherwise(pl.col("within") >= needed))  # fmt: skip
    judged = per_vessel.with_columns(ok=ok.fill_null(False)).group_by("label_id").agg(pl.col("ok").all())
    return set(judged.filter(pl.col("ok"))["label_id"].to_list())


def measure(alerts: pl.DataFrame, labels: pl.DataFrame, vessels: pl.DataFrame, *, hours: float,
            slack: timedelta = SLACK, kinds: Sequence[str] | None = None,
            positions: pl.DataFrame | None = None, statics: pl.DataFrame | None = None) -> pl.DataFrame:  # fmt: skip
    """One row per kind: labels, matched, recall, alerts, false alerts on background vessels and their rate.

    With the decoded ``positions``, also the labels that left evidence in the feed (:func:`heard_labels`) and
    the recall on them. A draught change is an instant: with the decoded ``statics`` too, it left evidence when
    the vessel's last draught heard before it and the first heard after it differ by at least a metre
    (``MIN_DRAUGHT_M``).
    """
    kinds = list(kinds or sorted(set(alerts["kind"].to_list())))
    labels = labels.with_columns(pl.col("start").cast(alerts["start"].dtype), pl.col("end").cast(alerts["end"].dtype))
    injected = vessels.filter(pl.col("role") != "background")["mmsi"].implode()
    # an MMSI that an injected vessel also uses (identity conflict) is not background
    is_background = (pl.col("role") == "background") & ~pl.col("mmsi").is_in(injected)
    background = vessels.filter(is_background)["mmsi"].unique()
    vessel_hours = background.len() * hours
    if "active_hours" in vessels.columns:
        vessel_hours = float(vessels.filter(is_background).unique("mmsi")["active_hours"].sum())
    pairs = matches(alerts, labels, slack)
    matched = pairs["alert_id"].unique().implode()
    heard = set(labels["label_id"].to_list())
    if positions is not None:
        heard = heard_labels(labels, positions)
    if statics is not None:  # an instant: judged by the statics, not by a position within it
        instant = set(labels.filter(pl.col("kind") == "draught_change")["label_id"].to_list())
        heard = (heard - instant) | draught_heard(labels, statics)
    rows = []
    for kind in kinds:
        lab = labels.filter(pl.col("kind") == kind)
        al = alerts.filter(pl.col("kind") == kind)
        hit = pairs.filter(pl.col("kind") == kind)["label_id"].n_unique()
        involves_background = pl.col("mmsi").is_in(background.implode()) | pl.col("other_mmsi").is_in(
            background.implode()).fill_null(False)  # fmt: skip
        false = al.filter(involves_background & ~pl.col("alert_id").is_in(matched))
        hit_ids = set(pairs.filter(pl.col("kind") == kind)["label_id"].to_list())
        observable = [x for x in lab["label_id"].to_list() if x in heard]
        rows.append({
            "kind": kind, "labels": lab.height, "matched": hit, "recall": hit / lab.height if lab.height else None,
            "observable": len(observable),
            "recall_observable": len(hit_ids & set(observable)) / len(observable) if observable else None,
            "alerts": al.height,
            "precision": pairs.filter(pl.col("kind") == kind)["alert_id"].n_unique() / al.height if al.height else None,
            "false_background": false.height,
            "false_per_1000_vh": 1000 * false.height / vessel_hours if vessel_hours else None,
        })  # fmt: skip
    return pl.DataFrame(rows)


def read_truth(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    labels = pl.read_csv(folder / "labels.csv", try_parse_dates=True, schema_overrides={"other_mmsi": pl.Int64})
    labels = labels.with_columns(pl.col("start", "end").str.to_datetime(time_zone="UTC") if labels["start"].dtype
                                 == pl.String else pl.col("start", "end").dt.replace_time_zone("UTC"))  # fmt: skip
    return labels, pl.read_csv(folder / "vessels.csv", schema_overrides={"imo": pl.String})
