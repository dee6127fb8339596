"""Live service (issue 6): sustained TCP ingest, distress alert latency and API load against ``seawatch serve``.

Each part runs ``seawatch serve`` as a subprocess on loopback, as an operator would, and reads /metrics and the API:

- ingest: a local TCP server pushes a large simulated feed as fast as the client takes it; messages/s through the
  engine from /metrics over time, and whether anything was dropped (sent == received + rejects);
- latency: ~20 AIS-SART distress messages sent among a live background feed, 20 more each followed at once by a
  message 0.5 s newer (released), and 20 ordinary alerts (an MMSI no ship has, released the same way); time from
  the send to the alert in GET /api/v1/alerts, p50/p99 (the open-loop API load is benchmarks/bench_api.py);
- api: GET /api/v1/vessels with ``--fleet`` vessels in the store and ``--clients`` concurrent clients (wrk when it
  is installed, else an asyncio + httpx load generator), p50/p99.

    .venv/bin/python benchmarks/bench_live.py [--parts ingest latency api] [--hours 24 --vessels 1200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pyais

from api.app import open_store
from api.settings import Settings
from feeds.framing import Framer
from models.schema import BANDS, VESSEL_SCHEMA
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate

SEAWATCH = Path(sys.executable).with_name("seawatch")
out = sys.stdout.write


class FeedServer:
    """An NMEA-over-TCP server on 127.0.0.1 that sends what it is told to its newest connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.changed = threading.Condition()
        self.sending = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.changed:
                self.conns.append(conn)
                self.changed.notify_all()

    def wait_connection(self, timeout: float = 60.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: bool(self.conns), timeout):
                raise RuntimeError("seawatch serve never connected to the feed")

    def send(self, data: bytes) -> None:
        with self.changed:
            conn = self.conns[-1]
        with self.sending:
            conn.sendall(data)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


