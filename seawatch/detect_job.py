"""``seawatch detect``: NMEA logs or CSV archives -> every detector -> ``DIR/alerts.parquet`` and a summary.

Inputs stream chunk by chunk through the engine (the same kernels and the same results as a live stream), so
memory follows the chunk size and the fleet, not the input. This is the engine's batch run; the backtest
(issue 5) adds scoring and the report on top of it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.alerts import ALERT_KINDS
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import engine_pack
from engine.runner import COLUMNS as ENGINE_COLUMNS
from engine.runner import Engine
from feeds.files import CHUNK_BYTES, InputError
from seawatch.decode_job import progress_bar
from seawatch.inputs import STALE, chunks, classify, readers_columns

TOP = 8  # alerts shown with their reasons in the summary


@dataclass
class DetectSummary:
    out: Path
    positions: int = 0
    seconds: float = 0.0
    engine: Counter[str] = field(default_factory=Counter)
    alerts: pl.DataFrame = field(default_factory=pl.DataFrame)

    def render(self) -> str:
        lines = [
            f"{self.positions:,} positions through every detector in {self.seconds:.1f} s; "
            f"{self.alerts.height:,} alerts",
        ]
        skipped = {k: v for k, v in self.engine.items() if v}
        if skipped:
            lines.append("rows set aside: " + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items())))
        counts = dict(self.alerts.group_by("kind").len().iter_rows()) if self.alerts.height else {}
        lines.append("alerts by kind:")
        lines.extend(f"  {kind:<18} {counts.get(kind, 0):>6,}" for kind in ALERT_KINDS)
        if self.alerts.height:
            lines.append(f"strongest {min(TOP, self.alerts.height)}:")
            for row in self.alerts.sort("score", descending=True).head(TOP).iter_rows(named=True):
                other = f" with {row['other_mmsi']}" if row["other_mmsi"] is not None else ""
                when = f"{row['start']:%Y-%m-%d %H:%M}"
                lines.append(f"  [{row['score']:3.0f}] {row['kind']} {row['mmsi']}{other} at {when}")
                lines.extend(f"        {reason}" for reason in row["reasons"])
        lines.append(f"written: {self.out / 'alerts.parquet'}")
        return "\n".join(lines) + "\n"


def run_detect(inputs: list[Path], out: Path, region: str = "gulf-of-tonkin", progress: bool | None = None,
               chunk_bytes: int = CHUNK_BYTES, *, zones: Path | None = None,
               examples: bool = False) -> DetectSummary:  # fmt: skip
    """Run every detector over ``inputs`` (NMEA logs, NOAA/DMA CSV archives, positions.parquet) and write the
    alerts; zones are the user's (``zones``) and, with ``examples``, the region pack's examples too."""
    sources, _ = classify(list(inputs), need_times=False)  # logs without times: their rows count as no_time
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    pack = engine_pack(region, examples=examples, zones=zones)
    engine = Engine(default_detectors(pack, LandIndex.load()))
    summary = DetectSummary(out=out)
    started = time.perf_counter()
    with progress_bar(sum(s.path.stat().st_size for s in sources), progress, desc="detect") as bar:
        stale = 0
        for chunk in chunks(sources, chunk_bytes, readers_columns(ENGINE_COLUMNS)):
            engine.process(chunk.positions, chunk.statics, chunk.events)
            summary.positions += chunk.positions.height
            stale += chunk.stale
            bar.update(chunk.nbytes)
    engine.finish()
    summary.seconds = time.perf_counter() - started
    summary.engine = engine.counts + Counter({STALE: stale})
    summary.alerts = engine.alerts()
    summary.alerts.write_parquet(out / "alerts.parquet")
    return summary
