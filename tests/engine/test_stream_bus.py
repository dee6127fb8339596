"""The stream runner on a feed that is its own journal (``journal=False``: a NATS stream): positions go into the
snapshot and to ``on_snapshot``, a restart knows them, nothing is journaled locally, and a failing batch stops the
runner (there is nothing local to replay it from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.stream import StreamRunner, StreamSettings
from feeds.framing import Framer
from feeds.sources import FeedBatch
from tests.engine.live import position_line
from tests.engine.test_crash_safety import POISON, Poison

BUS = StreamSettings(journal=False, snapshot_seconds=1e9)
URL = "nats://127.0.0.1:4222/AIS"
T0 = 1_717_200_000_000


def delivery(mmsi: int, k: int, position: int) -> FeedBatch:
    framer = Framer()
    return FeedBatch(0, URL, 0.0, messages=framer.feed(position_line(mmsi, 0, T0 + 1000 * k)), position=position)


def test_positions_reach_the_snapshot_and_its_callback_and_nothing_is_journaled(tmp_path: Path) -> None:
    acked: list[dict[str, int]] = []
    runner = StreamRunner.open([Poison()], tmp_path, settings=BUS)
    runner.on_snapshot.append(acked.append)
    runner.process([delivery(574_000_001, 0, 5), delivery(574_000_001, 1, 9)])
    runner.process([delivery(574_000_001, 2, 12)])
    assert not acked, "nothing is acknowledged before a snapshot holds it"
    assert not [p for p in (tmp_path / "journal").iterdir()], "the bus is the journal: none is written here"
    assert runner.snapshot()
    assert acked == [{URL: 12}]
    runner.process([delivery(574_000_001, 3, 15)])  # taken in, not in a snapshot: a restart reads it again
    again = StreamRunner.open([Poison()], tmp_path, settings=BUS)
    assert again.positions == {URL: 12}


def test_a_failing_batch_stops_the_runner_for_a_restart(tmp_path: Path) -> None:
    runner = StreamRunner.open([Poison()], tmp_path, settings=BUS)
    runner.process([delivery(574_000_001, 0, 1)])
    with pytest.raises(RuntimeError, match="restart resumes from the last snapshot"):
        runner.process([delivery(POISON, 1, 2), delivery(574_000_001, 3, 3)])  # the later row releases it
