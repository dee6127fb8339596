"""AIS gaps: the silence kernel against the slow reference (fixed edge cases and Hypothesis), the coverage grid,
the detector on made-up silences in good and bad coverage, and stream = batch on a simulated scenario."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.detectors.gaps import CoverageGrid, GapDetector, GapSettings, gap_candidates
from engine.runner import FINAL_WATERMARK, Engine
from tests import reference as ref
from tests.engine.detectors.scenario import chunked_alerts, empty_tables, positions, simulated
from tests.engine.detectors.stations_scene import TARGET, at, chunked, day

H = 3600.0


def kernel_gaps(rows: list[tuple[int, int, float, float]], min_gap_us: int) -> list[tuple[int, int, int]]:
    vid = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    lat = np.array([r[2] for r in rows], float)
    lon = np.array([r[3] for r in rows], float)
    size = int(vid.max()) + 1 if len(rows) else 0
    last_t = np.full(size, -1, np.int64)
    got, t0, _, _ = gap_candidates(vid, t, lat, lon, last_t, np.full(size, np.nan), np.full(size, np.nan), min_gap_us)
    return [(int(r), int(vid[r]), int(a)) for r, a in zip(got, t0, strict=True)]


@pytest.mark.parametrize(
    "rows",
    [
        [],  # nothing
        [(0, 10, 20.0, 108.0)],  # one ping
        [(0, 10, 20.0, 108.0), (0, 10, 20.0, 108.0), (0, 500, 20.0, 108.0)],  # duplicate timestamps
        [(0, 10, 20.0, 108.0), (0, 300, math.nan, 108.0), (0, 600, 20.0, 108.0)],  # NaN position skipped
        [(0, 10, 20.0, 179.9), (0, 400, 20.0, -179.9), (1, 900, 20.0, 108.0)],  # antimeridian, two vessels
        [(0, 0, 20.0, 108.0), (0, 100, 20.0, 108.0)],  # exactly the threshold
    ],
)
def test_silences_match_the_reference_on_edge_cases(rows: list[tuple[int, int, float, float]]) -> None:
    assert kernel_gaps(rows, 100) == ref.gap_candidates(rows, 100)


fix = st.tuples(
    st.integers(0, 3), st.integers(0, 2_000), st.one_of(st.floats(-89, 89), st.just(math.nan)), st.floats(-180, 180)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fix, max_size=60), st.integers(1, 500))
def test_silences_match_the_reference_on_random_tracks(rows: list, min_gap: int) -> None:
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    assert kernel_gaps(rows, min_gap) == ref.gap_candidates(rows, min_gap)


place = st.tuples(st.floats(19.8, 20.4), st.one_of(st.floats(107.0, 107.6), st.floats(179.7, 180.0),
                                                   st.floats(-180.0, -179.7)))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 12), place, st.booleans()), max_size=120),
       st.lists(st.tuples(place, st.integers(0, 12 * 3600), place, st.integers(0, 12 * 3600), st.booleans()),
                max_size=8))  # fmt: skip
def test_coverage_along_paths_in_one_call_matches_the_reference(fixes: list, gaps: list) -> None:
    """The coverage along every ready gap's path, looked up in one call, is the point-by-point count of each."""
    det = GapDetector()
    grid = det.grid
    fixes = sorted(fixes, key=lambda r: (r[0], r[1]))
    vid = np.array([r[0] for r in fixes], np.int64)
    t = np.array([r[1] for r in fixes], np.int64) * grid.bucket_us + 1
    grid.add(vid, t, np.array([r[2][0] for r in fixes], float).reshape(-1), np.array([r[2][1] for r in fixes], float),
             np.array([r[3] for r in fixes], bool))  # fmt: skip
    grid.close(FINAL_WATERMARK, 0)
    counts = {(c, k): (n, nb) for c, k, n, nb in grid.counts.tolist()}
    paths = []
    for (lat0, lon0), a, (lat1, lon1), b, class_b in gaps:
        t0, t1 = min(a, b) * 1_000_000, max(a, b) * 1_000_000
        buckets = np.arange(t0 // grid.bucket_us + 1, t1 // grid.bucket_us, dtype=np.int64)
        paths.append((lat0, lon0, t0, lat1, lon1, t1, buckets, class_b))
    got = det._heard_on_paths(paths)
    cell_km = det.settings.cell_deg * 111.2
    want = [ref.heard_on_path(counts, p, grid.cell_deg, grid.n_lon, grid.bucket_us, cell_km) for p in paths]
    assert [g.tolist() for g in got] == want
    event(f"heard somewhere: {any(any(w) for w in want)}")


def test_coverage_counts_distinct_vessels_and_wraps_the_antimeridian() -> None:
    grid = CoverageGrid(0.2, int(H * 1e6))
    lat = np.array([20.0, 20.0, 20.0, 20.1, 20.0])
    lon = np.array([179.99, 179.99, -179.99, 179.95, 108.0])
    vid = np.array([0, 0, 1, 2, 3])  # vessel 0 twice: counted once
    grid.add(vid, np.zeros(5, np.int64), lat, lon, np.array([True, True, False, False, False]))
    assert grid.heard(20.0, 180.0, 0, class_b=False) == 0  # the bucket is not complete yet
    grid.close(int(H * 1e6), 0)
    assert grid.heard(20.0, 180.0, 0, class_b=False) == 3
    assert grid.heard(20.0, 180.0, 0, class_b=True) == 1
    assert grid.heard(20.0, 108.0, 0, class_b=False) == 1
    assert grid.heard(20.0, 108.0, 1, class_b=False) == 0


def test_a_point_on_a_cell_border_falls_in_the_cell_above_and_east() -> None:
    grid = CoverageGrid(0.25, 1)
    ci, cj = grid.cell(np.array([-90.0 + 0.25 * 400]), np.array([-180.0 + 0.25 * 10]))
    assert (ci[0], cj[0]) == (400, 10)
    _, wrapped = grid.cell(np.array([0.0]), np.array([180.0]))
    assert wrapped[0] == 0  # 180 E is 180 W


def scene(silent_h: float, neighbours_silent: bool = False, neighbours: int = 4, class_b: bool = False) -> pl.DataFrame:
    """A vessel reporting every minute for 10 h, silent for ``silent_h`` from hour 2, with neighbours ~10 km away
    that keep reporting unless ``neighbours_silent`` (a station outage)."""
    t = np.arange(0, 10 * 3600, 60.0)
    quiet = (t >= 2 * H) & (t < 2 * H + silent_h * H)
    parts = [positions(574000001, t[~quiet], np.full((~quiet).sum(), 20.2), np.full((~quiet).sum(), 108.3),
                       msg_type=18 if class_b else 1)]  # fmt: skip
    for k in range(neighbours):
        keep = ~quiet if neighbours_silent else np.ones(t.shape, bool)
        n = int(keep.sum())
        parts.append(positions(574000010 + k, t[keep], np.full(n, 20.25 + 0.01 * k), np.full(n, 108.35),
                               msg_type=18 if class_b and k % 2 else 1))  # fmt: skip
    table = pl.concat(parts).sort("t")
    return table.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


def run(table: pl.DataFrame, settings: GapSettings | None = None) -> pl.DataFrame:
    engine = Engine([GapDetector(settings)])
    engine.process(table, *empty_tables())
    engine.finish()
    return engine.alerts()


def test_a_silence_in_good_coverage_is_a_gap_with_its_evidence() -> None:
    alerts = run(scene(3.0))
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert (row["kind"], row["mmsi"], row["other_mmsi"]) == ("ais_gap", 574000001, None)
    assert row["reasons"][0].startswith("dark 3.0 h in good coverage (4 vessels heard nearby)")
    assert "reappeared 0 km away, 0.0 kn implied" in row["reasons"][1]
    assert (row["lat"], row["lon"]) == (20.2, 108.3)


def test_a_station_outage_is_not_a_gap() -> None:
    assert run(scene(3.0, neighbours_silent=True)).height == 0


def test_sparse_coverage_needs_a_longer_silence() -> None:
    assert run(scene(3.0, neighbours=0)).height == 0  # nobody heard: a satellite-only area
    one = GapSettings(full_gap_vessels=2.0)  # with 4 neighbours, 3 h is needed
    assert run(scene(2.5), one).height == 0
    assert run(scene(3.5), one).height == 1


def test_a_short_silence_is_not_a_gap() -> None:
    assert run(scene(1.5)).height == 0


def test_class_b_coverage_counts_class_b_neighbours_only() -> None:
    assert run(scene(3.0, class_b=True)).height == 1  # two class B neighbours heard
    assert run(scene(3.0, class_b=True), GapSettings(good_vessels=3.0)).height == 0


def test_a_vessel_still_dark_at_the_end_is_reported_only_when_asked() -> None:
    table = scene(9.0)
    assert run(table).height == 0
    alerts = run(table, GapSettings(report_open=True))
    assert alerts.height == 1
    assert "still dark at the end of the data" in alerts["reasons"][0][1]


def test_snapshot_and_restore_keep_the_state() -> None:
    table = scene(3.0)
    half = table.height // 2
    first = GapDetector()
    engine = Engine([first])
    engine.process(table[:half], *empty_tables())
    second = GapDetector()
    second.restore(first.snapshot())
    engine.detectors = [second]
    engine.process(table[half:], *empty_tables())
    engine.finish()
    assert engine.alerts().height == 1


def test_stream_equals_batch_on_a_simulated_scenario() -> None:
    sim = simulated()
    batch = chunked_alerts(sim, lambda: [GapDetector()], chunks=1)
    assert batch.height >= 1
    for seed in (1, 2):
        assert chunked_alerts(sim, lambda: [GapDetector()], chunks=23, seed=seed).equals(batch)


def test_a_step_longer_than_the_coverage_kept_judges_its_gaps_on_their_coverage() -> None:
    """A backtest's chunk may carry the watermark further than ``retain_h`` in one step: the coverage its silences
    are judged on stays until they are judged (it was forgotten first, and a 7-day log lost 4 gaps at 64 MiB)."""
    sim = simulated()
    short = GapSettings(retain_h=2.0)  # a step of this 6 h day cut in two spans 3 h
    small_steps = chunked_alerts(sim, lambda: [GapDetector(short)], chunks=97)
    assert small_steps.height >= 1
    for seed in (1, 2):
        assert chunked_alerts(sim, lambda: [GapDetector(short)], chunks=2, seed=seed).equals(small_steps)


def test_recall_on_a_simulated_scenario() -> None:
    sim = simulated()
    alerts = chunked_alerts(sim, lambda: [GapDetector()], chunks=1)
    labels = sim.labels.filter(pl.col("kind") == "ais_gap")
    slack = pl.duration(minutes=10)
    hits = labels.join(alerts.select("mmsi", pl.col("start").alias("a0"), pl.col("end").alias("a1")), on="mmsi")
    hits = hits.filter((pl.col("a0") <= pl.col("end") + slack) & (pl.col("a1") >= pl.col("start") - slack))
    assert labels.height >= 1
    assert hits["mmsi"].n_unique() == labels["mmsi"].n_unique()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4 * 1_800_000_000),
                          st.one_of(st.floats(-89, 89), st.just(math.nan)), st.floats(-200, 200), st.booleans()),
                max_size=40))  # fmt: skip
