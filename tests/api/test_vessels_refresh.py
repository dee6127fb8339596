"""GET /vessels under load: a page in use is rebuilt in the background before it is too old, so no request waits
for a build while the table's revision holds, and writes by another process still show within vessels_cache_s."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from api.app import open_store
from api.cache import REFRESH_AT
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
    client.app.state.store.upsert_vessels(vessels_frame(5))  # type: ignore[attr-defined]
    cache = client.app.state.vessels_cache  # type: ignore[attr-defined]
    clock = cache.clock = Clock()
    first = client.get(f"{V1}/vessels", headers=h).json()
    assert first["total"] == 5
    other = open_store(settings)  # another process writing to the same database: no revision of ours moves
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
