"""The runner's timing rules: arrival order, lateness, watermark — and stream = batch for what detectors see."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decode import decode, decode_bytes
from engine.runner import FINAL_WATERMARK, Engine, Step
from feeds.framing import Framer
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate

T0 = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass
class Recorder:
    """A detector that only remembers what it was given, step by step."""

    name: str = "recorder"
    fixes: list[tuple[int, int, int]] = field(default_factory=list)  # (mmsi, t_us, arrival)
    identities: list[tuple[int, int, int]] = field(default_factory=list)
    events: list[tuple[int, int, int]] = field(default_factory=list)
    watermarks: list[int] = field(default_factory=list)

    def process(self, step: Step) -> list[pl.DataFrame]:
        f = step.fixes
        assert np.all(np.diff(f.vid) >= 0), "fixes must come sorted by vessel"
        same = np.diff(f.vid) == 0
        assert np.all(np.diff(f.t_us)[same] >= 0), "each vessel's fixes must come in time order"
        assert np.all(f.t_us < step.watermark_us), "only rows before the watermark are ready"
        assert np.array_equal(step.fleet.mmsi[f.vid], f.mmsi)
        self.fixes += zip(f.mmsi.tolist(), f.t_us.tolist(), f.arrival.tolist(), strict=True)
        i = step.identities
        self.identities += zip(i.mmsi.tolist(), i.t_us.tolist(), i.arrival.tolist(), strict=True)
        e = step.events
        self.events += zip(e["mmsi"].to_list(), e["t_us"].to_list(), e["arrival"].to_list(), strict=True)
        self.watermarks.append(step.watermark_us)
        return []

    def snapshot(self) -> dict[str, np.ndarray]:
        return {}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        return None

    def per_vessel(self) -> dict[str, list[tuple[int, int, int]]]:
        """What each vessel's state machine sees, in order (steps may cut it anywhere)."""
        out = {}
        for name in ("fixes", "identities", "events"):
            rows = getattr(self, name)
            out[name] = sorted(rows, key=lambda r: (r[0], r[1], r[2])) if name == "events" else rows
        by_vessel: dict[str, list[tuple[int, int, int]]] = {}
        for name, rows in out.items():
            for r in rows:
                by_vessel.setdefault(f"{name}:{r[0]}", []).append(r)
        return by_vessel


@pytest.fixture(scope="module")
def jittered_feed() -> bytes:
    """A simulated feed with some single-sentence lines moved later, so that some arrive out of time order."""
    feed = simulate(SimConfig(hours=3, vessels=40, seed=5)).feed
    lines = feed.split(b"\n")
    rng = random.Random(7)
    out = list(lines)
    reach = len(lines) // 8  # up to ~20 min of the 3 h feed: past the 10 min lateness, whatever the traffic's density
    for i in sorted(rng.sample(range(len(lines) - reach), 300), reverse=True):
        if b"g:" in out[i] or not out[i]:
            continue  # parts of a multi-part message stay together
        line = out.pop(i)
        out.insert(i + rng.randint(1, reach), line)
    return b"\n".join(out)


def _run(feed: bytes, cuts: list[int]) -> tuple[Recorder, Engine]:
    rec = Recorder()
    engine = Engine([rec])
    framer = Framer()
    edges = [0, *sorted(cuts), len(feed)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        d = decode(framer.feed(feed[a:b]), details=False)
        engine.process(d.positions, d.statics, d.events)
    d = decode(framer.finish(), details=False)
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return rec, engine


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 10**9), max_size=40), st.integers(1, 4000))
def test_detectors_see_the_same_per_vessel_sequences_however_the_input_is_cut(
    jittered_feed: bytes, cuts: list[int], small: int
) -> None:
    whole, whole_engine = _run(jittered_feed, [])
    n = len(jittered_feed)
    pieces = [c % n for c in cuts] + list(range(0, min(n, 40 * small), small))  # some tiny chunks too
    cut, cut_engine = _run(jittered_feed, pieces)
    assert whole_engine.counts["late"] > 0, "the jittered feed must exercise the late rule"
    assert cut_engine.counts == whole_engine.counts
    assert cut.per_vessel() == whole.per_vessel()
    assert whole.watermarks[-1] == FINAL_WATERMARK


