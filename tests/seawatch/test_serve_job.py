"""``seawatch serve`` end to end: real processes, real sockets on loopback.

A TCP server run by the test plays the AIS feed; ``seawatch serve`` runs as a subprocess with its own state folder
and SQLite database, and is watched through /metrics and the API like an operator would. The engine uses the
messages' own tag-block times, so a simulated scenario's feed works as a live one without rewriting its times.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import polars as pl
import pytest

from feeds.framing import Framer
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import position_line

if TYPE_CHECKING:
    from api.store import Store
    from models.quality import NoisyBar
    from seawatch.serve_job import ScoringSink

SEAWATCH = Path(sys.executable).with_name("seawatch")
START_S = 90.0  # a cold start loads Numba's cache, the land index and the models: seconds on a busy 2-core box
DRAIN_QUIET_S = 0.8  # the stream has drained when its counters stay still this long
STOP_S = 15.0  # a clean stop finishes the micro-batch in hand and snapshots: well under this
ALERT_VISIBLE_S = 5.0  # the target is 1 s (benchmarks/bench_live.py measures it); generous for a noisy machine

pytestmark = pytest.mark.skipif(not SEAWATCH.is_file(), reason=f"no {SEAWATCH}: install the package (pip -e .)")


class FeedServer:
    """An NMEA-over-TCP server on 127.0.0.1 that sends what the test says to its newest connection.

    A killed client's connection is gone with what it had not read; the restarted client connects again and gets
    the next part, which is how a live server resumes after a reconnect.
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.changed = threading.Condition()
        self.sending = threading.Lock()  # whole lines from several threads, never interleaved
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.changed:
                self.conns.append(conn)
                self.changed.notify_all()

    def wait_connections(self, n: int, timeout: float = 30.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.conns) >= n, timeout):
                raise AssertionError(f"the service made {len(self.conns)} feed connection(s), expected {n}")

    def send(self, data: bytes) -> None:
        with self.changed:
            conn = self.conns[-1]
        with self.sending:
            conn.sendall(data)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@contextlib.contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``seawatch serve`` on one TCP feed, with its state and database in ``folder`` (kept across restarts)."""

    def __init__(self, folder: Path, feed_port: int) -> None:
        self.folder = folder
        self.feed_port = feed_port
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "serve.log"
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "SEAWATCH_ENVIRONMENT": "development",
            "SEAWATCH_ANONYMOUS_ROLE": "viewer",
            "SEAWATCH_DATABASE_PATH": str(self.folder / "seawatch.db"),
            # the simulated feeds are of 2024: a store pruning alerts past a year from today's date would delete
            # them at each start, which is retention, not what these tests look at
            "SEAWATCH_ALERT_RETENTION_DAYS": "0",
        }
        env.pop("SEAWATCH_DATABASE_URL", None)
        cmd = [str(SEAWATCH), "serve", "--feed", f"tcp://127.0.0.1:{self.feed_port}", "--port", str(self.port),
               "--state", str(self.folder / "state")]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.get("/healthz").status_code == 200, START_S, "the service to answer /healthz")

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10.0)  # type: ignore[arg-type]

    def wait(self, done: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"seawatch serve exited ({self.proc.returncode}) waiting for {what}:\n{self.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if done():
                    return
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics summed over its labels, by name."""
        out: dict[str, float] = {}
        for line in self.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                key = name.split("{", 1)[0]
                out[key] = out.get(key, 0.0) + float(value)
        return out

    def wait_journaled(self, messages: int, timeout: float = 60.0) -> None:
        """Until ``messages`` went into the engine since this start (each micro-batch is journaled first)."""
        self.wait(lambda: self.metrics().get("seawatch_stream_messages_total", 0) >= messages, timeout,
                  f"{messages} messages through the engine")  # fmt: skip

    def wait_drained(self, messages: int, timeout: float = 60.0) -> None:
        """Until ``messages`` went through the engine and its counters stayed still for a moment (the sinks run
        after the message count moves; the batch count moves after them)."""
        self.wait_journaled(messages, timeout)
        seen: list[tuple[float, tuple[float, ...]]] = []

        def still() -> bool:
            m = self.metrics()
            now = (m["seawatch_stream_messages_total"], m["seawatch_stream_batches_total"], m["seawatch_feed_queue"])
            if not seen or seen[-1][1] != now:
                seen.append((time.monotonic(), now))
            return time.monotonic() - seen[-1][0] >= DRAIN_QUIET_S

        self.wait(still, timeout, "the stream to drain", every=0.1)

    def alert_ids(self) -> list[str]:
        """The ids of every alert in the store, following the API's pages."""
        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, object] = {"page_size": 500}
            if cursor:
                params["cursor"] = cursor
            r = self.get("/api/v1/alerts", **params)
            r.raise_for_status()
            body = r.json()
            ids.extend(item["alert_id"] for item in body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return ids

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_S) -> tuple[int | None, float]:
        """Send ``sig``; the exit code (None when it did not exit in time, then it is killed) and the seconds."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait()
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def service(folder: Path, feed_port: int) -> Iterator[Service]:
    svc = Service(folder, feed_port)
    try:
        svc.start()
        yield svc
    finally:
        svc.close()


def message_count(data: bytes) -> int:
    """Messages the service's framer makes of ``data`` (a message in several sentences counts once)."""
    framer = Framer(clock=time.time)
    return len(framer.feed(data, received=time.time())) + len(framer.finish())


