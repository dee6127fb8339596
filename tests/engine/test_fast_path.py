"""The distress fast path: announced before the watermark, with the detector's id; wrong guesses withdrawn; the
final alerts those of one batch run; a restart keeps its open announcements."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.alerts import alert_id
from engine.decode import decode
from engine.detectors.distress import DistressDetector, DistressSettings
from engine.runner import Engine
from engine.stream import LIVE_LATENESS_S, StreamRunner, StreamSettings
from feeds.framing import Framer
from tests.engine.live import SART, SHIP, Upserts, delivery, position_line

T = 1_700_000_000_000  # ms
LIVE = StreamSettings(snapshot_seconds=1e9)  # the live lateness (0.5 s)


def sart_id(at_ms: int) -> str:
    return alert_id("distress", SART, None, at_ms * 1000)


def batch_alerts(lines: list[bytes], settings: DistressSettings | None = None) -> pl.DataFrame:
    """The alerts of one batch run over ``lines``, with the live lateness."""
    d = decode(Framer().feed(b"".join(lines), final=True), details=False)
    engine = Engine([DistressDetector(settings)], lateness_s=LIVE_LATENESS_S)
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()


def run(tmp_path: Path, lines: list[bytes], settings: DistressSettings | None = None) -> tuple[StreamRunner, Upserts]:
    """A stream runner with the distress detector, each line its own micro-batch."""
    sink = Upserts()
    runner = StreamRunner.open([DistressDetector(settings)], tmp_path, [sink], LIVE)
    for line in lines:
        runner.process([delivery(line)])
    return runner, sink


def test_a_distress_row_is_announced_before_the_watermark_passes_it(tmp_path: Path) -> None:
    sink = Upserts()
    runner = StreamRunner.open([DistressDetector()], tmp_path, [sink], LIVE)
    got = runner.process([delivery(position_line(SHIP, 0, T), position_line(SART, 14, T + 100))])
    assert runner.engine.alerts().height == 0, "the watermark has not passed the SART: the detector has not seen it"
    assert got["alert_id"].to_list() == [sart_id(T + 100)]
    assert got["score"].to_list() == [90.0]
    assert list(sink.alerts) == [sart_id(T + 100)]
    runner.process([delivery(position_line(SHIP, 0, T + 1000))])  # the watermark passes the SART
    assert runner.engine.alerts()["alert_id"].to_list() == [sart_id(T + 100)], "the detector gives the same id"
    assert_frame_equal(sink.table(), runner.engine.alerts())


def test_evidence_arriving_out_of_order_moves_the_announcement(tmp_path: Path) -> None:
    lines = [position_line(SHIP, 0, T), position_line(SART, 14, T + 300), position_line(SART, 14, T + 100)]
    runner, sink = run(tmp_path, lines[:2])
    assert list(sink.alerts) == [sart_id(T + 300)]
    assert runner.fast_path is not None and runner.fast_path.open == {sart_id(T + 300)}
    runner.process([delivery(lines[2])])  # earlier, within the lateness: the episode starts there
    assert sink.withdrawn == [sart_id(T + 300)]
    assert list(sink.alerts) == [sart_id(T + 100)]
    lines.append(position_line(SHIP, 0, T + 2000))
    runner.process([delivery(lines[-1])])
    assert runner.fast_path.open == set()
    assert_frame_equal(runner.engine.alerts(), batch_alerts(lines))
    assert_frame_equal(sink.table(), runner.engine.alerts())


def test_a_late_row_that_bridges_the_gap_joins_the_carried_episode(tmp_path: Path) -> None:
    short = DistressSettings(episode_gap_s=1.0)
    lines = [position_line(SART, 14, T), position_line(SHIP, 0, T + 600), position_line(SART, 14, T + 1300)]
    runner, sink = run(tmp_path, lines, short)
    assert runner.engine.alerts()["alert_id"].to_list() == [sart_id(T)]  # passed by the watermark
    assert set(sink.alerts) == {sart_id(T), sart_id(T + 1300)}  # 1.3 s after it: a new episode, announced
    lines.append(position_line(SART, 14, T + 900))  # 0.9 s after the first, 0.4 s before the third: one episode
    runner.process([delivery(lines[-1])])
    assert sink.withdrawn == [sart_id(T + 1300)]
    lines.append(position_line(SHIP, 0, T + 3000))
    runner.process([delivery(lines[-1])])
    assert_frame_equal(runner.engine.alerts(), batch_alerts(lines, short))
    assert runner.engine.alerts().height == 1
    assert_frame_equal(sink.table(), runner.engine.alerts())


def test_a_copy_the_engine_drops_announces_nothing(tmp_path: Path) -> None:
    """Two stations hear one report (same vessel, time, type and place); the second copy says "AIS-SART active".
    The engine keeps the first copy only, so the fast path must not alert on the second."""
    lines = [position_line(SHIP, 0, T), position_line(SHIP, 14, T), position_line(SHIP, 0, T + 2000)]
    runner, sink = run(tmp_path, lines[:2])
    assert sink.alerts == {}
    runner.process([delivery(lines[2])])
    assert runner.engine.counts["duplicate"] == 1
    assert runner.engine.alerts().height == batch_alerts(lines).height == 0
    assert sink.alerts == {}


@pytest.mark.parametrize("snapshot_after", [1, 2], ids=["announced-in-journal", "announced-in-snapshot"])
def test_a_restart_keeps_the_open_announcements(tmp_path: Path, snapshot_after: int) -> None:
    """The process dies with an announcement open: in the snapshot, or in the journal replayed after it. The
    restarted runner still withdraws it when evidence proves it wrong."""
    lines = [position_line(SHIP, 0, T), position_line(SART, 14, T + 300), position_line(SART, 14, T + 100),
             position_line(SHIP, 0, T + 2000)]  # fmt: skip
    first, sink = run(tmp_path, lines[:snapshot_after])
    first.snapshot()
    for line in lines[snapshot_after:2]:
        first.process([delivery(line)])  # journaled, not in the snapshot
    assert list(sink.alerts) == [sart_id(T + 300)]
    del first  # the process dies: no clean stop
    second = StreamRunner.open([DistressDetector()], tmp_path, [sink], LIVE)
    assert second.fast_path is not None and second.fast_path.open == {sart_id(T + 300)}
    for line in lines[2:]:
        second.process([delivery(line)])
    assert sink.withdrawn == [sart_id(T + 300)]
    assert_frame_equal(second.engine.alerts(), batch_alerts(lines))
    assert_frame_equal(sink.table(), second.engine.alerts())
