"""What one caller may ask of the API (issue 14): body size (413), request rates per address and per key (429 with
Retry-After), throttled failed key checks, keys that expire and record their last use, the map's cached coastline
and the page's security headers. The real app on a real temporary database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.limits import TokenBuckets
from api.routes import map as map_routes
from api.settings import Settings
from tests.api.helpers import auth

V1 = "/api/v1"
ZONE_RING = [[107.0, 20.0], [108.0, 20.0], [108.0, 21.0], [107.0, 20.0]]


def _client(db_url: str, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(database_url=db_url, **settings)))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ token buckets
def test_token_bucket_burst_then_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(2.0, 3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: half a second to the next token at 2 a second
    assert buckets.take("b") == 0.0  # another caller has its own bucket
    now[0] = 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    now[0] = 100.0  # refills up to the burst only
    assert [buckets.take("a") for _ in range(4)].count(0.0) == 3
    assert TokenBuckets(0.0, 1).take("a") == 0.0  # rate 0: no limit


def test_token_buckets_forget_the_least_recent_past_their_bound() -> None:
    buckets = TokenBuckets(1.0, 1, clock=lambda: 0.0, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert buckets.take("a") == 0.0  # forgotten, so full again
    assert buckets.take("c") > 0


# ------------------------------------------------------------------------------------------------ body size
def test_a_body_over_the_limit_is_413_before_it_is_read(db_url: str) -> None:
    with _client(db_url, max_body_bytes=4096) as c:
        key = create_key(c.app.state.store, "admin", "admin")  # type: ignore[attr-defined]
        zone = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ZONE_RING]},
                "properties": {"name": "z", "zone_kind": "watch", "note": "x" * 5000}}  # fmt: skip
        declared = c.post(f"{V1}/zones", json=zone, headers=auth(key))
        assert declared.status_code == 413 and "Content Too Large" in declared.text
        # no key at all: refused for its size before the key is asked for (nothing was read)
        assert c.post(f"{V1}/zones", json=zone).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"type": "Feature", "properties": {"name": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}}'

        streamed = c.post(f"{V1}/zones", content=chunks(), headers=auth(key) | {"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert c.get(f"{V1}/zones", headers=auth(key)).json()["features"] == []
        small = zone | {"properties": {"name": "z", "zone_kind": "watch"}}
        assert c.post(f"{V1}/zones", json=small, headers=auth(key)).status_code == 201


# ------------------------------------------------------------------------------------------------ request rates
def test_an_address_past_its_rate_gets_429_with_retry_after(db_url: str) -> None:
    with _client(db_url, rate_per_address=0.5, rate_burst_address=5) as c:
        statuses = [c.get("/map/region.geojson").status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        refused = c.get(f"{V1}/vessels")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert c.get("/healthz").status_code == 200  # probes are not counted


def test_a_key_past_its_rate_gets_429_other_keys_do_not(db_url: str) -> None:
    with _client(db_url, rate_per_key=0.5, rate_burst_key=4, rate_per_address=0) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        busy, other = create_key(store, "busy", "viewer"), create_key(store, "other", "viewer")
        statuses = [c.get(f"{V1}/zones", headers=auth(busy)).status_code for _ in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        refused = c.get(f"{V1}/zones", headers=auth(busy))
        assert refused.headers["Retry-After"] == "2" and "busy" in refused.json()["detail"]
        assert c.get(f"{V1}/zones", headers=auth(other)).status_code == 200


# ------------------------------------------------------------------------------------------------ failed key checks
def test_failed_key_checks_are_throttled_per_address_without_a_scrypt(db_url: str) -> None:
    with _client(db_url, auth_failures_burst=3, auth_failures_per_minute=1) as c:
        key = create_key(c.app.state.store, "duty", "viewer")  # type: ignore[attr-defined]
        checker = c.app.state.keys  # type: ignore[attr-defined]
        wrong = key[:-4] + "AAAA"  # the real key id, a wrong secret
        statuses = [c.get(f"{V1}/zones", headers=auth(wrong)).status_code for _ in range(6)]
        assert statuses == [401] * 3 + [429] * 3
        assert checker.scrypts == 3  # the refused ones cost no scrypt
        throttled = c.get(f"{V1}/zones", headers=auth("sw_0000_unknown"))
        assert throttled.status_code == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 60


def test_a_wrong_secret_for_a_key_that_passed_costs_no_scrypt(db_url: str) -> None:
    with _client(db_url, auth_failures_burst=1000) as c:
        key = create_key(c.app.state.store, "duty", "viewer")  # type: ignore[attr-defined]
        checker = c.app.state.keys  # type: ignore[attr-defined]
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200
        assert checker.scrypts == 1
        for i in range(20):
            assert c.get(f"{V1}/zones", headers=auth(key[:-3] + f"{i:03d}")).status_code == 401
        assert checker.scrypts == 1  # each wrong secret told from the right one by its SHA-256
        checker._cache.clear()  # the right key once its minute in memory is over: still no scrypt
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200 and checker.scrypts == 1


def test_a_key_id_under_attack_still_lets_its_known_key_in(db_url: str) -> None:
    with _client(db_url, auth_failures_burst=2, auth_failures_per_minute=1) as c:
        key = create_key(c.app.state.store, "duty", "viewer")  # type: ignore[attr-defined]
        checker = c.app.state.keys  # type: ignore[attr-defined]
        checker.failures.take(("key", key.split("_")[1]))
        checker.failures.take(("key", key.split("_")[1]))  # the id's failures spent (from other addresses)
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 429  # unknown here yet: a scrypt, refused
        checker.failures = TokenBuckets(1.0, 100)
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200
        checker.failures = TokenBuckets(1 / 60, 1)
        checker.failures.take(("key", key.split("_")[1]))
        checker._cache.clear()
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200  # known: checked without a scrypt


# ------------------------------------------------------------------------------------------------ expiry, last use
def test_a_key_is_refused_after_it_expires(db_url: str) -> None:
    with _client(db_url) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        admin = create_key(store, "admin", "admin")
        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        made = c.post(f"{V1}/keys", json={"name": "contractor", "role": "viewer", "expires_at": soon.isoformat()},
                      headers=auth(admin))  # fmt: skip
        assert made.status_code == 201
        assert datetime.fromisoformat(made.json()["expires_at"]) == soon.replace(microsecond=soon.microsecond)
        key = made.json()["key"]
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200
        time.sleep(1.6)
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 401  # refused though it passed a moment ago
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        refused = c.post(f"{V1}/keys", json={"name": "late", "role": "viewer", "expires_at": past}, headers=auth(admin))
        assert refused.status_code == 422 and "future" in refused.text
        with pytest.raises(ValueError, match="future"):
            create_key(store, "late", "viewer", expires_at=datetime.now(UTC) - timedelta(seconds=1))


def test_last_used_is_recorded_at_most_once_a_minute(db_url: str) -> None:
    with _client(db_url) as c:
        store = c.app.state.store  # type: ignore[attr-defined]
        admin = create_key(store, "admin", "admin")
        key = create_key(store, "duty", "viewer")
        key_id = key.split("_")[1]
        assert store.key(key_id)["last_used_at"] is None
        before = datetime.now(UTC)
        assert c.get(f"{V1}/zones", headers=auth(key)).status_code == 200
        deadline = time.monotonic() + 5
        while store.key(key_id)["last_used_at"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = store.key(key_id)["last_used_at"]
        assert first is not None and first >= before - timedelta(seconds=1)
        for _ in range(5):
            c.get(f"{V1}/zones", headers=auth(key))
        time.sleep(0.3)
        assert store.key(key_id)["last_used_at"] == first  # not a write per request
        listed = {k["id"]: k for k in c.get(f"{V1}/keys", headers=auth(admin)).json()}
        assert listed[key_id]["last_used_at"] is not None and listed[key_id]["expires_at"] is None


# ------------------------------------------------------------------------------------------------ the map
def test_the_coastline_is_traced_once_per_box(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    traced = []
    real = map_routes.coastline_geojson

    def counting(*args: object, **kwargs: object) -> object:
        traced.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(map_routes, "coastline_geojson", counting)
    with _client(db_url) as c:
        url = "/map/coastline.geojson?bbox=106,20,108,21.5&cells=100"
        first = c.get(url)
        assert first.status_code == 200 and first.headers["Cache-Control"].startswith("max-age=")
        for _ in range(5):
            assert c.get(url).content == first.content
        assert len(traced) == 1
        assert first.json()["features"][0]["geometry"]["type"] == "MultiPolygon"
        assert c.get("/map/coastline.geojson?bbox=106,20,108,21.5&cells=120").status_code == 200
        assert len(traced) == 2  # another grid is another tracing
        assert c.get("/map/coastline.geojson?bbox=106,20,108").status_code == 422


def test_the_page_and_its_files_carry_security_headers(db_url: str) -> None:
    with _client(db_url) as c:
        for path in ("/", "/static/app.js", "/static/vendor/leaflet/leaflet.css"):
            r = c.get(path)
            assert r.status_code == 200, path
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "Content-Security-Policy" not in c.get(f"{V1}/docs").headers  # the docs page loads Swagger UI
