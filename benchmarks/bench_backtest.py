"""End-to-end backtest benchmark: read, decode, features, every detector, scoring and writing, against pyais
decoding alone on the same file, in the same run.

    NUMBA_NUM_THREADS=1 POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/bench_backtest.py [--hours 48] [--vessels 600]

The input is a simulated Gulf of Tonkin scenario written as an NMEA log (tag blocks with times, several stations:
a realistic live-feed recording). ``seawatch backtest`` runs on it without the HTML report (drawing is not the hot
path; its time is printed separately); a warm-up run on a short scenario pays Numba compilation first. pyais
decodes a sample of the same file's sentences (its fastest path: bare sentences, single-part ones), scaled to
messages/s. Also: scoring alone for 100k vessels (issue target: under a second).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyais

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.alerts import ALERT_KINDS, ALERT_SCHEMA  # noqa: E402
from models.scoring import Scorer  # noqa: E402
from seawatch.backtest_job import BacktestOptions, run_backtest  # noqa: E402
from seawatch.simulator.config import SimConfig  # noqa: E402
from seawatch.simulator.scenario import simulate  # noqa: E402

PYAIS_SAMPLE = 100_000


def pyais_rate(feed: bytes) -> float:
    sentences = []
    for line in feed.split(b"\n"):
        i = line.find(b"!")
        if i >= 0 and b",1,1," in line:
            sentences.append(line[i:].split(b"\\")[0].strip())
        if len(sentences) >= PYAIS_SAMPLE:
            break
    t0 = time.perf_counter()
    for s in sentences:
        pyais.decode(s).asdict()
    return len(sentences) / (time.perf_counter() - t0)


def synthetic_fleet(n: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``n`` vessels with features and alerts in the shapes the scorer takes (for timing scoring alone)."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    mmsi = rng.choice(np.arange(200_000_000, 775_999_999), n, replace=False).astype(np.int64)
    vessels = pl.DataFrame({
        "mmsi": mmsi, "first_seen": [t0] * n, "last_seen": [t0 + timedelta(hours=23)] * n,
        "lat": rng.uniform(17, 22, n), "lon": rng.uniform(105.5, 110, n),
        "positions": rng.integers(1, 3000, n), "name": "VESSEL", "callsign": "CALL",
        "imo": pl.Series([None] * n, dtype=pl.Int64), "ship_type": rng.choice([30, 52, 70, 80, 81, 84], n),
    }).with_columns(pl.col("first_seen", "last_seen").dt.cast_time_unit("us"))  # fmt: skip
    days = vessels.select("mmsi", day=pl.lit(t0).dt.cast_time_unit("us"), fixes="positions").with_columns(
        *(pl.Series(name, rng.uniform(0, 1, n)) for name in ("hours_heard", "slow_frac", "mean_sog", "max_sog",
                                                             "extent_km", "night_frac", "offshore_km", "drift_frac")),
        lat=pl.Series(rng.uniform(17, 22, n)), lon=pl.Series(rng.uniform(105.5, 110, n)),
    )  # fmt: skip
    k = n // 5  # one vessel in five has an alert, a few have a pair
    idx = rng.integers(0, n, k)
    kinds = rng.choice(ALERT_KINDS, k)
    other = np.where(kinds == "encounter", mmsi[rng.integers(0, n, k)], -1)
    alerts = pl.DataFrame({
        "alert_id": [f"{i:016x}" for i in range(k)], "kind": kinds, "mmsi": mmsi[idx],
        "other_mmsi": pl.Series(other).replace(-1, None), "start": [t0] * k, "end": [t0 + timedelta(hours=2)] * k,
        "lat": rng.uniform(17, 22, k), "lon": rng.uniform(105.5, 110, k), "score": rng.uniform(20, 100, k),
        "reasons": [["something happened", "with numbers 1.2 km"]] * k,
    }).cast(ALERT_SCHEMA)  # fmt: skip
    return alerts, vessels, days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=48.0)
    ap.add_argument("--vessels", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = sys.stdout.write
    out(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; python {platform.python_version()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = folder / "warm.nmea"
        warm.write_bytes(simulate(SimConfig(hours=2, seed=1, vessels=50)).feed)
        run_backtest([warm], folder / "warm-out", BacktestOptions(report=False, progress=False))
        feed = simulate(SimConfig(hours=args.hours, seed=args.seed, vessels=args.vessels)).feed
        log = folder / "feed.nmea"
        log.write_bytes(feed)
        size = len(feed) / 1e6
        out(f"input: {args.hours:g} h x {args.vessels} vessels simulated, {size:,.0f} MB\n")
        t0 = time.perf_counter()
        summary = run_backtest([log], folder / "out", BacktestOptions(report=False, progress=False))
        seconds = time.perf_counter() - t0
        rate = summary.messages / seconds
        baseline = pyais_rate(feed)
        out(f"backtest end to end (no report): {summary.messages:,} messages in {seconds:.2f} s = {rate:,.0f} msg/s; "
            f"{summary.alerts.height:,} alerts, {summary.vessels.height:,} vessels\n")  # fmt: skip
        out(f"pyais decoding alone (sample of {PYAIS_SAMPLE:,} bare single-part sentences): {baseline:,.0f} msg/s\n")
        out(f"ratio: backtest is {rate / baseline:.1f}x pyais decoding alone\n")
        t0 = time.perf_counter()
        run_backtest([log], folder / "out-report", BacktestOptions(report=True, progress=False))
        out(f"with the HTML report: {time.perf_counter() - t0:.2f} s\n")
    scorer = Scorer.with_default_models()
    alerts, vessels, days = synthetic_fleet(100_000)
    scorer.score(alerts[:100], vessels[:1000], days[:1000])  # warm-up
    t0 = time.perf_counter()
    table = scorer.score(alerts, vessels, days)
    out(f"scoring {table.height:,} vessels with {alerts.height:,} alerts (both models): "
        f"{time.perf_counter() - t0:.2f} s\n")  # fmt: skip


if __name__ == "__main__":
    main()
