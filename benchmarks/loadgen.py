"""HTTP load for the API benchmarks: an open loop at a fixed request rate, and a closed loop of N clients.

Open loop (what a fleet of browsers and scripts does): request ``i`` is due at ``start + i / rate`` whatever the
server is doing, and its latency runs from that *intended* time to the last byte of the answer. A closed loop (N
clients, each sending when its previous answer came) hides a slow server: while it stalls, the clients stop
sending, so the stall is one slow sample instead of every request that should have been sent meanwhile
("coordinated omission", Gil Tene; wrk2 measures the same way). A request due while every connection is busy
waits for one, and that wait counts.

Plain asyncio streams speaking HTTP/1.1 keep-alive (GET only, Content-Length answers, as uvicorn sends them):
a few tens of microseconds of client CPU a request, so the generator itself stays a small part of one core at
the rates measured here (it reports how late it sent, to show when it was not).

    .venv/bin/python benchmarks/loadgen.py http://127.0.0.1:8000/healthz --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np


@dataclass
class LoadResult:
    """Latencies (ms) of the requests answered, and what went wrong."""

    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)  # open loop: sent this long after the intended time
    dispatch_lag_ms: list[float] = field(default_factory=list)  # open loop: the generator's own lateness
    errors: int = 0  # non-2xx answers and failed connections
    error_kinds: dict[str, int] = field(default_factory=dict)  # by status code or exception name
    seconds: float = 0.0
    connections: int = 0

    def summary(self) -> dict[str, float]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([float("nan")])
        lag = np.asarray(self.send_lag_ms) if self.send_lag_ms else np.asarray([0.0])
        return {
            "p50": float(np.percentile(lat, 50)),
            "p90": float(np.percentile(lat, 90)),
            "p99": float(np.percentile(lat, 99)),
            "max": float(lat.max()),
            "rps": len(self.latencies_ms) / max(self.seconds, 1e-9),
            "requests": float(len(self.latencies_ms)),
            "errors": float(self.errors),
            "lag_p99": float(np.percentile(lag, 99)),
            "generator_late_max": max(self.dispatch_lag_ms, default=0.0),
            "connections": float(self.connections),
        }


class Connection:
    """One keep-alive HTTP/1.1 connection sending GETs for one path, one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
        self.reader, self.writer, self.request = reader, writer, request

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{url!r}: give an http://host:port/path URL (no TLS here)")
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = f"GET {target or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: */*\r\n\r\n".encode("ascii")
        return cls(reader, writer, request)

    async def get(self) -> int:
        """Send the GET and read the whole answer; its status code."""
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                raise ValueError("a chunked answer: this generator reads Content-Length answers only")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@contextmanager
def collector_off() -> Iterator[None]:
    """Python's cyclic garbage collector off while the load runs: a full pass over a benchmark's heap (polars,
    the API's modules: a few 100k objects) stops this generator for 0.1-0.3 s, which the open loop would count
    against the server."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def open_loop(url: str, rate: float, seconds: float, max_connections: int = 256,
                    warmup_s: float = 1.0) -> LoadResult:  # fmt: skip
    """GET ``url`` at ``rate`` requests a second for ``seconds`` (after ``warmup_s`` at the same rate, not
    counted); each latency from the request's intended send time. At most ``max_connections`` at once: a request
    due when all are busy waits for one (and the wait counts)."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate={rate}, seconds={seconds}: both must be positive")
    result = LoadResult()
    idle: list[Connection] = []
    freed = asyncio.Condition()
    opened = 0
    total = int(round((warmup_s + seconds) * rate))
    counted_from = int(round(warmup_s * rate))
    tasks: set[asyncio.Task[None]] = set()

    async def connection() -> tuple[Connection, bool]:
        """A connection for the next request, and whether it served one before."""
        nonlocal opened
        async with freed:
            if not idle and opened >= max_connections:
                await freed.wait_for(lambda: bool(idle))
            if idle:
                return idle.pop(), True
            opened += 1
        return await Connection.open(url), False

    async def one(i: int, due: float) -> None:
        conn = None
        try:
            conn, reused = await connection()
            if i >= counted_from:
                result.send_lag_ms.append((time.perf_counter() - due) * 1e3)
            try:
                status = await conn.get()
            except (asyncio.IncompleteReadError, ConnectionError):
                if not reused:
                    raise
                conn.close()  # the server closed it while it was idle (uvicorn after 5 s): once more, on a new one
                conn = await Connection.open(url)
                status = await conn.get()
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if i >= counted_from:
                result.errors += 1
                result.error_kinds[type(exc).__name__] = result.error_kinds.get(type(exc).__name__, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
            async with freed:
                nonlocal opened
                opened -= 1
                freed.notify()
            return
        if i >= counted_from:
            result.latencies_ms.append((time.perf_counter() - due) * 1e3)
            if not 200 <= status < 300:
                result.errors += 1
                result.error_kinds[str(status)] = result.error_kinds.get(str(status), 0) + 1
        async with freed:
            idle.append(conn)
            freed.notify()

    with collector_off():
        await _dispatch(total, rate, counted_from, result, one, tasks)
    result.seconds = seconds
    result.connections = opened
    for conn in idle:
        conn.close()
    return result


Request = Callable[[int, float], Coroutine[Any, Any, None]]  # request i, due at (perf_counter seconds)


async def _dispatch(total: int, rate: float, counted_from: int, result: LoadResult, one: Request,
                    tasks: set[asyncio.Task[None]]) -> None:  # fmt: skip
    """Start request ``i`` at its intended time (``rate`` a second), then wait for every answer."""
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if i >= counted_from:
            result.dispatch_lag_ms.append((time.perf_counter() - due) * 1e3)
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


async def closed_loop(url: str, clients: int, seconds: float) -> LoadResult:
    """``clients`` connections, each sending its next GET when the previous answer came, for ``seconds``;
    each latency from that send (so a stall shows as a few slow samples: see the module's docstring)."""
    result = LoadResult(connections=clients)
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        conn = await Connection.open(url)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                status = await conn.get()
                result.latencies_ms.append((time.perf_counter() - t0) * 1e3)
                if not 200 <= status < 300:
                    result.errors += 1
                    result.error_kinds[str(status)] = result.error_kinds.get(str(status), 0) + 1
        finally:
            conn.close()

    with collector_off():
        await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = seconds
    return result


def describe(what: str, r: dict[str, float]) -> str:
    return (f"{what}: p50 {r['p50']:.1f} ms, p90 {r['p90']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.0f} ms, "
            f"{r['rps']:,.0f} requests/s, {r['errors']:.0f} errors")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--rate", type=float, help="open loop at this many requests/s (default: closed loop)")
    ap.add_argument("--clients", type=int, default=50, help="closed loop: concurrent clients")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    if args.rate:
        r = asyncio.run(open_loop(args.url, args.rate, args.seconds)).summary()
        late = f"; sent late p99 {r['lag_p99']:.1f} ms, {r['connections']:.0f} connections"
        sys.stdout.write(describe(f"open loop {args.rate:g}/s", r) + late + "\n")
    else:
        r = asyncio.run(closed_loop(args.url, args.clients, args.seconds)).summary()
        sys.stdout.write(describe(f"closed loop {args.clients} clients", r) + "\n")

if __name__ == "__main__":
    main()
