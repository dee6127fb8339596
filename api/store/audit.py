"""The audit log in the store: every change made through the API, written in the change's own transaction, never
updated or deleted (triggers refuse it: migration 0005), read newest first in pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from api.store.base import StoreBase, rows_of
from api.store.tables import AUDIT_KINDS, audit_log


def record(conn: sa.Connection, kind: str, subject: str | int, *, actor: str, key_id: str | None, at: datetime,
           details: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Add one row to the audit log, in the transaction of ``conn`` (the change and its record commit together)."""
    if kind not in AUDIT_KINDS:
        raise ValueError(f"audit kind {kind!r}: use one of {', '.join(AUDIT_KINDS)}")
    conn.execute(sa.insert(audit_log).values(at=at, key_id=key_id, actor=actor, kind=kind, subject=str(subject),
                                             details=details or {}))  # fmt: skip


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None  # the key's name
    key_id: str | None = None
    kinds: Sequence[str] = ()
    subject: str | None = None

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        c = audit_log.c
        out: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            out.append(c.at >= self.since)
        if self.until is not None:
            out.append(c.at <= self.until)
        if self.actor is not None:
            out.append(c.actor == self.actor)
        if self.key_id is not None:
            out.append(c.key_id == self.key_id)
        if self.kinds:
            out.append(c.kind.in_(list(self.kinds)))
        if self.subject is not None:
            out.append(c.subject == self.subject)
        return out


class AuditMixin(StoreBase):
    def record_audit(self, kind: str, subject: str | int, *, actor: str, key_id: str | None, at: datetime,
                     details: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Add one row to the audit log in a transaction of its own: for changes made outside the store (a model
        promoted in the registry's files), recorded once they are made."""
        with self._write() as conn:
            record(conn, kind, subject, actor=actor, key_id=key_id, at=at, details=details)

    def audit(self, where: AuditFilter, *, before: int | None = None,
              limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:  # fmt: skip
        """Audit rows matching ``where``, newest first, with ids below ``before``; and the ``before`` of the next
        page (None after the last). Rows are only ever added, so a page never shifts under its reader."""
        c = audit_log.c
        stmt = sa.select(audit_log).where(*where.clauses())
        if before is not None:
            stmt = stmt.where(c.id < before)
        with self._read() as conn:
            rows = rows_of(conn, stmt.order_by(c.id.desc()).limit(limit + 1))
        if len(rows) <= limit:
            return rows, None
        return rows[:limit], int(rows[limit - 1]["id"])