def test_coverage_rows_match_the_reference(rows: list[tuple[int, int, float, float, bool]]) -> None:
    from engine.detectors.gaps import coverage_rows

    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    grid = CoverageGrid(0.2, 1_800_000_000)
    cols = [np.array([r[k] for r in rows]) for k in range(5)]
    got = coverage_rows(cols[0].astype(np.int64), cols[1].astype(np.int64), cols[2].astype(np.float64),
                        cols[3].astype(np.float64), cols[4].astype(bool), grid.cell_deg, grid.n_lon,
                        grid.bucket_us)  # fmt: skip
    want = ref.coverage_rows(rows, grid.cell_deg, grid.n_lon, grid.bucket_us)
    assert list(zip(*(c.tolist() for c in got), strict=True)) == want


def gaps_of(table: pl.DataFrame, mmsi: int) -> pl.DataFrame:
    engine = Engine([GapDetector()])
    engine.process(table, *empty_tables())
    engine.finish()
    return engine.alerts().filter(pl.col("mmsi") == mmsi)


def test_vessels_heard_only_by_a_downed_station_are_not_dark() -> None:
    d = day(target_silent_h=0.0)  # the target and six other vessels heard only by A go silent with it for 2.5 h
    engine = Engine([GapDetector()])
    engine.process(d.table, *empty_tables())
    engine.finish()
    assert engine.outages().height == 1
    assert engine.alerts().height == 0
    # the same silence with A up all along (only the target silent) is a gap: the outage is what explains it
    assert gaps_of(day(down=None, target_silent_h=2.5).table, TARGET).height == 1


