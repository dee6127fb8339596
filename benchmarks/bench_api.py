"""API latency of ``seawatch serve`` (issue 13): GET /api/v1/vessels and /healthz with ``--fleet`` vessels in the
store, under an open loop at a fixed request rate (latency from each request's intended send time) and under
the closed loop of ``--clients`` clients that bench_live.py's API part runs, in one run.

    .venv/bin/python benchmarks/bench_api.py [--fleet 1000000 --rate 500 --seconds 20] [--db /tmp/fleet.db]

``--db`` keeps the seeded database for the next run (seeding a million vessels takes a minute or two): a file
that exists is used as it is. The service is started as users start it (``seawatch serve`` on a TCP feed, on
loopback, SQLite) and gets no feed data, so the numbers are the API's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_live import fleet_rows, running  # the service and the fleet of the live benchmark's API part
from loadgen import LoadResult, closed_loop, describe, open_loop

from api.app import open_store
from api.settings import Settings

out = sys.stdout.write
PATHS = ("/api/v1/vessels", "/healthz")
SLICE = 100_000  # vessels a write: a million at once holds every row as Python objects at the same time


def seed(db: Path, fleet: int) -> None:
    store = open_store(Settings(environment="development", database_path=db))
    try:
        t0 = time.perf_counter()
        rows = fleet_rows(fleet)
        for start in range(0, fleet, SLICE):
            store.upsert_vessels(rows.slice(start, SLICE))
        out(f"  seeded {fleet:,} vessels with Store.upsert_vessels in {time.perf_counter() - t0:.0f} s\n")
    finally:
        store.close()


def kinds(result: LoadResult) -> str:
    return f" {result.error_kinds}" if result.error_kinds else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", type=int, default=1_000_000, help="vessels in the store")
    ap.add_argument("--rate", type=float, default=500.0, help="open loop: requests a second")
    ap.add_argument("--clients", type=int, default=50, help="closed loop: concurrent clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each load run")
    ap.add_argument("--db", type=Path, help="the seeded database to keep (and reuse when it exists)")
    args = ap.parse_args()
    out(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")
    out(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "seawatch.db"
        if args.db is not None and args.db.is_file():
            os.symlink(args.db.resolve(), db)
            out(f"  the database {args.db} as it is (--db)\n")
        else:
            seed(db, args.fleet)
            if args.db is not None:
                shutil.copyfile(db, args.db)
        with running(folder) as (_, svc):
            single = []
            for _ in range(50):
                t0 = time.perf_counter()
                svc.client.get(PATHS[0]).raise_for_status()
                single.append((time.perf_counter() - t0) * 1e3)
            out(f"  one client alone, GET {PATHS[0]}: median {statistics.median(single):.1f} ms a request\n")
            for path in PATHS:
                url = svc.url + path
                closed = asyncio.run(closed_loop(url, args.clients, args.seconds))
                out("  " + describe(f"closed loop, {args.clients} clients, {path}", closed.summary())
                    + kinds(closed) + "\n")  # fmt: skip
                opened = asyncio.run(open_loop(url, args.rate, args.seconds))
                o = opened.summary()
                late = (f"; sent late p99 {o['lag_p99']:.1f} ms (the generator itself at most "
                        f"{o['generator_late_max']:.1f} ms), {o['connections']:.0f} connections")  # fmt: skip
                out("  " + describe(f"open loop, {args.rate:g} requests/s, {path}", o) + kinds(opened) + late + "\n")
            out(f"  load average after: {os.getloadavg()[0]:.1f}\n")


if __name__ == "__main__":
    main()
