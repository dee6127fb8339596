"""How long a due snapshot holds the live engine's thread (issue 13 item 5), in-process.

A :class:`StreamRunner` takes a simulated feed in micro-batches (its journal and snapshot in a temporary folder on
this disk); then, repeatedly, the time of its engine's :meth:`Engine.snapshot` (copy, write 16 files, fsync, rename:
what the engine thread did before) against the time of :meth:`Engine.capture` alone (what it does now; the runner
hands the rest, :func:`engine.runner.write_snapshot`, to the snapshot thread), and of the copy and write to its end.
The runner's own bookkeeping around them (the journal's clean-up, the feeds' acknowledgements) is not timed.

    .venv/bin/python benchmarks/bench_snapshot.py [--hours 6 --vessels 600 --repeat 10]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import load_pack
from engine.runner import write_snapshot
from engine.stream import StreamRunner, StreamSettings
from feeds.framing import Framer
from feeds.sources import FeedBatch
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--vessels", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, 2 cores; python {platform.python_version()}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    feed = simulate(SimConfig(hours=args.hours, vessels=args.vessels, seed=31)).feed
    framer, step = Framer(), len(feed) // 40 + 1
    pack, land = load_pack("gulf-of-tonkin"), LandIndex.load()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        runner = StreamRunner.open(default_detectors(pack, land), Path(tmp), [], StreamSettings(snapshot_seconds=1e9))
        for i in range(0, len(feed), step):
            runner.process([FeedBatch(0, "file://feed", time.time(), messages=framer.feed(feed[i : i + step]))])
        # the engine's own two halves (engine/runner.py), as the runner calls them: the copy on the engine thread,
        # the write in the snapshot thread; in line, both on the engine thread
        engine, where = runner.engine, Path(tmp) / "bench-snapshot"
        inline, copy, behind = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            engine.snapshot(where)
            t1 = time.perf_counter()
            state = engine.capture()
            t2 = time.perf_counter()
            write_snapshot(state, where)
            t3 = time.perf_counter()
            inline.append(t1 - t0)
            copy.append(t2 - t1)
            behind.append(t3 - t1)
    print(f"{args.hours:g} h, {args.vessels} vessels, {runner.stats.batches} micro-batches, {args.repeat} snapshots:")
    for name, xs in (("engine thread, snapshot written in line (before)", inline),
                     ("engine thread, state copied (after)", copy),
                     ("copy + background write to its end (after)", behind)):  # fmt: skip
        print(f"  {name}: median {statistics.median(xs) * 1e3:.1f} ms, max {max(xs) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
