"""``seawatch relay`` end to end: real processes, a real nats-server with JetStream on loopback.

What the stream holds is read back message by message and compared with what the feeds sent: every line once, in
order, with its receive time and source; through a server that is away when the relay starts, a relay killed with
its spool full, and a server restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feeds.nats import MSG_ID, RECEIVED, SOURCE
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.nats_server import NatsServer, nats_server, stream_messages
from tests.seawatch.test_serve_job import feed_server

SEAWATCH = Path(sys.executable).with_name("seawatch")
RUN_S = 60.0


@pytest.fixture(scope="module")
def feed() -> bytes:
    return simulate(SimConfig(hours=2, vessels=30, seed=5)).feed


def relay_cmd(server: NatsServer, spool: Path, *feeds: str) -> list[str]:
    cmd = [str(SEAWATCH), "relay", "--nats", server.url, "--spool", str(spool), "--speed", "0"]
    for f in feeds:
        cmd += ["--feed", f]
    return cmd


def relay_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def lines_of(messages: list[tuple[str, bytes, dict[str, str]]], subject: str | None = None) -> list[bytes]:
    return [ln for s, data, _ in messages if subject in (None, s) for ln in data.splitlines(keepends=True)]


def bus_lines(url: str) -> int:
    """Lines the stream holds (0 while it is not there yet or the server is starting)."""
    import nats

    try:
        return len(lines_of(stream_messages(url)))
    except (nats.errors.Error, OSError):
        return 0


def wait_for(done, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_relay_publishes_every_line_once_in_order_with_time_and_source(tmp_path: Path, feed: bytes) -> None:
    a, b = tmp_path / "a.nmea", tmp_path / "b.nmea"
    a.write_bytes(feed)
    half = feed.splitlines(keepends=True)
    b.write_bytes(b"".join(half[: len(half) // 3]))
    with nats_server(tmp_path / "nats") as server:
        done = subprocess.run(relay_cmd(server, tmp_path / "spool", f"file://{a}", f"file://{b}"),
                              env=relay_env(SEAWATCH_BUS_MAX_AGE_HOURS="2", SEAWATCH_BUS_MAX_GB="1"),
                              capture_output=True, timeout=RUN_S)  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        messages = stream_messages(server.url)
        config = _stream_config(server.url)
    subjects = {s for s, _, _ in messages}
    assert len(subjects) == 2 and all(s.startswith("AIS.") for s in subjects)
    sa = next(s for s, _, h in messages if h[SOURCE] == f"file://{a}")
    sb = next(s for s, _, h in messages if h[SOURCE] == f"file://{b}")
    assert b"".join(lines_of(messages, sa)) == feed
    assert b"".join(lines_of(messages, sb)) == b.read_bytes()
    assert len({h[MSG_ID] for _, _, h in messages}) == len(messages)
    assert all(abs(float(h[RECEIVED]) - time.time()) < RUN_S + 60 for _, _, h in messages)
    assert config == (2 * 3600.0, 1024**3)
    assert f"{len(feed.splitlines()) + len(b.read_bytes().splitlines())} lines" in done.stdout.decode()


def _stream_config(url: str) -> tuple[float, int]:
    import asyncio

    import nats

    async def get() -> tuple[float, int]:
        nc = await nats.connect(url)
        info = await nc.jetstream().stream_info("AIS")
        await nc.close()
        return float(info.config.max_age or 0), int(info.config.max_bytes or 0)

    return asyncio.run(get())


def test_no_message_starts_inside_a_multi_part_message(tmp_path: Path, feed: bytes) -> None:
    """Each bus message is framed alone by the engine after a restart: none may begin with a later part."""
    path = tmp_path / "feed.nmea"
    path.write_bytes(feed)
    with nats_server(tmp_path / "nats") as server:
        subprocess.run(relay_cmd(server, tmp_path / "spool", f"file://{path}"), check=True, timeout=RUN_S,
                       capture_output=True)  # fmt: skip
        messages = stream_messages(server.url)
    assert any(b",2,1," in data for _, data, _ in messages), "the scenario has multi-part messages"
    for _, data, _ in messages:
        first = data.split(b"\n", 1)[0]
        fields = first[first.rfind(b"\\") + 1 :].split(b",")
        assert fields[2] == b"1", f"a bus message begins with part {fields[2]!r} of a multi-part message"


def test_server_away_relay_killed_server_restarted_every_line_arrives_once(tmp_path: Path, feed: bytes) -> None:
    """The server is down when the relay starts: the lines wait in the spool. The relay is killed (kill -9) with
    them there; the server comes up; a new relay resends them. The server restarts while a second part flows.
    The stream then holds every line sent, once, in order."""
    lines = feed.splitlines(keepends=True)
    parts = [b"".join(lines[: len(lines) // 3]), b"".join(lines[len(lines) // 3 :])]
    server = NatsServer(tmp_path / "nats")
    spool = tmp_path / "spool"
    with feed_server() as tcp:
        first = subprocess.Popen(relay_cmd(server, spool, f"tcp://127.0.0.1:{tcp.port}"), env=relay_env())
        try:
            tcp.wait_connections(1)
            tcp.send(parts[0])
            wait_for(lambda: sum(p.read_bytes().count(b"\n") for p in spool.glob("*.seg")) >= parts[0].count(b"\n"),
                     RUN_S, "the first part in the spool")  # fmt: skip
            first.send_signal(signal.SIGKILL)
            first.wait()
        finally:
            first.kill()
        server.start()
        second = subprocess.Popen(relay_cmd(server, spool, f"tcp://127.0.0.1:{tcp.port}"), env=relay_env())
        try:
            tcp.wait_connections(2)
            wait_for(lambda: bus_lines(server.url) >= len(parts[0].splitlines()), RUN_S,
                     "the spooled part on the bus")  # fmt: skip
            tcp.send(parts[1][: len(parts[1]) // 2])
            server.stop()
            tcp.send(parts[1][len(parts[1]) // 2 :])
            time.sleep(1.0)  # the relay finds the server away and spools
            server.start()
            wait_for(lambda: bus_lines(server.url) >= len(lines), RUN_S, "every line on the bus")
            time.sleep(1.0)  # any duplicate would have come by now
            messages = stream_messages(server.url)
            got = lines_of(messages)
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
        finally:
            second.kill()
            server.stop()
    assert len(got) == len(lines), f"{len(got)} lines on the bus for {len(lines)} sent: {twice(messages)}"
    assert got == lines


def twice(messages: list[tuple[str, bytes, dict[str, str]]]) -> list[tuple[str, int, int]]:
    """(message id, lines, lines seen before) of the messages holding a line that came before."""
    seen: set[bytes] = set()
    out = []
    for _, data, h in messages:
        rows = data.splitlines()
        again = sum(1 for r in rows if r in seen)
        seen.update(rows)
        if again:
            out.append((h[MSG_ID], len(rows), again))
    return out


def test_a_large_read_goes_in_messages_the_server_takes(tmp_path: Path, feed: bytes) -> None:
    """A file replay reads a megabyte at once, nats-server's default limit per message: the relay cuts it."""
    from seawatch.relay_job import MAX_MESSAGE

    big = feed * (1 + 3 * 1024 * 1024 // len(feed))
    path = tmp_path / "big.nmea"
    path.write_bytes(big)
    with nats_server(tmp_path / "nats") as server:
        subprocess.run(relay_cmd(server, tmp_path / "spool", f"file://{path}"), check=True, timeout=RUN_S,
                       capture_output=True)  # fmt: skip
        messages = stream_messages(server.url)
    assert b"".join(lines_of(messages)) == big
    assert max(len(data) for _, data, _ in messages) <= MAX_MESSAGE


def test_the_relay_takes_a_cluster_s_servers_and_uses_one_that_answers(tmp_path: Path, feed: bytes) -> None:
    from tests.nats_server import free_port

    path = tmp_path / "feed.nmea"
    path.write_bytes(feed)
    with nats_server(tmp_path / "nats") as server:
        cmd = relay_cmd(server, tmp_path / "spool", f"file://{path}")
        cmd[cmd.index("--nats") + 1] = f"nats://127.0.0.1:{free_port()},{server.url}"  # the first one is down
        subprocess.run(cmd, check=True, timeout=RUN_S, capture_output=True)
        assert b"".join(lines_of(stream_messages(server.url))) == feed
