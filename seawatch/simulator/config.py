"""Settings of a simulated scenario, each with the practice it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class SimConfig:
    hours: float = 24.0
    seed: int = 0
    region: str = "gulf-of-tonkin"  # a built-in pack name or a pack file
    vessels: int = 300  # background and injected vessels together
    start: datetime = datetime(2024, 6, 1, tzinfo=UTC)
    # Class A sends every 2-10 s under way (ITU-R M.1371 Table 1); feeds that aggregate many stations usually
    # pass on fewer. Positions are thinned so that no vessel reports more often than this.
    min_interval_s: float = 30.0
    static_interval_s: float = 360.0  # type 5 / type 24: every 6 min (ITU-R M.1371)
    injections_per_day: float = 3.0  # each alert kind of DESIGN.md this often per day (at least once)
    # reception: probability that a station hears a report at short range (messages also collide and fade)
    station_p: float = 0.92
    class_b_range: float = 0.7  # class B transmits 2 W (5 W SOTDMA) against 12.5 W: shorter range
    outages_per_station_day: float = 0.35
    outage_hours: tuple[float, float] = (1.0, 4.0)
    # satellite AIS: a pass every ~100 min (LEO orbit period), a few minutes of view, heavy message collisions
    satellite_period_s: float = 100 * 60.0
    satellite_view_s: float = 12 * 60.0
    satellite_p: float = 0.35

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError(f"hours must be above 0, got {self.hours}")
        if self.vessels < 1:
            raise ValueError(f"vessels must be at least 1, got {self.vessels}")
        if self.start.tzinfo is None:
            raise ValueError("start must be a timezone-aware datetime (UTC)")

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    @property
    def epoch(self) -> float:
        """Unix time of the scenario's start."""
        return self.start.timestamp()
