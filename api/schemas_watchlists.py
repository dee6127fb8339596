"""Request and response models of the watchlists (api/routes/watchlists.py), beside api/schemas.py's families."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from api.schemas import Text
from models.watchlist import IMO_RANGE, MMSI_MAX


class WatchlistIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200, description="unique: 'caught 2025', 'sanctioned tankers'")
    description: Text = Field("", max_length=2000)


class WatchlistPublic(BaseModel):
    id: int
    name: str
    description: str
    created_by: str
    created_at: datetime
    entries: int = Field(description="how many entries it holds")


class WatchlistsList(BaseModel):
    items: list[WatchlistPublic]


class WatchlistEntryIn(BaseModel):
    """A vessel of interest, by any subset of MMSI, IMO, call sign and name (at least one), with why and from where."""

    mmsi: int | None = Field(None, ge=1, le=MMSI_MAX)
    imo: int | None = Field(None, ge=IMO_RANGE[0], le=IMO_RANGE[1], description="seven digits")
    callsign: Text | None = Field(None, max_length=32)
    name: Text | None = Field(None, max_length=200, description="as written anywhere: accents, case and spacing "
                             "do not matter when matching")  # fmt: skip
    reason: Text = Field("", max_length=2000, description="why it is listed: shown in the score's reason")
    source: Text = Field("", max_length=200, description="where the listing comes from")

    @model_validator(mode="after")
    def _names_a_vessel(self) -> WatchlistEntryIn:
        if not any(v not in (None, "") for v in (self.mmsi, self.imo, self.callsign, self.name)):
            raise ValueError("an entry names a vessel: give at least one of mmsi, imo, callsign or name")
        return self


class WatchlistEntryPublic(BaseModel):
    id: int
    watchlist_id: int
    mmsi: int | None
    imo: int | None
    callsign: str | None
    name: str | None
    reason: str
    source: str
    added_by: str
    added_at: datetime


class WatchlistEntries(BaseModel):
    items: list[WatchlistEntryPublic]
