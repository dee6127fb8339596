"""The analysts' map page at ``/``, its static files, and the geography it draws (land, zones, boundaries, ports).

The geography endpoints need no API key: they serve only what ships with Seawatch (the GLOBE land mask and the
region pack), never vessel data. The page itself asks for a key and sends it to ``/api/v1`` in ``X-API-Key``.
The page's libraries (Leaflet) are copied into ``api/static/vendor`` by ``api/web/build.sh``: nothing is fetched
from a CDN or a tile server, so the map works offline, and the page's Content-Security-Policy allows only this
origin (:data:`PAGE_HEADERS`, on the page and every static file).

A coastline is traced from the land mask (up to 4 million lookups): each is computed once per box and grid, one at
a time, and kept (:class:`CoastlineCache`), so anonymous callers cannot make the server trace the same land again
and again, nor many at once.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic_core import to_json
from starlette.types import Scope

from engine.geo.coastline import DEFAULT_CELLS, MAX_CELLS, coastline_geojson
from engine.geo.land import LandIndex
from engine.geo.regions import PackError, load_pack, without_examples

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
DEFAULT_REGION = "gulf-of-tonkin"
REGION_KINDS = ("zone", "boundary", "port")
VIEW_MARGIN_DEG = 0.15  # the view box: the pack's extent plus a margin, widened to half degrees
GEO_MAX_AGE_S = 3600  # the geography changes only with a new release or region pack
COASTLINES_KEPT = 64  # traced coastlines kept in memory: the page asks for 5 (~1 MB in all); a box is ~0.1-1 MB
_land_lock = threading.Lock()

# What the page may load: its own files and API only. Leaflet positions its panes and markers through element.style
# (allowed), the legend's swatches are inline style attributes (style-src-attr), the favicon a data: URL.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it: no clickjacking of triage buttons
    "Referrer-Policy": "no-referrer",  # the page may be opened with ?key=...: never send it on
}

router = APIRouter(tags=["map"])


class PageStaticFiles(StaticFiles):
    """Static files with the page's security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)  # files and 304s alike
        return response


def mount_static(app: FastAPI) -> None:
    """Serve ``api/static`` (the page's script, style and vendored libraries) at ``/static``."""
    app.mount("/static", PageStaticFiles(directory=STATIC_DIR), name="static")


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The map page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache", **PAGE_HEADERS})  # fmt: skip


class CoastlineCache:
    """Traced coastlines as JSON bytes by (box, cells), the :data:`COASTLINES_KEPT` most recently asked for. One
    is traced at a time: concurrent requests for the same box wait for it rather than trace it again."""

    def __init__(self, entries: int = COASTLINES_KEPT) -> None:
        self.entries = entries
        self._kept: OrderedDict[tuple[tuple[float, ...], int], bytes] = OrderedDict()
        self._lock = threading.Lock()  # guards the dict
        self._tracing = threading.Lock()  # one tracing at a time: the lookups are CPU-bound
        self.traced = 0

    def get(self, box: tuple[float, float, float, float], cells: int, land: LandIndex) -> bytes:
        key = (box, cells)
        hit = self._lookup(key)
        if hit is not None:
            return hit
        with self._tracing:
            hit = self._lookup(key)  # traced by the request this one waited for
            if hit is not None:
                return hit
            body = to_json(coastline_geojson(box, land, cells=cells))
            self.traced += 1
        with self._lock:
            self._kept[key] = body
            while len(self._kept) > self.entries:
                self._kept.popitem(last=False)
        return body

    def _lookup(self, key: tuple[tuple[float, ...], int]) -> bytes | None:
        with self._lock:
            body = self._kept.get(key)
            if body is not None:
                self._kept.move_to_end(key)
        return body


def _coastlines(request: Request) -> CoastlineCache:
    state = request.app.state
    with _land_lock:
        cache = getattr(state, "coastlines", None)
        if cache is None:
            cache = state.coastlines = CoastlineCache()
    return cache


def _land(request: Request) -> LandIndex:
    """The land grids, opened once per app (memory-mapped; derived from GLOBE on the very first run)."""
    state = request.app.state
    with _land_lock:
        land = getattr(state, "land", None)
        if land is None:
            land = state.land = LandIndex.load()
    return land


def _region_name(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "region", None) or DEFAULT_REGION)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` as four floats; HTTP 422 naming the fix otherwise."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise HTTPException(422, f"bbox={text!r}: give four numbers min_lon,min_lat,max_lon,max_lat")
    return values[0], values[1], values[2], values[3]


def view_box(lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> list[float]:
    """The map's starting view around a pack extent: a margin, then out to whole half degrees (GeoJSON order)."""
    m = VIEW_MARGIN_DEG
    return [
        max(-180.0, math.floor((lon_min - m) * 2) / 2),
        max(-90.0, math.floor((lat_min - m) * 2) / 2),
        min(180.0, math.ceil((lon_max + m) * 2) / 2),
        min(90.0, math.ceil((lat_max + m) * 2) / 2),
    ]


@router.get("/map/region.geojson")
def region(request: Request) -> JSONResponse:
    """The region pack's zones, boundaries and ports, with ``bbox``: the view the map opens on. The zones are the
    ones the engine watches: the pack's examples only when the service alerts on them (``SEAWATCH_EXAMPLES``)."""
    name = _region_name(request)
    settings = getattr(request.app.state, "settings", None)
    examples = bool(getattr(settings, "examples", False))
    # parsed once per app: the service reads its pack at start, so what it watches does not change under it
    kept: dict[tuple[str, bool], dict[str, Any]] = request.app.state.__dict__.setdefault("region_geojson", {})
    fc = kept.get((name, examples))
    if fc is None:
        try:
            pack = load_pack(name)
        except (PackError, OSError) as exc:
            raise HTTPException(500, f"region pack {name!r} cannot be read: {exc}") from exc
        shown = pack if examples else without_examples(pack)
        fc = shown.feature_collection(*REGION_KINDS)
        fc["bbox"] = view_box(*pack.bbox())
        kept[(name, examples)] = fc
    return JSONResponse(fc, headers={"Cache-Control": f"max-age={GEO_MAX_AGE_S}"})


@router.get("/map/coastline.geojson")
def coastline(
    request: Request,
    bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat; the region's view by default")] = "",
    cells: Annotated[int, Query(ge=8, le=MAX_CELLS, description="grid samples along the longer side")] = DEFAULT_CELLS,
) -> Response:
    """Land polygons traced from the GLOBE land mask the detectors use (see engine.geo.coastline); each box and grid
    is traced once and kept."""
    if bbox:
        box = parse_bbox(bbox)
    else:
        box_list = view_box(*load_pack(_region_name(request)).bbox())
        box = box_list[0], box_list[1], box_list[2], box_list[3]
    try:
        body = _coastlines(request).get(box, cells, _land(request))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return Response(body, media_type="application/json", headers={"Cache-Control": f"max-age={GEO_MAX_AGE_S}"})
