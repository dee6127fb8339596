"""The analysts' map page at ``/``, its static files, and the geography it draws (land, zones, boundaries, ports).

The geography endpoints need no API key: they serve only what ships with Seawatch (the GLOBE land mask and the
region pack), never vessel data. The page itself asks for a key and sends it to ``/api/v1`` in ``X-API-Key``.
The page's libraries (Leaflet) are copied into ``api/static/vendor`` by ``api/web/build.sh``: nothing is fetched
from a CDN or a tile server, so the map works offline.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from engine.geo.coastline import DEFAULT_CELLS, MAX_CELLS, coastline_geojson
from engine.geo.land import LandIndex
from engine.geo.regions import PackError, load_pack, without_examples

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
DEFAULT_REGION = "gulf-of-tonkin"
REGION_KINDS = ("zone", "boundary", "port")
VIEW_MARGIN_DEG = 0.15  # the view box: the pack's extent plus a margin, widened to half degrees
GEO_MAX_AGE_S = 3600  # the geography changes only with a new release or region pack
_land_lock = threading.Lock()

router = APIRouter(tags=["map"])


def mount_static(app: FastAPI) -> None:
    """Serve ``api/static`` (the page's script, style and vendored libraries) at ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The map page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


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
    try:
        pack = load_pack(name)
    except (PackError, OSError) as exc:
        raise HTTPException(500, f"region pack {name!r} cannot be read: {exc}") from exc
    settings = getattr(request.app.state, "settings", None)
    shown = pack if getattr(settings, "examples", False) else without_examples(pack)
    fc: dict[str, Any] = shown.feature_collection(*REGION_KINDS)
    fc["bbox"] = view_box(*pack.bbox())
    return JSONResponse(fc, headers={"Cache-Control": f"max-age={GEO_MAX_AGE_S}"})


@router.get("/map/coastline.geojson")
def coastline(
    request: Request,
    bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat; the region's view by default")] = "",
    cells: Annotated[int, Query(ge=8, le=MAX_CELLS, description="grid samples along the longer side")] = DEFAULT_CELLS,
) -> JSONResponse:
    """Land polygons traced from the GLOBE land mask the detectors use (see engine.geo.coastline)."""
    if bbox:
        box = parse_bbox(bbox)
    else:
        box_list = view_box(*load_pack(_region_name(request)).bbox())
        box = box_list[0], box_list[1], box_list[2], box_list[3]
    try:
        fc = coastline_geojson(box, _land(request), cells=cells)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return JSONResponse(fc, headers={"Cache-Control": f"max-age={GEO_MAX_AGE_S}"})
