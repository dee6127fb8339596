"""Who may do what: 401 without or with an unknown key, 403 for a role too low, exactly where due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import alerts_frame, auth

V1 = "/api/v1"
ZONE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[107.0, 20.0], [108.0, 20.0], [108.0, 21.0], [107.0, 20.0]]]},
    "properties": {"name": "z", "zone_kind": "watch"},
}
ALERT = alerts_frame(1)["alert_id"][0]
MUTE = {"pattern": "vessel", "kind": "encounter", "mmsi": 574000001, "reason": "bunkering barge",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()}  # fmt: skip
# (method, path, body, the lowest role allowed)
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", f"{V1}/vessels", None, "viewer"),
    ("GET", f"{V1}/vessels/574000001", None, "viewer"),
    ("GET", f"{V1}/vessels/574000001/track", None, "viewer"),
    ("GET", f"{V1}/alerts", None, "viewer"),
    ("GET", f"{V1}/alerts/{ALERT}", None, "viewer"),
    ("GET", f"{V1}/alerts/{ALERT}/history", None, "viewer"),
    ("PATCH", f"{V1}/alerts/{ALERT}", {"status": "confirmed"}, "analyst"),
    ("PATCH", f"{V1}/alerts/{ALERT}", {"status": "dismissed", "reason": "reception_problem"}, "analyst"),
    ("GET", f"{V1}/mutes", None, "viewer"),
    ("GET", f"{V1}/mutes/1", None, "viewer"),
    ("POST", f"{V1}/mutes", MUTE, "analyst"),
    ("DELETE", f"{V1}/mutes/1", None, "analyst"),
    ("GET", f"{V1}/zones", None, "viewer"),
    ("POST", f"{V1}/zones", ZONE, "admin"),
    ("GET", f"{V1}/zones/abc", None, "viewer"),
    ("PUT", f"{V1}/zones/abc", ZONE, "admin"),
    ("DELETE", f"{V1}/zones/abc", None, "admin"),
    ("GET", f"{V1}/keys", None, "admin"),
    ("POST", f"{V1}/keys", {"name": "n", "role": "viewer"}, "admin"),
    ("DELETE", f"{V1}/keys/abc", None, "admin"),
]
RANK = {"viewer": 0, "analyst": 1, "admin": 2}


@pytest.mark.parametrize(("method", "path", "body", "needs"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_role_matrix(client: TestClient, keys: dict[str, str], method: str, path: str, body: Any, needs: str) -> None:
    client.app.state.store.upsert_alerts(alerts_frame(1))  # type: ignore[attr-defined]
    assert client.request(method, path, json=body).status_code == 401
    assert client.request(method, path, json=body, headers=auth("sw_0000_unknown")).status_code == 401
    assert client.request(method, path, json=body, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    for role, key in keys.items():
        status = client.request(method, path, json=body, headers=auth(key)).status_code
        if RANK[role] < RANK[needs]:
            assert status == 403, (role, status)
        else:
            assert status not in (401, 403), (role, status)


def test_stream_needs_a_key(client: TestClient) -> None:
    assert client.get(f"{V1}/alerts/stream").status_code == 401


def test_root_endpoints_are_open(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_bootstrap_admin_key_from_settings(db_url: str) -> None:
    key = "k" * 40
    with TestClient(create_app(Settings(database_url=db_url, admin_key=key))) as c:
        assert c.get(f"{V1}/keys", headers=auth(key)).status_code == 200
        assert c.get(f"{V1}/keys", headers=auth(key + "x")).status_code == 401


def test_unsafe_settings_are_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="ANONYMOUS_ROLE"):
        Settings(anonymous_role="viewer")
    with pytest.raises(ValidationError, match="CORS"):
        Settings(cors_origins=["*"])
    with pytest.raises(ValidationError, match="shorter"):
        Settings(admin_key="changeme")
    assert Settings(environment="development", anonymous_role="viewer", cors_origins=["*"]).anonymous_role == "viewer"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAWATCH_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("SEAWATCH_CORS_ORIGINS", '["https://map.example"]')
    s = Settings()
    assert s.store_url() == "postgresql+psycopg://u@h/db" and s.cors_origins == ["https://map.example"]
    assert s.environment == "production" and s.admin_key is None and s.anonymous_role is None


def test_anonymous_viewer_in_development_and_cors(db_url: str) -> None:
    settings = Settings(
        environment="development", database_url=db_url, anonymous_role="viewer", cors_origins=["https://m.example"]
    )
    with TestClient(create_app(settings)) as c:
        assert c.get(f"{V1}/vessels").status_code == 200
        assert c.get(f"{V1}/keys").status_code == 403
        pre = c.options(
            f"{V1}/vessels", headers={"Origin": "https://m.example", "Access-Control-Request-Method": "GET"}
        )
        assert pre.headers["access-control-allow-origin"] == "https://m.example"


def test_cors_closed_by_default(client: TestClient) -> None:
    r = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
