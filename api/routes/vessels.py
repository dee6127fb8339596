"""Vessels: the risk table with filters, one vessel in full, and its track."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import BBoxDep, PageSize, SettingsDep, StoreDep, Viewer, unprocessable
from api.geojson import track_collection
from api.schemas import (
    AlertPublic,
    Band,
    IdentityRecord,
    Score,
    TrackCollection,
    UTCTime,
    VesselDetail,
    VesselPublic,
    VesselsPage,
)
from api.store import SORTABLE, VesselFilter

router = APIRouter(prefix="/vessels", tags=["vessels"])

SortKey = Annotated[
    str,
    Query(
        pattern=rf"^-?({'|'.join(SORTABLE)})$",
        description=f"one of {', '.join(SORTABLE)}; prefix '-' for descending (default: highest score first)",
    ),
]
MMSIPath = Annotated[int, Path(ge=0, le=999_999_999, description="the vessel's MMSI")]
RECENT_ALERTS = 50


@router.get("", response_model=VesselsPage)
def list_vessels(
    _: Viewer,
    store: StoreDep,
    bbox: BBoxDep,
    page_size: PageSize,
    min_score: Annotated[Score | None, Query(description="the higher of the two scores at least this")] = None,
    band: Annotated[list[Band], Query(description="any of these bands (repeat the parameter)")] = [],  # noqa: B006
    ship_type: Annotated[list[Annotated[int, Query(ge=0, le=255)]], Query(description="AIS ship types")] = [],  # noqa: B006
    flag: Annotated[list[Annotated[str, Query(pattern=r"^[A-Za-z]{2}$")]], Query(description="ISO alpha-2")] = [],  # noqa: B006
    updated_since: UTCTime | None = None,
    sort: SortKey = "-score",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> VesselsPage:
    """Vessels by risk, with filters; offset pages (``page``, ``page_size``) and the total."""
    where = VesselFilter(
        min_score=min_score, bands=band, bbox=bbox, ship_types=ship_type, flags=flag, updated_since=updated_since
    )
    rows, total = store.vessels_page(where, sort=sort, page=page, page_size=page_size)
    return VesselsPage(items=[VesselPublic.from_row(r) for r in rows], total=total, page=page, page_size=page_size)


@router.get("/{mmsi}", response_model=VesselDetail, responses={404: {"description": "no such vessel"}})
def get_vessel(_: Viewer, store: StoreDep, mmsi: MMSIPath) -> VesselDetail:
    """One vessel: identity and its history, both scores with their reasons, its recent alerts."""
    row = store.vessel(mmsi)
    if row is None:
        raise HTTPException(404, f"no vessel {mmsi} in the store")
    public = VesselPublic.from_row(row)
    return VesselDetail(
        **public.model_dump(),
        smuggling_reasons=row["smuggling_reasons"],
        fire_reasons=row["fire_reasons"],
        identity_history=[IdentityRecord.model_validate(h) for h in store.identity_history(mmsi)],
        recent_alerts=[AlertPublic.model_validate(a) for a in store.vessel_alerts(mmsi, RECENT_ALERTS)],
    )


@router.get("/{mmsi}/track", response_model=TrackCollection)
def get_track(
    _: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    mmsi: MMSIPath,
    since: UTCTime | None = None,
    until: UTCTime | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="at most this many (the latest) points")] = None,
) -> TrackCollection:
    """The vessel's stored track as GeoJSON (a LineString; a Point for one fix; empty when none)."""
    if since is not None and until is not None and since > until:
        raise unprocessable("since", "since is after until")
    if limit is not None and limit > settings.track_points_max:
        raise unprocessable("limit", f"at most {settings.track_points_max} points")
    points = store.track(mmsi, since, until, limit or settings.track_points_max)
    return TrackCollection.model_validate(track_collection(mmsi, points))
