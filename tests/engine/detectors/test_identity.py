"""Identity detectors: MMSI validity, identity change and conflict, draught change at sea."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.detectors.common import place_gap_km
from engine.detectors.draught import DraughtDetector
from engine.detectors.identity import IdentityDetector
from engine.detectors.mid import MID_FLAG
from engine.detectors.mmsi import (
    BAD_FORMAT,
    DEFAULT_PATTERN,
    NOT_NINE_DIGITS,
    OK,
    UNKNOWN_MID,
    describe,
    mmsi_problem,
)
from engine.geo.regions import load_pack
from seawatch.simulator.scenario import SimConfig, simulate
from tests import reference as ref
from tests.engine.detectors.scenario_run import label_frame, random_cuts, recall, run

KINDS = ("identity_change", "identity_conflict", "invalid_identity", "draught_change")


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return simulate(SimConfig(hours=8, vessels=80, seed=11, injections_per_day=9))


@pytest.fixture(scope="module")
def whole(scenario) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return run(scenario.feed, lambda: [IdentityDetector(), DraughtDetector()])


@pytest.mark.parametrize(
    ("mmsi", "code"),
    [
        (574602091, OK),  # Viet Nam ship
        (412000000, DEFAULT_PATTERN),
        (123456789, DEFAULT_PATTERN),
        (987654321, DEFAULT_PATTERN),
        (111111111, DEFAULT_PATTERN),
        (0, DEFAULT_PATTERN),
        (999999999, DEFAULT_PATTERN),
        (1193046, NOT_NINE_DIGITS),
        (57412345, NOT_NINE_DIGITS),  # a group call number, not a ship
        (100000000, BAD_FORMAT),
        (200123456, UNKNOWN_MID),
        (970123456, OK),  # AIS-SART: a distress beacon, handled by the distress detector
        (972123456, OK),
        (974123456, OK),
        (111574123, OK),  # SAR aircraft of Viet Nam
        (995741234, OK),  # aid to navigation of Viet Nam
        (985741234, OK),  # craft associated with a parent ship
        (857412345, OK),  # handheld VHF
        (992001234, UNKNOWN_MID),
    ],
)
def test_mmsi_problems(mmsi: int, code: int) -> None:
    assert int(mmsi_problem(np.array([mmsi]))[0]) == code


def test_mid_table_and_words() -> None:
    assert MID_FLAG[574] == "VN" and MID_FLAG[412] == "CN" and MID_FLAG[366] == "US"
    assert 250 < len(MID_FLAG) < 320
    assert "MID 412, CN" in describe(412000000, DEFAULT_PATTERN)


@given(st.integers(201_000_000, 775_999_999))
def test_ship_mmsi_is_ok_exactly_when_its_mid_is_allocated(mmsi: int) -> None:
    code = int(mmsi_problem(np.array([mmsi]))[0])
    if mmsi % 1_000_000 == 0 or mmsi in (222222222, 333333333, 444444444, 555555555, 666666666, 777777777):
        assert code == DEFAULT_PATTERN
    else:
        assert (code == OK) == (mmsi // 1_000_000 in MID_FLAG)


def test_place_gap_matches_reference() -> None:
    places = load_pack("gulf-of-tonkin").places.of_kind("port", "terminal", "anchorage")
    rows = list(zip(places.lat.tolist(), places.lon.tolist(), places.radius_km.tolist(), strict=True))
    lat = np.array([20.8, 21.0, 19.5, np.nan, 20.86])
    lon = np.array([106.7, 108.0, 107.0, 106.0, np.nan])
    got = place_gap_km(lat, lon, places)
    for a, b, g in zip(lat.tolist(), lon.tolist(), got.tolist(), strict=True):
        want = ref.place_gap_km(a, b, rows)
        assert (math.isnan(g) and math.isnan(want)) or g == pytest.approx(want, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180)), min_size=1, max_size=20),
       st.lists(st.tuples(st.floats(-89, 89), st.floats(-180, 180), st.floats(0, 20)), max_size=6))  # fmt: skip
def test_place_gap_property(points: list[tuple[float, float]], spots: list[tuple[float, float, float]]) -> None:
    from engine.geo.region_pack import Places

    places = Places(tuple(f"p{i}" for i in range(len(spots))), np.array(["port"] * len(spots)),
                    np.array([s[0] for s in spots]), np.array([s[1] for s in spots]),
                    np.array([s[2] for s in spots]), tuple({} for _ in spots))  # fmt: skip
    lat, lon = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    got = place_gap_km(lat, lon, places)
    for (a, b), g in zip(points, got.tolist(), strict=True):
        want = ref.place_gap_km(a, b, spots)
        assert g == want or g == pytest.approx(want, abs=1e-6)


def test_simulated_identity_kinds_are_found(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    labels = label_frame(scenario.labels, scenario.cfg.epoch)
    for kind in ("identity_conflict", "invalid_identity", "draught_change"):
        got, missed = recall(whole, labels, kind)
        assert got >= 0.6, (kind, missed)
    # a change of name and call sign without a change of MMSI is found
    changed = labels.filter(pl.col("kind") == "identity_change")
    found = whole.filter(pl.col("kind") == "identity_change")
    assert found.height >= 1 and set(found["mmsi"]) <= set(changed["mmsi"])
    assert all("changed from" in r[0] for r in found["reasons"].to_list())


def test_no_identity_alerts_on_background(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    injected = {lb.mmsi for lb in scenario.labels} | {lb.other_mmsi for lb in scenario.labels}
    background = whole.filter(pl.col("kind").is_in(KINDS), ~pl.col("mmsi").is_in(list(injected)))
    assert background.height == 0, background.select("kind", "mmsi", "reasons").rows()


@pytest.mark.parametrize("seed", [1, 2])
def test_stream_equals_batch(scenario, whole: pl.DataFrame, seed: int) -> None:  # type: ignore[no-untyped-def]
    cut = run(scenario.feed, lambda: [IdentityDetector(), DraughtDetector()], random_cuts(len(scenario.feed), seed))
    assert whole.height > 0
    assert cut.equals(whole)


def test_snapshot_restore_keeps_state(scenario) -> None:  # type: ignore[no-untyped-def]
    from engine.decode import decode_bytes
    from engine.runner import Engine

    d = decode_bytes(scenario.feed, details=False)
    ident, draught = IdentityDetector(), DraughtDetector()
    engine = Engine([ident, draught])
    engine.process(d.positions, d.statics, d.events)
    again_i, again_d = IdentityDetector(), DraughtDetector()
    again_i.restore(ident.snapshot())
    again_d.restore(draught.snapshot())
    for a, b in ((ident.snapshot(), again_i.snapshot()), (draught.snapshot(), again_d.snapshot())):
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k


def test_identity_history_is_exposed(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    from engine.decode import decode_bytes
    from engine.runner import Engine

    d = decode_bytes(scenario.feed, details=False)
    ident = IdentityDetector()
    engine = Engine([ident])
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    mmsi = int(whole.filter(pl.col("kind") == "identity_change")["mmsi"][0])
    vid = int(engine.fleet.lookup(np.array([mmsi]))[0])
    assert any(f == "name" for _, f, _, _ in ident.changes(vid))
    assert ident.latest_identity(vid)["name"] == ident.changes(vid)[-1][3] or ident.latest_identity(vid)["name"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["A", "B", "C"])), max_size=30))
def test_run_edges_are_the_first_and_last_report_of_each_run(rows: list[tuple[int, str]]) -> None:
    from engine.detectors.identity import run_edges

    rows = sorted(rows, key=lambda r: r[0])  # stable: the values keep their order within a vessel
    vid = np.array([r[0] for r in rows], np.int64)
    differs = np.array([k == 0 or rows[k][1] != rows[k - 1][1] for k in range(len(rows))], np.bool_)
    want = [k == 0 or k == len(rows) - 1 or rows[k][0] != rows[k - 1][0] or rows[k][0] != rows[k + 1][0]
            or rows[k] != rows[k - 1] or rows[k] != rows[k + 1] for k in range(len(rows))]  # fmt: skip
    assert run_edges(vid, differs).tolist() == want


def test_the_changes_kept_for_a_vessel_are_bounded() -> None:
    """A vessel renamed back and forth for months keeps only its latest changes in memory (and snapshots)."""
    from datetime import UTC, datetime, timedelta

    from engine.decode import empty_tables
    from engine.detectors.identity import HISTORY_KEPT
    from engine.runner import Engine

    n = 3 * HISTORY_KEPT
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    given = {"mmsi": [574_000_001] * n, "t": [t0 + timedelta(hours=3 * k) for k in range(n)], "msg_type": [5] * n,
             "name": [f"HAI AU {k % 2}" for k in range(n)], "seq": list(range(n))}  # fmt: skip
    schema = empty_tables().statics.schema
    statics = (
        pl.DataFrame(given)
        .with_columns([pl.lit(None, dtype).alias(c) for c, dtype in schema.items() if c not in given])
        .select([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    )
    ident = IdentityDetector()
    engine = Engine([ident])
    engine.process(empty_tables().positions, statics, empty_tables().events)
    engine.finish()
    kept = ident.changes(0)
    assert len(kept) == HISTORY_KEPT
    assert kept[-1][0] == int(given["t"][-1].timestamp() * 1e6)  # the latest change is the last one kept


def _statics(rows: list[tuple[float, str, str]]) -> pl.DataFrame:
    """Type 5 reports of one vessel: (hours after the start, name, call sign), in arrival order."""
    from datetime import UTC, datetime, timedelta

    from engine.decode import empty_tables

    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    given = {"mmsi": [574_000_002] * len(rows), "t": [t0 + timedelta(hours=h) for h, _, _ in rows],
             "msg_type": [5] * len(rows), "name": [n for _, n, _ in rows], "callsign": [c for _, _, c in rows],
             "seq": list(range(len(rows)))}  # fmt: skip
    schema = empty_tables().statics.schema
    return (
        pl.DataFrame(given)
        .with_columns([pl.lit(None, dtype).alias(c) for c, dtype in schema.items() if c not in given])
        .select([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    )


def _conflicts(statics: pl.DataFrame, step_rows: int) -> pl.DataFrame:
    from engine.decode import empty_tables
    from engine.runner import Engine

    engine = Engine([IdentityDetector()])
    for start in range(0, statics.height, step_rows):
        engine.process(empty_tables().positions, statics.slice(start, step_rows), empty_tables().events)
    engine.finish()
    return engine.alerts().filter(pl.col("kind") == "identity_conflict")


def test_a_conflict_starts_at_its_first_alternation_in_time_whichever_field_and_however_the_steps_fall() -> None:
    """The call sign alternates first (1.0-1.5 h), the name later (3.0-3.5 h): in one step the fields used to be
    walked one after the other, so the name's alternation (later) opened the conflict and the call sign's (earlier)
    only extended it, and the start depended on where the steps fell (seen on a simulated week: 64 against 8 MiB)."""
    rows = [(0.0, "HAI AU", "3WAB"), (1.0, "HAI AU", "BRGK"), (1.5, "HAI AU", "3WAB"), (2.0, "HAI AU", "3WAB"),
            (3.0, "GUI QIN", "3WAB"), (3.5, "HAI AU", "3WAB"), (4.0, "HAI AU", "3WAB")]  # fmt: skip
    statics = _statics(rows)
    one_step = _conflicts(statics, statics.height)
    for step_rows in (1, 2, 3):
        assert _conflicts(statics, step_rows).equals(one_step), f"steps of {step_rows} reports"
    assert one_step.height == 1
    start, end = one_step["start"][0], one_step["end"][0]
    assert (start.hour, start.minute, end.hour, end.minute) == (1, 30, 3, 30)  # the first and last alternation back
