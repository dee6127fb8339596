"""Detector quality on labelled traffic: recall against the labels and false alerts on background vessels, per
alert kind and for all kinds together.

    .venv/bin/python benchmarks/quality.py --seeds 11 12 --hours 24           # our simulator, fresh seeds
    .venv/bin/python benchmarks/quality.py --scenario ../shared/data/scenarios/tonkin-303-hard   # independent days
    .venv/bin/python benchmarks/quality.py --seeds 11 12 13 --explain   # and each false alert's vessel class

A scenario folder holds ``feed.nmea`` (or ``.gz``), ``labels.csv``, ``vessels.csv`` and ``zones.geojson``; it is
run as ``seawatch backtest FEED --zones zones.geojson`` runs it: the region pack's facts and the scenario's zones,
no examples. Scoring (:mod:`models.evaluation`): an alert matches a label of its kind on either vessel when it
overlaps the label's window widened by 1 h; a false alert matches no label and involves a background vessel;
false alerts are per 1000 background vessel-hours. Other kinds' detectors plug in through :func:`default_detectors`.
``--explain`` lists each false alert with the class of its vessels (vessels.csv ``plan`` from our simulator, ``kind``
from the independent generator: which hard negative fooled the detector) and counts them by kind and class.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.alerts import ALERT_KINDS  # noqa: E402
from engine.decode import decode_bytes  # noqa: E402
from engine.detectors import default_detectors as all_detectors  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import RegionPack, engine_pack, load_pack  # noqa: E402
from engine.runner import Detector, Engine  # noqa: E402
from models.evaluation import matches, measure, read_truth  # noqa: E402


def default_detectors(pack: RegionPack, land: LandIndex) -> list[Detector]:
    """Every detector (engine.detectors.default_detectors)."""
    return all_detectors(pack, land)


def run(feed: bytes, detectors: list[Detector]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, float]:
    """(alerts, decoded positions, decoded statics, seconds the engine took) for one feed in one batch."""
    d = decode_bytes(feed)
    engine = Engine(detectors)
    t0 = time.perf_counter()
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts(), d.positions, d.statics, time.perf_counter() - t0


def with_total(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with a last row ``all``: every kind together."""
    total = table.select(
        pl.lit("all").alias("kind"), pl.col("labels").sum(), pl.col("matched").sum(), pl.col("alerts").sum(),
        pl.col("false_background").sum(), pl.col("false_per_1000_vh").sum(),
    ).with_columns(recall=pl.col("matched") / pl.col("labels"))  # fmt: skip
    return pl.concat([table, total], how="diagonal_relaxed")


def false_alerts(alerts: pl.DataFrame, labels: pl.DataFrame, vessels: pl.DataFrame) -> pl.DataFrame:
    """The false alerts (matching no label, involving a background vessel, as :func:`measure` counts them), each with
    the class of its vessel and of the other vessel of a pair (vessels.csv ``plan``, or ``kind``, or ``type``)."""
    column = next(c for c in ("plan", "kind", "type") if c in vessels.columns)
    injected = vessels.filter(pl.col("role") != "background")["mmsi"].implode()
    background = vessels.filter((pl.col("role") == "background") & ~pl.col("mmsi").is_in(injected))
    cls = background.unique("mmsi", keep="first").select("mmsi", pl.col(column).cast(pl.String).alias("class"))
    matched = matches(alerts, labels)["alert_id"].unique().implode()
    false = alerts.filter(~pl.col("alert_id").is_in(matched)).join(cls, on="mmsi", how="left")
    false = false.join(cls.rename({"mmsi": "other_mmsi", "class": "other_class"}), on="other_mmsi", how="left")
    false = false.filter(pl.col("class").is_not_null() | pl.col("other_class").is_not_null())
    return false.select(
        "kind", "mmsi", "class", "other_mmsi", "other_class", "start", "end",
        pl.col("reasons").list.first().alias("first_reason"),
    ).sort("kind", "start")  # fmt: skip


def explain(alerts: pl.DataFrame, labels: pl.DataFrame, vessels: pl.DataFrame, name: str) -> None:
    false = false_alerts(alerts, labels, vessels)
    by = false.with_columns(pl.coalesce("class", "other_class").alias("class")).group_by("kind", "class").len()
    with pl.Config(tbl_rows=200, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=90):
        sys.stdout.write(f"{name}: false alerts by kind and vessel class\n{by.sort('kind', 'len')}\n{false}\n")


def scenario_quality(folder: Path, land: LandIndex, show: bool = False) -> pl.DataFrame:
    """One labelled scenario folder, run as ``seawatch backtest`` runs it and scored as it is scored elsewhere."""
    feed = next((folder / n for n in ("feed.nmea", "feed.nmea.gz") if (folder / n).is_file()), None)
    if feed is None:
        raise SystemExit(f"{folder}: no feed.nmea or feed.nmea.gz; give a labelled scenario folder")
    data = gzip.decompress(feed.read_bytes()) if feed.suffix == ".gz" else feed.read_bytes()
    zones = folder / "zones.geojson"
    pack = engine_pack("gulf-of-tonkin", zones=zones if zones.is_file() else None)
    alerts, positions, statics, secs = run(data, default_detectors(pack, land))
    labels, vessels = read_truth(folder)
    span = positions["t"].max() - positions["t"].min() if positions.height else None  # type: ignore[operator]
    hours = span.total_seconds() / 3600 if span is not None else 0.0  # type: ignore[union-attr]
    lines = data.count(b"\n")
    sys.stdout.write(f"{folder.name}: {lines:,} lines, detectors {secs:.2f} s\n")
    if show:
        explain(alerts, labels, vessels, folder.name)
    return with_total(measure(alerts, labels, vessels, hours=hours, kinds=ALERT_KINDS, positions=positions,
                              statics=statics))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--vessels", type=int, default=300)
    ap.add_argument("--scenario", type=Path, nargs="+", metavar="DIR", help="labelled scenario folders to score")
    ap.add_argument("--explain", action="store_true", help="list each false alert with its vessel's class")
    args = ap.parse_args(argv)
    if args.scenario:
        land = LandIndex.load()
        with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=160):
            for folder in args.scenario:
                sys.stdout.write(f"{scenario_quality(folder, land, args.explain)}\n")
        return 0
    from seawatch.simulator.config import SimConfig  # benchmarks may use the simulator; the engine never does
    from seawatch.simulator.scenario import simulate

    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    tables = []
    for seed in args.seeds:
        scenario = simulate(SimConfig(hours=args.hours, seed=seed, vessels=args.vessels))
        with tempfile.TemporaryDirectory() as tmp:
            scenario.write(Path(tmp))
            labels, vessels = read_truth(Path(tmp))
        alerts, positions, statics, secs = run(scenario.feed, default_detectors(pack, land))
        table = measure(alerts, labels, vessels, hours=args.hours, kinds=ALERT_KINDS, positions=positions,
                        statics=statics)
        table = with_total(table).with_columns(pl.lit(seed).alias("seed"))
        tables.append(table)
        lines = scenario.feed.count(b"\n")
        sys.stdout.write(f"seed {seed}: {lines:,} lines, detectors {secs:.2f} s ({lines / secs:,.0f} lines/s)\n")
        if args.explain:
            explain(alerts, labels, vessels, f"seed {seed}")
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=160):
        sys.stdout.write(f"{pl.concat(tables)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
