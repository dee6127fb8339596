"""Store rows as GeoJSON: zones (in the shape ``engine.geo.regions.parse_pack`` reads) and tracks."""

from __future__ import annotations

from typing import Any

ZONE_SOURCE = "analyst-drawn (Seawatch API)"


def zone_feature(row: dict[str, Any]) -> dict[str, Any]:
    """A stored zone as a region-pack zone feature (kind "zone"), with who made it and when."""
    props = dict(row["properties"])
    props.update(
        kind="zone",
        name=row["name"],
        zone_kind=row["zone_kind"],
        source=props.get("source") or ZONE_SOURCE,
        created_at=row["created_at"].isoformat(),
        updated_at=row["updated_at"].isoformat(),
        created_by=row["created_by"],
        updated_by=row["updated_by"],
    )
    return {"type": "Feature", "id": row["id"], "geometry": row["geometry"], "properties": props}


def zones_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All zones as one FeatureCollection: what ``on_zones_changed`` listeners get (``parse_pack`` reads it)."""
    return {"type": "FeatureCollection", "features": [zone_feature(r) for r in rows]}


def track_collection(mmsi: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    if not points:
        return {"type": "FeatureCollection", "features": []}
    coords = [[p["lon"], p["lat"]] for p in points]
    geometry = (
        {"type": "Point", "coordinates": coords[0]}
        if len(coords) == 1
        else {"type": "LineString", "coordinates": coords}
    )
    props = {
        "mmsi": mmsi,
        "start": points[0]["t"].isoformat(),
        "end": points[-1]["t"].isoformat(),
        "points": len(points),
        "times": [p["t"].isoformat() for p in points],
        "sog": [p["sog"] for p in points],
        "cog": [p["cog"] for p in points],
    }
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geometry, "properties": props}]}
