"""The bus (issue 16): relay -> NATS JetStream -> engine, sustained throughput with zero loss, beside the file feed.

Each part runs the commands as an operator would, as subprocesses on loopback, with a fresh ``nats-server -js``:

- relay: ``seawatch relay --feed file://FEED --speed 0`` (the whole command, wall time) into an empty stream; then
  the stream is read back and its lines counted against the file's (zero loss, none twice);
- engine: ``seawatch serve --feed nats://.../AIS`` on that stream, from /healthz answering until /metrics counts
  every message of the file (messages/s through the engine), beside ``seawatch serve --feed file://FEED --speed 0``
  timed the same way in the same run (the baseline: the same engine without the bus), alternated ``--runs`` times,
  after an untimed warm-up run that fills Numba's cache (a cold cache cost the first command ~80 s);
- in process: :class:`feeds.nats.NatsSource` alone reading the whole stream (messages/s the consumer delivers);
- api: ``seawatch api --workers 1`` then ``--workers 2`` on one store of ``--fleet`` vessels (SQLite), GET
  /api/v1/vessels in an open loop at ``--rate`` requests/s (latency from each request's intended time: a stall
  counts for every request due during it) and in a closed loop of 32 clients (the most it answers).

    .venv/bin/python benchmarks/bench_bus.py [--parts bus api] [--hours 12 --vessels 1200] [--feed FILE] [--runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feeds.framing import Framer  # noqa: E402
from feeds.nats import NatsSource  # noqa: E402
from seawatch.simulator.config import SimConfig  # noqa: E402
from seawatch.simulator.scenario import simulate  # noqa: E402
from tests.nats_server import NatsServer, free_port, stream_messages  # noqa: E402

SEAWATCH = Path(sys.executable).with_name("seawatch")
out = sys.stdout.write


def messages_in(data: bytes) -> int:
    framer = Framer(clock=time.time)
    return len(framer.feed(data, received=time.time())) + len(framer.finish())


def metrics(url: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            key = name.split("{", 1)[0]
            found[key] = found.get(key, 0.0) + float(value)
    return found


POLL_S = 1.0  # /metrics is read this often: each read builds the quality report, CPU taken from the engine


def serve_until(folder: Path, feed: str, expected: int) -> dict[str, float]:
    """``seawatch serve`` on ``feed`` until /metrics counts ``expected`` messages: seconds from /healthz answering
    to the micro-batch that completed them (``after_healthz``), from the first micro-batch to that one
    (``engine``: the file feed starts before /healthz answers, the bus feed after the lease), from the command's
    start (``whole``), and the messages counted (``messages``).

    The end is the engine's own time of its last micro-batch (``seawatch_stream_last_batch_timestamp_seconds``), so
    /metrics is read only every ``POLL_S``: read every 50 ms, its quality report took a sixth of the engine's CPU."""
    port = free_port()
    env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
           "SEAWATCH_DATABASE_PATH": str(folder / "seawatch.db"), "SEAWATCH_ALERT_RETENTION_DAYS": "0"}  # fmt: skip
    env.pop("SEAWATCH_DATABASE_URL", None)
    url = f"http://127.0.0.1:{port}"
    cmd = [str(SEAWATCH), "serve", "--feed", feed, "--port", str(port), "--state", str(folder / "state"), "--speed",
           "0"]  # fmt: skip
    started = time.time()
    with (folder / "serve.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"seawatch serve exited: {(folder / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.05)
        up = time.time()
        while (found := metrics(url)).get("seawatch_stream_messages_total", 0.0) < expected:
            if proc.poll() is not None:
                raise SystemExit(f"seawatch serve exited: {(folder / 'serve.log').read_text()[-2000:]}")
            time.sleep(POLL_S)
        first, done = (found[f"seawatch_stream_{w}_batch_timestamp_seconds"] for w in ("first", "last"))
        time.sleep(1.0)
        n = metrics(url)["seawatch_stream_messages_total"]
        return {"after_healthz": done - up, "engine": done - first, "whole": done - started, "messages": n}
    finally:
        proc.terminate()
        proc.wait(30)


def warm_up(folder: Path, feed: Path) -> float:
    """``seawatch serve`` on a tenth of ``feed`` until the engine has it all, untimed: the first run on a tree
    compiles Numba's kernels into its cache (~80 s here), and whichever command came first paid for it (a bus
    "regression" from 71 k to 10 k msg/s was this). Seconds it took."""
    data = feed.read_bytes()
    part = folder / "warm-up.nmea"
    part.write_bytes(data[: data.find(b"\n", len(data) // 10) + 1])
    run = folder / "warm-up"
    run.mkdir()
    t0 = time.perf_counter()
    serve_until(run, f"file://{part}", messages_in(part.read_bytes()))
    return time.perf_counter() - t0


async def consume_all(url: str, last: int) -> tuple[float, int]:
    source = NatsSource(f"{url}/AIS?durable=bench")
    started = time.perf_counter()
    lines = 0
    while True:
        chunk = await source.next_batch()
        assert chunk is not None
        lines += chunk.data.count(b"\n")
        if chunk.position >= last:
            break
    seconds = time.perf_counter() - started
    await source.close()
    return seconds, lines


async def open_loop(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Requests due at ``i / rate``; each one's latency from when it was due to its answer."""
    took: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        start = time.perf_counter()

        async def one(due: float) -> None:
            nonlocal errors
            try:
                r = await client.get(url)
                errors += r.status_code != 200
            except httpx.HTTPError:
                errors += 1
            took.append((time.perf_counter() - due) * 1e3)

        tasks = []
        for i in range(int(rate * seconds)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    took.sort()
    return {"p50": took[len(took) // 2], "p99": took[int(len(took) * 0.99)], "rps": len(took) / seconds,
            "errors": float(errors)}  # fmt: skip


def bench_api(folder: Path, fleet: int, rate: float, seconds: float) -> None:
    from bench_live import fleet_rows, httpx_run

    from api.app import open_store
    from api.settings import Settings

    store = open_store(Settings(environment="development", database_path=folder / "api.db"))
    store.upsert_vessels(fleet_rows(fleet))
    store.close()
    env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
           "SEAWATCH_DATABASE_PATH": str(folder / "api.db"), "SEAWATCH_RATE_PER_ADDRESS": "0",
           "SEAWATCH_RATE_PER_KEY": "0"}  # fmt: skip  (the load comes from one address)
    env.pop("SEAWATCH_DATABASE_URL", None)
    out(f"api: GET /api/v1/vessels, {fleet:,} vessels in the store (SQLite), seawatch api on loopback\n")
    for workers in (1, 2):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([str(SEAWATCH), "api", "--workers", str(workers), "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            for _ in range(20 * workers):  # every worker warm (its first page and count built)
                httpx.get(base + "/api/v1/vessels", timeout=30)
            opened = asyncio.run(open_loop(base + "/api/v1/vessels", rate, seconds))
            closed = asyncio.run(httpx_run(base + "/api/v1/vessels", 32, seconds))
        finally:
            proc.terminate()
            proc.wait(30)
        out(f"  --workers {workers}: open loop {rate:g}/s: p50 {opened['p50']:.1f} ms, p99 {opened['p99']:.1f} ms, "
            f"{opened['errors']:.0f} errors; closed loop 32 clients: {closed['rps']:,.0f} requests/s, "
            f"p50 {closed['p50']:.1f} ms, p99 {closed['p99']:.1f} ms, {closed['errors']:.0f} errors\n")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feed", type=Path, help="an NMEA file (default: simulate --hours x --vessels)")
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--vessels", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parts", nargs="+", choices=("bus", "api"), default=["bus", "api"])
    ap.add_argument("--runs", type=int, default=2, help="serve runs of each feed (bus, file, bus, file, ...)")
    ap.add_argument("--fleet", type=int, default=100_000, help="vessels in the store for the api part")
    ap.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s for the api part")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of load per api run")
    args = ap.parse_args()
    out(f"bench_bus: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-bus-") as tmp:
        folder = Path(tmp)
        if "api" in args.parts:
            bench_api(folder, args.fleet, args.rate, args.seconds)
        if "bus" not in args.parts:
            return
        feed = args.feed
        if feed is None:
            t0 = time.perf_counter()
            feed = folder / "feed.nmea"
            feed.write_bytes(simulate(SimConfig(hours=args.hours, seed=args.seed, vessels=args.vessels)).feed)
            out(f"simulated {args.hours:g} h x {args.vessels} vessels in {time.perf_counter() - t0:.0f} s\n")
        data = feed.read_bytes()
        lines, messages = data.count(b"\n"), messages_in(data)
        out(f"feed: {lines:,} lines, {messages:,} messages, {len(data) / 1e6:.0f} MB\n")
        server = NatsServer(folder / "nats")
        server.start()
        try:
            t0 = time.perf_counter()
            cmd = [str(SEAWATCH), "relay", "--feed", f"file://{feed}", "--speed", "0", "--nats", server.url,
                   "--spool", str(folder / "spool")]  # fmt: skip
            relay = subprocess.run(cmd, capture_output=True, text=True)
            relay_s = time.perf_counter() - t0
            if relay.returncode != 0:
                raise SystemExit(relay.stderr)
            held = stream_messages(server.url)
            on_bus = sum(d.count(b"\n") for _, d, _ in held)
            out(f"relay (whole command): {relay_s:.1f} s, {lines / relay_s / 1e3:.0f} k lines/s; "
                f"{len(held):,} bus messages holding {on_bus:,} lines (file: {lines:,}; lost or doubled: "
                f"{on_bus - lines:+,})\n")  # fmt: skip
            consumer_s, consumed = asyncio.run(consume_all(server.url, len(held)))
            out(f"in process, NatsSource alone: {consumed:,} lines in {consumer_s:.2f} s, "
                f"{consumed / consumer_s / 1e3:.0f} k lines/s\n")  # fmt: skip
            out(f"warm-up (serve on a tenth of the feed, untimed: Numba's cache): {warm_up(folder, feed):.1f} s\n")
            for i in range(args.runs):  # alternated: a busier spell of the machine hits both
                for name, url in (("bus", f"{server.url}/AIS"), ("file (baseline)", f"file://{feed}")):
                    run = folder / f"{name.split()[0]}-{i}"
                    run.mkdir()
                    load = os.getloadavg()[0]
                    r = serve_until(run, url, messages)
                    out(f"run {i + 1}: serve --feed {name}: {r['messages']:,.0f} messages through the engine in "
                        f"{r['engine']:.2f} s from its first micro-batch: {r['messages'] / r['engine'] / 1e3:.0f} k "
                        f"msg/s ({r['after_healthz']:.2f} s after /healthz: "
                        f"{r['messages'] / r['after_healthz'] / 1e3:.0f} k msg/s; {r['whole']:.1f} s from the "
                        f"command's start); lost or doubled: {r['messages'] - messages:+,.0f}; load average "
                        f"{load:.1f}\n")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
