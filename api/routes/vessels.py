"""Vessels: the risk table with filters, one vessel in full, its track, and what analysts decided about it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic_core import to_json

from api.cache import RevisionCache
from api.deps import (
    BBoxDep,
    PageSize,
    SettingsDep,
    StoreDep,
    VesselsCacheDep,
    Viewer,
    authorize,
    unprocessable,
)
from api.geojson import track_collection
from api.schemas import (
    AlertPublic,
    Band,
    IdentityRecord,
    MutePublic,
    Score,
    TrackCollection,
    UTCTime,
    VesselDecision,
    VesselDetail,
    VesselPublic,
    VesselsPage,
    VesselTriage,
)
from api.store import SORTABLE, Store, VesselFilter
from engine.alerts import ALERT_KINDS

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
TRIAGE_MAX = 1000  # decisions on one vessel's alerts in one answer: years of a busy watch floor
# VesselPublic's fields straight from the table's columns, then the per-kind alert counts it folds together
_FIELDS = list(VesselPublic.model_fields)
_COUNTS_AT = _FIELDS.index("alert_counts")
_BEFORE, _AFTER = _FIELDS[:_COUNTS_AT], _FIELDS[_COUNTS_AT + 1 :]
_COLUMNS = [*_BEFORE, *_AFTER, *(f"alerts_{k}" for k in ALERT_KINDS)]


class CachedPageRoute(APIRoute):
    """GET /vessels answered from the page cache without FastAPI's parameter and dependency solving (half of a
    cached answer's time, py-spy under 500 requests/s: benchmarks/RESULTS.md) when the same query string was
    answered before and its page is cached under the table's revision. The caller is checked as the ``Viewer``
    dependency checks it; anything else (a new query string, a page not cached) takes the whole route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        whole = super().get_route_handler()

        async def handler(request: Request) -> Response:
            cache: RevisionCache = request.app.state.vessels_cache
            known = cache.alias(request.scope["query_string"])
            if known is not None:
                page_key, rebuild = known
                revision = request.app.state.store.vessels_revision
                found, body = cache.lookup(page_key, revision)
                if found:
                    await authorize(request, "viewer")
                    if cache.due(page_key, revision):
                        cache.refresh(page_key, revision, rebuild)
                    return Response(body, media_type="application/json")
            return await whole(request)

        return handler


async def list_vessels(
    request: Request,
    _: Viewer,
    store: StoreDep,
    cache: VesselsCacheDep,
    bbox: BBoxDep,
    page_size: PageSize,
    min_score: Annotated[Score | None, Query(description="the higher of the two scores at least this")] = None,
    band: Annotated[list[Band], Query(description="any of these bands (repeat the parameter)")] = [],  # noqa: B006
    ship_type: Annotated[list[Annotated[int, Query(ge=0, le=255)]], Query(description="AIS ship types")] = [],  # noqa: B006
    flag: Annotated[list[Annotated[str, Query(pattern=r"^[A-Za-z]{2}$")]], Query(description="ISO alpha-2")] = [],  # noqa: B006
    updated_since: UTCTime | None = None,
    watchlisted: Annotated[bool | None, Query(description="on a watchlist at its latest scoring (true) or not")] = None,
    sort: SortKey = "-score",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Vessels by risk, with filters; offset pages (``page``, ``page_size``) and the total."""
    where = VesselFilter(
        min_score=min_score, bands=band, bbox=bbox, ship_types=ship_type, flags=flag, updated_since=updated_since,
        watchlisted=watchlisted,
    )
    # pages are read far more often than the scorer rewrites the table (every few seconds): answer from memory
    # under the table's revision, read before the query so that rows are never filed under a newer revision
    revision = store.vessels_revision
    page_key = ("page", where.cache_key(), sort, page, page_size)
    rebuild = partial(fresh_page_json, store, where, sort, page, page_size)
    found, body = cache.lookup(page_key, revision)
    if not found:
        total = await cache.get(("total", where.cache_key()), revision, partial(store.vessels_count, where))
        build = partial(page_json, store, where, sort, page, page_size, total)
        body = await cache.get(page_key, revision, build)
    elif cache.due(page_key, revision):  # rebuilt before it is too old: no request waits for it while it is used
        cache.refresh(page_key, revision, rebuild)
    cache.remember(request.scope["query_string"], (page_key, rebuild))  # the same query next time: CachedPageRoute
    return Response(body, media_type="application/json")


router.add_api_route("", list_vessels, methods=["GET"], response_model=VesselsPage,
                     route_class_override=CachedPageRoute)  # fmt: skip


def fresh_page_json(store: Store, where: VesselFilter, sort: str, page: int, page_size: int) -> bytes:
    """The page with a total counted now (not the cached one, which may be as old as the page it replaces)."""
    return page_json(store, where, sort, page, page_size, store.vessels_count(where))


def page_json(store: Store, where: VesselFilter, sort: str, page: int, page_size: int, total: int) -> bytes:
    """The VesselsPage JSON built from row tuples: what ``VesselsPage(items=[VesselPublic.from_row(...)])`` gives,
    without a dict and a validated model per row (most of a request's time before).
    """
    rows = store.vessels_page_tuples(_COLUMNS, where, sort=sort, page=page, page_size=page_size)
    body = {"items": [_item(r) for r in rows], "total": total, "page": page, "page_size": page_size}
    return to_json(body, inf_nan_mode="null")


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    n = len(_BEFORE)
    item = dict(zip(_BEFORE, row[:n], strict=True))
    m = n + len(_AFTER)
    item["alert_counts"] = {k: int(c) for k, c in zip(ALERT_KINDS, row[m:], strict=True) if c}
    item.update(zip(_AFTER, row[n:m], strict=True))
    return item


@router.get("/{mmsi}", response_model=VesselDetail, responses={404: {"description": "no such vessel"}})
def get_vessel(_: Viewer, store: StoreDep, settings: SettingsDep, mmsi: MMSIPath) -> VesselDetail:
    """One vessel: identity and its history, both scores with their reasons, its recent alerts."""
    row = store.vessel(mmsi)
    if row is None:
        raise HTTPException(404, f"no vessel {mmsi} in the store")
    public = VesselPublic.from_row(row)
    recent = store.mark_below_bar(store.mark_muted(store.vessel_alerts(mmsi, RECENT_ALERTS)), settings.noisy_bar())
    return VesselDetail(
        **public.model_dump(),
        smuggling_reasons=row["smuggling_reasons"],
        fire_reasons=row["fire_reasons"],
        identity_history=[IdentityRecord.model_validate(h) for h in store.identity_history(mmsi)],
        recent_alerts=[AlertPublic.model_validate(a) for a in recent],
    )


@router.get("/{mmsi}/triage", response_model=VesselTriage)
def get_triage(
    _: Viewer,
    store: StoreDep,
    mmsi: MMSIPath,
    limit: Annotated[int, Query(ge=1, le=TRIAGE_MAX, description="at most this many (the latest) decisions")] = 100,
) -> VesselTriage:
    """The vessel's triage history: every decision on its alerts (either vessel of a pair's alert), newest first
    (who, when, the status, a dismissal's reason code and the note), and the vessel and pair mutes naming it. An
    audit record kept forever: it answers for a vessel no longer in the risk table too (empty lists when nobody
    decided anything)."""
    decisions = [VesselDecision.model_validate(d) for d in store.vessel_triage(mmsi, limit)]
    return VesselTriage(mmsi=mmsi, decisions=decisions, mutes=[MutePublic.model_validate(m) for m in
                                                                 store.vessel_mutes(mmsi)])  # fmt: skip


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