class Service:
    """``seawatch serve`` on one TCP feed with its state and SQLite database in ``folder``."""

    def __init__(self, folder: Path, feed_port: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # every load client comes from 127.0.0.1 without a key: no request-rate limit (429s would be measured)
        env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
               "SEAWATCH_DATABASE_PATH": str(folder / "seawatch.db"), "SEAWATCH_RATE_PER_ADDRESS": "0",
               "SEAWATCH_RATE_PER_KEY": "0"}  # fmt: skip
        env.pop("SEAWATCH_DATABASE_URL", None)
        cmd = [str(SEAWATCH), "serve", "--feed", f"tcp://127.0.0.1:{feed_port}", "--port", str(self.port),
               "--state", str(folder / "state")]  # fmt: skip
        self.log = folder / "serve.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=10.0)
        self.wait(lambda: self.client.get("/healthz").status_code == 200, 120.0, "/healthz")

    def wait(self, done: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"seawatch serve exited waiting for {what}: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if done():
                    return
            time.sleep(every)
        raise RuntimeError(f"timed out waiting for {what}")

    def metrics(self) -> dict[str, float]:
        """/metrics samples summed over labels, by name; rejects also by reason (``rejects:<reason>``)."""
        got: dict[str, float] = {}
        for line in self.client.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                key = name.split("{", 1)[0]
                got[key] = got.get(key, 0.0) + float(value)
                if key == "seawatch_feed_rejects_total":
                    reason = re.search(r'reason="([^"]*)"', name)
                    got[f"rejects:{reason.group(1) if reason else '?'}"] = float(value)
        return got

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def running(folder: Path) -> Iterator[tuple[FeedServer, Service]]:
    folder.mkdir(parents=True, exist_ok=True)
    server = FeedServer()
    svc = None
    try:
        svc = Service(folder, server.port)
        server.wait_connection()
        yield server, svc
    finally:
        if svc is not None:
            svc.close()
        server.close()


def message_count(data: bytes) -> int:
    framer = Framer(clock=time.time)
    return len(framer.feed(data, received=time.time())) + len(framer.finish())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# ---------------------------------------------------------------------------------------------------- (a) ingest
def bench_ingest(folder: Path, feed: bytes) -> dict[str, float]:
    sent_messages = message_count(feed)
    out(f"\n[ingest] {len(feed) / 1e6:.0f} MB, {sent_messages:,} messages pushed over TCP as fast as read\n")
    with running(folder / "ingest") as (server, svc):
        samples: list[tuple[float, dict[str, float]]] = []
        started = time.monotonic()
        pushed: dict[str, float] = {}

        def push() -> None:
            server.send(feed)
            pushed["at"] = time.monotonic() - started

        sender = threading.Thread(target=push, daemon=True)
        sender.start()
        quiet_since = None
        while time.monotonic() - started < 600:
            m = svc.metrics()
            now = time.monotonic() - started
            if samples and m["seawatch_stream_messages_total"] == samples[-1][1]["seawatch_stream_messages_total"]:
                quiet_since = quiet_since or now
                if "at" in pushed and m["seawatch_stream_messages_total"] > 0 and now - quiet_since > 3.0:
                    break
            else:
                quiet_since = None
            samples.append((now, m))
            time.sleep(0.25)
        sender.join()
    last = samples[-1][1]
    t = np.array([s for s, _ in samples])
    n = np.array([m["seawatch_stream_messages_total"] for _, m in samples])
    done = n[-1]
    first = t[np.argmax(n > 0)]
    end = t[np.argmax(n >= done)]
    lo, hi = t[np.argmax(n >= 0.1 * done)], t[np.argmax(n >= 0.9 * done)]
    rejects = last.get("seawatch_feed_rejects_total", 0.0)
    received = last["seawatch_feed_messages_total"]
    steps = [(t[i + 4] - t[i], n[i + 4] - n[i]) for i in range(len(t) - 4) if n[i] > 0 and n[i + 4] < done]
    result = {
        "messages_sent": float(sent_messages),
        "feed_messages": received,
        "stream_messages": done,
        "rejects": rejects,
        "pushed_s": pushed["at"],
        "through_s": end - first,
        "rate": done / max(end - first, 1e-9),
        "rate_10_90": 0.8 * done / max(hi - lo, 1e-9),
        "best_1s": max((dn / dt for dt, dn in steps), default=float("nan")),
        "engine_s": last["seawatch_stream_engine_seconds_total"],
        "batches": last["seawatch_stream_batches_total"],
        "queue_waits": last.get("seawatch_feed_queue_waits_total", 0.0),
    }
    reasons = {k.split(":", 1)[1]: v for k, v in last.items() if k.startswith("rejects:")}
    out(f"  messages sent {sent_messages:,}; received by the feed {received:,.0f}; through the engine {done:,.0f}; "
        f"rejects {rejects:,.0f}{f' {reasons}' if reasons else ''}\n")  # fmt: skip
    lost = sent_messages - received
    out(f"  dropped: {lost:,.0f} ({'none' if lost == 0 else 'SOME'}); feed queue waits (backpressure) "
        f"{result['queue_waits']:,.0f}\n")  # fmt: skip
    out(f"  the server pushed it all in {result['pushed_s']:.1f} s; first to last message through the engine "
        f"{result['through_s']:.1f} s in {result['batches']:.0f} micro-batches\n")  # fmt: skip
    out(f"  throughput: {result['rate']:,.0f} msg/s overall, {result['rate_10_90']:,.0f} msg/s from 10% to 90%, "
        f"best ~1 s window {result['best_1s']:,.0f} msg/s; engine+sinks busy {result['engine_s']:.1f} s "
        f"({done / max(result['engine_s'], 1e-9):,.0f} msg/s of engine time)\n")  # fmt: skip
    return result


# --------------------------------------------------------------------------------------------------- (b) latency
def position_line(mmsi: int, status: int, lat: float, lon: float, unix_ms: int) -> bytes:
    return tagged(sentence(mmsi, status, lat, lon), unix_ms)


def sentence(mmsi: int, status: int, lat: float, lon: float) -> str:
    fields: dict[str, str | int | float | bytes | bool] = {
        "msg_type": 1, "mmsi": mmsi, "status": status, "lat": lat, "lon": lon, "speed": 8.0, "course": 90.0,
        "heading": 90,
    }  # fmt: skip
    (s,) = pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel="A")
    return s


def tagged(s: str, unix_ms: int) -> bytes:
    body = f"s:BENCH,c:{unix_ms}"
    cs = 0
    for c in body.encode("ascii"):
        cs ^= c
    return f"\\{body}*{cs:02X}\\{s}\n".encode("ascii")


