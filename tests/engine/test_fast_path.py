"""The distress fast path: announced before the watermark, with the detector's id; wrong guesses withdrawn; the
final alerts those of one batch run; a restart keeps its open announcements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyais
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.alerts import alert_id
from engine.decode import decode
from engine.detectors.distress import DistressDetector, DistressSettings, may_be_evidence
from engine.fast_path import distress_headers
from engine.runner import Engine
from engine.stream import LIVE_LATENESS_S, StreamRunner, StreamSettings
from feeds.framing import Framer, MessageBatch
from tests.engine.live import SART, SHIP, Upserts, delivery, position_line
from tests.reference import distress_header

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


MMSIS = st.one_of(st.integers(0, 999_999_999), st.sampled_from([970, 972, 974, 971, 969]).flatmap(
    lambda prefix: st.integers(prefix * 1_000_000, prefix * 1_000_000 + 999_999)))  # fmt: skip


@st.composite
def ais_messages(draw: st.DrawFn) -> str:
    """One AIS message (every part of it) of a type that may or may not be distress evidence, encoded by pyais."""
    kind = draw(st.sampled_from([1, 2, 3, 5, 14, 18, 19, 21, 24, 27]), label="type")
    fields: dict[str, str | int | float | bytes | bool] = {"msg_type": kind, "mmsi": draw(MMSIS, label="mmsi")}
    if kind in (1, 2, 3, 27):
        fields["status"] = draw(st.integers(0, 15), label="nav status")
    if kind == 14:
        fields["text"] = draw(st.sampled_from(["SART ACTIVE", "SART TEST", "HELLO"]))
    return "\n".join(pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel="A")) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ais_messages(), min_size=1, max_size=20),
       st.lists(st.text("0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw", max_size=12), max_size=5))
def test_the_header_check_equals_its_reference_and_misses_no_evidence(messages: list[str], raw: list[str]) -> None:
    """distress_headers (the kernel that closes a micro-batch at once) against the plain reading of the bits, on
    messages of every kind pyais encodes and on short or odd payloads; and every row the distress detector may
    take as evidence (may_be_evidence, after decoding) comes from a message it flags."""
    batch = Framer().feed("".join(messages).encode("ascii"), final=True)
    flags = distress_headers(batch)
    assert flags.tolist() == [distress_header(batch.text(i)) for i in range(len(batch))]
    decoded = decode(batch, details=False)
    for name, expr in may_be_evidence().items():
        table = getattr(decoded, name).with_columns(expr.fill_null(False).alias("_may"))
        seqs = table.filter(pl.col("_may"))["seq"].to_numpy()
        assert flags[seqs].all(), f"{name}: evidence from an unflagged message"
    odd = raw  # any armored characters, 0 to 12 of them: too short for a type, an MMSI or a status
    lengths = np.array([len(p) for p in odd], np.int32)
    short = MessageBatch(payload=np.frombuffer("".join(odd).encode("ascii"), np.uint8).copy(),
                         start=(np.cumsum(lengths) - lengths).astype(np.int64), length=lengths,
                         fill=np.zeros(len(odd), np.int8), time=np.zeros(len(odd)), source=np.zeros(len(odd), np.int32),
                         channel=np.zeros(len(odd), np.uint8), line=np.zeros(len(odd), np.int64),
                         parts=np.ones(len(odd), np.int8), seq=np.arange(len(odd), dtype=np.int64))  # fmt: skip
    assert distress_headers(short).tolist() == [distress_header(p) for p in odd]
