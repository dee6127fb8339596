"""identity_change by a change of MMSI at sea (engine/detectors/handover.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.detectors.handover import HandoverDetector
from engine.detectors.identity import IdentityDetector
from seawatch.simulator.scenario import SimConfig, simulate
from tests.engine.detectors.scenario_run import label_frame, random_cuts, recall, run


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return simulate(SimConfig(hours=8, vessels=80, seed=11, injections_per_day=9))


@pytest.fixture(scope="module")
def whole(scenario) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return run(scenario.feed, lambda: [HandoverDetector()])


def _evidenced(scenario) -> list:  # type: ignore[no-untyped-def]
    """The identity_change labels whose change the feed shows: for a new MMSI, the old MMSI heard in the hour
    before the change and the new one in the hour after; otherwise the vessel's static reports heard before and
    after it (a change that no station heard leaves nothing to find)."""
    from engine.decode import decode_bytes

    d = decode_bytes(scenario.feed, details=False)
    epoch = scenario.cfg.epoch

    def heard(table: pl.DataFrame, mmsi: int, a: float, b: float) -> bool:
        s = table["t"].dt.epoch("us").cast(pl.Float64) / 1e6 - epoch
        return table.filter((pl.col("mmsi") == mmsi) & s.is_between(a, b)).height > 0

    out = []
    for lb in scenario.labels:
        if lb.kind != "identity_change":
            continue
        if lb.other_mmsi is not None:
            ok = heard(d.positions, lb.mmsi, lb.start - 3600, lb.start) and heard(
                d.positions, lb.other_mmsi, lb.start, lb.start + 3600
            )
        else:
            ok = heard(d.statics, lb.mmsi, 0, lb.start) and heard(d.statics, lb.mmsi, lb.start, scenario.cfg.seconds)
        if ok:
            out.append(lb)
    return out


def test_mmsi_change_is_found(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    changes = _evidenced(scenario)
    swaps = [lb for lb in changes if lb.other_mmsi is not None]
    assert swaps, "the scenario must hold a change of MMSI that stations heard"
    found = {(a, b) for a, b in whole.select("mmsi", "other_mmsi").rows()}
    missed = [(lb.mmsi, lb.other_mmsi) for lb in swaps if (lb.mmsi, lb.other_mmsi) not in found]
    assert not missed
    assert all("MMSI changed from" in r[0] for r in whole["reasons"].to_list())
    # with the identity detector, every identity change that the feed shows is found
    both = run(scenario.feed, lambda: [IdentityDetector(), HandoverDetector()])
    got, unfound = recall(both, label_frame(changes, scenario.cfg.epoch), "identity_change")
    assert got == 1.0, unfound


def test_no_handover_between_background_vessels(scenario, whole: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    injected = {lb.mmsi for lb in scenario.labels} | {lb.other_mmsi for lb in scenario.labels}
    # the aim is at most 1 false alert per 1000 vessel-hours; this scenario is 80 vessels x 8 h = 640 vessel-hours
    assert whole.filter(~pl.col("mmsi").is_in(list(injected))).height <= 1


@pytest.mark.parametrize("seed", [7, 8])
def test_stream_equals_batch(scenario, whole: pl.DataFrame, seed: int) -> None:  # type: ignore[no-untyped-def]
    cut = run(scenario.feed, lambda: [HandoverDetector()], random_cuts(len(scenario.feed), seed, 200))
    assert whole.height > 0
    assert cut.equals(whole)


def test_snapshot_restore_roundtrip(scenario) -> None:  # type: ignore[no-untyped-def]
    from engine.decode import decode_bytes
    from engine.runner import Engine

    d = decode_bytes(scenario.feed, details=False)
    det = HandoverDetector()
    Engine([det]).process(d.positions, d.statics, d.events)
    again = HandoverDetector()
    again.restore(det.snapshot())
    a, b = det.snapshot(), again.snapshot()
    assert all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


# --- the same hull or two ships: made-up tracks with static reports ------------------------------------------------
SEA = (19.6, 107.4)  # open sea in the Gulf of Tonkin, far from any port


def _statics(mmsi: int, t_s: float, ship_type: int, length: int, beam: int) -> pl.DataFrame:
    """One type 5 report: ``length`` m x ``beam`` m, the antenna amidships (schema of the decoder's Statics)."""
    from engine.decode import decode_bytes
    from tests.engine.detectors.tracks import T0

    schema = decode_bytes(b"", details=False).statics.schema
    row = {"mmsi": mmsi, "t": pl.Series([int((T0 + t_s) * 1e6)]).cast(pl.Datetime("us", "UTC"))[0], "msg_type": 5,
           "part": -1, "ship_type": ship_type, "to_bow": length - length // 2, "to_stern": length // 2,
           "to_port": beam // 2, "to_starboard": beam - beam // 2, "seq": 0}  # fmt: skip
    return pl.DataFrame({name: [row.get(name)] for name in schema}, schema=schema)


def _run_with_dimensions(monkeypatch: pytest.MonkeyPatch, positions: list[pl.DataFrame],
                         statics: list[pl.DataFrame]) -> pl.DataFrame:  # fmt: skip
    """The handover detector over made-up tables, their static reports carrying the type 5/24 dimensions (the
    runner hands them to detectors: engine.fixes.DIMENSIONS)."""
    import engine.runner as runner
    from engine.decode import decode_bytes

    d = decode_bytes(b"", details=False)
    # arrival in time order across both tables (a static report after the positions of hours later would be late)
    times = pl.concat([pl.concat(positions).select("t"), pl.concat(statics).select("t")])["t"]
    rank = times.rank("ordinal").cast(pl.Int64).to_numpy() - 1
    n_pos = sum(p.height for p in positions)
    pos = pl.concat(positions).with_columns(seq=pl.Series(rank[:n_pos]))
    sta = pl.concat(statics).with_columns(seq=pl.Series(rank[n_pos:]))
    engine = runner.Engine([HandoverDetector()])
    engine.process(pos.select(d.positions.columns), sta.select(d.statics.columns), d.events)
    engine.finish()
    return engine.alerts()


def _swap(course_after: float = 90.0) -> list[pl.DataFrame]:
    """412000050 sails east at 10 kn for 3 h, goes silent; 412000051 appears 1 min on, where it would be, and sails
    on (at ``course_after``) for 3 h."""
    from tests.engine.detectors.tracks import line, track

    t0 = np.arange(0, 3 * 3600, 60.0)
    lat0, lon0 = line(t0, SEA[0], SEA[1], 10.0, 90.0)
    t1 = np.arange(0, 3 * 3600, 60.0)
    start = line(np.array([3 * 3600.0]), SEA[0], SEA[1], 10.0, 90.0)
    lat1, lon1 = line(t1, float(start[0][0]), float(start[1][0]), 10.0, course_after)
    a, b = track(412000050, t0, lat0, lon0, 10.0), track(412000051, t1 + 3 * 3600, lat1, lon1, 10.0)
    return [a.with_columns(pl.lit(90.0).alias("cog")), b.with_columns(pl.lit(course_after).alias("cog"))]


def test_a_tanker_and_a_fishing_boat_are_two_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    got = _run_with_dimensions(monkeypatch, _swap(), [_statics(412000050, 60, 80, 180, 28),
                                                      _statics(412000051, 3 * 3600 + 120, 30, 30, 6)])  # fmt: skip
    assert got.height == 0


def test_the_same_hull_under_a_new_mmsi_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    got = _run_with_dimensions(monkeypatch, _swap(), [_statics(412000050, 60, 80, 182, 28),
                                                      _statics(412000051, 3 * 3600 + 120, 84, 182, 28)])  # fmt: skip
    assert got.select("mmsi", "other_mmsi").rows() == [(412000050, 412000051)]
    assert "same hull: 182 m x 28 m, tanker" in got["reasons"][0]
    assert got["score"][0] == HandoverDetector().settings.score_same_hull


def test_dimensions_apart_are_two_ships_of_one_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tankers on one track: the kind agrees, the length does not (180 m and 60 m)."""
    got = _run_with_dimensions(monkeypatch, _swap(), [_statics(412000050, 60, 80, 180, 28),
                                                      _statics(412000051, 3 * 3600 + 120, 80, 60, 10)])  # fmt: skip
    assert got.height == 0


def test_without_the_hull_the_track_must_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two fishing boats of unknown size: one going on east is one vessel; one heading off north-west is not."""
    fishing = [_statics(412000050, 60, 30, 0, 0), _statics(412000051, 3 * 3600 + 120, 30, 0, 0)]
    got = _run_with_dimensions(monkeypatch, _swap(), fishing)
    assert got.height == 1 and "same kind of ship: fishing" in got["reasons"][0][1]
    assert got["score"][0] == HandoverDetector().settings.score
    assert _run_with_dimensions(monkeypatch, _swap(course_after=-10.0), fishing).height == 0