def test_a_silence_past_the_station_return_counts_from_the_return() -> None:
    d = day(target_silent_h=3.0)  # silent with A at 4 h, still silent 3 h after A is back at 6.5 h
    alerts = gaps_of(d.table, TARGET)
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert row["start"] == at(d.back_s)[0]  # counted from A's return, not from when it fell silent
    back = d.back_s / 3600
    assert row["reasons"][0].startswith(f"dark {d.down[1] + 3.0 - back:.1f} h in good coverage")
    assert "after station A came back" in row["reasons"][0]
    assert "station A heard 0 of its usual ~90 messages per 10 min" in row["reasons"][1]
    # the same vessel without the outage is dark for the whole 5.5 h
    plain = gaps_of(day(down=None, target_silent_h=5.5).table, TARGET)
    assert plain["reasons"][0][0].startswith("dark 5.5 h")


def test_a_silence_that_began_long_before_the_outage_is_not_explained_by_it() -> None:
    # the target vanished at 1 h (A still up for 3 h) and came back at 9.5 h: dark all along, outage or not
    d = day(target_silent_h=3.0)
    t = d.table
    early = t.filter(~((pl.col("mmsi") == TARGET) & (pl.col("t") >= at(3600.0)[0]) & (pl.col("t") < at(4 * H)[0])))
    alerts = gaps_of(early, TARGET)
    assert alerts.height == 1
    assert alerts["start"][0] < at(3600.0 + 120)[0]
    assert "came back" not in alerts["reasons"][0][0]


