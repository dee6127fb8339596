"""API keys, for admins: create (the key is shown once, with an expiry if wanted), list, revoke. Each change goes
to the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.deps import Admin, StoreDep
from api.keys import KeyChecker, create_key
from api.schemas import KeyCreated, KeyIn, KeyPublic

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("", response_model=KeyCreated, status_code=201)
def new_key(principal: Admin, store: StoreDep, key: KeyIn) -> KeyCreated:
    """Create a key; the response holds the key itself, which is not stored and cannot be shown again. With
    ``expires_at`` it is refused after that time."""
    plaintext = create_key(store, key.name, key.role, expires_at=key.expires_at, by=principal.name,
                           by_key_id=principal.key_id)  # fmt: skip
    record = store.key(plaintext.split("_")[1])
    if record is None:  # written a moment ago: only a database that lost it gets here
        raise HTTPException(500, "the new key was not stored")
    return KeyCreated.model_validate(record | {"key": plaintext})


@router.get("", response_model=list[KeyPublic])
def list_keys(_: Admin, store: StoreDep, include_revoked: bool = False) -> list[KeyPublic]:
    return [KeyPublic.model_validate(r) for r in store.list_keys(include_revoked)]


@router.delete("/{key_id}", status_code=204, response_class=Response, responses={404: {"description": "no such key"}})
def revoke_key(
    request: Request, principal: Admin, store: StoreDep, key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]
) -> Response:
    """Revoke a key: it stops working at once, in every API process following the database's changes (the
    default; within a minute in one that does not)."""
    if not store.revoke_key(key_id, by=principal.name, by_key_id=principal.key_id):
        raise HTTPException(404, f"no active key {key_id!r}")
    checker: KeyChecker = request.app.state.keys
    checker.forget()
    return Response(status_code=204)
