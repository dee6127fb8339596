"""Simulated scenarios shared by the simulator's tests: each is simulated and decoded once per session."""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl
import pytest

from engine.decode import Decoded, decode_bytes
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import Scenario, simulate


@dataclass
class Run:
    scenario: Scenario
    decoded: Decoded
    seconds: float  # simulating, without decoding

    @property
    def labels(self) -> pl.DataFrame:
        rows = [
            {
                "kind": lb.kind,
                "mmsi": lb.mmsi,
                "other_mmsi": lb.other_mmsi,
                "start": lb.start,
                "end": lb.end,
                "lat": lb.lat,
                "lon": lb.lon,
            }
            for lb in self.scenario.labels
        ]
        return pl.DataFrame(rows, schema_overrides={"other_mmsi": pl.Int64})

    def seconds_of(self, column: str = "t") -> pl.Expr:
        """Scenario seconds of a timestamp column of a decoded table."""
        epoch = self.scenario.cfg.epoch
        return pl.col(column).dt.epoch("us").cast(pl.Float64) / 1e6 - epoch


def run(cfg: SimConfig) -> Run:
    started = time.perf_counter()
    scenario = simulate(cfg)
    seconds = time.perf_counter() - started
    return Run(scenario, decode_bytes(scenario.feed), seconds)


@pytest.fixture(scope="session")
def day() -> Run:
    """A full day of the default fleet: 300 vessels, every alert kind three times."""
    return run(SimConfig(hours=24, vessels=300, seed=3))


@pytest.fixture(scope="session")
def short() -> Run:
    """Six hours of a small fleet: every alert kind once."""
    return run(SimConfig(hours=6, vessels=60, seed=11))
