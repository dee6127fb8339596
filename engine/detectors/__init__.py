"""Behaviour detectors: one module a family, each a :class:`engine.runner.Detector`.

:func:`default_detectors` gives every alert kind of DESIGN.md, with the defaults of its settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.geo.land import LandIndex
    from engine.geo.regions import RegionPack
    from engine.runner import Detector


def default_detectors(pack: RegionPack, land: LandIndex) -> list[Detector]:
    """Every detector, configured from a region pack (ports, anchorages, zones, boundary) and the land index."""
    from engine.detectors.border import BorderCrossing
    from engine.detectors.distress import DistressDetector
    from engine.detectors.draught import DraughtDetector
    from engine.detectors.encounters import EncounterDetector
    from engine.detectors.gaps import GapDetector
    from engine.detectors.geography import LandPosition, ZoneEntry
    from engine.detectors.handover import HandoverDetector
    from engine.detectors.identity import IdentityDetector
    from engine.detectors.motion import Loitering, Spoofing
    from engine.detectors.twin_tracks import TwinTrackDetector

    return [
        Spoofing(),
        LandPosition(land),
        Loitering(land, pack.places),
        ZoneEntry(pack),
        BorderCrossing(pack),
        GapDetector(),
        EncounterDetector(pack.places),
        IdentityDetector(),
        HandoverDetector(places=pack.places),
        TwinTrackDetector(),
        DraughtDetector(places=pack.places),
        DistressDetector(),
    ]
