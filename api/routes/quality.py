"""Triage quality: how often analysts agreed with each detector, per kind, zone and station, and the raised bars
of the noisy ones (models/quality.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SettingsDep, StoreDep, Viewer
from api.schemas import QualityReport
from models.quality import window_start

router = APIRouter(prefix="/quality", tags=["quality"])


@router.get("", response_model=QualityReport)
def quality(
    _: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    days: Annotated[
        float | None,
        Query(
            gt=0,
            le=3650,
            description="the window of decision times, in days (the raised bars use the setting's, 30 by default)",
        ),
    ] = None,  # fmt: skip
) -> QualityReport:
    """Precision (confirmed / (confirmed + dismissed)) of the alerts decided in the last ``days``, with the counts
    (confirmed, dismissed, escalated, undecided) and the dismissal reasons, per kind, per zone (zone_entry) and per
    station (ais_gap alerts naming one); a kind or zone under the noisy-precision setting shows its ``raised_bar``:
    its alerts count in the scores only from that score up."""
    bar = settings.noisy_bar(days)
    since = window_start(datetime.now(UTC), bar)
    report = store.quality(since, bar)
    return QualityReport(days=bar.window_days, since=since, min_precision=bar.min_precision,
                         min_decisions=bar.min_decisions, max_bar=bar.max_score, kinds=report["kinds"],
                         zones=report["zones"], stations=report["stations"])  # fmt: skip
