"""The model registry, for admins: the versions, the one in use, promotion and rollback (models/registry.py).

A promotion is refused (409, with both models' figures) unless the version beats the current model on its
held-out decisions, or ``force=true``; promotions and rollbacks are recorded in the audit log, and the live
service scores with the new current model at its next scoring cycle.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from api.deps import Admin, SettingsDep, StoreDep
from api.store.base import utcnow
from models.files import ModelFileError
from models.registry import NotBetter, Registry, RegistryError

router = APIRouter(prefix="/models", tags=["models"])
VersionPath = Annotated[str, Path(pattern=r"^[0-9]{4,9}$", description="a version number, e.g. 0003")]


class ModelVersion(BaseModel):
    version: str
    added: str
    by: str
    source: str
    learned_from: str
    decisions: int | None = None
    first_decision: str | None = None
    last_decision: str | None = None
    held_out: dict[str, Any] | None = None
    current: bool


class ModelsPublic(BaseModel):
    current: str | None  # null: the base models (shipped, or `seawatch serve --models DIR`)
    versions: list[ModelVersion]
    history: list[dict[str, Any]]


class ModelChange(BaseModel):
    action: str  # promote, rollback
    current: str | None
    previous: str | None
    forced: bool = False
    comparison: dict[str, Any] | None = None


def _registry(settings: SettingsDep) -> Registry:
    return Registry(settings.registry_dir())


@router.get("", response_model=ModelsPublic)
def list_models(_: Admin, settings: SettingsDep) -> ModelsPublic:
    """Every model version (what it learned from, its held-out figures), the current one and the history of
    promotions and rollbacks (who, when, with which figures)."""
    registry = _registry(settings)
    try:
        state = registry.state()
        versions = [ModelVersion.model_validate(_finite(v)) for v in registry.versions()]
    except RegistryError as exc:
        raise HTTPException(500, str(exc)) from None
    return ModelsPublic(current=state.get("current"), versions=versions, history=_finite(state["history"]))


@router.post("/{version}/promote", response_model=ModelChange)
def promote_model(
    principal: Admin,
    settings: SettingsDep,
    store: StoreDep,
    version: VersionPath,
    force: Annotated[bool, Query(description="promote even if it does not beat the current model")] = False,
) -> ModelChange:
    """Make ``version`` the model in use if it beats the current one on its held-out decisions (a higher average
    precision on the same rows); 409 with both figures otherwise, unless ``force``."""
    registry = _registry(settings)
    try:
        previous = registry.current()
        comparison = registry.promote(version, by=principal.name, force=force)
    except NotBetter as exc:
        raise HTTPException(409, {"message": str(exc), "comparison": _finite(vars(exc.comparison))}) from None
    except RegistryError as exc:
        raise HTTPException(404 if "no model version" in str(exc) else 409, str(exc)) from None
    except ModelFileError as exc:
        raise HTTPException(422, str(exc)) from None
    said = _finite(vars(comparison))
    forced = not comparison.better
    store.record_audit("model.promote", version, actor=principal.name, key_id=principal.key_id, at=utcnow(),
                       details={"previous": previous, "forced": forced, **said})  # fmt: skip
    return ModelChange(action="promote", current=version, previous=previous, forced=forced, comparison=said)


@router.post("/rollback", response_model=ModelChange)
def rollback_model(principal: Admin, settings: SettingsDep, store: StoreDep) -> ModelChange:
    """Return to the model that was in use before the current one was promoted (the base models at the start)."""
    try:
        left, back_to = _registry(settings).rollback(by=principal.name)
    except RegistryError as exc:
        raise HTTPException(409, str(exc)) from None
    store.record_audit("model.rollback", left, actor=principal.name, key_id=principal.key_id, at=utcnow(),
                       details={"back_to": back_to})  # fmt: skip
    return ModelChange(action="rollback", current=back_to, previous=left)


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be computed is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
