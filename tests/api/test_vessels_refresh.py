"""GET /vessels under load: a page in use is rebuilt in the background before it is too old, so no request waits
for a build while the table's revision holds, and writes by another process still show within vessels_cache_s when
they are not heard of at once (api/store/changes.py, tests/api/test_changes.py);
a query string answered before is answered from memory, with the same checks of the caller."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from api.app import create_app, open_store
from api.cache import REFRESH_AT
from api.keys import create_key
from api.settings import Settings
from tests.api.helpers import auth, vessels_frame

V1 = "/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_page_in_use_is_refreshed_in_the_background(client: TestClient, keys: dict[str, str],
                                                      settings: Settings) -> None:  # fmt: skip
    h = auth(keys["viewer"])
    client.app.state.store.stop_following()  # type: ignore[attr-defined]  # other processes' writes unheard of
    client.app.state.store.upsert_vessels(vessels_frame(5))  # type: ignore[attr-defined]
    cache = client.app.state.vessels_cache  # type: ignore[attr-defined]
    clock = cache.clock = Clock()
    first = client.get(f"{V1}/vessels", headers=h).json()
    assert first["total"] == 5
    other = open_store(settings)  # another process writing to the same database: no revision of ours moves now
    try:
        other.upsert_vessels(vessels_frame(1, name="THANH DAT", mmsi0=574000009))
    finally:
        other.close()
    clock.now = REFRESH_AT * cache.max_age
    misses = cache.misses
    assert client.get(f"{V1}/vessels", headers=h).json() == first, "the old page serves while it is rebuilt"
    for _ in range(500):  # the rebuild runs in the app's threadpool
        after = client.get(f"{V1}/vessels", headers=h).json()
        if after["total"] == 6:
            break
        time.sleep(0.01)
    assert after["total"] == 6 and "THANH DAT 0" in [v["name"] for v in after["items"]]
    assert cache.misses == misses, "no request waited for a build"
    clock.now = (REFRESH_AT + 0.9) * cache.max_age  # 0.9 max_age after the rebuild began: still served
    assert client.get(f"{V1}/vessels", headers=h).json() == after
    assert cache.misses == misses


def test_a_query_answered_before_is_answered_from_memory_with_the_same_checks(db_url: str) -> None:
    """CachedPageRoute: the same query string again is answered from the page cache (the query string is
    remembered), with the same body and headers as the whole route; the caller is checked all the same (a wrong
    key is 401, no key 401, each request takes one token of its key's rate), and a new query string, a new
    revision or an invalid query take the whole route."""
    settings = Settings(environment="production", database_url=db_url, rate_per_key=0.001, rate_burst_key=4,
                        rate_per_address=0)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        cache = client.app.state.vessels_cache  # type: ignore[attr-defined]
        store.upsert_vessels(vessels_frame(5))
        h = auth(create_key(store, "viewer on duty", "viewer"))
        first = client.get(f"{V1}/vessels?page_size=2&sort=mmsi", headers=h)
        assert cache.alias(b"page_size=2&sort=mmsi") is not None
        again = client.get(f"{V1}/vessels?page_size=2&sort=mmsi", headers=h)
        assert (again.status_code, again.content, again.headers["content-type"]) == (
            200, first.content, first.headers["content-type"])  # fmt: skip
        assert client.get(f"{V1}/vessels?page_size=2&sort=mmsi", headers=auth("sw_nope")).status_code == 401
        assert client.get(f"{V1}/vessels?page_size=2&sort=mmsi").status_code == 401
        for _ in range(2):  # the 3rd and 4th tokens of the key's burst
            assert client.get(f"{V1}/vessels?page_size=2&sort=mmsi", headers=h).status_code == 200
        limited = client.get(f"{V1}/vessels?page_size=2&sort=mmsi", headers=h)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert client.get(f"{V1}/vessels?page_size=0&sort=mmsi", headers=h).status_code in (422, 429)


def test_a_remembered_query_sees_a_new_revision_at_once(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["viewer"])
    store = client.app.state.store  # type: ignore[attr-defined]
    store.upsert_vessels(vessels_frame(5))
    assert client.get(f"{V1}/vessels", headers=h).json()["total"] == 5
    assert client.get(f"{V1}/vessels", headers=h).json()["total"] == 5  # from memory
    store.upsert_vessels(vessels_frame(1, name="THANH DAT", mmsi0=574000009))
    assert client.get(f"{V1}/vessels", headers=h).json()["total"] == 6
