"""A vessel's evidence dossier: HTML (one file, opens offline, prints), JSON or Markdown (api/dossier.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import SettingsDep, StoreDep, Viewer
from api.dossier import Format, build_dossier, render
from api.routes.map import _land as land_index
from api.routes.vessels import MMSIPath
from api.schemas import Dossier, UTCTime

router = APIRouter(prefix="/vessels", tags=["vessels"])

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "md": "text/markdown; charset=utf-8"}
# The dossier page runs nothing and fetches nothing: its style and its map are inline, the land a data: image
DOSSIER_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")  # fmt: skip
HEADERS = {
    "Content-Security-Policy": DOSSIER_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get(
    "/{mmsi}/dossier",
    response_model=Dossier,
    responses={
        200: {"content": {"text/html": {}, "text/markdown": {}}, "description": "the dossier in the format asked"},
        404: {"description": "no such vessel"},
    },
)
def get_dossier(
    _: Viewer,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    mmsi: MMSIPath,
    fmt: Annotated[Format, Query(alias="format", description="html (one printable file), json or md")] = "html",
    since: Annotated[UTCTime | None, Query(description="alerts, decisions and track from this time on")] = None,
) -> Response:
    """Everything the store holds on one vessel, for a case file: identity and its history, the track map over the
    coast with the alerts, every alert with its reasons and triage history, the scores broken into their
    reasons, mutes, watchlists, the data's coverage and gaps, and a fixed disclaimer (a triage aid, not a legal
    finding). The HTML opens offline and prints: save it with the case."""
    dossier = build_dossier(store, mmsi, bar=settings.noisy_bar(), since=since, track_max=settings.track_points_max)
    if dossier is None:
        raise HTTPException(404, f"no vessel {mmsi} in the store")
    body = render(dossier, fmt, land_index(request) if fmt == "html" else None)
    name = f"dossier-{mmsi}.{fmt}"
    return Response(body, media_type=MEDIA_TYPES[fmt],
                    headers={**HEADERS, "Content-Disposition": f'inline; filename="{name}"'})  # fmt: skip
