"""Zones (GeoJSON areas the detectors watch) and API keys in the store."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from api.store.base import StoreBase, rows_of, utcnow
from api.store.tables import api_keys, zones


class ZonesMixin(StoreBase):
    def zones(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return rows_of(conn, sa.select(zones).order_by(zones.c.created_at, zones.c.id))

    def zone(self, zone_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            found = rows_of(conn, sa.select(zones).where(zones.c.id == zone_id))
        return found[0] if found else None

    def create_zone(
        self, name: str, zone_kind: str, geometry: dict[str, Any], properties: dict[str, Any], by: str
    ) -> dict[str, Any]:
        now = utcnow()
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "zone_kind": zone_kind,
            "geometry": geometry,
            "properties": properties,
            "created_at": now,
            "updated_at": now,
            "created_by": by,
            "updated_by": by,
        }
        with self._write() as conn:
            conn.execute(sa.insert(zones).values(**row))
        return row

    def update_zone(
        self, zone_id: str, name: str, zone_kind: str, geometry: dict[str, Any], properties: dict[str, Any], by: str
    ) -> dict[str, Any] | None:
        values = {"name": name, "zone_kind": zone_kind, "geometry": geometry, "properties": properties}
        with self._write() as conn:
            done = conn.execute(
                sa.update(zones).where(zones.c.id == zone_id).values(**values, updated_at=utcnow(), updated_by=by)
            )
            if done.rowcount == 0:
                return None
        return self.zone(zone_id)

    def delete_zone(self, zone_id: str) -> bool:
        with self._write() as conn:
            return bool(conn.execute(sa.delete(zones).where(zones.c.id == zone_id)).rowcount)


class KeysMixin(StoreBase):
    """Key records only; hashing and checking live in :mod:`api.keys`."""

    def add_key(self, key_id: str, name: str, role: str, salt: bytes, digest: bytes) -> dict[str, Any]:
        row = {"id": key_id, "name": name, "role": role, "salt": salt, "hash": digest, "created_at": utcnow()}
        with self._write() as conn:
            conn.execute(sa.insert(api_keys).values(**row))
        return row | {"revoked_at": None}

    def key(self, key_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            found = rows_of(conn, sa.select(api_keys).where(api_keys.c.id == key_id))
        return found[0] if found else None

    def list_keys(self, include_revoked: bool = False) -> list[dict[str, Any]]:
        stmt = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        with self._read() as conn:
            return rows_of(conn, stmt)

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key (kept for the record); False when there is no such active key."""
        k = api_keys.c
        with self._write() as conn:
            stmt = sa.update(api_keys).where(k.id == key_id, k.revoked_at.is_(None)).values(revoked_at=utcnow())
            return bool(conn.execute(stmt).rowcount)
