"""Zones (GeoJSON areas the detectors watch) and API keys in the store."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from api.store.audit import record
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

    def create_zone(self, name: str, zone_kind: str, geometry: dict[str, Any], properties: dict[str, Any], by: str,
                    key_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        now, zone_id = utcnow(), uuid.uuid4().hex
        row = {
            "id": zone_id,
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
            self._mark(conn, "zones")
            conn.execute(sa.insert(zones).values(**row))
            record(conn, "zone.create", zone_id, actor=by, key_id=key_id, at=now,
                   details={"name": name, "zone_kind": zone_kind})  # fmt: skip
        return row

    def update_zone(self, zone_id: str, name: str, zone_kind: str, geometry: dict[str, Any],
                    properties: dict[str, Any], by: str,
                    key_id: str | None = None) -> dict[str, Any] | None:  # fmt: skip
        values = {"name": name, "zone_kind": zone_kind, "geometry": geometry, "properties": properties}
        now = utcnow()
        with self._write() as conn:
            self._mark(conn, "zones")
            done = conn.execute(
                sa.update(zones).where(zones.c.id == zone_id).values(**values, updated_at=now, updated_by=by)
            )
            if done.rowcount == 0:
                return None
            record(conn, "zone.update", zone_id, actor=by, key_id=key_id, at=now,
                   details={"name": name, "zone_kind": zone_kind})  # fmt: skip
        return self.zone(zone_id)

    def delete_zone(self, zone_id: str, by: str = "unknown", key_id: str | None = None) -> bool:
        """Delete a zone; its deletion (with the zone's name and kind) stays in the audit log."""
        with self._write() as conn:
            self._mark(conn, "zones")
            gone = conn.execute(
                sa.delete(zones).where(zones.c.id == zone_id).returning(zones.c.name, zones.c.zone_kind)
            ).first()
            if gone is None:
                return False
            record(conn, "zone.delete", zone_id, actor=by, key_id=key_id, at=utcnow(),
                   details={"name": gone.name, "zone_kind": gone.zone_kind})  # fmt: skip
        return True


class KeysMixin(StoreBase):
    """Key records only; hashing and checking live in :mod:`api.keys`."""

    def add_key(self, key_id: str, name: str, role: str, salt: bytes, digest: bytes, *,
                expires_at: datetime | None = None, by: str = "unknown",
                by_key_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Store a key's record (``by``, ``by_key_id``: who made it, for the audit log)."""
        now = utcnow()
        row = {"id": key_id, "name": name, "role": role, "salt": salt, "hash": digest, "created_at": now,
               "expires_at": expires_at}  # fmt: skip
        with self._write() as conn:
            conn.execute(sa.insert(api_keys).values(**row))
            record(conn, "key.create", key_id, actor=by, key_id=by_key_id, at=now, details={
                "name": name, "role": role, "expires_at": expires_at.isoformat() if expires_at else None})  # fmt: skip
        return row | {"revoked_at": None, "last_used_at": None}

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

    def revoke_key(self, key_id: str, by: str = "unknown", by_key_id: str | None = None) -> bool:
        """Revoke a key (kept for the record); False when there is no such active key."""
        k, now = api_keys.c, utcnow()
        with self._write() as conn:
            self._mark(conn, "keys")
            stmt = sa.update(api_keys).where(k.id == key_id, k.revoked_at.is_(None)).values(revoked_at=now)
            if not conn.execute(stmt).rowcount:
                return False
            record(conn, "key.revoke", key_id, actor=by, key_id=by_key_id, at=now)
        return True

    def touch_key(self, key_id: str, at: datetime | None = None) -> None:
        """Set a key's ``last_used_at`` (api/keys.py calls it at most once a minute per key)."""
        with self._write() as conn:
            conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at or utcnow()))
