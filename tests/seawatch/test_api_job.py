"""The topology of one machine: ``seawatch relay`` -> NATS -> ``seawatch serve --no-api`` -> the database ->
``seawatch api --workers 2``, all real processes (nats-server with JetStream on loopback; PostgreSQL when
SEAWATCH_TEST_POSTGRES_URL is set, as in CI, else a SQLite file).

The API processes have no engine: they list the alerts the engine wrote, and their live streams carry them as
the engine writes them; a zone an analyst adds through them reaches the engine at once (the store's change
notice, api/store/changes.py), which alerts on a vessel that enters it afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.api.conftest import POSTGRES_ENV, _reset_postgres
from tests.api.helpers import sse_events
from tests.engine.live import position_line
from tests.nats_server import nats_server
from tests.seawatch.test_serve_job import START_S, free_port

SEAWATCH = Path(sys.executable).with_name("seawatch")
WORKERS = 2
STREAMS = 4  # live streams opened at once: the workers share them
ADMIN = "a" * 40
VISITOR = 574_999_001  # a vessel that enters the analyst's zone after the scenario
ZONE = [[107.40, 19.90], [107.50, 19.90], [107.50, 20.00], [107.40, 20.00], [107.40, 19.90]]  # open sea, [lon, lat]
AFTER_MS = 1_717_222_200_000  # 2024-06-01 06:10 UTC: after the 6 h scenario


def database(tmp_path: Path) -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'seawatch.db'}"


def stored_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(sa.text("SELECT alert_id FROM alerts"))}
    finally:
        engine.dispose()


def api_ids(base: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"page_size": 500, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{base}/api/v1/alerts", params=params, timeout=10).json()
        ids.update(item["alert_id"] for item in body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return ids


def wait_for(done, timeout: float, what: str, procs: list[subprocess.Popen[bytes]]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited ({p.returncode})"
        try:
            if done():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_an_engine_without_api_and_api_workers_share_one_database(tmp_path: Path) -> None:
    feed = tmp_path / "feed.nmea"
    feed.write_bytes(simulate(SimConfig(hours=6, vessels=60, seed=11)).feed)
    db = database(tmp_path)
    env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
           "SEAWATCH_DATABASE_URL": db, "SEAWATCH_ALERT_RETENTION_DAYS": "0",
           "SEAWATCH_STREAM_POLL_S": "0.2", "SEAWATCH_ADMIN_KEY": ADMIN, "SEAWATCH_ZONES_POLL_S": "60"}  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    streamed: list[list[dict[str, Any]]] = [[] for _ in range(STREAMS)]
    procs: list[subprocess.Popen[bytes]] = []
    with nats_server(tmp_path / "nats") as server, (tmp_path / "logs.txt").open("ab") as log:
        try:
            api = subprocess.Popen([str(SEAWATCH), "api", "--workers", str(WORKERS), "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            procs.append(api)
            wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, START_S, "the API", procs)
            workers = worker_processes(api.pid)
            readers = [threading.Thread(target=_read_stream, args=(base, got), daemon=True) for got in streamed]
            for r in readers:
                r.start()
            time.sleep(1.0)  # the streams are open before any alert is written
            relay = [str(SEAWATCH), "relay", "--feed", f"file://{feed}", "--speed", "0", "--nats", server.url,
                     "--spool", str(tmp_path / "spool")]  # fmt: skip
            subprocess.run(relay, check=True, stdout=log, stderr=log, timeout=60)
            serve = [str(SEAWATCH), "serve", "--feed", f"{server.url}/AIS", "--no-api", "--state",
                     str(tmp_path / "state")]  # fmt: skip
            engine = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(engine)
            last: list[set[str]] = [set()]

            def settled() -> bool:  # the engine has written the scenario's alerts and nothing changes for a while
                now = stored_ids(db)
                same = len(now) >= 10 and now == last[0]
                last[0] = now
                return same and all(len(got) > 0 for got in streamed)

            wait_for(settled, 120.0, "the engine's alerts in the database and on every stream", procs)
            time.sleep(2.0)
            stored = stored_ids(db)
            listed = api_ids(base)
            zone = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ZONE]},
                    "properties": {"name": "analyst box", "zone_kind": "restricted"}}  # fmt: skip
            made = httpx.post(f"{base}/api/v1/zones", json=zone, headers={"X-API-Key": ADMIN}, timeout=10)
            assert made.status_code == 201, made.text
            # the engine hears of the edit at once (api/store/changes.py): its own read of the zones, every 60 s
            # here (SEAWATCH_ZONES_POLL_S), would not have come yet
            time.sleep(1.0)
            visit = tmp_path / "visit.nmea"
            visit.write_bytes(b"".join(position_line(VISITOR, 0, AFTER_MS + 60_000 * k, lat=19.85 if k == 0 else 19.95,
                                                     lon=107.45) for k in range(6)))  # fmt: skip
            relay[3] = f"file://{visit}"
            subprocess.run(relay, check=True, stdout=log, stderr=log, timeout=60)

            def entered() -> bool:
                r = httpx.get(f"{base}/api/v1/alerts", params={"mmsi": VISITOR}, timeout=10).json()
                return any(a["kind"] == "zone_entry" for a in r["items"])

            wait_for(entered, 60.0, "the engine to alert on the vessel entering the analyst's new zone", procs)
            engine.send_signal(signal.SIGTERM)
            assert engine.wait(20) == 0, "seawatch serve --no-api stops cleanly on SIGTERM"
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(20)
    assert len(workers) == WORKERS, f"seawatch api runs {len(workers)} worker processes, not {WORKERS}"
    assert listed == stored
    for got in streamed:
        ids = {e["data"]["alert_id"] for e in got if e.get("event", "alert") == "alert" and "alert_id" in e["data"]}
        assert ids and ids <= stored, "a live stream carries the engine's alerts"


def worker_processes(pid: int) -> list[int]:
    """The worker processes uvicorn started under ``pid`` (not multiprocessing's resource tracker)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _read_stream(base: str, got: list[dict[str, Any]]) -> None:
    try:
        with httpx.stream("GET", f"{base}/api/v1/alerts/stream", timeout=httpx.Timeout(10, read=None)) as r:
            got.extend(sse_events(r.iter_lines(), 5))
    except httpx.HTTPError:
        return
