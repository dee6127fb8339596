"""The model registry through the admin API: list, promote (refused when the model does not beat the current one
on its held-out decisions), rollback; admins only; each change in the audit log. SQLite, and PostgreSQL when
SEAWATCH_TEST_POSTGRES_URL is set (the store's decisions are read from it to train, too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from api.store import Store
from models.files import DEFAULT_DIR, EVIDENCE_FILE
from models.registry import Registry
from tests.api.helpers import auth
from tests.models.triaged import fill, train

V1 = "/api/v1"
pytestmark = pytest.mark.skipif(not (DEFAULT_DIR / EVIDENCE_FILE).is_file(), reason="no shipped models")


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> Registry:
    """Version 0001 trained on the store's decisions (the analysts' rule), 0002 on mostly coin tosses."""
    store = Store(db_url)
    fill(store, 80, seed=1)
    store.close()
    registry = Registry(tmp_path / "registry")
    train(db_url, tmp_path / "good", DEFAULT_DIR)
    registry.add(tmp_path / "good", by="le")
    noisy = f"sqlite:///{tmp_path / 'noisy.db'}"
    store = Store(noisy)
    fill(store, 80, noisy_share=0.75, seed=1)
    store.close()
    train(noisy, tmp_path / "noisy", DEFAULT_DIR)
    registry.add(tmp_path / "noisy", by="le")
    return registry


@pytest.fixture
def admin_client(db_url: str, registry: Registry) -> Iterator[TestClient]:
    settings = Settings(environment="production", database_url=db_url, models_dir=registry.root)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def role_keys(admin_client: TestClient) -> dict[str, str]:
    store = admin_client.app.state.store  # type: ignore[attr-defined]
    return {role: create_key(store, f"{role} on duty", role) for role in ("viewer", "analyst", "admin")}


def test_only_admins_list_promote_and_roll_back(admin_client: TestClient, role_keys: dict[str, str],
                                                registry: Registry) -> None:  # fmt: skip
    for role in ("viewer", "analyst"):
        key = auth(role_keys[role])
        assert admin_client.get(f"{V1}/models", headers=key).status_code == 403
        assert admin_client.post(f"{V1}/models/0001/promote", headers=key).status_code == 403
        assert admin_client.post(f"{V1}/models/rollback", headers=key).status_code == 403
    assert registry.current() is None
    listed = admin_client.get(f"{V1}/models", headers=auth(role_keys["admin"])).json()
    assert listed["current"] is None and [v["version"] for v in listed["versions"]] == ["0001", "0002"]
    first = listed["versions"][0]
    assert first["learned_from"] == "analysts' decisions" and first["decisions"] == 80
    assert first["held_out"]["model_ap"] > first["held_out"]["current_ap"]


def test_a_worse_model_is_refused_a_better_one_promoted_and_rolled_back_with_audit(
    admin_client: TestClient, role_keys: dict[str, str], registry: Registry
) -> None:
    admin = auth(role_keys["admin"])
    r = admin_client.post(f"{V1}/models/0001/promote", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current"] == "0001" and body["previous"] is None and not body["forced"]
    assert body["comparison"]["model_ap"] > body["comparison"]["current_ap"]
    refused = admin_client.post(f"{V1}/models/0002/promote", headers=admin)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "not promoted" in detail["message"] and detail["comparison"]["current"] == "0001"
    assert detail["comparison"]["model_ap"] <= detail["comparison"]["current_ap"]
    assert registry.current() == "0001"
    forced = admin_client.post(f"{V1}/models/0002/promote", params={"force": "true"}, headers=admin).json()
    assert forced["current"] == "0002" and forced["forced"]
    back = admin_client.post(f"{V1}/models/rollback", headers=admin).json()
    assert (back["current"], back["previous"]) == ("0001", "0002") and registry.current() == "0001"
    assert admin_client.post(f"{V1}/models/0009/promote", headers=admin).status_code == 404
    audit = admin_client.get(f"{V1}/audit", params={"kind": ["model.promote", "model.rollback"]}, headers=admin)
    rows = audit.json()["items"]
    assert [(a["kind"], a["subject"], a["actor"]) for a in rows] == [
        ("model.rollback", "0002", "admin on duty"), ("model.promote", "0002", "admin on duty"),
        ("model.promote", "0001", "admin on duty")]  # fmt: skip
    assert rows[1]["details"]["forced"] and not rows[2]["details"]["forced"]
    history = admin_client.get(f"{V1}/models", headers=admin).json()["history"]
    assert [(e["action"], e["by"]) for e in history] == [("promote", "admin on duty")] * 2 + [
        ("rollback", "admin on duty")]  # fmt: skip