@pytest.mark.parametrize("seed", [4, 5])
def test_stream_equals_batch_with_an_outage(seed: int) -> None:
    d = day(target_silent_h=3.0)
    batch = chunked(d.table, lambda: [GapDetector()], 1, 0)
    assert batch.alerts().height == 1
    for chunks in (5, 61):
        assert chunked(d.table, lambda: [GapDetector()], chunks, seed).alerts().equals(batch.alerts())


# --- the vessel's own reception ------------------------------------------------------------------------------------
def kernel_heard_before(rows: list, gap_t0: list[int], slots: int, slot_us: int) -> list[tuple[int, int]]:
    from engine.detectors.gaps import heard_before

    cols = [np.array([r[k] for r in rows]) for k in range(4)]
    size = int(cols[0].max()) + 1 if rows else 0
    first_t, slot_at = np.full(size, -1, np.int64), np.full(size, -1, np.int64)
    slot_n = np.zeros((size, slots), np.int64)
    n, span = heard_before(cols[0].astype(np.int64), cols[1].astype(np.int64), cols[2].astype(np.float64),
                           cols[3].astype(np.float64), np.array(gap_t0, np.int64), first_t, slot_n, slot_at,
                           slot_us)  # fmt: skip
    return list(zip(n.tolist(), span.tolist(), strict=True))


@pytest.mark.parametrize(
    ("rows", "gap_t0"),
    [
        ([], []),
        ([(0, 10, 20.0, 108.0)], [5]),  # a silence before the first fix: nothing heard before it
        ([(0, 10, 20.0, 108.0), (0, 10, 20.0, 108.0), (0, 900, 20.0, 108.0)], [-1, -1, 10]),  # duplicates count
        ([(0, 10, 20.0, 108.0), (0, 300, math.nan, 108.0), (0, 900, 20.0, 108.0)], [-1, 10, 10]),  # NaN skipped
        (  # the oldest slot falls out of the window
            [(0, 0, 20.0, 108.0), (0, 150, 20.0, 108.0), (0, 700, 20.0, 108.0), (0, 5000, 20.0, 108.0)],
            [-1, -1, -1, 700],
        ),
        ([(0, 40, 20.0, 108.0), (1, 60, 20.0, 108.0), (1, 800, 20.0, 108.0)], [-1, -1, 60]),  # two vessels
    ],
)
def test_heard_before_matches_the_reference_on_edge_cases(rows: list, gap_t0: list[int]) -> None:
    assert kernel_heard_before(rows, gap_t0, 3, 100) == ref.heard_before(rows, gap_t0, 3, 100)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(fix, st.booleans()), max_size=60), st.integers(1, 6), st.integers(1, 400))
def test_heard_before_matches_the_reference_on_random_tracks(rows: list, slots: int, slot_us: int) -> None:
    rows = sorted(rows, key=lambda r: (r[0][0], r[0][1]))
    fixes = [r[0] for r in rows]
    last: dict[int, int] = {}
    gap_t0 = []
    for (vid, t, lat, _), flag in rows:  # a silence flagged after some earlier fix of the vessel, as the kernel gets
        gap_t0.append(last[vid] if flag and vid in last else -1)
        if not math.isnan(lat):
            last[vid] = t
    assert kernel_heard_before(fixes, gap_t0, slots, slot_us) == ref.heard_before(fixes, gap_t0, slots, slot_us)


