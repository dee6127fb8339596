"""Detector quality on simulated scenarios: recall against the injected labels and false alerts on background
vessels, per alert kind.

    .venv/bin/python benchmarks/quality.py --seeds 11 12 --hours 24

An alert *matches* a label of the same kind and MMSI whose [start, end] overlaps the alert's, with ``slack``
either side. Recall = labels matched / labels. False alerts = alerts on background vessels (vessels.csv role
``background``) per 1000 vessel-hours of background traffic. Other kinds' detectors plug in through
:func:`default_detectors`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.alerts import ALERT_KINDS  # noqa: E402
from engine.decode import decode_bytes  # noqa: E402
from engine.detectors import default_detectors as all_detectors  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import RegionPack, load_pack  # noqa: E402
from engine.runner import Detector, Engine  # noqa: E402

SLACK = timedelta(minutes=5)


def default_detectors(pack: RegionPack, land: LandIndex) -> list[Detector]:
    """Every detector (engine.detectors.default_detectors)."""
    return all_detectors(pack, land)


def measure(alerts: pl.DataFrame, labels: pl.DataFrame, vessels: pl.DataFrame, *, hours: float,
            slack: timedelta = SLACK, kinds: Sequence[str] | None = None,
            positions: pl.DataFrame | None = None) -> pl.DataFrame:  # fmt: skip
    """One row per kind: labels, matched, recall, alerts, false alerts on background vessels and their rate.

    With the decoded ``positions``, also the labels that left any evidence in the feed (a position of the
    vessel within the label's span: a spoofed spell that no station heard cannot be found) and the recall on them.
    """
    kinds = list(kinds or sorted(set(alerts["kind"].to_list())))
    labels = labels.with_columns(pl.col("start").cast(alerts["start"].dtype), pl.col("end").cast(alerts["end"].dtype))
    injected = vessels.filter(pl.col("role") != "background")["mmsi"].implode()
    # an MMSI that an injected vessel also uses (identity conflict) is not background
    background = vessels.filter((pl.col("role") == "background") & ~pl.col("mmsi").is_in(injected))["mmsi"].unique()
    vessel_hours = background.len() * hours
    # a pair's alert names the smaller MMSI first; a label may name either vessel first
    mirrored = labels.filter(pl.col("other_mmsi").is_not_null()).with_columns(
        pl.col("other_mmsi").alias("mmsi"), pl.col("mmsi").alias("other_mmsi")
    )
    either = pl.concat([labels, mirrored.select(labels.columns)], how="vertical_relaxed")
    pairs = alerts.join(either, on=["kind", "mmsi"], suffix="_label").filter(
        (pl.col("start") <= pl.col("end_label") + slack) & (pl.col("end") + slack >= pl.col("start_label"))
    )
    heard = set(labels["label_id"].to_list())
    if positions is not None:
        seen = labels.join(positions.select("mmsi", "t"), on="mmsi").filter(
            pl.col("t").is_between(pl.col("start"), pl.col("end"))
        )
        heard = set(seen["label_id"].to_list())
    rows = []
    for kind in kinds:
        lab = labels.filter(pl.col("kind") == kind)
        al = alerts.filter(pl.col("kind") == kind)
        hit = pairs.filter(pl.col("kind") == kind)["label_id"].n_unique()
        on_background = pl.col("mmsi").is_in(background.implode())
        other_background = pl.col("other_mmsi").is_null() | pl.col("other_mmsi").is_in(background.implode())
        false = al.filter(on_background & other_background)
        hit_ids = set(pairs.filter(pl.col("kind") == kind)["label_id"].to_list())
        observable = [x for x in lab["label_id"].to_list() if x in heard]
        rows.append({
            "kind": kind, "labels": lab.height, "matched": hit, "recall": hit / lab.height if lab.height else None,
            "observable": len(observable),
            "recall_observable": len(hit_ids & set(observable)) / len(observable) if observable else None,
            "alerts": al.height, "false_background": false.height,
            "false_per_1000_vh": 1000 * false.height / vessel_hours if vessel_hours else None,
        })  # fmt: skip
    return pl.DataFrame(rows)


def read_truth(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    labels = pl.read_csv(folder / "labels.csv", try_parse_dates=True, schema_overrides={"other_mmsi": pl.Int64})
    labels = labels.with_columns(pl.col("start", "end").str.to_datetime(time_zone="UTC") if labels["start"].dtype
                                 == pl.String else pl.col("start", "end").dt.replace_time_zone("UTC"))  # fmt: skip
    return labels, pl.read_csv(folder / "vessels.csv", schema_overrides={"imo": pl.String})


def run(feed: bytes, detectors: list[Detector]) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """(alerts, decoded positions, seconds the engine took) for one feed in one batch."""
    d = decode_bytes(feed)
    engine = Engine(detectors)
    t0 = time.perf_counter()
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts(), d.positions, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--vessels", type=int, default=300)
    args = ap.parse_args(argv)
    from seawatch.simulator.config import SimConfig  # benchmarks may use the simulator; the engine never does
    from seawatch.simulator.scenario import simulate

    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    tables = []
    for seed in args.seeds:
        scenario = simulate(SimConfig(hours=args.hours, seed=seed, vessels=args.vessels))
        with tempfile.TemporaryDirectory() as tmp:
            scenario.write(Path(tmp))
            labels, vessels = read_truth(Path(tmp))
        alerts, positions, secs = run(scenario.feed, default_detectors(pack, land))
        table = measure(alerts, labels, vessels, hours=args.hours, kinds=ALERT_KINDS, positions=positions)
        table = table.with_columns(pl.lit(seed).alias("seed"))
        tables.append(table)
        lines = scenario.feed.count(b"\n")
        sys.stdout.write(f"seed {seed}: {lines:,} lines, detectors {secs:.2f} s ({lines / secs:,.0f} lines/s)\n")
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=160):
        sys.stdout.write(f"{pl.concat(tables)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
