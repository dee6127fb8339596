"""The settings of anchorage discovery (:mod:`engine.geo.anchorages`), each with its source. Standard library only,
so the command line can show the defaults without loading the engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnchorageSettings:
    cell_km: float = 0.5  # GFW: S2 level-14 cells, "roughly 0.5 kilometer on a side"
    stopped_knots: float = 0.5  # GFW anchorage_cfg.yaml stopped_end_speed_knots
    drift_km: float = 0.5  # GFW stationary_period_max_distance_km
    min_hours: float = 12.0  # GFW stationary_period_min_duration_minutes: 720
    max_silence_hours: float = 24.0  # GFW gpsdio-segment: a break longer than 24 h starts a new track
    min_vessels: int = 20  # GFW min_unique_vessels_for_anchorage

    def __post_init__(self) -> None:
        positive = ("cell_km", "stopped_knots", "drift_km", "max_silence_hours")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', '-')} must be above 0, got {getattr(self, name)}")
        if not self.min_hours >= 0:
            raise ValueError(f"min-hours must be 0 or more, got {self.min_hours}")
        if self.min_vessels < 1:
            raise ValueError(f"min-vessels must be 1 or more, got {self.min_vessels}")
