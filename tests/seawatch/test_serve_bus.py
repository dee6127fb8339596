"""``seawatch serve --feed nats://HOST:PORT/AIS``: the engine on the bus, end to end (real processes, a real
nats-server with JetStream on loopback, SQLite stores in temporary folders).

One simulated scenario goes three ways: straight from its file (``file://``, the reference), and through
``seawatch relay`` -> NATS -> the engine, once uninterrupted and once killed (kill -9) at random moments while the
relay is still publishing, each restart resuming from its snapshot and the bus, the NATS server restarted once
under it. All three end with the same
alerts, none twice; the uninterrupted bus run counts every message of the file; the alerts are also published on
``seawatch.alerts.*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.nats_server import NatsServer, nats_server
from tests.seawatch.test_serve_job import Service, message_count

SEAWATCH = Path(sys.executable).with_name("seawatch")
KILLS = 5  # kill -9 moments per run (the drill)
RELAY_SPEED = 2400.0  # the 6 h scenario in 9 s: the kills land while the relay still publishes


class FeedService(Service):
    """``seawatch serve`` on any feed URL, snapshotting every second."""

    def __init__(self, folder: Path, feed: str | list[str], log: str = "serve.log") -> None:
        super().__init__(folder, 0)
        self.feeds = [feed] if isinstance(feed, str) else feed
        self.log = folder / log

    def start(self, wait: bool = True) -> None:
        from tests.seawatch.test_serve_job import START_S, free_port

        self.port = free_port()
        env = {**os.environ, "SEAWATCH_ENVIRONMENT": "development", "SEAWATCH_ANONYMOUS_ROLE": "viewer",
               "SEAWATCH_DATABASE_PATH": str(self.folder / "seawatch.db"),
               "SEAWATCH_ALERT_RETENTION_DAYS": "0"}  # fmt: skip
        env.pop("SEAWATCH_DATABASE_URL", None)
        feeds = [arg for feed in self.feeds for arg in ("--feed", feed)]
        cmd = [str(SEAWATCH), "serve", *feeds, "--port", str(self.port), "--state", str(self.folder / "state"),
               "--speed", "0", "--snapshot-seconds", "1"]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait(lambda: self.get("/healthz").status_code == 200, START_S, "the service to answer /healthz")

    def __enter__(self) -> FeedService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _consumer_pending(url: str, durable: str) -> tuple[int, int]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        stream = await js.stream_info("AIS")
        consumer = await js.consumer_info("AIS", durable)
        return int(stream.state.last_seq), int(consumer.delivered.stream_seq)
    except (nats.errors.Error, TimeoutError):  # a cluster electing a leader after a node died: not known yet
        return 0, 0
    finally:
        await nc.close()


def wait_consumed(svc: FeedService, server: NatsServer, durable: str, relay: subprocess.Popen[bytes] | None) -> None:
    """Until the relay is done, the engine has been given the stream's last message, and its counters are still."""
    if relay is not None:
        svc.wait(lambda: relay.poll() is not None, 120.0, "the relay to finish")
        assert relay.returncode == 0

    def consumed() -> bool:
        last, delivered = asyncio.run(_consumer_pending(server.url, durable))
        return last > 0 and delivered >= last

    svc.wait(consumed, 120.0, "the engine to be given the whole stream", every=0.2)
    m = svc.metrics()
    svc.wait_drained(int(m.get("seawatch_stream_messages_total", 0)))


def start_pair(leader: FeedService, standby: FeedService, *, leading: bool = False) -> None:
    """Start ``leader``, then ``standby`` until it waits to take over (loaded); with ``leading``, until the
    leader has taken messages in too."""
    from tests.seawatch.test_serve_job import START_S

    leader.start()
    standby.start(wait=False)
    standby.wait(lambda: "waiting to take over" in standby.tail(), START_S, "the standby to wait, loaded")
    if leading:
        leader.wait(lambda: leader.metrics().get("seawatch_stream_messages_total", 0) > 0, START_S,
                    "the leader to take messages in")  # fmt: skip


