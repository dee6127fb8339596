"""Watchlists: named lists of vessels of interest that analysts keep (viewers read them, analysts edit them).

A vessel heard with a listed MMSI, IMO, call sign or name gets a reason on its smuggling score at the next scoring
(every few seconds, live), the ``watchlisted`` mark (``GET /vessels?watchlisted=true``, the map) and, the first
time, a ``watchlist`` event on the live stream. Every change is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from api.deps import Analyst, StoreDep, Viewer, unprocessable
from api.schemas_watchlists import (
    WatchlistEntries,
    WatchlistEntryIn,
    WatchlistEntryPublic,
    WatchlistIn,
    WatchlistPublic,
    WatchlistsList,
)
from api.store import WatchlistError

router = APIRouter(prefix="/watchlists", tags=["watchlists"])

ListIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="the watchlist's id")]
EntryIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="the entry's id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such watchlist or entry"}}


@router.post("", response_model=WatchlistPublic, status_code=201, responses={422: {"description": "name in use"}})
def create_watchlist(principal: Analyst, store: StoreDep, body: WatchlistIn) -> WatchlistPublic:
    """A new, empty list; its name must be unused."""
    try:
        row = store.create_watchlist(body.name, description=body.description, by=principal.name,
                                     key_id=principal.key_id)  # fmt: skip
    except WatchlistError as exc:
        raise unprocessable("", str(exc)) from None
    return WatchlistPublic.model_validate(row)


@router.get("", response_model=WatchlistsList)
def list_watchlists(_: Viewer, store: StoreDep) -> WatchlistsList:
    """Every list, by name, with its number of entries."""
    return WatchlistsList(items=[WatchlistPublic.model_validate(r) for r in store.watchlists_list()])


@router.get("/{list_id}", response_model=WatchlistPublic, responses=NOT_FOUND)
def get_watchlist(_: Viewer, store: StoreDep, list_id: ListIdPath) -> WatchlistPublic:
    row = store.watchlist(list_id)
    if row is None:
        raise HTTPException(404, f"no watchlist {list_id}")
    return WatchlistPublic.model_validate(row)


@router.delete("/{list_id}", response_model=WatchlistPublic, responses=NOT_FOUND)
def delete_watchlist(principal: Analyst, store: StoreDep, list_id: ListIdPath) -> WatchlistPublic:
    """Delete a list and its entries (the audit log keeps its name and size); its vessels lose the reason at the
    next scoring."""
    row = store.delete_watchlist(list_id, by=principal.name, key_id=principal.key_id)
    if row is None:
        raise HTTPException(404, f"no watchlist {list_id}")
    return WatchlistPublic.model_validate(row)


@router.get("/{list_id}/entries", response_model=WatchlistEntries, responses=NOT_FOUND)
def list_entries(_: Viewer, store: StoreDep, list_id: ListIdPath) -> WatchlistEntries:
    """A list's entries, oldest first."""
    if store.watchlist(list_id) is None:
        raise HTTPException(404, f"no watchlist {list_id}")
    return WatchlistEntries(items=[WatchlistEntryPublic.model_validate(r) for r in store.watchlist_entries(list_id)])


@router.post("/{list_id}/entries", response_model=WatchlistEntryPublic, status_code=201, responses=NOT_FOUND)
def add_entry(
    principal: Analyst, store: StoreDep, list_id: ListIdPath, entry: WatchlistEntryIn
) -> WatchlistEntryPublic:
    """Add a vessel to a list, by any of MMSI, IMO, call sign and name, saying why and from where."""
    if store.watchlist(list_id) is None:
        raise HTTPException(404, f"no watchlist {list_id}")
    try:
        (row,) = store.add_entries(list_id, [entry.model_dump()], by=principal.name, key_id=principal.key_id)
    except WatchlistError as exc:
        raise unprocessable("", str(exc)) from None
    return WatchlistEntryPublic.model_validate(row)


@router.delete("/{list_id}/entries/{entry_id}", response_model=WatchlistEntryPublic, responses=NOT_FOUND)
def delete_entry(
    principal: Analyst, store: StoreDep, list_id: ListIdPath, entry_id: EntryIdPath
) -> WatchlistEntryPublic:
    """Take a vessel off a list (audited with what the entry said)."""
    row = store.delete_entry(list_id, entry_id, by=principal.name, key_id=principal.key_id)
    if row is None:
        raise HTTPException(404, f"no entry {entry_id} in watchlist {list_id}")
    return WatchlistEntryPublic.model_validate(row)
