"""Helpers for the identity and distress detector tests: a small simulated scenario, run whole or in chunks."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import polars as pl

from engine.decode import decode
from engine.runner import Detector, Engine
from feeds.framing import Framer


def run(feed: bytes, make: Callable[[], Sequence[Detector]], cuts: Sequence[int] = ()) -> pl.DataFrame:
    """The alerts of ``make()``'s detectors over ``feed`` framed in chunks cut at ``cuts`` (byte offsets)."""
    engine = Engine(list(make()))
    framer = Framer()
    edges = [0, *sorted(c % max(len(feed), 1) for c in cuts), len(feed)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        d = decode(framer.feed(feed[a:b]), details=False)
        engine.process(d.positions, d.statics, d.events)
    d = decode(framer.finish(), details=False)
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()


def random_cuts(n: int, seed: int, count: int = 60) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(n) for _ in range(count)]


def recall(alerts: pl.DataFrame, labels: pl.DataFrame, kind: str, slack_min: int = 10) -> tuple[float, list[int]]:
    """Share of ``kind`` labels with an alert of the same kind and MMSI whose window overlaps (with slack)."""
    lab = labels.filter(pl.col("kind") == kind)
    if not lab.height:
        return 1.0, []
    slack = pl.duration(minutes=slack_min)
    got = alerts.filter(pl.col("kind") == kind).select("mmsi", pl.col("start").alias("a0"), pl.col("end").alias("a1"))
    j = lab.with_row_index("i").join(got, on="mmsi", how="left")
    hit = j.with_columns(((pl.col("a0") <= pl.col("end") + slack) & (pl.col("a1") >= pl.col("start") - slack))
                         .fill_null(False).alias("hit")).group_by("i", "mmsi").agg(pl.col("hit").any())  # fmt: skip
    return float(hit["hit"].mean() or 0.0), hit.filter(~pl.col("hit"))["mmsi"].to_list()


def label_frame(labels: Sequence[object], epoch: float) -> pl.DataFrame:
    """The simulator's labels as a frame with UTC start/end."""
    rows = [(lb.kind, lb.mmsi, lb.start, lb.end) for lb in labels]  # type: ignore[attr-defined]
    frame = pl.DataFrame(rows, schema=["kind", "mmsi", "start", "end"], orient="row")
    to_t = (pl.col("start") + epoch) * 1e6
    return frame.with_columns(
        to_t.cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("start"),
        ((pl.col("end") + epoch) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("end"),
    )


def observable(labels: pl.DataFrame, feed: bytes) -> pl.DataFrame:
    """The labels that left evidence in the feed, by the rules the benchmarks score with
    (:func:`models.evaluation.heard_labels`): the others no detector can find."""
    from engine.decode import decode_bytes
    from models.evaluation import heard_labels

    named = labels.with_row_index("i").with_columns(label_id=pl.col("i").cast(pl.String),
                                                    other_mmsi=pl.lit(None, pl.Int64))  # fmt: skip
    heard = heard_labels(named, decode_bytes(feed, details=False).positions)
    return named.filter(pl.col("label_id").is_in(sorted(heard))).drop("i", "label_id", "other_mmsi")
