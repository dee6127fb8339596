"""The backtest of a history dataset on Dask against the plain single-process backtest, whole commands (issue 15).

    .venv/bin/python benchmarks/bench_cluster.py [--hours 168] [--vessels 600] [--runs 2] [--keep DIR]

A simulated Gulf of Tonkin log (``--hours`` x ``--vessels``, as benchmarks/bench_backtest.py makes it) is written
as NMEA and ingested once (``seawatch ingest``, timed). Then, alternately ``--runs`` times (a shared machine drifts:
alternating puts the drift on every command), the whole process of:

- ``seawatch backtest feed.nmea`` (the plain single-process backtest: the baseline),
- ``seawatch backtest DATASET/`` (one process, reading the dataset),
- ``seawatch backtest DATASET/ --workers 1`` and ``--workers 2`` (a local Dask cluster, started by the command),

all with ``--no-report``. Best and median wall times, the peak memory of a worker (what the command reports), the
machine's load average before each round, and the outputs compared with the baseline's. In process: each stage's
time alone (the fleet stage, and the vessel partitions of 8), the measured costs behind the scaling model of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.partitions import FLEET_GROUPS  # noqa: E402
from seawatch.cluster_job import bucket_groups  # noqa: E402
from seawatch.history import Dataset, Filters  # noqa: E402
from seawatch.simulator.config import SimConfig  # noqa: E402
from seawatch.simulator.scenario import simulate  # noqa: E402
from seawatch.stages import run_stage  # noqa: E402

SEAWATCH = [sys.executable, "-m", "seawatch.cli"]


def command(args: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system, with the worker processes it started and waited for) and standard
    output of one whole ``seawatch`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*SEAWATCH, *args], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def same(a: Path, b: Path) -> bool:
    return all(
        pl.read_parquet(a / f"{n}.parquet").sort(k).equals(pl.read_parquet(b / f"{n}.parquet").sort(k))
        for n, k in (("alerts", ["start", "alert_id"]), ("vessels", ["mmsi"]))
    )


def stage_costs(dataset: str, out: Callable[[str], None]) -> None:
    """Each stage alone, in this process (after one warm-up), for the scaling model."""
    args = (Filters(), "gulf-of-tonkin", False, None)
    run_stage(dataset, "all", None, *args, name="warm-up")  # Numba kernels loaded, files in the page cache
    fleet = run_stage(dataset, "fleet", None, *args, name="the fleet stage")
    groups_alone = [run_stage(dataset, "fleet", None, *args, name="fleet", fleet=g) for g in FLEET_GROUPS]
    groups = bucket_groups(Dataset(dataset).buckets_present(), 8)
    parts = [run_stage(dataset, "vessels", g, *args, name=f"partition {i}") for i, g in enumerate(groups)]
    every = run_stage(dataset, "all", None, *args, name="all")
    rows = sum(p.positions for p in parts)
    out(f"in process: the fleet stage {fleet.seconds:.2f} s; {len(parts)} vessel partitions "
        f"{sum(p.seconds for p in parts):.2f} s in all ({', '.join(f'{p.seconds:.2f}' for p in parts)}); "
        f"every detector in one stage {every.seconds:.2f} s; {rows:,} positions\n")  # fmt: skip
    alone = ", ".join(f"{'+'.join(g)} {r.seconds:.2f} s" for g, r in zip(FLEET_GROUPS, groups_alone, strict=True))
    out(f"in process: each fleet group as a stage of its own: {alone}\n")
    out(f"in process: fleet stage {rows / fleet.seconds:,.0f} positions/s, vessel partitions "
        f"{rows / sum(p.seconds for p in parts):,.0f} positions/s on one core\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=168.0)
    ap.add_argument("--vessels", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the log and the dataset in this folder (reused when there)")
    args = ap.parse_args(argv)

    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    with tempfile.TemporaryDirectory(prefix="seawatch-cluster-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        feed, dataset = work / "feed.nmea", work / "dataset"
        if not feed.exists():
            feed.write_bytes(simulate(SimConfig(hours=args.hours, seed=args.seed, vessels=args.vessels)).feed)
        out(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")  # fmt: skip
        out(f"input: {args.hours:g} h x {args.vessels} vessels simulated (seed {args.seed}), "
            f"{feed.stat().st_size / 1e6:,.0f} MB\n")  # fmt: skip
        if not dataset.exists():
            seconds, _, said = command(["ingest", str(feed), "--out", str(dataset), "--progress", "off"])
            out(f"seawatch ingest: {seconds:.1f} s whole command ({said.splitlines()[0]})\n")
        runs = {
            "backtest feed.nmea (single process)": [str(feed)],
            "backtest DATASET/ (single process)": [str(dataset)],
            "backtest DATASET/ --workers 1": [str(dataset), "--workers", "1"],
            "backtest DATASET/ --workers 2": [str(dataset), "--workers", "2"],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        memory: dict[str, str] = {}
        for round_ in range(args.runs + 1):  # round 0 warms Numba's cache and the page cache
            out(f"round {round_}{' (warm-up)' if round_ == 0 else ''}: load average {os.getloadavg()[0]:.2f}\n")
            baseline = None
            for i, (name, extra) in enumerate(runs.items()):
                target = work / f"out-{i}"
                seconds, used, said = command(["backtest", *extra, "--out", str(target), "--no-report", "--progress",
                                               "off"])  # fmt: skip
                found = re.search(r"peak memory of a worker ([\d.]+ GiB)", said)
                if found:
                    memory[name] = found.group(1)
                if round_:
                    times[name].append(seconds)
                    cpu[name].append(used)
                baseline = baseline or target
                if not same(baseline, target):
                    out(f"  {name}: alerts or vessels differ from the plain backtest's\n")
        base = statistics.median(times["backtest feed.nmea (single process)"])
        for name, ts in times.items():
            peak = f"; peak memory of a worker {memory[name]}" if name in memory else ""
            out(f"{name:>38}: best {min(ts):.1f} s, median {statistics.median(ts):.1f} s, "
                f"{statistics.median(ts) / base:.2f}x the plain backtest; "
                f"CPU median {statistics.median(cpu[name]):.1f} s{peak}\n")  # fmt: skip
        one, two = (statistics.median(times[f"backtest DATASET/ --workers {n}"]) for n in (1, 2))
        out(f"2 workers against 1 worker (medians): {one / two:.2f}x\n")
        stage_costs(str(dataset), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
