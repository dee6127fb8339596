"""The audit log, for admins: every triage decision, zone and key change and mute, newest first, with filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Admin, PageSize, StoreDep, unprocessable
from api.schemas import AuditEntry, AuditKind, AuditPage, UTCTime
from api.store import AuditFilter

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def list_audit(
    _: Admin,
    store: StoreDep,
    page_size: PageSize,
    since: Annotated[UTCTime | None, Query(description="changes at or after this time")] = None,
    until: Annotated[UTCTime | None, Query(description="changes at or before this time")] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=100, description="the key's name")] = None,
    key_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{1,32}$", description="the key's id")] = None,
    kind: Annotated[list[AuditKind], Query(description="any of these kinds (repeat the parameter)")] = [],  # noqa: B006
    subject: Annotated[
        str | None, Query(min_length=1, max_length=64, description="an alert, zone, key or mute id")
    ] = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="next_cursor of the previous page")
    ] = None,
) -> AuditPage:
    """Who changed what and when: triage decisions, zones created, replaced or deleted, keys created or revoked,
    mutes made or ended. Newest first; pages follow ``next_cursor``. The log is append-only: nothing in it is ever
    changed or deleted, not even by retention."""
    if since is not None and until is not None and since > until:
        raise unprocessable("since", "since is after until")
    where = AuditFilter(since=since, until=until, actor=actor, key_id=key_id, kinds=kind, subject=subject)
    rows, before = store.audit(where, before=int(cursor) if cursor else None, limit=page_size)
    return AuditPage(items=[AuditEntry.model_validate(r) for r in rows],
                     next_cursor=None if before is None else str(before))  # fmt: skip
