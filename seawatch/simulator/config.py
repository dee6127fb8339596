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
    # fading: the chance of hearing falls as (d / R)^fade_exponent towards the radio horizon R (2: free-space
    # power falls with d^2, so weak reports are lost well inside the horizon, not only at its edge)
    fade_exponent: float = 2.0
    class_b_range: float = 0.7  # class B transmits 2 W (5 W SOTDMA) against 12.5 W: shorter range
    # class B (CSTDMA) gives up a report when it finds no free slot: about 30 % are never heard in busy waters
    # (IALA guideline 1082; Class B studies report 20-40 % loss where class A traffic is dense)
    class_b_loss: float = 0.3
    outages_per_station_day: float = 0.35
    outage_hours: tuple[float, float] = (1.0, 6.0)  # power, link or receiver faults: an hour to half a day's shift
    # satellite AIS: a pass every ~100 min (LEO orbit period), a few minutes of view, heavy message collisions
    satellite_period_s: float = 100 * 60.0
    satellite_view_s: float = 12 * 60.0
    satellite_p: float = 0.35
    # hard negatives of the real sea, all background (no labels: none of them should alert)
    anchorage_crowds: int = 3  # crowds of ships at anchor close together at the pack's largest anchorages
    crowd_ships: tuple[int, int] = (6, 10)  # ships in a crowd
    bunkerings: int = 4  # bunker barges alongside a ship at anchor or at its berth, 30-100 m apart for 1-3 h
    pilot_boats: int = 2  # pilot boats (type 50) meeting ships at the pilot boarding area
    pair_trawlers: int = 3  # pairs of fishing boats towing one net, 100-300 m apart at 2.5-4.5 kn for hours
    night_fleets: int = 2  # fishing fleets drifting together at night (light fishing), 150-600 m apart
    night_fleet_boats: tuple[int, int] = (4, 6)
    ferry_sea_stop_p: float = 0.3  # share of ferry trips with a brief stop at sea (traffic, a transfer)
    sart_tests_per_day: float = 2.0  # AIS-SART self-tests aboard ships (ITU-R M.1371 test mode)
    base_station_interval_s: float = 10.0  # shore base stations' type 4 (M.1371: every 10 s; 0 turns them off)
    aids_to_navigation: int = 10  # type 21 AtoN on the fairways' centre lines (safe water marks)
    aton_interval_s: float = 180.0  # AtoN report every 3 min (ITU-R M.1371, IALA A-126)
    hard_share: float = 0.4  # the hard negatives take at most this share of the background vessels

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError(f"hours must be above 0, got {self.hours}")
        if self.vessels < 1:
            raise ValueError(f"vessels must be at least 1, got {self.vessels}")
        if not 0.0 <= self.class_b_loss < 1.0:
            raise ValueError(f"class_b_loss must be in [0, 1), got {self.class_b_loss}")
        if self.start.tzinfo is None:
            raise ValueError("start must be a timezone-aware datetime (UTC)")

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    @property
    def epoch(self) -> float:
        """Unix time of the scenario's start."""
        return self.start.timestamp()
