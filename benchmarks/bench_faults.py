"""Faults (issue 14): ``seawatch serve`` killed with SIGKILL again and again while a feed is replayed over TCP.

A simulated scenario's feed (``--hours`` of ``--vessels``, ``--seed``) is cut into ``--chunks`` at whole messages
and played by a TCP server on loopback to a real ``seawatch serve`` (SQLite store, its own state folder), one
chunk at a time: a chunk goes once the previous one is in the engine's journal (/metrics), ``--pace`` seconds
apart. ``--kills`` chunks, picked at random (``--seed-kills``), are followed by a SIGKILL at a random moment up to
``--kill-window`` seconds after the chunk reached the journal — while the engine runs it, the store sink writes
its alerts and tracks, the scorer scores, or a snapshot is written — and the service is started again at once
(snapshot + journal replay), the feed resuming on its new connection. A kill before a chunk reached the journal
would lose what the socket held, as for any TCP client of a live feed that does not replay: the chunks are sent
so that none is in flight at a kill, and the run is comparable with an uninterrupted one.

Reported: kills survived; alerts lost and extra against one uninterrupted process fed the same chunks (ids, and
the last version of each: start, end, score, reasons); restart times (process start to /healthz answering, to
the first live micro-batch through the engine, to /healthz "ok"); then 429s under bursts at the restarted service
(one viewer key, one address without a key, wrong keys), and the RSS slope of ``benchmarks/bench_soak.py`` run for
``--minutes`` (0: skipped).

    .venv/bin/python benchmarks/bench_faults.py [--kills 5] [--chunks 16] [--minutes 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.keys import create_key  # noqa: E402
from api.store import Store  # noqa: E402
from seawatch.simulator.config import SimConfig  # noqa: E402
from seawatch.simulator.scenario import simulate  # noqa: E402
from tests.seawatch.test_serve_job import FeedServer, Service, feed_server, message_count, split_feed  # noqa: E402

out = print


@dataclass
class Restart:
    chunk: int  # the chunk after which the kill came
    delay_s: float  # how long after that chunk reached the journal
    journal_left: int  # journal batches the killed process left for the restart to replay
    healthz_s: float = 0.0  # process start -> /healthz answers (snapshot loaded, journal replayed)
    first_batch_s: float = 0.0  # process start -> the first live micro-batch through the engine
    ok_s: float = 0.0  # process start -> /healthz "ok" (the feed heard again)


@dataclass
class Run:
    alerts: dict[str, tuple[Any, ...]]
    restarts: list[Restart] = field(default_factory=list)
    seconds: float = 0.0


def versions(svc: Service) -> dict[str, tuple[Any, ...]]:
    """Every alert in the store through the API, by id: its last version (start, end, score, reasons)."""
    found: dict[str, tuple[Any, ...]] = {}
    cursor = None
    while True:
        params: dict[str, object] = {"page_size": 500, "muted": "all"}
        if cursor:
            params["cursor"] = cursor
        r = svc.get("/api/v1/alerts", **params)
        r.raise_for_status()
        body = r.json()
        for a in body["items"]:
            assert a["alert_id"] not in found, f"alert {a['alert_id']} listed twice"
            found[a["alert_id"]] = (a["start"], a["end"], round(a["score"], 6), tuple(a["reasons"]))
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def journal_batches(folder: Path) -> int:
    journal = folder / "state" / "engine-state" / "journal"
    return len([p for p in journal.iterdir() if p.name.isdigit()]) if journal.is_dir() else 0


def send_chunk(server: FeedServer, svc: Service, chunk: bytes, sent: int) -> int:
    """Send ``chunk`` to the newest connection and wait until it is in the journal; messages sent this process."""
    server.send(chunk)
    sent += message_count(chunk)
    svc.wait_journaled(sent, timeout=120.0)
    return sent


def restart(svc: Service, server: FeedServer, connections: int, chunk: bytes, r: Restart) -> int:
    """Start ``svc`` again, time it to /healthz, send ``chunk`` once the feed reconnected and time the first
    live micro-batch and /healthz "ok"; messages sent to this process."""
    started = time.monotonic()
    svc.start()  # returns once /healthz answers 200
    r.healthz_s = time.monotonic() - started
    batches = svc.metrics()["seawatch_stream_batches_total"]  # the journal's replay counted
    server.wait_connections(connections)
    server.send(chunk)
    svc.wait(lambda: svc.metrics()["seawatch_stream_batches_total"] > batches, 60.0, "the first live batch",
             every=0.01)  # fmt: skip
    r.first_batch_s = time.monotonic() - started
    svc.wait(lambda: svc.get("/healthz").json()["status"] == "ok", 60.0, '/healthz "ok"', every=0.02)
    r.ok_s = time.monotonic() - started
    sent = message_count(chunk)
    svc.wait_journaled(sent, timeout=120.0)
    return sent


def killed_run(server: FeedServer, folder: Path, chunks: list[bytes], kill_after: set[int], args: argparse.Namespace,
               rng: random.Random) -> tuple[Run, Service]:  # fmt: skip
    """The feed through a service killed after the chunks ``kill_after`` (no two in a row: the chunk after a kill
    is the restart's first); the last service is left running."""
    run = Run({})
    started = time.monotonic()
    svc = Service(folder, server.port)
    svc.start()
    connections = 1
    server.wait_connections(connections)
    sent, k = 0, 0
    while k < len(chunks):
        sent = send_chunk(server, svc, chunks[k], sent)
        if k in kill_after:
            delay = rng.uniform(0.0, args.kill_window)
            time.sleep(delay)
            assert svc.proc is not None
            svc.proc.send_signal(signal.SIGKILL)
            svc.proc.wait()
            r = Restart(k, delay, journal_batches(folder))
            k += 1
            connections += 1
            sent = restart(svc, server, connections, chunks[k], r) if k < len(chunks) else 0
            run.restarts.append(r)
            out(f"  kill {len(run.restarts)} after chunk {r.chunk} (+{delay:.2f} s): {r.journal_left} journal "
                f"batch(es) left; /healthz in {r.healthz_s:.1f} s, first batch {r.first_batch_s:.1f} s, "
                f"ok {r.ok_s:.1f} s")  # fmt: skip
        time.sleep(args.pace)
        k += 1
    svc.wait_drained(sent, timeout=120.0)
    run.alerts = versions(svc)
    run.seconds = time.monotonic() - started
    return run, svc


def whole_run(folder: Path, chunks: list[bytes], pace: float) -> Run:
    started = time.monotonic()
    with feed_server() as server:
        svc = Service(folder, server.port)
        try:
            svc.start()
            server.wait_connections(1)
            sent = 0
            for chunk in chunks:
                sent = send_chunk(server, svc, chunk, sent)
                time.sleep(pace)
            svc.wait_drained(sent, timeout=120.0)
            alerts = versions(svc)
        finally:
            svc.close()
    return Run(alerts, seconds=time.monotonic() - started)


def burst(url: str, n: int, headers: dict[str, str], workers: int = 8) -> dict[int, int]:
    """``n`` requests to /api/v1/alerts at once (``workers`` connections); answers counted by status."""
    codes: dict[int, int] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:

        def one(_: int) -> int:
            return client.get("/api/v1/alerts", params={"page_size": 1}).status_code

        with ThreadPoolExecutor(workers) as pool:
            for code in pool.map(one, range(n)):
                codes[code] = codes.get(code, 0) + 1
    return dict(sorted(codes.items()))


def bursts(svc: Service, folder: Path) -> None:
    store = Store(f"sqlite:///{folder / 'seawatch.db'}")
    try:
        key = create_key(store, "bench burst", "viewer")
    finally:
        store.close()
    per_key = burst(svc.url, 300, {"X-API-Key": key})
    out(f"burst of 300 with one viewer key: {per_key} (key: burst 100, 20/s; address: burst 200, 50/s)")
    time.sleep(5.0)  # the address's bucket fills again (50/s up to 200)
    per_address = burst(svc.url, 400, {})
    out(f"burst of 400 from one address without a key: {per_address}")
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    time.sleep(5.0)
    failed = burst(svc.url, 30, {"X-API-Key": wrong}, workers=1)
    out(f"30 requests with a wrong secret for a real key id: {failed} (10 failed checks at once, then 1 every 6 s)")


def soak_slope(minutes: float) -> None:
    if minutes <= 0:
        return
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_soak.py"), "--minutes", f"{minutes:g}"]
    out(f"soak: {' '.join(cmd[1:])}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    for line in done.stdout.splitlines():
        if re.match(r"(messages|vessels seen|RSS)", line):
            out(f"  {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs during the replay")
    ap.add_argument("--chunks", type=int, help="parts the feed is played in (default: 16, or 2 per kill + 2)")
    ap.add_argument("--pace", type=float, default=0.5, help="seconds between chunks")
    ap.add_argument("--kill-window", type=float, default=1.5, help="a kill comes up to this long after its chunk")
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--vessels", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11, help="the scenario's seed")
    ap.add_argument("--seed-kills", type=int, default=14, help="seed of the kills' chunks and moments")
    ap.add_argument("--minutes", type=float, default=2.0, help="bench_soak.py's length for the RSS slope (0: none)")
    args = ap.parse_args()
    args.chunks = args.chunks or max(16, 2 * args.kills + 2)
    if not 0 < args.kills <= (args.chunks - 1) // 2:
        ap.error("--kills must be at least 1 and at most (--chunks - 1) / 2: a kill never follows a restart's chunk")

    rng = random.Random(args.seed_kills)
    feed = simulate(SimConfig(hours=args.hours, vessels=args.vessels, seed=args.seed)).feed
    chunks = split_feed(feed, tuple((i + 1) / args.chunks for i in range(args.chunks - 1)))
    kill_after = {2 * k for k in rng.sample(range((args.chunks - 1) // 2), args.kills)}  # never two in a row
    folder = Path(tempfile.mkdtemp(prefix="seawatch-faults-"))
    out(f"faults: {args.hours:g} h of {args.vessels} vessels (seed {args.seed}), {sum(map(message_count, chunks)):,} "
        f"messages in {len(chunks)} chunks; SIGKILL after chunks {sorted(kill_after)}; state in {folder}")  # fmt: skip
    out(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip

    with feed_server() as server:
        killed, svc = killed_run(server, folder / "killed", chunks, kill_after, args, rng)
        try:
            report(killed, svc, folder, chunks, args)
        finally:
            svc.close()
    soak_slope(args.minutes)


def report(killed: Run, svc: Service, folder: Path, chunks: list[bytes], args: argparse.Namespace) -> None:
    whole = whole_run(folder / "whole", chunks, args.pace)
    lost = set(whole.alerts) - set(killed.alerts)
    extra = set(killed.alerts) - set(whole.alerts)
    changed = [a for a in set(whole.alerts) & set(killed.alerts) if whole.alerts[a] != killed.alerts[a]]
    out(f"kills survived: {len(killed.restarts)} of {args.kills} ({killed.seconds:.0f} s; uninterrupted "
        f"{whole.seconds:.0f} s)")  # fmt: skip
    out(f"alerts: {len(whole.alerts)} uninterrupted, {len(killed.alerts)} killed; lost {len(lost)}, extra "
        f"{len(extra)}, last version differing {len(changed)}")  # fmt: skip
    for name, values in (("/healthz answering", [r.healthz_s for r in killed.restarts]),
                         ("first live batch", [r.first_batch_s for r in killed.restarts]),
                         ('/healthz "ok"', [r.ok_s for r in killed.restarts])):  # fmt: skip
        out(f"restart to {name}: median {statistics.median(values):.1f} s, max {max(values):.1f} s")
    out(f"journal batches replayed at restarts: {[r.journal_left for r in killed.restarts]}")
    bursts(svc, folder / "killed")


if __name__ == "__main__":
    main()