def own_scene(every_s: float, class_b: bool, silent_h: float = 3.0, neighbours: int = 12) -> pl.DataFrame:
    """A vessel heard every ``every_s`` (one of its 30-s reports in ``every_s / 30``), silent ``silent_h`` from hour 3,
    among ``neighbours`` of its class heard every minute ~5 km away by the same station ``HP01`` throughout."""
    t = np.arange(0, 10 * H, 30.0)
    heard = np.arange(t.shape[0]) % max(1, round(every_s / 30.0)) == 0
    keep = heard & ((t < 3 * H) | (t >= 3 * H + silent_h * H))
    msg = 18 if class_b else 1
    parts = [positions(574000001, t[keep], np.full(keep.sum(), 20.2), np.full(keep.sum(), 108.3), msg_type=msg)]
    tn = np.arange(0, 10 * H, 60.0)
    for k in range(neighbours):
        n = tn.shape[0]
        parts.append(positions(574000100 + k, tn + k, np.full(n, 20.22 + 0.002 * k), np.full(n, 108.33),
                               msg_type=msg))  # fmt: skip
    table = pl.concat(parts).sort("t").with_columns(pl.lit("HP01").alias("source"))
    return table.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


def test_a_class_b_boat_at_the_edge_of_reception_silent_3_h_is_no_gap() -> None:
    # heard about every 30 min before and after (at the edge of its station's range): a 3 h silence is expected
    assert run(own_scene(30 * 60.0, class_b=True)).height == 0
    # heard every 5 min it still needs 10 h
    assert run(own_scene(300.0, class_b=True)).height == 0


def test_a_vessel_heard_every_few_seconds_going_silent_3_h_is_a_gap_with_its_reception() -> None:
    alerts = run(own_scene(30.0, class_b=False))
    assert alerts.height == 1
    reasons = alerts["reasons"][0]
    assert reasons[0].startswith("dark 3.0 h in good coverage (12 vessels heard nearby)")
    own = reasons[-1]
    assert own.startswith("heard every 30 s in the 30 min before it vanished and every 30 s in the 30 min after")
    assert own.endswith("a gap of 2.0 h is significant for it")


def test_the_own_reception_rule_scales_the_gap_it_needs() -> None:
    # heard every 2 min: 4 h needed, so 3 h is no gap and 5 h is
    assert run(own_scene(120.0, class_b=False)).height == 0
    assert run(own_scene(120.0, class_b=False, silent_h=5.0)).height == 1
    # the same boat judged as if heard every 5 s (heard_every_s = 1 h): the edge boat's 3 h would be a gap
    assert run(own_scene(120.0, class_b=False), GapSettings(heard_every_s=3600.0)).height == 1


@pytest.mark.parametrize("seed", [3, 8])
def test_stream_equals_batch_with_the_own_reception(seed: int) -> None:
    for every, silent in ((30.0, 3.0), (120.0, 5.0), (120.0, 3.0)):
        table = own_scene(every, class_b=False, silent_h=silent)
        batch = chunked(table, lambda: [GapDetector()], 1, 0).alerts()
        for chunks in (7, 97):
            assert chunked(table, lambda: [GapDetector()], chunks, seed).alerts().equals(batch)


