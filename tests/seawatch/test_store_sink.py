"""The store sink writes in a thread of its own: the engine hands a micro-batch over and steps on while it is
written, at most ``ahead`` hand-overs are under way (a slower store holds the engine back), and ``caught_up()``
(what the runner asks before a snapshot) waits for the writes under way. A real SQLite store; the write is held at
its crash point (engine/durable.py) by a hook that waits for the test, as a slow disk would hold it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import polars as pl
import pytest

from api.store import Store
from engine.alerts import empty_alerts
from engine.durable import set_crash_hook
from seawatch.serve_job import StoreSink

MMSI = 574_000_001
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
QUICK_S = 5.0  # a hand-over that does not wait for the store returns well within this, even on a busy machine


def batch(minute: int) -> dict[str, pl.DataFrame]:
    """A micro-batch's tables with one position of MMSI at T0 + ``minute`` (the track keeps one a minute)."""
    positions = pl.DataFrame({"mmsi": [MMSI], "t": [T0 + timedelta(minutes=minute)], "lat": [20.0 + minute / 100],
                              "lon": [107.0], "sog": [8.0], "cog": [90.0]})  # fmt: skip
    return {"positions": positions, "statics": pl.DataFrame(), "events": pl.DataFrame()}


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """Writes wait at their crash point until the event is set."""
    gate = threading.Event()

    def hook(name: str) -> None:
        if name == "store.write":
            assert gate.wait(60), "the test never let the write go"

    set_crash_hook(hook)
    try:
        yield gate
    finally:
        gate.set()
        set_crash_hook(None)


def in_thread(call: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=call, daemon=True)
    t.start()
    return t


def test_the_engine_steps_on_while_the_store_writes_and_a_snapshot_waits(tmp_path: Path,
                                                                         held: threading.Event) -> None:  # fmt: skip
    """The sink is called from one thread at a time (the engine's): each call below runs alone."""
    store = Store(f"sqlite:///{tmp_path / 'seawatch.db'}")
    sink = StoreSink(store, 0.0, 0.0, ahead=2)
    try:
        for minute in (0, 1):  # two hand-overs under way, the first one's write held: neither waits for it
            handed = in_thread(partial(sink.consume, batch(minute), empty_alerts()))
            handed.join(QUICK_S)
            assert not handed.is_alive(), "a hand-over waited for the store's write"
        third = in_thread(partial(sink.consume, batch(2), empty_alerts()))
        third.join(0.5)
        assert third.is_alive(), "a third hand-over did not wait: the writes under way are not bounded"
        assert store.track(MMSI) == []
        held.set()
        third.join(QUICK_S)
        assert not third.is_alive()
        assert sink.caught_up()
        assert [p["lat"] for p in store.track(MMSI)] == pytest.approx([20.0, 20.01, 20.02])  # all, in order

        held.clear()  # the next write is held: a snapshot waits for it
        sink.consume(batch(3), empty_alerts())
        answer: list[bool] = []
        snapshot = in_thread(lambda: answer.append(sink.caught_up()))
        snapshot.join(0.5)
        assert snapshot.is_alive(), "caught_up() answered while a write was under way"
        held.set()
        snapshot.join(QUICK_S)
        assert answer == [True]
        assert len(store.track(MMSI)) == 4
    finally:
        held.set()
        sink.close()
        store.close()
