"""The whole ``seawatch backtest`` command as a user runs it, this tree against an earlier revision, on one input.

    NUMBA_NUM_THREADS=1 POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/bench_command.py INPUT --against REV [--runs 8]
        [--report]

The revision is checked out in a temporary git worktree and run with this environment's interpreter (its own
source first on the path). Each tree runs once to fill its Numba cache, then the two run alternately ``--runs``
times each (a shared machine drifts: alternating puts the drift on both), and the best and median wall times of
the whole process are printed. The input is any backtest input, e.g. the independent labelled day decompressed:
``zcat ../shared/data/scenarios/tonkin-303-hard/feed.nmea.gz > /tmp/tonkin.nmea``. The command runs with
``--no-report`` unless ``--report``: then each tree also runs with ``--no-report`` in the same rounds, and the
report's own cost (the median difference) is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("feeds", "engine", "models", "api", "seawatch")


def backtest_seconds(tree: Path, feed: Path, out: Path, report: bool = False) -> float:
    """Wall time of one ``python -m seawatch.cli backtest FEED [--no-report]`` with ``tree``'s source."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "seawatch.cli", "backtest", str(feed), "--out", str(out), "--progress", "off",
           *([] if report else ["--no-report"])]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", type=Path, help="a backtest input (NMEA log, NOAA/DMA CSV, positions.parquet)")
    ap.add_argument("--against", required=True, metavar="REV", help="the git revision to compare with")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--report", action="store_true", help="also time the command with its HTML report")
    args = ap.parse_args(argv)
    feed = args.input.resolve()
    with tempfile.TemporaryDirectory(prefix="seawatch-bench-") as tmp:
        old = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.against], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            trees = {args.against: old, "this tree": ROOT}
            modes = [False, True] if args.report else [False]
            times: dict[tuple[str, bool], list[float]] = {(name, m): [] for name in trees for m in modes}
            for tree in trees.values():  # each tree's bytecode (PYTHONDONTWRITEBYTECODE may be set) and Numba cache
                subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=tree, check=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip
                backtest_seconds(tree, feed, Path(tmp) / "out", report=args.report)
            for _ in range(args.runs):
                for (name, report), ts in times.items():
                    ts.append(backtest_seconds(trees[name], feed, Path(tmp) / "out", report))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    sys.stdout.write(f"input: {feed} ({feed.stat().st_size / 1e6:.0f} MB), {args.runs} runs each, alternately\n")
    for (name, report), ts in times.items():
        label = f"{name}{', report' if report else ''}"
        sys.stdout.write(f"{label:>20}: best {min(ts):.2f} s, median {statistics.median(ts):.2f} s "
                         f"({', '.join(f'{t:.2f}' for t in ts)})\n")  # fmt: skip
    for report in modes:
        ratio = statistics.median(times["this tree", report]) / statistics.median(times[args.against, report])
        sys.stdout.write(f"this tree / {args.against}{' with the report' if report else ''} (medians): {ratio:.3f}\n")
    if args.report:
        for name in trees:
            cost = statistics.median(times[name, True]) - statistics.median(times[name, False])
            sys.stdout.write(f"the report's cost, {name} (difference of medians): {cost:.2f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