def _positions(rows: list[tuple[int, float, int]]) -> pl.DataFrame:
    """Positions rows (mmsi, minutes after T0 or NaN for no time, seq) in the decoder's schema."""
    empty = decode_bytes(b"", details=False).positions
    data = []
    for mmsi, minutes, seq in rows:
        t = None if np.isnan(minutes) else T0 + timedelta(minutes=minutes)
        data.append({"mmsi": mmsi, "t": t, "lat": 20.0, "lon": 107.0, "msg_type": 1, "seq": seq})
    return (
        pl.DataFrame(data)
        .with_columns([pl.lit(None, dtype).alias(c) for c, dtype in empty.schema.items() if c not in data[0]])
        .select(empty.columns)
        .cast(dict(empty.schema))
    )  # type: ignore[arg-type]


def test_late_rows_are_dropped_by_arrival_order_and_counted() -> None:
    rec = Recorder()
    engine = Engine([rec], lateness_s=600)
    empty = decode_bytes(b"", details=False)
    # arrivals: t=60 min, t=0 (60 min late: dropped), t=55 (5 min late: kept), no time (dropped), t=120
    rows = [(1, 60.0, 0), (2, 0.0, 1), (3, 55.0, 2), (4, float("nan"), 3), (5, 120.0, 4)]
    engine.process(_positions(rows), empty.statics, empty.events)
    assert engine.counts["late"] == 1 and engine.counts["no_time"] == 1
    # watermark = 120 - 10 min: rows at 55 and 60 min are ready, 120 waits
    assert [r[0] for r in rec.fixes] == [1, 3]
    engine.finish()
    assert sorted(r[0] for r in rec.fixes) == [1, 3, 5]


def test_a_message_heard_by_two_stations_is_kept_once() -> None:
    rec = Recorder()
    engine = Engine([rec])
    empty = decode_bytes(b"", details=False)
    engine.process(_positions([(7, 1.0, 0), (7, 1.0, 1), (7, 2.0, 2)]), empty.statics, empty.events)
    engine.finish()
    assert [r[2] for r in rec.fixes] == [0, 2]
    assert engine.counts["duplicate"] == 1


def test_a_new_input_starting_its_seq_again_arrives_after_the_first() -> None:
    rec = Recorder()
    engine = Engine([rec])
    empty = decode_bytes(b"", details=False)
    engine.process(_positions([(1, 1.0, 0), (1, 2.0, 1)]), empty.statics, empty.events)
    engine.process(_positions([(2, 3.0, 0)]), empty.statics, empty.events)  # a second file: seq from 0
    engine.finish()
    arrivals = [r[2] for r in rec.fixes]
    assert sorted(arrivals) == [0, 1, 2]


