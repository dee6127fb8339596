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
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.alerts import ALERT_KINDS  # noqa: E402
from engine.decode import decode_bytes  # noqa: E402
from engine.detectors import default_detectors as all_detectors  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import RegionPack, load_pack  # noqa: E402
from engine.runner import Detector, Engine  # noqa: E402
from models.evaluation import measure, read_truth  # noqa: E402


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
        alerts, positions, statics, secs = run(scenario.feed, default_detectors(pack, land))
        table = measure(alerts, labels, vessels, hours=args.hours, kinds=ALERT_KINDS, positions=positions,
                        statics=statics)
        table = table.with_columns(pl.lit(seed).alias("seed"))
        tables.append(table)
        lines = scenario.feed.count(b"\n")
        sys.stdout.write(f"seed {seed}: {lines:,} lines, detectors {secs:.2f} s ({lines / secs:,.0f} lines/s)\n")
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=160):
        sys.stdout.write(f"{pl.concat(tables)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
