"""Limits on what one caller may ask of the API: the rate of requests per address and per key, and the rate of
failed key checks (each may cost a scrypt). The size of a request body is limited by Starlette's
``RequestBodyLimitMiddleware`` (``FastAPI(max_body_size=...)``, set in the app factory): a ``Content-Length`` over
the limit is refused with 413 at the first read, before a byte of the body is taken, and a body streamed without
one is counted as it comes and refused with 413 as soon as it passes the limit.

Rates are token buckets: a bucket holds up to ``burst`` tokens, refills at ``rate`` a second, and a request takes
one; an empty bucket answers 429 with ``Retry-After``, the seconds until a token is back. A rate of 0 turns a
limit off. Buckets live in this process's memory: with ``seawatch api --workers N`` each worker counts its own.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from starlette.types import ASGIApp, Receive, Scope, Send

# Addresses and key ids tracked at once: ~100 bytes each, so 100k buckets hold ~10 MB; the least recently seen
# are forgotten first (a forgotten bucket starts full, which errs towards letting a caller through).
MAX_BUCKETS = 100_000
UNLIMITED_PATHS = ("/healthz", "/metrics")  # probes from load balancers and Prometheus, answered from memory


class TokenBuckets:
    """One token bucket per key (an address, a key id). ``take(key)`` returns 0.0 when a token was taken, else the
    seconds until one is back. Thread-safe; ``clock`` is injectable for tests."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_BUCKETS) -> None:  # fmt: skip
        if rate < 0 or burst < 1:
            raise ValueError(f"rate {rate} and burst {burst}: give a rate >= 0 (0: no limit) and a burst >= 1")
        self.rate, self.burst, self.clock, self.max_keys = rate, float(burst), clock, max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: Hashable) -> float:
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens = self._refilled(key)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, self.clock())
                return 0.0
            self._buckets[key] = (tokens, self.clock())
            return (1.0 - tokens) / self.rate

    def wait(self, key: Hashable) -> float:
        """The seconds until ``key`` has a token again, without taking one (0.0: it has one now)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens = self._refilled(key)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _refilled(self, key: Hashable) -> float:
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        self._buckets[key] = (tokens, at)  # most recently seen last
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return min(self.burst, tokens + (now - at) * self.rate)


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def client_address(scope: Scope) -> str:
    """The caller's address as the server saw it (behind a proxy, run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so that this is the client's, not the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AddressLimit:
    """Refuses a request from an address whose bucket is empty (429 with ``Retry-After``), before anything reads it;
    /healthz and /metrics are not counted."""

    def __init__(self, app: ASGIApp, addresses: TokenBuckets) -> None:
        self.app, self.addresses = app, addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in UNLIMITED_PATHS:
            wait = self.addresses.take(client_address(scope))
            if wait > 0:
                await _refuse(send, 429, "too many requests from this address: slow down",
                              {"Retry-After": retry_after(wait)})  # fmt: skip
                return
        await self.app(scope, receive, send)
