"""The identity, twin-track, draught and distress detectors on a real NOAA MarineCadastre day sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.detectors.distress import DistressDetector
from engine.detectors.draught import DraughtDetector
from engine.detectors.handover import HandoverDetector
from engine.detectors.identity import IdentityDetector
from engine.detectors.twin_tracks import TwinTrackDetector
from engine.geo.regions import load_pack
from engine.runner import Engine
from tests.engine.detectors.noaa import noaa_tables

SAMPLE = Path(__file__).resolve().parents[4] / "shared/data/csv/noaa_marinecadastre_20220103_sample.csv"


@pytest.fixture(scope="module")
def alerts() -> pl.DataFrame:
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} is not here")
    positions, statics, events = noaa_tables(SAMPLE)
    no_places = load_pack("gulf-of-tonkin").places.take([])  # US waters: the pack has no port there
    detectors = [IdentityDetector(), TwinTrackDetector(), DraughtDetector(places=no_places), DistressDetector()]
    engine = Engine([*detectors, HandoverDetector(places=no_places)])
    engine.process(positions, statics, events)
    engine.finish()
    assert engine.counts["late"] == 0
    return engine.alerts()


def test_every_alert_is_explained(alerts: pl.DataFrame) -> None:
    assert alerts.height > 0
    assert (alerts["reasons"].list.len() > 0).all()
    for kind, reasons in zip(alerts["kind"].to_list(), alerts["reasons"].to_list(), strict=True):
        text = " ".join(reasons)
        expected = {
            "invalid_identity": "MMSI",
            "distress": "reports over",
            "draught_change": "draught",
            "identity_change": "changed from",
            "identity_conflict": "two",
        }[kind]
        assert expected in text, (kind, reasons)


def test_what_fires_on_a_real_day(alerts: pl.DataFrame) -> None:
    counts = dict(alerts.group_by("kind").len().iter_rows())
    # invalid MMSIs are common in US class B traffic; each is a real malformation or default number
    assert counts.get("invalid_identity", 0) >= 10
    invalid = alerts.filter(pl.col("kind") == "invalid_identity")
    assert invalid["mmsi"].is_in([123456789, 12345678, 999999999, 3669881]).sum() >= 1
    # a MOB beacon (972) and vessels reporting aground / not under command are in the sample
    distress = alerts.filter(pl.col("kind") == "distress")
    assert ((distress["mmsi"] // 1_000_000) == 972).any()
