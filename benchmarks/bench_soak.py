"""Soak (issue 14, item 5): the live engine at a national feed's rate for minutes, resident memory sampled.

A synthetic fleet at sea in the Gulf of Tonkin: ``--vessels`` under way, each reporting every ``--vessels`` /
``--rate`` seconds (5,000 msg/s: 10,000 vessels every 2 s), and ``--churn`` vessels a second leaving for good
while as many new MMSIs arrive (a feed's coverage changes all day). Rows go straight into
:meth:`engine.stream.StreamRunner.process` every 0.2 s in real time (feed time = wall time), with the journal,
a snapshot every 30 s and the store sink on a SQLite file, as ``seawatch serve`` runs them; no sockets, no
decoding (a JSON feed's path). Resident memory (VmRSS) is sampled every 5 s; the slope after the warm-up (the
first third, at least a minute) is the figure: MB a minute that the service would grow by, unbounded.

    .venv/bin/python benchmarks/bench_soak.py [--minutes 20] [--rate 5000] [--vessels 10000] [--churn 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from api.store import Store
from engine.decode import empty_tables
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.stream import StreamRunner, StreamSettings
from feeds.sources import FeedBatch, Records
from seawatch.serve_job import StoreSink

TICK_S = 0.2  # a micro-batch's window (StreamSettings.batch_seconds)
SAMPLE_S = 5.0
KNOTS_DEG_PER_S = 1.852 / 111.2 / 3600  # degrees of latitude a second at one knot
out = print


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


class Fleet:
    """Vessels under way at sea (lat 18.5-20.5, lon 107.5-108.8: open water of the gulf), straight courses."""

    def __init__(self, n: int, seed: int = 14) -> None:
        self.rng = np.random.default_rng(seed)
        self.next_mmsi = 412_000_000
        self.mmsi = np.zeros(n, np.int64)
        self.lat, self.lon = np.zeros(n), np.zeros(n)
        self.sog, self.cog = np.zeros(n), np.zeros(n)
        self.replace(np.arange(n))
        self.columns = empty_tables().positions.schema

    def replace(self, idx: np.ndarray) -> None:
        """New vessels (new MMSIs) in the slots ``idx``."""
        k = idx.shape[0]
        self.mmsi[idx] = np.arange(self.next_mmsi, self.next_mmsi + k)
        self.next_mmsi += k
        self.lat[idx] = self.rng.uniform(18.5, 20.5, k)
        self.lon[idx] = self.rng.uniform(107.5, 108.8, k)
        self.sog[idx] = self.rng.uniform(6.0, 14.0, k)
        self.cog[idx] = self.rng.uniform(0.0, 360.0, k)

    def reports(self, idx: np.ndarray, now: float, seq0: int) -> pl.DataFrame:
        """Position reports of the vessels ``idx`` at ``now`` (unix s), in the decoder's columns."""
        n = idx.shape[0]
        course = np.radians(self.cog[idx])
        self.lat[idx] += self.sog[idx] * KNOTS_DEG_PER_S * np.cos(course) * 2.0  # moved since the last report
        self.lon[idx] += self.sog[idx] * KNOTS_DEG_PER_S * np.sin(course) * 2.0 / np.cos(np.radians(self.lat[idx]))
        t = np.full(n, int(now * 1e6), np.int64) + self.rng.integers(0, int(TICK_S * 1e6), n)
        data = {
            "mmsi": self.mmsi[idx],
            "t": pl.Series(t).cast(pl.Datetime("us", "UTC")),
            "lat": self.lat[idx],
            "lon": self.lon[idx],
            "sog": self.sog[idx],
            "cog": self.cog[idx],
            "heading": np.round(self.cog[idx]),
            "nav_status": np.zeros(n, np.int8),
            "msg_type": np.ones(n, np.int8),
            "ais_class": ["A"] * n,
            "source": ["soak"] * n,
            "seq": np.arange(seq0, seq0 + n, dtype=np.int64),
        }
        frame = pl.DataFrame(data)
        return frame.with_columns(
            pl.lit(None).cast(dtype).alias(name) for name, dtype in self.columns.items() if name not in data
        ).select([pl.col(name).cast(dtype) for name, dtype in self.columns.items()])


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    t = np.array([s[0] for s in samples]) / 60
    m = np.array([s[1] for s in samples])
    return float(np.polyfit(t, m, 1)[0]) if t.shape[0] >= 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=5000.0, help="messages a second")
    ap.add_argument("--vessels", type=int, default=10_000, help="vessels under way at any time")
    ap.add_argument("--churn", type=float, default=2.0, help="vessels a second replaced by new MMSIs")
    ap.add_argument("--recent-hours", type=float, default=72.0, help="SEAWATCH_RECENT_ALERTS_HOURS")
    ap.add_argument("--no-store", action="store_true", help="the engine and its journal only")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="seawatch-soak-"))
    settings = StreamSettings(recent_alerts_s=args.recent_hours * 3600)
    sinks = [] if args.no_store else [StoreSink(Store(f"sqlite:///{folder / 'seawatch.db'}"))]
    runner = StreamRunner.open(default_detectors(load_pack("gulf-of-tonkin"), LandIndex.load()), folder / "state",
                               sinks, settings)  # fmt: skip
    fleet = Fleet(args.vessels)
    per_tick = int(args.rate * TICK_S)
    cursor, seq, churned = 0, 0, 0.0
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    next_tick, next_sample, behind = started, started, 0
    end = started + args.minutes * 60
    out(f"soak: {args.rate:.0f} msg/s, {args.vessels} vessels, {args.churn:g} new a second, {args.minutes:g} min; "
        f"state in {folder}")  # fmt: skip
    while (now := time.monotonic()) < end:
        if now < next_tick:
            time.sleep(next_tick - now)
        next_tick += TICK_S
        if time.monotonic() > next_tick + 1.0:
            behind += 1  # more than a second late: the engine does not keep up
        churned += args.churn * TICK_S
        if churned >= 1:
            fleet.replace(fleet.rng.choice(args.vessels, int(churned), replace=False))
            churned -= int(churned)
        idx = (cursor + np.arange(per_tick)) % args.vessels
        cursor = int(idx[-1] + 1)
        positions = fleet.reports(idx, time.time(), seq)
        seq += per_tick
        statics = empty_tables().statics
        batch = FeedBatch(0, "soak://", time.time(), records=Records(positions, statics, time.time(), per_tick))
        runner.process([batch])
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - started, rss_mb()))
            next_sample += SAMPLE_S
    elapsed = time.monotonic() - started
    warm = max(60.0, elapsed / 3)
    after = [s for s in samples if s[0] >= warm]
    out(f"machine: {platform.processor() or platform.machine()}, {platform.system()} {platform.release()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    out(
        f"messages: {runner.stats.messages:,} in {elapsed:.0f} s ({runner.stats.messages / elapsed:,.0f} msg/s), "
        f"engine busy {runner.stats.engine_seconds / elapsed:.0%} of the time, ticks more than 1 s late: {behind}"
    )
    out(f"vessels seen: {runner.engine.fleet.size:,}; alerts in the engine: {len(runner.engine.book)} "
        f"({runner.engine.book.pruned} let go); snapshots: {runner.stats.snapshots}")  # fmt: skip
    out(
        f"RSS: {samples[0][1]:.0f} MB at start, {after[0][1] if after else float('nan'):.0f} MB after the warm-up "
        f"({warm:.0f} s), {samples[-1][1]:.0f} MB at the end, max {max(m for _, m in samples):.0f} MB"
    )
    out(f"RSS slope after the warm-up: {slope_mb_per_min(after):+.2f} MB/min over {len(after)} samples")
    out(f"RSS slope over the whole run: {slope_mb_per_min(samples):+.2f} MB/min")


if __name__ == "__main__":
    main()