def start_relay(server: NatsServer, feed: Path, spool: Path, speed: float) -> subprocess.Popen[bytes]:
    cmd = [str(SEAWATCH), "relay", "--feed", f"file://{feed}", "--nats", server.url, "--spool", str(spool),
           "--speed", str(speed)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class BusRuns:
    feed: Path
    direct: list[str]  # alert ids from the file feed
    bus: list[str]  # through relay -> NATS -> engine, uninterrupted
    killed: list[str]  # through the bus, killed KILLS times
    bus_messages: float  # messages the uninterrupted bus engine counted
    file_messages: int
    numbered: tuple[int, int]  # messages the engine's state holds after a clean stop (uninterrupted, killed)
    acked: tuple[int, int]  # the uninterrupted engine's acknowledged stream sequence after its stop, the last one
    published: list[dict[str, object]]  # what seawatch.alerts.* carried during the uninterrupted bus run
    stops: list[tuple[int | None, float]]  # exit code and seconds of the clean stops (killed run, uninterrupted)


@pytest.fixture(scope="module")
def bus_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusRuns]:
    folder = tmp_path_factory.mktemp("bus")
    feed = folder / "feed.nmea"
    feed.write_bytes(simulate(SimConfig(hours=6, vessels=60, seed=11)).feed)
    with FeedService(folder / "direct", f"file://{feed}") as svc:
        svc.wait_drained(message_count(feed.read_bytes()))
        direct = svc.alert_ids()
    rng = random.Random(16)
    with nats_server(folder / "nats") as server:
        relay = start_relay(server, feed, folder / "spool-killed", RELAY_SPEED)
        killed_svc = FeedService(folder / "killed", f"{server.url}/AIS?durable=killed")
        try:
            for _ in range(KILLS):
                killed_svc.start()
                time.sleep(rng.uniform(0.2, 3.0))
                killed_svc.stop(signal.SIGKILL)
            killed_svc.start()
            time.sleep(rng.uniform(0.2, 1.0))
            server.stop()  # the NATS server restarts under the engine (and the relay, if it still publishes)
            server.start()
            wait_consumed(killed_svc, server, "killed", relay)
            killed = killed_svc.alert_ids()
            stops = [killed_svc.stop(signal.SIGTERM)]
        finally:
            killed_svc.close()
            relay.kill()
        with Subscriber(server.url) as published, FeedService(folder / "bus", f"{server.url}/AIS") as svc:
            wait_consumed(svc, server, "seawatch-engine", None)  # the relay has filled the stream
            bus = svc.alert_ids()
            messages = svc.metrics()["seawatch_stream_messages_total"]
            time.sleep(0.5)
            stops.append(svc.stop(signal.SIGTERM))
        numbered = (held_messages(folder / "bus"), held_messages(folder / "killed"))
        acked = asyncio.run(_acked(server.url, "seawatch-engine"))
        yield BusRuns(feed, direct, bus, killed, messages, message_count(feed.read_bytes()), numbered, acked,
                      published.got, stops)  # fmt: skip


async def _acked(url: str, durable: str) -> tuple[int, int]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        acked, last = 0, -1
        for _ in range(200):  # the server applies an acknowledgement a moment after it came (a loaded machine: s)
            with contextlib.suppress(nats.errors.Error, TimeoutError):  # a cluster electing a leader: ask again
                last = int((await js.stream_info("AIS")).state.last_seq)
                acked = int((await js.consumer_info("AIS", durable)).ack_floor.stream_seq)
            if acked >= last >= 0:
                break
            await asyncio.sleep(0.1)
        return acked, last
    finally:
        await nc.close()


def held_messages(folder: Path) -> int:
    """How many messages the engine's snapshot has numbered: every one it took in, across restarts (a message read
    twice would be numbered twice; one lost, not at all)."""
    meta = json.loads((folder / "state" / "engine-state" / "engine" / "engine.json").read_text())
    return int(meta["extra"]["next_seq"])


class Subscriber:
    """A subscriber to ``seawatch.alerts.>`` in a thread of its own, as another system would be."""

    def __init__(self, url: str) -> None:
        import threading

        self.url, self.got = url, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import nats

        nc = await nats.connect(self.url)
        await nc.subscribe("seawatch.alerts.>", cb=self._on)
        await nc.flush()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    async def _on(self, msg) -> None:  # type: ignore[no-untyped-def]
        self.got.append({"subject": msg.subject, **json.loads(msg.data)})

    def __enter__(self) -> Subscriber:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_the_bus_gives_the_alerts_of_the_file_feed_and_counts_every_message(bus_runs: BusRuns) -> None:
    assert len(bus_runs.direct) >= 10, "the scenario has alerts of every kind"
    assert bus_runs.bus_messages == bus_runs.file_messages, "messages lost or doubled on the way"
    assert sorted(bus_runs.bus) == sorted(bus_runs.direct)
    assert [code for code, _ in bus_runs.stops] == [0, 0], f"SIGTERM: (exit code, seconds) {bus_runs.stops}"
    acked, last = bus_runs.acked
    assert acked == last, "the snapshot of a clean stop holds the whole stream: all of it is acknowledged"


