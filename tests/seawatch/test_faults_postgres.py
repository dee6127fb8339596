"""PostgreSQL stopped and started again while ``seawatch serve`` writes to it (real processes, TCP on loopback).

A throwaway cluster of Debian's PostgreSQL binaries (initdb, pg_ctl; as ``.ci/postgres.sh`` makes one, run as the
``postgres`` user when the tests run as root) serves two databases: one for a service whose PostgreSQL is stopped
with ``pg_ctl stop -m fast`` in the middle of the feed, one for an uninterrupted service fed the same parts. While
the database is away the service goes on: /healthz says "degraded" with the database's reason and the store
sink's, the engine journals the feed (and puts off its snapshots: the journal keeps what the store lacks). Once
PostgreSQL is back and the feed goes on, the held writes go in: /healthz is "ok" again and the store holds the
uninterrupted run's alerts, none lost, none twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.seawatch.test_serve_job import (
    SEAWATCH,
    START_S,
    FeedServer,
    Service,
    feed_server,
    free_port,
    message_count,
    split_feed,
)

BINDIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
PIECES = 12  # the feed after the outage goes in this many pieces, so micro-batches keep coming while the store
# sink's retries back off (it tries again at a micro-batch once its delay, 1 s doubling, has passed)
PIECE_GAP_S = 0.5

pytestmark = pytest.mark.skipif(not BINDIRS, reason="no PostgreSQL binaries in /usr/lib/postgresql/*/bin "
                                "(apt-get install postgresql, as .ci/run does)")  # fmt: skip


class Cluster:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, trust authentication, user seawatch."""

    def __init__(self) -> None:
        self.bindir = BINDIRS[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="seawatch-pg-"))  # not under pytest's 0700 tmp: postgres reads it
        self.folder.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self.run("initdb", "-D", str(self.data), "-U", "seawatch", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")

    def run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create(self, name: str) -> str:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "seawatch", name)
        return f"postgresql+psycopg://seawatch@127.0.0.1:{self.port}/{name}"

    def remove(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        c.start()
        yield c
    finally:
        c.remove()


class PostgresService(Service):
    """``seawatch serve`` as :class:`Service` starts it, writing to the PostgreSQL database ``url``."""

    def __init__(self, folder: Path, feed_port: int, url: str) -> None:
        super().__init__(folder, feed_port)
        self.database_url = url

    def start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
               "SEAWATCH_DATABASE_URL": self.database_url, "SEAWATCH_ALERT_RETENTION_DAYS": "0"}  # fmt: skip
        cmd = [str(SEAWATCH), "serve", "--feed", f"tcp://127.0.0.1:{self.feed_port}", "--port", str(self.port),
               "--state", str(self.folder / "state")]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.get("/healthz").status_code == 200, START_S, "the service to answer /healthz")

    def health(self) -> tuple[int, str, list[str]]:
        r = self.get("/healthz")
        body = r.json()
        return r.status_code, body["status"], body["reasons"]

    def journal(self) -> int:
        return len([p for p in (self.folder / "state" / "engine-state" / "journal").iterdir() if p.name.isdigit()])


def send_pieces(server: FeedServer, svc: Service, pieces: list[bytes], sent: int) -> int:
    for piece in pieces:
        server.send(piece)
        sent += message_count(piece)
        svc.wait_journaled(sent)
        time.sleep(PIECE_GAP_S)
    return sent


@dataclass
class Outage:
    health: tuple[int, str, list[str]]  # /healthz while PostgreSQL is away, once the store sink's writes failed
    metrics_status: int  # /metrics's answer then
    journal_before: int  # journal batches before PostgreSQL stopped ...
    journal_during: int  # ... and while it was away, with the feed going on
    alive: bool  # the service ran on without its database
    failures: float  # seawatch_write_failures_total at the end
    outage: list[str]  # alert ids in the store at the end, through the API
    whole: list[str]  # alert ids of an uninterrupted service over the same feed


@pytest.fixture(scope="module")
def outage(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Outage:
    """The feed in three parts: the first with PostgreSQL up; PostgreSQL stopped (``pg_ctl stop -m fast``) and
    the second sent; PostgreSQL started again and the third sent in pieces. Then an uninterrupted service."""
    feed = simulate(SimConfig(hours=6, vessels=60, seed=11)).feed
    parts = split_feed(feed, (0.35, 0.7, *(0.7 + 0.3 * k / PIECES for k in range(1, PIECES))))
    before, during, after = parts[0], parts[1], parts[2:]
    folder = tmp_path_factory.mktemp("postgres")
    with feed_server() as server:
        svc = PostgresService(folder / "outage", server.port, cluster.create("seawatch_outage"))
        stopped = False
        try:
            svc.start()
            server.wait_connections(1)
            sent = send_pieces(server, svc, [before], 0)
            svc.wait_drained(sent)
            journal_before = svc.journal()
            cluster.stop()
            stopped = True
            svc.wait(lambda: svc.health()[0] == 503, 30.0, "/healthz to say the database does not answer")
            server.send(during)  # /metrics cannot say when it is journaled meanwhile: /healthz and the journal can
            sent += message_count(during)
            svc.wait(lambda: any("database writes failing" in r for r in svc.health()[2]), 30.0,
                     "/healthz to say the store's writes fail")  # fmt: skip
            svc.wait(lambda: svc.journal() > journal_before, 30.0, "the journal to keep the part the store lacks")
            health, metrics_status, journal_during = svc.health(), svc.get("/metrics").status_code, svc.journal()
            alive = svc.proc is not None and svc.proc.poll() is None
            cluster.start()
            stopped = False
            sent = send_pieces(server, svc, after, sent)
            svc.wait_drained(sent)
            svc.wait(lambda: svc.health()[1] == "ok", 60.0, '/healthz "ok" after PostgreSQL came back')
            ids = svc.alert_ids()
            failures = svc.metrics()["seawatch_write_failures_total"]
        finally:
            svc.close()
            if stopped:
                cluster.start()
    with feed_server() as server:
        whole_svc = PostgresService(folder / "whole", server.port, cluster.create("seawatch_whole"))
        try:
            whole_svc.start()
            server.wait_connections(1)
            whole_svc.wait_drained(send_pieces(server, whole_svc, parts, 0))
            whole = whole_svc.alert_ids()
        finally:
            whole_svc.close()
    return Outage(health, metrics_status, journal_before, journal_during, alive, failures, ids, whole)


def test_without_postgres_the_service_runs_on_degraded_and_journals(outage: Outage) -> None:
    code, status, reasons = outage.health
    assert outage.alive, "the service runs on without its database"
    assert code == 503 and status == "degraded"
    assert "the database does not answer" in reasons
    (held,) = [r for r in reasons if r.startswith("database writes failing for ")]
    assert "held in memory and in the journal" in held, held
    assert outage.journal_during > outage.journal_before, "the journal kept the batches the store could not take"
    assert outage.failures >= 1, "/metrics counted the failed store writes"


def test_after_postgres_is_back_no_alert_is_lost_and_none_doubled(outage: Outage) -> None:
    assert len(outage.whole) >= 10, "the scenario has alerts of every kind"
    assert len(outage.outage) == len(set(outage.outage)), "an alert appears twice in the store"
    lost, extra = set(outage.whole) - set(outage.outage), set(outage.outage) - set(outage.whole)
    assert not lost and not extra, f"{len(lost)} alert(s) lost, {len(extra)} not in the uninterrupted run"


def test_metrics_answer_while_postgres_is_away(outage: Outage) -> None:
    assert outage.metrics_status == 200
