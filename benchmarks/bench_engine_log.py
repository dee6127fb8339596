"""The engine alone on a decoded log, fed as the backtest feeds it (64 MB chunks): CPU of the whole step and of each
detector, by the process's clock (polars works in its own pool, which the calling thread's clock does not see).

    NUMBA_NUM_THREADS=1 POLARS_MAX_THREADS=1 SEAWATCH_THREADS=1 \\
        .venv/bin/python benchmarks/bench_engine_log.py /tmp/week7/feed.nmea --zones /tmp/week7/zones.geojson

Before and after a change: run it in each tree (``PYTHONPATH=TREE``), alternated, several rounds. The log is decoded
once, outside the timing; one engine run is a warm-up (Numba's cache loads); then ``--runs`` runs, each printed with
its CPU (process, thread) and wall time and the costliest detectors. ``--save FILE`` writes the last run's alerts
(and ``FILE.outages``) to compare trees with ``DataFrame.equals``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.detectors import default_detectors  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import engine_pack  # noqa: E402
from engine.runner import COLUMNS as ENGINE_COLUMNS  # noqa: E402
from engine.runner import Engine  # noqa: E402
from models.features import COLUMNS as FEATURE_COLUMNS  # noqa: E402
from seawatch.inputs import chunks, classify, readers_columns  # noqa: E402


def _timed(fn: Callable[..., Any], name: str, per: dict[str, float]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        t0 = time.process_time()
        out = fn(*args)
        per[name] = per.get(name, 0.0) + time.process_time() - t0
        return out

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("--zones", default=None, help="a zone file, as the backtest's --zones")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--save", default=None)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    inputs, _ = classify([args.log], False)
    columns = readers_columns(ENGINE_COLUMNS, FEATURE_COLUMNS)
    data = [(c.positions, c.statics, c.events) for c in chunks(inputs, 64 << 20, columns)]
    pack, land = engine_pack("gulf-of-tonkin", zones=args.zones), LandIndex.load()
    per: dict[str, float] = {}

    def whole() -> tuple[tuple[float, float, float], Engine]:
        engine = Engine(default_detectors(pack, land))
        for d in engine.detectors:
            d.process = _timed(d.process, d.name, per)  # type: ignore[method-assign]
            if hasattr(d, "observe"):
                d.observe = _timed(d.observe, f"{d.name}.observe", per)
        engine._make_step = _timed(engine._make_step, "_make_step", per)  # type: ignore[method-assign]
        t0, th0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        for positions, statics, events in data:
            engine.process(positions, statics, events)
        engine.finish()
        return (time.process_time() - t0, time.thread_time() - th0, time.perf_counter() - w0), engine

    whole()  # warm-up: Numba's cache loads
    for _ in range(args.runs):
        per.clear()
        (cpu, thread, wall), engine = whole()
        top = " ".join(f"{k} {v:.3f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:9])
        print(f"{args.label} process cpu {cpu:.3f} s (thread {thread:.3f}, wall {wall:.3f})  {top}", flush=True)
    alerts = engine.alerts()
    print(f"{args.label} alerts {alerts.height}, station outages {engine.outages().height}")
    if args.save:
        alerts.write_parquet(args.save)
        engine.outages().write_parquet(f"{args.save}.outages")


if __name__ == "__main__":
    main()