def split_feed(feed: bytes, fractions: tuple[float, ...]) -> list[bytes]:
    """Cut ``feed`` at whole messages near ``fractions`` of its lines: no multi-part message spans a cut."""
    lines = feed.splitlines(keepends=True)
    cuts = []
    for f in fractions:
        k = int(len(lines) * f)
        while k < len(lines) and lines[k][lines[k].rfind(b"\\") + 1 :].split(b",")[2] != b"1":
            k += 1  # step to the first sentence of a message
        cuts.append(k)
    bounds = [0, *cuts, len(lines)]
    return [b"".join(lines[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


@dataclass
class Runs:
    parts: list[bytes]
    killed: list[str]  # alert ids after SIGTERM, SIGKILL and two restarts
    whole: list[str]  # alert ids of one uninterrupted process over the same parts
    term_code: int | None
    term_seconds: float
    snapshot_after_term: bool
    journal_after_kill: int  # journal files the killed process left for its restart to replay


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The same feed, cut in three parts at whole messages, through two services.

    Interrupted: part 1, SIGTERM (a clean stop: snapshot); restart, part 2, SIGKILL as soon as part 2 is in the
    journal (maybe before its alerts reached the store); restart (snapshot + journal replay), part 3.
    Uninterrupted: one process gets the three parts one after the other on one connection.
    """
    feed = simulate(SimConfig(hours=6, vessels=60, seed=11)).feed
    parts = split_feed(feed, (0.35, 0.7))
    counts = [message_count(p) for p in parts]
    folder = tmp_path_factory.mktemp("serve")
    killed_dir, whole_dir = folder / "killed", folder / "whole"
    state = killed_dir / "state" / "engine-state"
    with feed_server() as server:
        svc = Service(killed_dir, server.port)
        try:
            svc.start()
            server.wait_connections(1)
            server.send(parts[0])
            svc.wait_drained(counts[0])
            term_code, term_seconds = svc.stop(signal.SIGTERM)
            snapshot = (state / "engine" / "engine.json").is_file()
            svc.start()
            server.wait_connections(2)
            server.send(parts[1])
            svc.wait_journaled(counts[1])
            svc.stop(signal.SIGKILL)
            journal = len([p for p in (state / "journal").iterdir() if p.name.isdigit()])
            svc.start()
            server.wait_connections(3)
            server.send(parts[2])
            svc.wait_drained(counts[2])
            killed = svc.alert_ids()
        finally:
            svc.close()
    with feed_server() as server, service(whole_dir, server.port) as svc:
        server.wait_connections(1)
        total = 0
        for part, n in zip(parts, counts, strict=True):
            server.send(part)
            total += n
            svc.wait_drained(total)
        whole = svc.alert_ids()
    return Runs(parts, killed, whole, term_code, term_seconds, snapshot, journal)


def test_sigterm_snapshots_and_exits_0_quickly(runs: Runs) -> None:
    assert runs.term_code == 0, f"SIGTERM: exit code {runs.term_code} after {runs.term_seconds:.1f} s"
    assert runs.term_seconds < STOP_S
    assert runs.snapshot_after_term, "a clean stop writes the engine snapshot (state/engine-state/engine/)"


def test_kill_and_restart_loses_no_alert_and_repeats_none(runs: Runs) -> None:
    assert runs.journal_after_kill >= 1, "the killed process left part 2 in its journal, for the restart to replay"
    assert len(runs.whole) >= 10, "the scenario has alerts of every kind"
    assert len(runs.killed) == len(set(runs.killed)), "an alert appears twice in the store"
    lost = set(runs.whole) - set(runs.killed)
    extra = set(runs.killed) - set(runs.whole)
    assert not lost and not extra, f"{len(lost)} alert(s) lost, {len(extra)} not in the uninterrupted run"


def test_distress_alert_visible_in_the_api_within_a_second(tmp_path: Path) -> None:
    """An AIS-SART (MMSI 970..., nav status 14) is a distress alert at once. Alongside it a live feed keeps
    reporting: the engine releases a message once a message 0.5 s newer arrived (its live lateness), as on a
    real feed, so a single message on an otherwise silent feed would wait."""
    sart = 970_012_345
    with feed_server() as server, service(tmp_path, server.port) as svc:
        server.wait_connections(1)
        stop = threading.Event()

        def tick() -> None:  # ten reports a second from an ordinary vessel, stamped now
            k = 0
            while not stop.is_set():
                server.send(position_line(574_000_001, 0, int(time.time() * 1000), lat=20.5, lon=107.0 + k * 1e-4))
                k += 1
                time.sleep(0.1)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            svc.wait(lambda: svc.metrics()["seawatch_stream_batches_total"] >= 3, 30.0, "the engine to warm up")
            sent = time.monotonic()
            server.send(position_line(sart, 14, int(time.time() * 1000), lat=20.6, lon=107.2))
            svc.wait(lambda: bool(svc.get("/api/v1/alerts", mmsi=sart).json()["items"]), 30.0,
                     "the distress alert", every=0.01)  # fmt: skip
            seconds = time.monotonic() - sent
        finally:
            stop.set()
            ticker.join()
        (alert,) = svc.get("/api/v1/alerts", mmsi=sart).json()["items"]
    assert alert["kind"] == "distress"
    assert alert["score"] >= 90
    assert seconds < ALERT_VISIBLE_S, f"the distress alert took {seconds:.2f} s to reach the API"


def test_udp_datagrams_dropped_are_on_metrics(tmp_path: Path) -> None:
    import asyncio

    from prometheus_client import CollectorRegistry, generate_latest

    from engine.stream import StreamRunner
    from feeds.sources import FeedSet
    from feeds.udp import UdpSource
    from seawatch.serve_job import RunnerMetrics

    line = position_line(574000001, 0, 1_764_115_200_000)

    async def overflow() -> UdpSource:
        source = UdpSource("udp://127.0.0.1:0", "127.0.0.1", 0, max_waiting=2)
        await source.open()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(5):
                tx.sendto(line, ("127.0.0.1", source.port))
            deadline = time.monotonic() + 10
            while source.counters.dropped + 2 < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        await source.close()
        return source

    source = asyncio.run(overflow())
    registry = CollectorRegistry()
    registry.register(RunnerMetrics(StreamRunner.open([], tmp_path, []), FeedSet([source])))
    text = generate_latest(registry).decode()
    assert 'seawatch_feed_dropped_total{feed="udp://127.0.0.1:0"} 3.0' in text


class _EngineAlerts:
    """What the scoring sink asks of the engine: its alerts."""

    def __init__(self, alerts: pl.DataFrame) -> None:
        self._alerts = alerts

    def alerts(self) -> pl.DataFrame:
        return self._alerts


SCORING_EVERY_S = 0.3  # the scoring sink's cycle in these tests


@dataclass
class ScoringScene:
    """A scoring sink on a temporary store holding one ais_gap alert (score 60) of vessel 574000001, which the
    sink has heard for 4 h from an hour before the gap and scored once (``detected``: its smuggling score)."""

    store: Store
    sink: ScoringSink
    gap: pl.DataFrame
    detected: float = 0.0

    def score(self) -> tuple[float, list[str]]:
        row = self.store.vessel(574000001)
        return (row["smuggling_score"], row["smuggling_reasons"]) if row else (-1.0, [])

    def wait_for(self, done: Callable[[], bool], what: str) -> float:
        """Seconds until ``done()``; fails after ten cycles and the margin of a busy machine."""
        started = time.monotonic()
        while not done():
            assert time.monotonic() - started < 10 * SCORING_EVERY_S + 5, (
                f"no {what} after {time.monotonic() - started:.1f} s"
            )
            time.sleep(0.02)
        return time.monotonic() - started


@contextlib.contextmanager
def scoring_scene(
    tmp_path: Path, others: tuple[pl.DataFrame, ...] = (), bar: NoisyBar | None = None
) -> Iterator[ScoringScene]:
    """The scene of :class:`ScoringScene`, with the alerts ``others`` stored too; scores once and waits for them,
    and at the end scores a last time (the sink's shutdown) and closes the store."""
    from api.store import Store
    from engine.geo.land import LandIndex
    from models.scoring import Scorer
    from seawatch.serve_job import ScoringSink
    from tests.api.helpers import alerts_frame
    from tests.models.test_features import T0, no_statics, positions

    gap = alerts_frame(1, kind="ais_gap", score=60.0, mmsi0=574000001)
    store = Store(f"sqlite:///{tmp_path / 'seawatch.db'}")
    for frame in (gap, *others):
        store.upsert_alerts(frame)
    start = (gap["start"][0] - T0).total_seconds() / 3600 - 1  # heard from an hour before the gap, for 4 h
    fixes = positions([(574000001, start + k / 10, 20.0, 107.5, 8.0, 90.0, 90.0) for k in range(40)])
    sink = ScoringSink(Scorer(), _EngineAlerts(gap), store, LandIndex.load(), SCORING_EVERY_S,  # type: ignore[arg-type]
                       bar=bar)  # fmt: skip
    scene = ScoringScene(store, sink, gap)
    try:
        sink.consume({"positions": fixes, "statics": no_statics()}, gap)
        scene.wait_for(lambda: scene.score()[0] > 0, "first scores")
        scene.detected, _ = scene.score()
        yield scene
    finally:
        sink.score()
        store.close()


def test_scoring_sink_applies_a_decision_within_one_cycle_without_new_data(tmp_path: Path) -> None:
    """Dismissed: the vessel's score drops at the next cycle, though no micro-batch came since (a quiet feed);
    confirmed: it rises above what the detector alone gave. Decisions made through the store, as the API does."""
    with scoring_scene(tmp_path) as scene:
        store, detected = scene.store, scene.detected
        alert_id = scene.gap["alert_id"][0]
        store.triage(alert_id, "dismissed", "CT01 was down", "le", reason="reception_problem", key_id="k1")
        took = scene.wait_for(lambda: scene.score()[0] == 0, "drop after the dismissal")
        assert took < 2 * SCORING_EVERY_S + 1.0  # one cycle, and the margin of a busy machine
        (plus, minus) = scene.score()[1]
        assert plus.startswith(f"+{round(detected)} went dark (") and minus.startswith(f"-{round(detected)} ais gap")
        assert "dismissed by analyst 'le' at " in minus and minus.endswith(": reception problem")
        store.triage(alert_id, "confirmed", "seen on radar", "le", key_id="k1")
        scene.wait_for(lambda: scene.score()[0] > detected, "rise after the confirmation")
        assert "confirmed by analyst 'le'" in scene.score()[1][0]


def test_scoring_sink_applies_a_mute_within_one_cycle_and_counts_again_after_it_expires(tmp_path: Path) -> None:
    """Muted: the vessel's score drops at the next cycle without new data, the reasons naming the mute; when the
    mute expires by itself, the alert counts again at the cycle after, with nobody doing anything."""
    from datetime import UTC, datetime, timedelta

    with scoring_scene(tmp_path) as scene:
        detected = scene.detected
        expires = datetime.now(UTC) + timedelta(seconds=3)
        scene.store.add_mute("vessel", kind="ais_gap", mmsi=574000001, reason="legitimate bunkering barge", by="le",
                             key_id="k1", expires_at=expires)  # fmt: skip
        assert scene.wait_for(lambda: scene.score()[0] == 0, "drop after the mute") < 2 * SCORING_EVERY_S + 1.0
        (_, minus) = scene.score()[1]
        assert minus.startswith(f"-{round(detected)} ais gap alert muted by analyst 'le' until ")
        assert minus.endswith(": legitimate bunkering barge")
        scene.wait_for(lambda: scene.score()[0] == detected, "the alert counting again after the mute expired")
        assert datetime.now(UTC) >= expires


def test_scoring_sink_raises_a_noisy_kinds_bar_and_lowers_it_when_confirmations_come(tmp_path: Path) -> None:
    """Analysts dismiss ten gaps of other vessels (scores 70-79): gaps count from score 74 up, so this vessel's gap
    (60) leaves its score at the next cycle with the bar in its reasons; ten confirmations lift precision to 0.5
    and the bar falls: the gap counts again, though no micro-batch came."""
    from models.quality import NoisyBar
    from tests.api.helpers import alerts_frame

    noisy = alerts_frame(10, kind="ais_gap", score=70.0, mmsi0=574000100)
    good = alerts_frame(10, kind="ais_gap", score=70.0, mmsi0=574000200)
    with scoring_scene(tmp_path, others=(noisy, good), bar=NoisyBar()) as scene:
        store, detected = scene.store, scene.detected
        for alert_id in noisy["alert_id"]:
            store.triage(alert_id, "dismissed", "", "le", reason="reception_problem", key_id="k1")
        scene.wait_for(lambda: scene.score()[0] == 0, "drop under the raised bar")
        (_, minus) = scene.score()[1]
        assert minus == (f"-{round(detected)} ais gap alert under the raised bar: ais_gap alerts count from score 74 "
                         "up: analysts dismissed 10 of 10 in the last 30 days")  # fmt: skip
        for alert_id in good["alert_id"]:
            store.triage(alert_id, "confirmed", "", "le", key_id="k1")
        scene.wait_for(lambda: scene.score()[0] == detected, "the gap counting again after the bar fell")


def test_scoring_sink_scores_the_last_micro_batches_of_a_burst_when_the_feed_goes_quiet(tmp_path: Path) -> None:
    """A micro-batch within a cycle of the last scoring is not scored at once; with no batch after it (a burst, then
    a quiet feed) the sink asks the runner's thread for its inputs a cycle later, and its vessel is scored."""
    from api.store import Store
    from engine.geo.land import LandIndex
    from models.scoring import Scorer
    from seawatch.serve_job import ScoringSink
    from tests.api.helpers import alerts_frame
    from tests.models.test_features import no_statics, positions

    store = Store(f"sqlite:///{tmp_path / 'seawatch.db'}")
    chores: list[float] = []

    def call_between(chore) -> None:  # type: ignore[no-untyped-def]  # the runner's thread, as quiet feeds leave it
        chores.append(time.monotonic())
        threading.Thread(target=chore, args=(None,)).start()

    empty = alerts_frame(0)
    sink = ScoringSink(Scorer(), _EngineAlerts(empty), store, LandIndex.load(), SCORING_EVERY_S,  # type: ignore[arg-type]
                       call_between=call_between)  # fmt: skip
    try:
        first = positions([(574000001, k / 10, 20.0, 107.5, 8.0, 90.0, 90.0) for k in range(20)])
        second = positions([(574000002, k / 10, 20.2, 107.6, 8.0, 90.0, 90.0) for k in range(20)])
        sink.consume({"positions": first, "statics": no_statics()}, empty)  # scored at once
        sink.consume({"positions": second, "statics": no_statics()}, empty)  # within the cycle: later
        deadline = time.monotonic() + 5 * SCORING_EVERY_S + 5.0
        while store.vessel(574000002) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.vessel(574000002) is not None, "the burst's last micro-batch was never scored"
        assert chores  # asked for through the runner (again if a scoring was still under way)
    finally:
        sink.score()
        store.close()