def test_snapshot_and_restore_keep_the_own_reception() -> None:
    table = own_scene(120.0, class_b=False, silent_h=5.0)
    for cut in (table.height // 3, 2 * table.height // 3, table.height - 20):  # before, in and after the silence
        first = GapDetector()
        engine = Engine([first])
        engine.process(table[:cut], *empty_tables())
        second = GapDetector()
        second.restore(first.snapshot())
        engine.detectors = [second]
        engine.process(table[cut:], *empty_tables())
        engine.finish()
        assert engine.alerts().height == 1


def test_an_older_snapshot_without_the_own_reception_still_loads() -> None:
    table = own_scene(30.0, class_b=False)
    cut = table.height // 2
    first = GapDetector()
    engine = Engine([first])
    engine.process(table[:cut], *empty_tables())
    old = {k: v for k, v in first.snapshot().items() if k not in ("waiting_own", "first_t", "slot_n", "slot_at")}
    second = GapDetector()
    second.restore(old)
    engine.detectors = [second]
    engine.process(table[cut:], *empty_tables())
    engine.finish()
    assert engine.alerts().height == 1


# --- coverage along the vessel's likely path ----------------------------------------------------------------------
def path_scene(neighbour_lons: np.ndarray, lon0: float, lon1: float, silent_h: float = 6.0) -> pl.DataFrame:
    """A vessel heard every 30 s at (20.1, ``lon0``) for 3 h, silent ``silent_h``, then heard every 30 s at
    (20.1, ``lon1``) for 2 h; neighbours heard every minute all day at (20.12, each of ``neighbour_lons``) and
    nobody anywhere else."""
    t = np.arange(0, 3 * H, 30.0)
    back = np.arange(3 * H + silent_h * H, 5 * H + silent_h * H, 30.0)
    parts = [positions(574000001, np.concatenate([t, back]), np.full(t.shape[0] + back.shape[0], 20.1),
                       np.concatenate([np.full(t.shape[0], lon0), np.full(back.shape[0], lon1)]))]  # fmt: skip
    tn = np.arange(0, 5 * H + silent_h * H, 60.0)
    for k, lon in enumerate(neighbour_lons.tolist()):
        n = tn.shape[0]
        parts.append(positions(574000100 + k, tn + k, np.full(n, 20.12), np.full(n, lon)))
    table = pl.concat(parts).sort("t").with_columns(pl.lit("HP01").alias("source"))
    return table.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


def test_a_vessel_dark_among_neighbours_that_reappears_far_away_where_nobody_is_heard_is_a_gap() -> None:
    # heard every 30 s among 12 vessels spread over the first 50 km of its way east; reappears 90 km away (0.86 deg of
    # longitude at 20 N) where nobody is heard: both ends are never well covered at once, its way was for hours
    table = path_scene(np.linspace(108.0, 108.45, 12), 108.02, 108.88)
    alerts = run(table)
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    first = row["reasons"][0]
    assert first.startswith("dark 6.0 h, unheard ")
    assert "on its way while in good coverage" in first and "heard around its path)" in first
    unheard = float(first.split("unheard ")[1].split(" h")[0])
    assert 2.0 <= unheard < 6.0
    assert "reappeared 90 km away" in row["reasons"][1]
    vanished = table.filter(pl.col("mmsi") == 574000001)["t"][int(3 * H / 30) - 1]  # its last fix before the silence
    assert (row["lat"], row["lon"], row["start"]) == (20.1, 108.02, vanished)


def test_a_vessel_that_vanishes_at_the_edge_of_coverage_sailing_into_an_empty_area_is_no_gap() -> None:
    # the neighbours are all west of where it vanished, half of them in its cell: it vanished at the west edge of that
    # 0.2 deg cell, so the 3 x 3 cells around its way hold them until it is 44 km east (2.2 h at 10 kn); it sails east
    # at 10 kn into an empty area and is heard again 111 km away
    edge = np.concatenate([np.linspace(107.95, 108.15, 6), np.linspace(108.2005, 108.204, 6)])
    table = path_scene(edge, 108.205, 109.27)
    assert run(table).height == 0
    # the same silence with the neighbours all along its way is a gap
    assert run(path_scene(np.linspace(107.9, 109.3, 40), 108.205, 109.27)).height == 1


def test_stream_equals_batch_along_the_path() -> None:
    table = path_scene(np.linspace(108.0, 108.45, 12), 108.02, 108.88)
    batch = chunked(table, lambda: [GapDetector()], 1, 0).alerts()
    assert batch.height == 1
    for chunks, seed in ((7, 1), (61, 2)):
        assert chunked(table, lambda: [GapDetector()], chunks, seed).alerts().equals(batch)


def test_path_points_go_at_constant_speed_the_short_way_across_the_antimeridian() -> None:
    from engine.detectors.gaps import path_points

    lat, lon = path_points(10.0, 179.0, 0, 20.0, -179.0, 100, np.array([-50, 0, 25, 50, 100, 150]))
    assert lat.tolist() == [10.0, 10.0, 12.5, 15.0, 20.0, 20.0]  # before and after the silence: its ends
    assert np.allclose(lon, [179.0, 179.0, 179.5, -180.0, -179.0, -179.0])


def test_the_good_stretch_starts_where_the_vessel_vanished() -> None:
    from engine.detectors.gaps import good_stretch

    good = np.array([True, True, False, True, True, False, False, False, True])
    assert good_stretch(good, 0.8) == 5  # 4 of the first 5; what comes after it left good coverage does not count
    assert good_stretch(good, 0.5) == 9
    assert good_stretch(np.array([False, True, True, True, True]), 0.8) == 5
    assert good_stretch(np.array([False, False, True]), 0.8) == 0  # vanished where coverage was poor