def bench_latency(folder: Path, n_alerts: int, background_rate: float) -> dict[str, float]:
    out(f"\n[latency] {n_alerts} AIS-SART messages live, {n_alerts} released, {n_alerts} ordinary alerts released, "
        f"among a live background feed of {background_rate:,.0f} msg/s (times stamped now, in ms)\n")  # fmt: skip
    rng = random.Random(6)
    fleet = [sentence(574_100_000 + i, 0, 20.0 + rng.random(), 107.0 + rng.random()) for i in range(500)]
    per_tick, tick = max(1, int(background_rate * 0.02)), 0.02
    with running(folder / "latency") as (server, svc):
        stop = threading.Event()

        def background() -> None:
            k = 0
            while not stop.is_set():
                now_ms = int(time.time() * 1000)
                server.send(b"".join(tagged(fleet[(k + j) % len(fleet)], now_ms) for j in range(per_tick)))
                k += per_tick
                time.sleep(tick)

        feeder = threading.Thread(target=background, daemon=True)
        feeder.start()
        try:
            svc.wait(lambda: svc.metrics()["seawatch_stream_batches_total"] >= 10, 60.0, "a warm engine")
            # live: an AIS-SART's report (the distress fast path does not wait for the watermark); released: the
            # same followed at once by a message stamped 0.501 s after it; ordinary: an alert that waits for the
            # watermark (invalid_identity: an MMSI with an unallocated MID, once per vessel) released the same way,
            # so what remains is batching, the engine, the store, the API
            modes = ("live", "released", "ordinary")
            seconds: dict[str, list[float]] = {mode: [] for mode in modes}
            for i in range(len(modes) * n_alerts):
                mode = modes[i // n_alerts]
                mmsi = (100_000_001 if mode == "ordinary" else 970_000_001) + i
                now_ms = int(time.time() * 1000)
                line = position_line(mmsi, 0 if mode == "ordinary" else 14, 20.5, 107.5, now_ms)
                if mode != "live":
                    line += tagged(fleet[0], now_ms + 501)
                sent = time.monotonic()
                server.send(line)

                def visible(m: int = mmsi) -> bool:
                    return bool(svc.client.get("/api/v1/alerts", params={"mmsi": m}).json()["items"])

                svc.wait(visible, 30.0, f"a {mode} alert", every=0.005)
                seconds[mode].append(time.monotonic() - sent)
                time.sleep(rng.uniform(0.2, 0.6))
            m = svc.metrics()
        finally:
            stop.set()
            feeder.join()
    step = m["seawatch_stream_engine_seconds_total"] / max(m["seawatch_stream_batches_total"], 1)
    result = {"step_mean": step}
    for mode, xs in seconds.items():
        p50, p99, lo, hi = pct(xs, 50) * 1e3, pct(xs, 99) * 1e3, min(xs) * 1e3, max(xs) * 1e3
        result |= {f"{mode}_p50": p50, f"{mode}_p99": p99, f"{mode}_max": hi}
        out(f"  {mode:8s}: send -> alert in GET /api/v1/alerts p50 {p50:4.0f} ms, p99 {p99:4.0f} ms "
            f"(min {lo:.0f}, max {hi:.0f}; {len(xs)} alerts)\n")  # fmt: skip
    out(f"  (API polled every 5 ms; mean engine step incl. store and scoring {step * 1e3:.0f} ms over "
        f"{m['seawatch_stream_batches_total']:.0f} micro-batches)\n")  # fmt: skip
    return result


# ------------------------------------------------------------------------------------------------------- (c) api
def fleet_rows(n: int, seed: int = 6) -> pl.DataFrame:
    """``n`` vessels in the risk table's columns: scores, bands, identities, last positions and a few reasons."""
    rng = np.random.default_rng(seed)
    smug = np.round(rng.gamma(1.5, 12.0, n).clip(0, 100), 1)
    fire = np.round(rng.gamma(1.2, 10.0, n).clip(0, 100), 1)
    top = np.maximum(smug, fire)
    band = np.array(BANDS)[np.searchsorted([20.0, 50.0, 75.0], top, side="left")]
    now = datetime.now(UTC)
    cols: dict[str, object] = {
        "mmsi": 200_000_000 + np.arange(n, dtype=np.int64) * 7,
        "name": [f"VESSEL {i}" for i in range(n)],
        "callsign": [f"CS{i:05d}" for i in range(n)],
        "imo": 9_000_000 + np.arange(n, dtype=np.int64),
        "ship_type": rng.choice([30, 52, 70, 80, 84], n).astype(np.int64),
        "flag": rng.choice(["VN", "CN", "PA", "LR"], n),
        "lat": rng.uniform(16.0, 22.0, n),
        "lon": rng.uniform(105.5, 110.0, n),
        "first_seen": [now] * n,
        "last_seen": [now] * n,
        "positions": rng.integers(1, 5000, n),
        "smuggling_score": smug,
        "fire_score": fire,
        "band": band,
        "smuggling_band": band,
        "fire_band": band,
        "unusual": rng.random(n),
        "reasons": [["smuggling +12 loitering 3.1 h at sea", "fire +8 tanker (hazard category A)"]] * n,
        "smuggling_reasons": [["+12 loitering 3.1 h at sea"]] * n,
        "fire_reasons": [["+8 tanker (hazard category A)"]] * n,
        "alerts": rng.integers(0, 5, n),
    }
    frame = pl.DataFrame({k: v for k, v in cols.items()})
    for name, dtype in VESSEL_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(0, dtype).alias(name))
    return frame.select([pl.col(c).cast(t) for c, t in VESSEL_SCHEMA.items()])


