"""Mutes: an analyst takes a pattern of alerts out of the scores and of the default alert list until it expires.

Muted alerts are still stored and listed (``GET /alerts?muted=true|all``, ``muted=true`` in the alert JSON and
the live stream). Every mute is kept: DELETE ends one early and records who; nothing is erased.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Analyst, StoreDep, Viewer, unprocessable
from api.schemas import MuteIn, MutePublic, MutesList
from api.store import MuteError

router = APIRouter(prefix="/mutes", tags=["mutes"])

MuteIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="the mute's id")]


@router.post("", response_model=MutePublic, status_code=201, responses={422: {"description": "not a mute"}})
def create_mute(principal: Analyst, store: StoreDep, mute: MuteIn) -> MutePublic:
    """Mute a pattern until ``expires_at`` (at most 90 days ahead), saying why; the key's id and name and the time
    are recorded. The vessels' scores leave its alerts out at their next scoring (every few seconds, live)."""
    try:
        row = store.add_mute(mute.pattern, kind=mute.kind, mmsi=mute.mmsi, other_mmsi=mute.other_mmsi,
                             zone=mute.zone, station=mute.station, reason=mute.reason, by=principal.name,
                             key_id=principal.key_id, expires_at=mute.expires_at)  # fmt: skip
    except MuteError as exc:
        raise unprocessable("", str(exc)) from None
    return MutePublic.model_validate(row)


@router.get("", response_model=MutesList)
def list_mutes(
    _: Viewer,
    store: StoreDep,
    state: Annotated[Literal["in_force", "all"], Query(description="in_force, or all (ended and expired too)")] = (
        "in_force"
    ),
) -> MutesList:
    """The mutes in force, newest first; with ``?state=all`` every mute ever made (an audit record)."""
    return MutesList(items=[MutePublic.model_validate(r) for r in store.mutes_list(in_force=state == "in_force")])


@router.get("/{mute_id}", response_model=MutePublic, responses={404: {"description": "no such mute"}})
def get_mute(_: Viewer, store: StoreDep, mute_id: MuteIdPath) -> MutePublic:
    row = store.mute(mute_id)
    if row is None:
        raise HTTPException(404, f"no mute {mute_id}")
    return MutePublic.model_validate(row)


@router.delete("/{mute_id}", response_model=MutePublic, responses={404: {"description": "no such mute"}})
def end_mute(principal: Analyst, store: StoreDep, mute_id: MuteIdPath) -> MutePublic:
    """End a mute now: its alerts count again at the next scoring. The mute is kept, marked ended (who, when);
    one already ended or expired is returned as it is."""
    row = store.end_mute(mute_id, principal.name, key_id=principal.key_id)
    if row is None:
        raise HTTPException(404, f"no mute {mute_id}")
    return MutePublic.model_validate(row)
