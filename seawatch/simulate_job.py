"""``seawatch simulate``: a labelled traffic scenario in a region -> ``feed.nmea``, ``labels.csv``, ``vessels.csv``,
``zones.geojson`` and ``outages.csv`` in one folder (see :mod:`seawatch.simulator.scenario`)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import KINDS, simulate


@dataclass
class SimulateSummary:
    cfg: SimConfig
    paths: dict[str, Path]
    seconds: float
    lines: int
    size: int
    types: Counter[int] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    vessels: Counter[str] = field(default_factory=Counter)

    def render(self) -> str:
        cfg = self.cfg
        out = [
            f"simulated {cfg.hours:g} h in {cfg.region} from {cfg.start:%Y-%m-%d %H:%M} UTC, seed {cfg.seed}: "
            f"{self.vessels['background']} background and {self.vessels['injected']} injected vessels, "
            f"in {self.seconds:.1f} s",
            f"feed: {self.lines:,} lines ({self.size / 1e6:,.1f} MB), messages by type: "
            + ", ".join(f"{t}: {n:,}" for t, n in sorted(self.types.items())),
            "labels: " + ", ".join(f"{k} {self.labels[k]}" for k in KINDS),
            "written:",
        ]
        out.extend(f"  {p}" for p in self.paths.values())
        return "\n".join(out) + "\n"


def run_simulate(cfg: SimConfig, out: Path) -> SimulateSummary:
    """Simulate ``cfg`` and write the scenario into ``out`` (created); raises PackError for a bad region."""
    started = time.perf_counter()
    scenario = simulate(cfg)
    paths = scenario.write(out)
    roles = Counter("injected" if v.vessel.injected else "background" for v in scenario.voyages)
    return SimulateSummary(
        cfg=cfg,
        paths=paths,
        seconds=time.perf_counter() - started,
        lines=scenario.feed.count(b"\n"),
        size=len(scenario.feed),
        types=scenario.types,
        labels=Counter(lb.kind for lb in scenario.labels),
        vessels=roles,
    )
