"""Caches and live streams follow other processes' writes at once (api/store/changes.py), on SQLite and PostgreSQL.

Three real ``seawatch api`` processes share one database with the test, which writes vessels as the engine would
from a process of its own. A and B follow the database's changes (the default); C does not (the control: it
shows what B would serve without them). Caches live ``CACHE_S`` and the live streams poll every ``CACHE_S``, so
whatever B answers fresh within ``DEADLINE_S`` came by the notice, and C, asked right after, still answers stale:
- vessels written by another process: B's next pages count them, C's cached page does not;
- a triage decision made through A: B's live stream carries it, C's does not;
- a key revoked through A: B refuses it, C still lets it in (a key that passed is remembered).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.keys import create_key, key_id_of
from api.store import Store
from tests.api.helpers import alerts_frame, auth, sse_events, vessels_frame
from tests.seawatch.test_serve_job import START_S, free_port

SEAWATCH = Path(sys.executable).with_name("seawatch")
CACHE_S = 60.0  # the vessels pages' life and the live streams' poll here: a stale answer would be served this long
DEADLINE_S = 5.0  # a change must show within this; it takes milliseconds (the notice)
ADMIN = "a" * 40


class ApiProcess:
    """``seawatch api`` on a port of its own; ``follow``: whether it follows the database's changes."""

    def __init__(self, db_url: str, log: Path, follow: bool) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SEAWATCH_ENVIRONMENT": "production", "SEAWATCH_DATABASE_URL": db_url,
               "SEAWATCH_ADMIN_KEY": ADMIN, "SEAWATCH_VESSELS_CACHE_S": str(CACHE_S),
               "SEAWATCH_STREAM_POLL_S": str(CACHE_S), "SEAWATCH_FOLLOW_CHANGES": str(follow).lower()}  # fmt: skip
        with log.open("ab") as out:
            self.proc = subprocess.Popen([str(SEAWATCH), "api", "--port", str(self.port)], env=env, stdout=out,
                                         stderr=subprocess.STDOUT)  # fmt: skip
        self.log = log

    def wait_ready(self) -> None:
        until(lambda: self.get("/healthz").status_code == 200, START_S, f"{self.base} to answer", self)

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", params=params, headers=auth(key) if key else {}, timeout=10)

    def total(self, key: str) -> int:
        return int(self.get("/api/v1/vessels", key, page_size=50).json()["total"])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def until(done: Callable[[], bool], timeout: float, what: str, *procs: ApiProcess) -> float:
    """Seconds until ``done()``; fails after ``timeout`` (or when a process died) naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        for p in procs:
            assert p.proc.poll() is None, f"{p.base} exited: {p.log.read_text()[-2000:]}"
        try:
            if done():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Stream:
    """A live alert stream read in a thread: the events as they come."""

    def __init__(self, api: ApiProcess, key: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.open = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(api, key), daemon=True)
        self._thread.start()
        assert self.open.wait(10), f"the stream of {api.base} did not open"

    def _read(self, api: ApiProcess, key: str) -> None:
        try:
            with httpx.stream("GET", f"{api.base}/api/v1/alerts/stream", headers=auth(key), timeout=3 * CACHE_S) as r:
                self.open.set()
                lines = r.iter_lines()
                while event := sse_events(lines, 1):  # none: the stream ended (its process stopped)
                    self.events.extend(event)
        except (httpx.HTTPError, RuntimeError):  # the process stopped
            return


@pytest.fixture
def apis(db_url: str, tmp_path: Path) -> Iterator[tuple[ApiProcess, ApiProcess, ApiProcess]]:
    Store(db_url).close()  # the schema made once, before the processes start
    procs = [ApiProcess(db_url, tmp_path / f"{name}.log", follow) for name, follow in
             (("a", True), ("b", True), ("c", False))]  # fmt: skip
    try:
        for p in procs:
            p.wait_ready()
        yield procs[0], procs[1], procs[2]
    finally:
        for p in procs:
            p.close()


def test_a_change_made_in_one_process_is_in_another_s_next_answers(
    apis: tuple[ApiProcess, ApiProcess, ApiProcess], db_url: str
) -> None:
    a, b, c = apis
    engine = Store(db_url)  # the engine's process, as far as the API processes are concerned
    try:
        viewer, analyst = (create_key(engine, f"{role} on duty", role) for role in ("viewer", "analyst"))
        engine.upsert_vessels(vessels_frame(3))
        engine.upsert_alerts(alerts_frame(2, kind="loitering"))
        assert b.total(viewer) == c.total(viewer) == 3  # cached now, and the viewer's key remembered

        engine.upsert_vessels(vessels_frame(5))
        took = {"vessels": until(lambda: b.total(viewer) == 5, DEADLINE_S, "B to count the new vessels", b)}
        assert c.total(viewer) == 3, "without following the changes the cached page is served (the control)"

        streams = Stream(b, viewer), Stream(c, viewer)
        alert_id = alerts_frame(2, kind="loitering")["alert_id"][0]
        answer = httpx.patch(f"{a.base}/api/v1/alerts/{alert_id}", headers=auth(analyst), timeout=10,
                             json={"status": "confirmed", "note": "seen by the patrol"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        took["triage"] = until(lambda: any(e["data"].get("status") == "confirmed" for e in streams[0].events),
                               DEADLINE_S, "B's live stream to carry the decision made through A", b)  # fmt: skip
        assert not streams[1].events, "without following the changes the stream waits for its poll (the control)"

        key_id = key_id_of(viewer)
        gone = httpx.delete(f"{a.base}/api/v1/keys/{key_id}", headers=auth(ADMIN), timeout=10)
        assert gone.status_code == 204, gone.text
        took["revocation"] = until(lambda: b.get("/api/v1/vessels", viewer).status_code == 401, DEADLINE_S,
                                   "B to refuse the key revoked through A", b)  # fmt: skip
        assert c.get("/api/v1/vessels", viewer).status_code == 200, "a remembered key passes (the control)"
    finally:
        engine.close()
    print(f"seen by the other process after (s): {took}")


def test_a_store_hears_another_s_writes_and_after_a_lost_connection_takes_everything_as_changed(db_url: str) -> None:
    """The follower alone (no HTTP): another store's write puts the topic up here; on PostgreSQL its listening
    connection is then killed (as a database restart would): it comes back, takes every topic as changed (what
    it missed is unknown) and hears the next write."""
    mine, other = Store(db_url), Store(db_url)
    try:
        follower = mine.follow_changes()
        assert follower is not None and follower.connected.wait(10)
        before = mine.vessels_revision
        other.upsert_vessels(vessels_frame(1))
        took = until(lambda: mine.vessels_revision > before, DEADLINE_S, "the vessels' revision to go up")
        assert mine.changes.revision("keys") == 0, "only what was written is taken as changed"
        if mine.dialect == "postgresql":
            with other.engine.begin() as conn:
                killed = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                              "WHERE query LIKE 'LISTEN%'")).scalar_one()  # fmt: skip
            assert killed == 1
            until(lambda: mine.changes.revision("keys") == 1, 10 * DEADLINE_S, "the follower to be back")
            assert follower.connected.wait(10)
            before = mine.changes.revision("zones")
            other.create_zone("Bach Long Vi", "restricted", {"type": "Polygon", "coordinates": [[[107.7, 20.1],
                              [107.8, 20.1], [107.8, 20.2], [107.7, 20.1]]]}, {}, "test")  # fmt: skip
            until(lambda: mine.changes.revision("zones") > before, DEADLINE_S, "a write after the loss to be heard")
    finally:
        mine.close()
        other.close()
    print(f"heard after {took:.3f} s")
