"""Zones as GeoJSON: the areas the detectors watch. Changes reach the live stream through ``on_zones_changed``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.deps import Admin, StoreDep, Viewer, unprocessable
from api.geojson import zone_feature, zones_collection
from api.schemas import ZoneCollection, ZoneIn, ZonePublic
from api.store import Store
from engine.geo.regions import PackError, parse_pack

router = APIRouter(prefix="/zones", tags=["zones"])

ZoneIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$", description="the zone's id")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such zone"}}


def _checked(zone: ZoneIn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The geometry and extra properties, after the engine's own check (closed rings, ranges)."""
    geometry = zone.geometry.model_dump()
    props = zone.properties.model_dump(exclude_none=True, exclude={"name", "zone_kind"})
    feature = {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"kind": "zone", "name": zone.properties.name, "zone_kind": zone.properties.zone_kind,
                       "source": zone.properties.source or "API"},
    }  # fmt: skip
    try:
        parse_pack({"type": "FeatureCollection", "features": [feature]}, "zone", None)
    except PackError as exc:
        raise unprocessable("", str(exc).removeprefix("zone: ")) from None
    return geometry, props


def _changed(request: Request, store: Store) -> None:
    collection = zones_collection(store.zones())
    for listener in request.app.state.zone_listeners:
        listener(collection)


@router.get("", response_model=ZoneCollection)
def list_zones(_: Viewer, store: StoreDep) -> ZoneCollection:
    """All zones as a FeatureCollection."""
    return ZoneCollection.model_validate(zones_collection(store.zones()))


@router.post("", response_model=ZonePublic, status_code=201)
def create_zone(request: Request, principal: Admin, store: StoreDep, zone: ZoneIn) -> ZonePublic:
    """Add a zone (a GeoJSON Feature with a Polygon or MultiPolygon, name and zone_kind)."""
    geometry, props = _checked(zone)
    row = store.create_zone(zone.properties.name, zone.properties.zone_kind, geometry, props, principal.name,
                            key_id=principal.key_id)  # fmt: skip
    _changed(request, store)
    return ZonePublic.model_validate(zone_feature(row))


@router.get("/{zone_id}", response_model=ZonePublic, responses=_NOT_FOUND)
def get_zone(_: Viewer, store: StoreDep, zone_id: ZoneIdPath) -> ZonePublic:
    row = store.zone(zone_id)
    if row is None:
        raise HTTPException(404, f"no zone {zone_id!r}")
    return ZonePublic.model_validate(zone_feature(row))


@router.put("/{zone_id}", response_model=ZonePublic, responses=_NOT_FOUND)
def replace_zone(request: Request, principal: Admin, store: StoreDep, zone_id: ZoneIdPath, zone: ZoneIn) -> ZonePublic:
    """Replace a zone's geometry and properties."""
    geometry, props = _checked(zone)
    row = store.update_zone(zone_id, zone.properties.name, zone.properties.zone_kind, geometry, props, principal.name,
                            key_id=principal.key_id)  # fmt: skip
    if row is None:
        raise HTTPException(404, f"no zone {zone_id!r}")
    _changed(request, store)
    return ZonePublic.model_validate(zone_feature(row))


@router.delete("/{zone_id}", status_code=204, response_class=Response, responses=_NOT_FOUND)
def delete_zone(request: Request, principal: Admin, store: StoreDep, zone_id: ZoneIdPath) -> Response:
    if not store.delete_zone(zone_id, by=principal.name, key_id=principal.key_id):
        raise HTTPException(404, f"no zone {zone_id!r}")
    _changed(request, store)
    return Response(status_code=204)
