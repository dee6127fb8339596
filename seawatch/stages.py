"""What a worker runs for ``seawatch backtest DATASET/`` (seawatch/cluster_job.py plans it): one stage of the
partitioning of :mod:`engine.partitions` over a history dataset, and the warm-up of a worker process.

Kept apart from the client's modules (the backtest's scoring, report and inputs) so that a worker process imports
only what a stage needs: every worker process of a cluster pays its imports once, on a core it shares.
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from engine.partitions import split_detectors
from feeds.files import InputError
from seawatch.history import Dataset, Filters
from seawatch.inputs import readers_columns


@dataclass
class StageResult:
    """What one stage made: its alerts, and the features (vessel partitions) or the outages (fleet stage)."""

    name: str
    alerts: pl.DataFrame
    counts: Counter[str]
    positions: int = 0
    vessels: pl.DataFrame | None = None
    days: pl.DataFrame | None = None
    outages: pl.DataFrame | None = None
    seconds: float = 0.0
    peak_rss: int = 0  # bytes: the process's peak resident memory when the stage ended


@cache
def context(region: str, examples: bool, zones: str | None) -> tuple[Any, Any]:
    """The region pack and the land index, loaded once per process (a worker runs many stages)."""
    from engine.geo.land import LandIndex
    from engine.geo.regions import engine_pack

    return engine_pack(region, examples=examples, zones=Path(zones) if zones else None), LandIndex.load()


def run_stage(url: str, which: str, buckets: tuple[int, ...] | None, filters: Filters, region: str,
              examples: bool, zones: str | None, name: str,
              fleet: tuple[str, ...] | None = None) -> StageResult:  # fmt: skip
    """One stage over the dataset at ``url``: ``which`` is "vessels" (per-vessel detectors and features of
    ``buckets``), "fleet" (the fleet detectors named in ``fleet``, default all four, over everything) or "all"
    (every detector and the features: the single-process backtest of a dataset). A fleet stage with the gap
    detector gives the receiving stations' outages."""
    from engine.detectors import default_detectors
    from engine.runner import COLUMNS as ENGINE_COLUMNS
    from engine.runner import Engine
    from models.features import COLUMNS as FEATURE_COLUMNS
    from models.features import FeatureAccumulator

    started = time.perf_counter()
    try:
        pack, land = context(region, examples, zones)
        every = default_detectors(pack, land)
        per_vessel, fleet_detectors = split_detectors(every)  # each in the order of default_detectors
        if fleet is not None:
            fleet_detectors = [d for d in fleet_detectors if d.name in fleet]
        engine = Engine({"vessels": per_vessel, "fleet": fleet_detectors}.get(which, every))
        features = FeatureAccumulator(land) if which != "fleet" else None
        positions = 0
        columns = readers_columns(ENGINE_COLUMNS, FEATURE_COLUMNS)  # what the raw backtest decodes
        for step in Dataset(url).steps(set(buckets) if buckets is not None else None, filters, columns):
            engine.process(*step.kept())
            if features is not None:
                features.add(step.positions.drop("kept"), step.statics.drop("kept"))
            positions += step.positions.height
        engine.finish()
    except (InputError, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{name} of {url}: {exc}") from None
    return StageResult(
        name, engine.alerts(), engine.counts, positions,
        vessels=features.vessels() if features is not None else None,
        days=features.days() if features is not None else None,
        outages=engine.outages() if any(hasattr(d, "outages") for d in engine.detectors) else None,
        seconds=time.perf_counter() - started,
        peak_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )  # fmt: skip


def warm() -> None:
    """Load what every stage needs (the default region's pack, the land index, every detector's kernels)."""
    from engine.detectors import default_detectors

    default_detectors(*context("gulf-of-tonkin", False, None))
