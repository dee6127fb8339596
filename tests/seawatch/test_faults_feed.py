"""A feed that sends garbage, then stalls, through ``seawatch serve`` (real process, TCP on loopback).

Garbage: binary bytes, a line past the framer's 4 KiB limit, a stream with no newline at all, sentences with a
wrong checksum, then valid sentences. The service keeps running, counts the rejects by reason on /metrics, and the
valid sentences' alert arrives; garbage alone does not count as the feed being heard. Stall: the feed goes silent;
/healthz says "degraded" with "feed ... silent for N s" once it has been for the service's threshold (60 s), and
"ok" again when the feed resumes (on the connection the TCP source makes again after its own 60 s of silence).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feeds.framing import MAX_LINE
from seawatch.serve_job import FEED_SILENT_S
from tests.engine.live import position_line
from tests.seawatch.test_serve_job import FeedServer, Service, feed_server, service

SART = 970_012_346  # an AIS-SART in distress: an alert from one message
TICK_S = 0.1


def health(svc: Service) -> tuple[str, list[str]]:
    body = svc.get("/healthz").json()
    return body["status"], body["reasons"]


def rejects(svc: Service) -> dict[str, float]:
    """seawatch_feed_rejects_total by reason."""
    out: dict[str, float] = {}
    for line in svc.get("/metrics").text.splitlines():
        if line.startswith("seawatch_feed_rejects_total{"):
            labels, value = line.rsplit(" ", 1)
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            out[reason] = out.get(reason, 0.0) + float(value)
    return out


@contextmanager
def ticking(server: FeedServer) -> Iterator[threading.Event]:
    """An ordinary vessel reporting ten times a second, stamped now, until the event is cleared (set: sending).
    The engine releases a message once one 0.5 s newer arrived (its live lateness), as on a real feed."""
    sending, done = threading.Event(), threading.Event()
    sending.set()

    def tick() -> None:
        k = 0
        while not done.is_set():
            if sending.is_set():
                line = position_line(574_000_001, 0, int(time.time() * 1000), lat=20.5, lon=107.0 + k * 1e-4)
                with contextlib.suppress(OSError):  # a dropped connection: the next tick goes to the new one
                    server.send(line)
                k += 1
            time.sleep(TICK_S)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield sending
    finally:
        done.set()
        thread.join()


def garbage() -> bytes:
    rng = random.Random(14)
    valid = position_line(574_000_002, 0, int(time.time() * 1000))
    wrong_checksum = valid[:-3] + (b"00\n" if not valid.endswith(b"00\n") else b"11\n")
    binary = bytes(rng.randrange(256) for _ in range(3000)).replace(b"\n", b"\r")  # one line, no newline in it
    return b"".join([
        binary + b"\n",
        b"!AIVDM," + b"A" * (MAX_LINE + 100) + b"\n",  # an overlong line
        wrong_checksum * 3,
        b"\x00\xff\xfe garbage \x01\x02\n" * 20,
        b"{\"json\": \"not nmea\"}\n",
    ])  # fmt: skip


def test_garbage_then_valid_sentences_keep_the_service_running_and_counted(tmp_path: Path) -> None:
    with feed_server() as server, service(tmp_path, server.port) as svc:
        server.wait_connections(1)
        server.send(garbage())
        server.send(b"X" * (3 * MAX_LINE))  # no newline yet: dropped whole once past the limit
        server.send(b"\n")
        svc.wait(lambda: rejects(svc).get("line_too_long", 0) >= 2, 30.0, "the overlong lines counted")
        status, reasons = health(svc)
        assert status == "degraded" and any("has sent nothing yet" in r for r in reasons), (
            "garbage alone is not the feed being heard",
            reasons,
        )
        with ticking(server):
            svc.wait(lambda: svc.metrics()["seawatch_stream_batches_total"] >= 3, 30.0, "the engine to warm up")
            server.send(position_line(SART, 14, int(time.time() * 1000), lat=20.6, lon=107.2))
            svc.wait(lambda: bool(svc.get("/api/v1/alerts", mmsi=SART).json()["items"]), 30.0, "the distress alert")
            svc.wait(lambda: health(svc)[0] == "ok", 10.0, '/healthz "ok" once valid sentences come')
        (alert,) = svc.get("/api/v1/alerts", mmsi=SART).json()["items"]
        counted = rejects(svc)
        assert svc.proc is not None and svc.proc.poll() is None, "the service is still running"
    assert alert["kind"] == "distress"
    assert counted["line_too_long"] >= 2, counted
    assert counted["bad_checksum"] >= 3, counted
    assert counted.get("not_nmea", 0) + counted.get("malformed", 0) >= 20, counted


def test_a_silent_feed_is_degraded_and_recovers_when_it_resumes(tmp_path: Path) -> None:
    with feed_server() as server, service(tmp_path, server.port) as svc:
        server.wait_connections(1)
        with ticking(server) as sending:
            svc.wait(lambda: health(svc)[0] == "ok", 30.0, '/healthz "ok" while the feed reports')
            sending.clear()
            stalled = time.monotonic()
            svc.wait(lambda: any(" silent for " in r for r in health(svc)[1]), FEED_SILENT_S + 30.0,
                     "/healthz to say the feed is silent", every=0.5)  # fmt: skip
            noticed = time.monotonic() - stalled
            status, reasons = health(svc)
            server.wait_connections(2, timeout=30.0)  # the TCP source gave up on the silent connection and came back
            sending.set()
            resumed = time.monotonic()
            svc.wait(lambda: health(svc)[0] == "ok", 60.0, '/healthz "ok" after the feed resumed', every=0.1)
            recovered = time.monotonic() - resumed
        metrics = svc.metrics()
    assert status == "degraded"
    (silent,) = [r for r in reasons if " silent for " in r]
    assert silent.startswith(f"feed tcp://127.0.0.1:{server.port} silent for ") and silent.endswith(" s"), silent
    assert int(silent.split(" silent for ")[1].removesuffix(" s")) >= FEED_SILENT_S  # whole seconds: 60.4 says 60
    assert FEED_SILENT_S <= noticed < FEED_SILENT_S + 10, noticed
    assert recovered < 10, f"{recovered:.1f} s from the feed resuming to /healthz ok"
    assert metrics["seawatch_feed_silences_total"] >= 1, "the TCP source gave up on the silent connection"
    assert metrics["seawatch_feed_reconnects_total"] >= 1, "and connected again"
