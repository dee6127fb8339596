"""Receiving stations: each one's traffic against its usual rate, and its outages (``station_outage`` events).

The live engine (``seawatch serve``) hands the app a reader of its station monitor (``create_app(stations=...)``);
the state is read from memory as the engine last published it. An API without an engine (``seawatch api``) knows
no station and answers an empty list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from api.deps import Viewer
from api.schemas import StationPublic, StationsList

router = APIRouter(prefix="/stations", tags=["stations"])

StationsReader = Callable[[], list[dict[str, Any]]]


@router.get("", response_model=StationsList)
async def list_stations(_: Viewer, request: Request) -> StationsList:
    """Every receiving station heard: last heard, usual and current messages per 10 min, down or not, and its
    outages in the last 24 h of data."""
    reader: StationsReader | None = request.app.state.stations
    rows = reader() if reader is not None else []
    return StationsList(stations=[StationPublic.model_validate(row) for row in rows])
