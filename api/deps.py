"""Dependencies as ``Annotated`` aliases: the store, the settings, who is calling and what they may do.

They are ``async`` (cheap, no I/O) so that a request answered from memory never waits for the threadpool; what
blocks (checking a key not seen lately) goes to the threadpool explicitly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.broadcast import Broadcaster
from api.cache import RevisionCache
from api.keys import AuthThrottled, KeyChecker, Principal
from api.limits import TokenBuckets, client_address, retry_after
from api.settings import Settings
from api.store import BBox, Store

log = logging.getLogger(__name__)
_touches: set[asyncio.Future[None]] = set()  # last_used_at writes under way (kept from the garbage collector)
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (sw_...)")
_bearer = HTTPBearer(auto_error=False, description="the same API key as a bearer token")


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_broadcaster(request: Request) -> Broadcaster:
    broadcaster: Broadcaster = request.app.state.broadcaster
    return broadcaster


async def get_vessels_cache(request: Request) -> RevisionCache:
    cache: RevisionCache = request.app.state.vessels_cache
    return cache


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BroadcasterDep = Annotated[Broadcaster, Depends(get_broadcaster)]
VesselsCacheDep = Annotated[RevisionCache, Depends(get_vessels_cache)]

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="seawatch", charset="UTF-8"'}


async def current_principal(
    request: Request,
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``X-API-Key`` or ``Authorization: Bearer``; 401 without a valid key, 429 (with
    ``Retry-After``) past the key's request rate or after too many failed checks from this address or key id.

    A key seen lately is answered from memory; otherwise checking it costs one scrypt, run in the threadpool.
    """
    presented = api_key or (bearer.credentials if bearer else None)
    if not presented:
        if settings.anonymous_role is not None:
            return Principal("anonymous", "anonymous", settings.anonymous_role)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required (X-API-Key header)", _UNAUTHORIZED)
    checker: KeyChecker = request.app.state.keys
    principal = checker.remembered(presented)
    if principal is None:
        try:
            principal = await run_in_threadpool(checker.check, presented, client_address(request.scope))
        except AuthThrottled as exc:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                                {"Retry-After": retry_after(exc.wait)}) from None  # fmt: skip
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown, revoked or expired API key", _UNAUTHORIZED)
    per_key: TokenBuckets = request.app.state.key_limits
    wait = per_key.take(principal.key_id)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"too many requests with key {principal.name!r}: "
                            "slow down", {"Retry-After": retry_after(wait)})  # fmt: skip
    if checker.touch_due(principal.key_id):
        _touch(request.app.state.store, principal.key_id)
    return principal


def _touch(store: Store, key_id: str) -> None:
    """Write the key's last_used_at in a worker thread without holding up the request (a minute's staleness is
    what the column promises; a SQLite writer may wait behind the engine's batch)."""
    done = asyncio.get_running_loop().run_in_executor(None, store.touch_key, key_id)
    _touches.add(done)

    def finished(f: asyncio.Future[None]) -> None:
        _touches.discard(f)
        if not f.cancelled() and f.exception() is not None:
            log.warning("could not record when key %s was last used: %s", key_id, f.exception())

    done.add_done_callback(finished)


def require(role: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.allows(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {role} role; key {principal.name!r} is {principal.role}"
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]


async def authorize(request: Request, role: str) -> Principal:
    """The checks of the ``role`` dependency (401, 403, 429 as the same HTTPExceptions, one request-rate token), for
    a route that answers from memory without FastAPI's dependency solving (api/routes/vessels.py)."""
    settings: Settings = request.app.state.settings
    principal = await current_principal(request, settings, await _api_key_header(request), await _bearer(request))
    return await require(role)(principal)
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def unprocessable(where: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    loc = ["query", where] if where else ["body"]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": loc, "msg": message, "type": "value_error"}])


async def bbox_param(
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(
            description="min_lon,min_lat,max_lon,max_lat in degrees (min_lon > max_lon crosses the antimeridian)",
            max_length=200,
            examples=["105.5,19.0,109.0,22.0"],
        ),
    ] = None,
) -> BBox | None:
    if bbox is None:
        return None
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in bbox.split(","))
    except ValueError:
        raise unprocessable("bbox", "give four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not all(-180 <= v <= 180 for v in (min_lon, max_lon)) or not all(-90 <= v <= 90 for v in (min_lat, max_lat)):
        raise unprocessable("bbox", "longitudes must lie in -180..180 and latitudes in -90..90")
    if min_lat > max_lat:
        raise unprocessable("bbox", "min_lat is above max_lat")
    lon_span = max_lon - min_lon if min_lon <= max_lon else 360 - min_lon + max_lon
    limit = settings.bbox_max_span_deg
    if lon_span > limit or max_lat - min_lat > limit:
        raise unprocessable("bbox", f"the box is wider than {limit} degrees: zoom in or page through areas")
    return BBox(min_lon, min_lat, max_lon, max_lat)


BBoxDep = Annotated[BBox | None, Depends(bbox_param)]


async def page_size_param(
    settings: SettingsDep,
    page_size: Annotated[int | None, Query(ge=1, le=100_000, description="items per page (the server caps it)")] = None,
) -> int:
    if page_size is None:
        return settings.page_size_default
    if page_size > settings.page_size_max:
        raise unprocessable("page_size", f"at most {settings.page_size_max} items per page")
    return page_size


PageSize = Annotated[int, Depends(page_size_param)]
