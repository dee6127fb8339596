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