def test_kill_9_at_random_moments_and_a_server_restart_lose_no_alert_and_double_none(bus_runs: BusRuns) -> None:
    assert len(bus_runs.killed) == len(set(bus_runs.killed)), "an alert appears twice in the store"
    assert bus_runs.numbered == (bus_runs.file_messages, bus_runs.file_messages), "messages lost or read twice"
    lost = set(bus_runs.bus) - set(bus_runs.killed)
    extra = set(bus_runs.killed) - set(bus_runs.bus)
    assert not lost and not extra, f"{len(lost)} alert(s) lost, {len(extra)} not in the uninterrupted run"


def test_alerts_and_score_changes_are_published_on_the_bus(bus_runs: BusRuns) -> None:
    scores = [a for a in bus_runs.published if a["subject"] == "seawatch.alerts.score"]
    assert scores and set(scores[0]) == {"subject", "mmsi", "smuggling_score", "fire_score", "band", "reasons"}
    last = {(s["mmsi"], s["smuggling_score"], s["fire_score"], s["band"]) for s in scores}
    assert len(last) == len(scores), "a vessel's scores are published when they change, not at every scoring"
    alerts = [a for a in bus_runs.published if a["subject"] not in ("seawatch.alerts.withdrawn",
                                                                     "seawatch.alerts.score")]  # fmt: skip
    assert {a["alert_id"] for a in alerts} >= set(bus_runs.bus) - {
        w["alert_id"] for w in bus_runs.published if w["subject"] == "seawatch.alerts.withdrawn"
    }
    one = alerts[0]
    assert one["subject"] == f"seawatch.alerts.{one['kind']}"
    assert set(one) - {"subject"} == {"alert_id", "kind", "mmsi", "other_mmsi", "start", "end", "lat", "lon",
                                      "score", "reasons"}  # fmt: skip
    assert isinstance(one["reasons"], list) and str(one["start"]).endswith("+00:00")


TAKEOVER_S = 10.0  # the bound: a standby active within 10 s of the leader's death


def test_a_standby_takes_over_within_10_s_of_the_leaders_death_with_the_same_alerts(
    bus_runs: BusRuns, tmp_path: Path
) -> None:
    """Leader and standby share the state folder and the store; the leader is killed (kill -9) while the relay
    still publishes; the standby leads (answers /healthz) within 10 s and ends with the uninterrupted run's
    alerts, every message of the feed taken in once."""

    with nats_server(tmp_path / "nats") as server:
        relay = start_relay(server, bus_runs.feed, tmp_path / "spool", RELAY_SPEED)
        leader = FeedService(tmp_path / "pair", f"{server.url}/AIS", log="leader.log")
        standby = FeedService(tmp_path / "pair", f"{server.url}/AIS", log="standby.log")
        try:
            start_pair(leader, standby)
            time.sleep(random.Random(3).uniform(0.5, 2.0))
            leader.stop(signal.SIGKILL)
            died = time.monotonic()
            standby.wait(lambda: standby.get("/healthz").status_code == 200, 3 * TAKEOVER_S, "the standby to lead")
            took = time.monotonic() - died
            wait_consumed(standby, server, "seawatch-engine", relay)
            alerts = standby.alert_ids()
            standby.stop(signal.SIGTERM)
        finally:
            relay.kill()
            leader.close()
            standby.close()
    print(f"the standby led {took:.1f} s after the leader was killed")
    assert took <= TAKEOVER_S, f"the standby took {took:.1f} s to lead"
    assert held_messages(tmp_path / "pair") == bus_runs.file_messages, "messages lost or read twice"
    assert sorted(alerts) == sorted(bus_runs.bus)


