"""Alerts: the list with filters (cursor pages; muted ones on request), one alert with its triage history, triage,
the live stream.

Triage decisions are an audit record kept forever: ``/alerts/{id}/history`` answers after a withdrawal too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import Analyst, BBoxDep, BroadcasterDep, PageSize, SettingsDep, StoreDep, Viewer, unprocessable
from api.schemas import (
    AlertDetail,
    AlertHistory,
    AlertKind,
    AlertPublic,
    AlertsPage,
    AlertUpdate,
    Score,
    Status,
    UTCTime,
)
from api.store import AlertFilter, CursorError
from api.store.alerts import TriageError, parse_stream_cursor, stream_cursor

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the alert's stable id")]
CURSOR = r"^[A-Za-z0-9_.=-]{0,200}$"
STREAM_BATCH = 500  # alerts read per wake-up of a live stream


@router.get("", response_model=AlertsPage)
def list_alerts(
    _: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    bbox: BBoxDep,
    page_size: PageSize,
    kind: Annotated[list[AlertKind], Query(description="any of these kinds (repeat the parameter)")] = [],  # noqa: B006
    status: Annotated[list[Status], Query(description="any of these triage states")] = [],  # noqa: B006
    since: Annotated[UTCTime | None, Query(description="alerts going on at or after this time")] = None,
    until: Annotated[UTCTime | None, Query(description="alerts that began at or before this time")] = None,
    min_score: Score | None = None,
    mmsi: Annotated[int | None, Query(ge=0, le=999_999_999, description="either vessel of the alert")] = None,
    cursor: Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")] = None,
    muted: Annotated[
        Literal["false", "true", "all"],
        Query(description="false: the alerts no mute in force takes out (the default); true: the muted ones; all"),
    ] = "false",
) -> AlertsPage:
    """Alerts, newest first, with filters; pages follow ``next_cursor`` (stable while alerts keep arriving).
    Muted alerts (``GET /api/v1/mutes``) are left out unless asked for with ``?muted=true`` or ``?muted=all``.
    An alert under a raised bar of its kind or zone (``GET /api/v1/quality``) is listed with ``below_bar`` true
    and the bar's words: it no longer counts in the scores."""
    where = AlertFilter(
        kinds=kind, statuses=status, since=since, until=until, bbox=bbox, min_score=min_score, mmsi=mmsi, muted=muted
    )
    try:
        rows, next_cursor = store.alerts_page(where, cursor=cursor or None, limit=page_size)
    except CursorError as exc:
        raise unprocessable("cursor", str(exc)) from None
    rows = store.mark_below_bar(rows, settings.noisy_bar())
    return AlertsPage(items=[AlertPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: alert`, data: an AlertPublic (muted ones too, with `muted`: true, and those "
            "under a raised bar, with `below_bar`: true); "
            '`event: withdrawn`, data: {"alert_id": ...}; '
            '`event: watchlist`, data: {"mmsi", "watchlist", "watchlist_id", "entry_id", "matched_on", "detail", '
            '"at"}: a listed vessel first matched',
        }
    },
)
async def stream_alerts(
    request: Request,
    _: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    broadcaster: BroadcasterDep,
    since: Annotated[str | None, Query(pattern=r"^\d{1,18}\.[A-Za-z0-9_-]{0,64}$", description="an event id")] = None,
    last_event_id: Annotated[str | None, Header(pattern=r"^\d{1,18}\.[A-Za-z0-9_-]{0,64}$")] = None,
) -> EventSourceResponse:
    """Server-sent events of alerts as they are added or change (new evidence, triage), and of alerts withdrawn
    (`event: withdrawn`, data `{"alert_id": ...}`: a distress alert announced early that later evidence proved
    wrong; its episode's right alert comes as an `alert` event). An alert a mute in force takes out comes too,
    with ``muted: true`` and its ``mute_id``: a client shows it dimmed and does not notify anyone of it; so does
    one under a raised bar of a noisy kind or zone (``below_bar: true``, ``raised_bar`` says which and why).

    A vessel on a watchlist first matched at a scoring comes as `event: watchlist` (once per entry and vessel),
    with what matched and the match in words.

    Each event's id is a cursor: reconnecting with ``Last-Event-ID`` (or ``?since=``) resumes after it; without
    one the stream starts now.
    """
    try:
        given = last_event_id or since
        cursor = given if given is not None else await run_in_threadpool(store.alerts_head)
        parse_stream_cursor(cursor)
    except CursorError as exc:
        raise unprocessable("since", str(exc)) from None

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal cursor
        woken = broadcaster.subscribe()
        try:
            while not await request.is_disconnected():
                woken.clear()
                rows, cursor = await run_in_threadpool(store.alerts_since, cursor, STREAM_BATCH)
                got = len(rows)
                rows = await run_in_threadpool(store.mark_below_bar, rows, settings.noisy_bar())
                for row in rows:
                    event_id = stream_cursor(row["rev"], row["alert_id"])
                    if row.get("withdrawn"):
                        yield ServerSentEvent(data=json.dumps({"alert_id": row["alert_id"]}), event="withdrawn",
                                              id=event_id)  # fmt: skip
                        continue
                    if row.get("sighting"):
                        yield ServerSentEvent(data=sighting_json(row), event="watchlist", id=event_id)
                        continue
                    data = AlertPublic.model_validate(row).model_dump_json()
                    yield ServerSentEvent(data=data, event="alert", id=event_id)
                if got == STREAM_BATCH:
                    continue
                # woken by a commit (this process's, or another's through the change follower), or poll
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), settings.stream_poll_s)
        finally:
            broadcaster.unsubscribe(woken)

    return EventSourceResponse(events(), ping=int(settings.stream_ping_s))


def sighting_json(row: dict[str, Any]) -> str:
    """A watchlist sighting as the stream's ``watchlist`` event carries it."""
    keys = ("mmsi", "watchlist", "watchlist_id", "entry_id", "matched_on", "detail")
    return json.dumps({k: row[k] for k in keys} | {"at": row["at"].isoformat()})


@router.get("/{alert_id}", response_model=AlertDetail, responses={404: {"description": "no such alert"}})
def get_alert(_: Viewer, store: StoreDep, settings: SettingsDep, alert_id: AlertIdPath) -> AlertDetail:
    """One alert with its whole triage history."""
    row = store.alert(alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    (row,) = store.mark_below_bar([row], settings.noisy_bar())
    return AlertDetail.model_validate(row | {"triage": store.triage_history(alert_id)})


@router.get(
    "/{alert_id}/history",
    response_model=AlertHistory,
    responses={404: {"description": "no such alert, and no decision on one of that id"}},
)
def alert_history(_: Viewer, store: StoreDep, alert_id: AlertIdPath) -> AlertHistory:
    """Every triage decision on an alert, oldest first: who (the key's id and name), when, the status, a
    dismissal's reason code and the note. Kept after the engine withdrew the alert."""
    decisions = store.triage_history(alert_id)
    row = store.alert(alert_id)
    about = row or (decisions[-1] if decisions else None)
    if about is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return AlertHistory.model_validate(about | {"withdrawn": row is None, "triage": decisions})


@router.patch(
    "/{alert_id}",
    response_model=AlertDetail,
    responses={404: {"description": "no such alert"}, 422: {"description": "a dismissal without a reason code"}},
)
def triage_alert(principal: Analyst, store: StoreDep, settings: SettingsDep, alert_id: AlertIdPath,
                 update: AlertUpdate) -> AlertDetail:  # fmt: skip
    """Triage: confirm, dismiss (with a reason code) or escalate, with a note; the key's id and name and the time
    are recorded. The vessel's scores take the decision at their next scoring (every few seconds, live)."""
    try:
        row = store.triage(alert_id, update.status, update.note, principal.name, reason=update.reason,
                           key_id=principal.key_id)  # fmt: skip
    except TriageError as exc:
        raise unprocessable("", str(exc)) from None
    if row is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    (row,) = store.mark_below_bar([row], settings.noisy_bar())
    return AlertDetail.model_validate(row | {"triage": store.triage_history(alert_id)})