def test_snapshot_and_restore_continue_where_the_engine_stopped(jittered_feed: bytes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    whole, whole_engine = _run(jittered_feed, [])
    half = len(jittered_feed) // 2
    framer = Framer()
    first = Recorder()
    engine = Engine([first])
    d = decode(framer.feed(jittered_feed[:half]), details=False)
    engine.process(d.positions, d.statics, d.events)
    engine.snapshot(tmp_path / "snap")
    engine.snapshot(tmp_path / "snap")  # a second snapshot replaces the first
    second = Recorder()
    restored = Engine.restore(tmp_path / "snap", [second])
    for batch in (framer.feed(jittered_feed[half:]), framer.finish()):
        d = decode(batch, details=False)
        restored.process(d.positions, d.statics, d.events)
    restored.finish()
    joined = Recorder(fixes=first.fixes + second.fixes, identities=first.identities + second.identities,
                      events=first.events + second.events)  # fmt: skip
    assert joined.per_vessel() == whole.per_vessel()
    assert restored.counts == whole_engine.counts
    with pytest.raises(ValueError, match="snapshot of detectors"):
        Engine.restore(tmp_path / "snap", [Recorder(name="other")])


def test_copies_are_told_apart_as_polars_tells_values_apart() -> None:
    """NaN equals NaN, 0.0 equals -0.0, a null is a value of its own: the compiled dedupe keeps exactly the
    rows polars' ``is_first_distinct`` keeps."""
    from engine.fixes import vessel_time_order
    from engine.runner import _key_bits

    nan = float("nan")
    table = pl.DataFrame(
        {"msg_type": [1, 1, 1, 1, 1, 1, None, None, 3], "lat": [nan, nan, 0.0, -0.0, None, None, 1.0, 1.0, 1.0],
         "lon": [5.0] * 9},
        schema={"msg_type": pl.Int8, "lat": pl.Float64, "lon": pl.Float64},
    )  # fmt: skip
    want = np.flatnonzero(table.select(pl.struct(table.columns).is_first_distinct()).to_series().to_numpy())
    got = vessel_time_order(np.zeros(9, np.int64), np.zeros(9, np.int64), _key_bits(table, table.columns))
    assert got.tolist() == want.tolist() == [0, 2, 4, 6, 8]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 100))), max_size=40),
       st.one_of(st.none(), st.integers(0, 100)))  # fmt: skip
def test_lateness_matches_the_reference(rows: list[tuple[int, int | None]], max_t: int | None) -> None:
    from engine.runner import _NONE, _lateness
    from tests import reference as ref

    arrival = np.array([r[0] for r in rows], np.int64)
    t = np.array([_NONE if r[1] is None else r[1] for r in rows], np.int64)
    order = np.argsort(arrival, kind="stable")
    keep, kept, new_max, no_time, late = _lateness(order, t, _NONE if max_t is None else max_t, 10, _NONE)
    want = ref.lateness(rows, max_t, 10)
    assert keep.tolist() == want
    assert kept.tolist() == [i for i in order.tolist() if want[i]]
    assert no_time == sum(r[1] is None for r in rows) and late == len(rows) - no_time - sum(want)
    times = [r[1] for r in rows if r[1] is not None] + ([] if max_t is None else [max_t])
    assert new_max == (max(times) if times else _NONE)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30))
def test_float_keys_match_the_reference(values: list[float]) -> None:
    from engine.runner import _NAN_BITS, float_key
    from tests import reference as ref

    edge = [float("nan"), -float("nan"), 0.0, -0.0, float("inf"), -float("inf"), 1e-310, 20.5]
    x = np.array(edge + values, np.float64)
    x[1] = np.array([0x7FF8DEAD00000001], np.int64).view(np.float64)[0]  # a NaN with a payload of its own
    out = np.full((x.shape[0], 3), -1, np.int64)
    float_key(x, out, 1)
    assert out[:, 1].tolist() == ref.float_key(x.tolist(), _NAN_BITS)
    assert (out[:, [0, 2]] == -1).all()  # only column 1 is written
    assert out[0, 1] == out[1, 1] and out[2, 1] == out[3, 1] == 0  # NaNs one key, zeros one key
    with pytest.raises(ValueError, match="int64 rows"):
        float_key(x, np.zeros((x.shape[0], 1), np.int64), 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 2)),
                          st.one_of(st.none(), st.sampled_from(["", "a", "b", "ab"]))), max_size=40))  # fmt: skip
def test_first_distinct_is_polars_is_first_distinct(rows: list[tuple[int, int | None, str | None]]) -> None:
    """The hashed pre-filter keeps exactly the rows polars' ``struct(...).is_first_distinct()`` keeps (many copies,
    nulls, empty strings); and a row whose hash is its own is kept without a comparison."""
    from engine.runner import first_distinct

    table = pl.DataFrame(rows, schema={"mmsi": pl.Int64, "t_us": pl.Int64, "text": pl.String}, orient="row")
    want = table.select(pl.struct(table.columns).is_first_distinct()).to_series().to_numpy()
    assert first_distinct(table, table.columns).tolist() == want.tolist()
    assert first_distinct(table, ["mmsi"]).tolist() == table["mmsi"].is_first_distinct().to_list()
