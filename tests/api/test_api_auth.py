"""Who may do what: 401 without or with an unknown key, 403 for a role too low, exactly where due. The routes come
from ``app.routes``: each one is public or has its role in ROLES_NEEDED, so a new route is checked as it comes."""

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
# Every route of the app, by (method, path template): the lowest role allowed, or public (PUBLIC). A route in
# neither fails test_every_route_is_public_or_needs_a_role: a new endpoint must say who may call it.
ROLES_NEEDED: dict[tuple[str, str], str] = {
    ("GET", f"{V1}/vessels"): "viewer",
    ("GET", f"{V1}/vessels/{{mmsi}}"): "viewer",
    ("GET", f"{V1}/vessels/{{mmsi}}/track"): "viewer",
    ("GET", f"{V1}/vessels/{{mmsi}}/triage"): "viewer",
    ("GET", f"{V1}/vessels/{{mmsi}}/dossier"): "viewer",
    ("GET", f"{V1}/vessels/{{mmsi}}/reach"): "viewer",
    ("GET", f"{V1}/intercept"): "viewer",
    ("GET", f"{V1}/alerts"): "viewer",
    ("GET", f"{V1}/alerts/stream"): "viewer",
    ("GET", f"{V1}/alerts/{{alert_id}}"): "viewer",
    ("GET", f"{V1}/alerts/{{alert_id}}/history"): "viewer",
    ("PATCH", f"{V1}/alerts/{{alert_id}}"): "analyst",
    ("GET", f"{V1}/mutes"): "viewer",
    ("GET", f"{V1}/mutes/{{mute_id}}"): "viewer",
    ("POST", f"{V1}/mutes"): "analyst",
    ("DELETE", f"{V1}/mutes/{{mute_id}}"): "analyst",
    ("GET", f"{V1}/quality"): "viewer",
    ("GET", f"{V1}/stations"): "viewer",
    ("GET", f"{V1}/zones"): "viewer",
    ("POST", f"{V1}/zones"): "admin",
    ("GET", f"{V1}/zones/{{zone_id}}"): "viewer",
    ("PUT", f"{V1}/zones/{{zone_id}}"): "admin",
    ("DELETE", f"{V1}/zones/{{zone_id}}"): "admin",
    ("GET", f"{V1}/keys"): "admin",
    ("POST", f"{V1}/keys"): "admin",
    ("DELETE", f"{V1}/keys/{{key_id}}"): "admin",
    ("GET", f"{V1}/audit"): "admin",
    ("GET", f"{V1}/models"): "admin",
    ("POST", f"{V1}/models/{{version}}/promote"): "admin",
    ("POST", f"{V1}/models/rollback"): "admin",
    ("GET", f"{V1}/watchlists"): "viewer",
    ("GET", f"{V1}/reach"): "viewer",
    ("POST", f"{V1}/watchlists"): "analyst",
    ("GET", f"{V1}/watchlists/{{list_id}}"): "viewer",
    ("DELETE", f"{V1}/watchlists/{{list_id}}"): "analyst",
    ("GET", f"{V1}/watchlists/{{list_id}}/entries"): "viewer",
    ("POST", f"{V1}/watchlists/{{list_id}}/entries"): "analyst",
    ("DELETE", f"{V1}/watchlists/{{list_id}}/entries/{{entry_id}}"): "analyst",
}
# open without a key: probes, the map page and its geography (no vessel data), the API's own description
PUBLIC = {("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/"), ("GET", "/map/region.geojson"),
          ("GET", "/map/coastline.geojson"), ("GET", f"{V1}/openapi.json"), ("GET", f"{V1}/docs"),
          ("GET", "/docs/oauth2-redirect"), ("GET", "/static")}  # fmt: skip
PATH_VALUES = {"mmsi": "574000001", "alert_id": ALERT, "mute_id": "1", "zone_id": "abc", "key_id": "abc",
               "version": "0001", "list_id": "1", "entry_id": "1"}  # fmt: skip
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", f"{V1}/alerts/{{alert_id}}"): {"status": "dismissed", "reason": "reception_problem"},
    ("POST", f"{V1}/mutes"): MUTE,
    ("POST", f"{V1}/zones"): ZONE,
    ("PUT", f"{V1}/zones/{{zone_id}}"): ZONE,
    ("POST", f"{V1}/keys"): {"name": "n", "role": "viewer"},
    ("POST", f"{V1}/watchlists"): {"name": "caught 2025"},
    ("POST", f"{V1}/watchlists/{{list_id}}/entries"): {"mmsi": 574001234, "reason": "fuel smuggling"},
}
NEVER_ENDS = {("GET", f"{V1}/alerts/stream")}  # allowed, it streams: test_api_stream covers it
RANK = {"viewer": 0, "analyst": 1, "admin": 2}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route in ``app.routes``, included routers flattened (FastAPI >= 0.16x
    keeps them as lazy branches); a mount (static files) as ("GET", its path)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for ctx in contexts:
            original = getattr(ctx, "original_route", ctx)
            methods = getattr(original, "methods", None) or {"GET"}
            found |= {(m, ctx.path) for m in methods if m != "HEAD"}
    return found


def test_every_route_is_public_or_needs_a_role(client: TestClient) -> None:
    routes = app_routes(client.app)
    assert routes - PUBLIC - ROLES_NEEDED.keys() == set(), "routes that say nothing of who may call them"
    assert (PUBLIC | ROLES_NEEDED.keys()) - routes == set(), "listed routes the app does not have"


MATRIX = sorted(ROLES_NEEDED)


@pytest.mark.parametrize(("method", "template"), MATRIX, ids=[f"{m} {p}" for m, p in MATRIX])
def test_role_matrix(client: TestClient, keys: dict[str, str], method: str, template: str) -> None:
    client.app.state.store.upsert_alerts(alerts_frame(1))  # type: ignore[attr-defined]
    path, body, needs = template.format(**PATH_VALUES), BODIES.get((method, template)), ROLES_NEEDED[method, template]
    assert client.request(method, path, json=body).status_code == 401
    assert client.request(method, path, json=body, headers=auth("sw_0000_unknown")).status_code == 401
    assert client.request(method, path, json=body, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    for role, key in keys.items():
        if RANK[role] >= RANK[needs] and (method, template) in NEVER_ENDS:
            continue
        status = client.request(method, path, json=body, headers=auth(key)).status_code
        if RANK[role] < RANK[needs]:
            assert status == 403, (role, status)
        else:
            assert status not in (401, 403), (role, status)


def test_public_routes_answer_without_a_key(client: TestClient) -> None:
    for method, path in sorted(PUBLIC):
        url = {"/static": "/static/app.js", "/map/coastline.geojson": "/map/coastline.geojson?cells=50"}.get(path, path)
        assert client.request(method, url).status_code == 200, path


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