def test_leader_standby_and_publisher_take_a_cluster_s_servers_and_use_one_that_answers(tmp_path: Path) -> None:
    """The leader's feed lists a server that is down beside the one that runs (``nats://down,up/AIS``), the
    standby's repeats ``--feed`` per server: the lease, the consumer and the alerts' publisher reach the one that
    answers; the standby waits on the lease and leads once the leader is killed; every message is taken in once
    and acknowledged."""
    from tests.seawatch.test_serve_job import free_port

    feed = tmp_path / "feed.nmea"
    feed.write_bytes(simulate(SimConfig(hours=2, vessels=20, seed=5)).feed)
    with nats_server(tmp_path / "nats") as server, Subscriber(server.url) as published:
        relay = start_relay(server, feed, tmp_path / "spool", 600)  # 12 s: the standby leads while it publishes
        up, down = server.url.removeprefix("nats://"), f"127.0.0.1:{free_port()}"
        leader = FeedService(tmp_path / "pair", f"nats://{down},{up}/AIS", log="leader.log")
        standby = FeedService(tmp_path / "pair", [f"nats://{down}/AIS", f"nats://{up}/AIS"], log="standby.log")
        try:
            start_pair(leader, standby, leading=True)
            leader.stop(signal.SIGKILL)
            standby.wait(lambda: standby.get("/healthz").status_code == 200, 3 * TAKEOVER_S, "the standby to lead")
            wait_consumed(standby, server, "seawatch-engine", relay)
            alerts = standby.alert_ids()
            assert standby.stop(signal.SIGTERM)[0] == 0
        finally:
            relay.kill()
            leader.close()
            standby.close()
        acked, last = asyncio.run(_acked(server.url, "seawatch-engine"))
    assert held_messages(tmp_path / "pair") == message_count(feed.read_bytes()), "messages lost or read twice"
    assert acked == last, "the clean stop's snapshot holds the whole stream: all of it is acknowledged"
    assert alerts and {a["alert_id"] for a in published.got if "alert_id" in a} >= set(alerts)


def test_leader_and_standby_on_a_3_node_cluster_ride_out_the_death_of_the_node_the_leader_reads_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three clustered nats-servers, the stream and the lease bucket replicated on all three (RAFT); the feed
    lists the three; the node the leader reads from is killed (kill -9) while the relay publishes. The leader goes
    on through another node; or, when that node also led the lease bucket (which then has no leader for the RAFT
    election, longer than the lease's 3 s), the leader stops, as it must when it cannot renew, and the standby
    leads once the bucket answers. Either way every message is taken in once and all of them are acknowledged."""
    from tests.nats_server import nats_cluster

    feed = tmp_path / "feed.nmea"
    feed.write_bytes(simulate(SimConfig(hours=2, vessels=20, seed=5)).feed)
    monkeypatch.setenv("SEAWATCH_BUS_REPLICAS", "3")  # the relay's stream (the lease bucket follows it)
    with nats_cluster(tmp_path / "nats") as nodes:
        servers = ",".join(n.url.removeprefix("nats://") for n in nodes)
        cmd = [str(SEAWATCH), "relay", "--feed", f"file://{feed}", "--nats", ",".join(n.url for n in nodes),
               "--spool", str(tmp_path / "spool"), "--speed", "600"]  # fmt: skip  # 12 s of publishing
        relay = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pair = [FeedService(tmp_path / "pair", f"nats://{servers}/AIS", log=f"{who}.log")
                for who in ("leader", "standby")]  # fmt: skip
        leader, standby = pair
        try:
            start_pair(leader, standby, leading=True)
            (reading,) = [n for n in nodes if "seawatch-engine" in n.clients()]
            assert reading.proc is not None
            reading.proc.kill()  # kill -9 of the node the leader reads from
            reading.proc.wait()
            alive = next(n for n in nodes if n is not reading)
            deadline = time.monotonic() + 120.0
            while relay.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert relay.returncode == 0, "the relay did not finish through the two nodes left"

            def answering() -> list[FeedService]:
                out = []
                for svc in pair:
                    if svc.proc is not None and svc.proc.poll() is None:
                        try:
                            if svc.get("/healthz").status_code == 200:
                                out.append(svc)
                        except httpx.HTTPError:
                            pass
                return out

            deadline = time.monotonic() + 3 * TAKEOVER_S + 30
            while len(answering()) != 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            (active,) = answering()
            wait_consumed(active, alive, "seawatch-engine", None)
            assert active.stop(signal.SIGTERM)[0] == 0
            survived = active is leader
        finally:
            relay.kill()
            for svc in pair:
                svc.close()
        acked, last = asyncio.run(_acked(alive.url, "seawatch-engine"))
    print(
        "the leader went on" if survived else "the leader stopped (its lease bucket lost its leader), the standby led"
    )
    assert held_messages(tmp_path / "pair") == message_count(feed.read_bytes()), "messages lost or read twice"
    assert acked == last, "the clean stop's snapshot holds the whole stream: all of it is acknowledged"


def test_a_bus_feed_is_not_mixed_with_local_feeds() -> None:
    from feeds.sources import FeedError
    from seawatch.bus_job import check_feeds

    assert check_feeds(["nats://bus:4222/AIS", "nats://bus:4222/OTHER"])
    assert not check_feeds(["tcp://127.0.0.1:5631", "file://feed.nmea"])
    with pytest.raises(FeedError, match="relay the other feeds onto it"):
        check_feeds(["nats://bus:4222/AIS", "tcp://127.0.0.1:5631"])