def wrk_run(url: str, clients: int, seconds: int) -> dict[str, float]:
    text = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "--latency", url],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def ms(label: str) -> float:
        hit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(hit.group(1)) * unit[hit.group(2)] if hit else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"), "rps": float(rps.group(1)) if rps else 0.0,
            "errors": float(errors.group(1)) if errors else 0.0}  # fmt: skip


async def httpx_run(url: str, clients: int, seconds: float) -> dict[str, float]:
    took: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=10.0) as c:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                r = await c.get(url)
                took.append((time.perf_counter() - t0) * 1e3)
                errors += r.status_code != 200

    await asyncio.gather(*(client() for _ in range(clients)))
    return {"p50": pct(took, 50), "p90": pct(took, 90), "p99": pct(took, 99), "rps": len(took) / seconds,
            "errors": float(errors)}  # fmt: skip


def bench_api(folder: Path, fleet: int, clients: int, seconds: int) -> dict[str, float]:
    out(f"\n[api] GET /api/v1/vessels (first page, 50 a page, highest score first, with the total) with {fleet:,} "
        f"vessels in the store (SQLite), {clients} concurrent clients, {seconds} s\n")  # fmt: skip
    where = folder / "api"
    where.mkdir(parents=True, exist_ok=True)
    store = open_store(Settings(environment="development", database_path=where / "seawatch.db"))
    try:
        t0 = time.perf_counter()
        store.upsert_vessels(fleet_rows(fleet))
        out(f"  seeded {fleet:,} vessels with Store.upsert_vessels in {time.perf_counter() - t0:.1f} s\n")
    finally:
        store.close()
    with running(where) as (_, svc):
        url = f"{svc.url}/api/v1/vessels"
        single = []
        for _ in range(30):
            t0 = time.perf_counter()
            svc.client.get("/api/v1/vessels").raise_for_status()
            single.append((time.perf_counter() - t0) * 1e3)
        out(f"  one client alone: median {statistics.median(single):.1f} ms a request\n")
        tool = f"wrk -t2 -c{clients}" if shutil.which("wrk") else f"asyncio + httpx, {clients} clients"

        def load(target: str, span: int) -> dict[str, float]:
            if shutil.which("wrk"):
                return wrk_run(target, clients, span)
            return asyncio.run(httpx_run(target, clients, span))

        result = load(url, seconds)
        result["single_ms"] = statistics.median(single)
        # the same load on /healthz (a store ping, a few bytes): the floor of this process's HTTP stack
        floor = load(f"{svc.url}/healthz", max(5, seconds // 2))
    for what, r in (("/api/v1/vessels", result), ("/healthz (floor)", floor)):
        out(f"  {tool} {what}: p50 {r['p50']:.1f} ms, p90 {r['p90']:.1f} ms, p99 {r['p99']:.1f} ms, "
            f"{r['rps']:,.0f} requests/s, {r['errors']:.0f} errors\n")  # fmt: skip
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["ingest", "latency", "api"], choices=["ingest", "latency", "api"])
    ap.add_argument("--feed", type=Path, help="an NMEA file to push (default: simulate --hours x --vessels)")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--vessels", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--alerts", type=int, default=20, help="distress messages for the latency part")
    ap.add_argument("--background", type=float, default=2000.0, help="background feed msg/s in the latency part")
    ap.add_argument("--fleet", type=int, default=100_000, help="vessels in the store for the api part")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=20, help="length of the api load run")
    args = ap.parse_args()
    if not SEAWATCH.is_file():
        sys.exit(f"no {SEAWATCH}: install the package first (pip install -e .)")
    out(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")
    out(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "ingest" in args.parts:
            if args.feed:
                feed = args.feed.read_bytes()
            else:
                t0 = time.perf_counter()
                feed = simulate(SimConfig(hours=args.hours, seed=args.seed, vessels=args.vessels)).feed
                out(f"simulated {args.hours:g} h x {args.vessels} vessels in {time.perf_counter() - t0:.0f} s\n")
            bench_ingest(folder, feed)
        if "latency" in args.parts:
            bench_latency(folder, args.alerts, args.background)
        if "api" in args.parts:
            bench_api(folder, args.fleet, args.clients, args.seconds)


if __name__ == "__main__":
    main()
