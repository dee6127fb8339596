"""Property tests of the API from its own OpenAPI schema (schemathesis): no input makes it fail with a 5xx.

Runs against the real app on a seeded SQLite store, with an admin key so that every operation is reached.
The live stream is left out: it never ends by design (tests/api/test_api_stream.py covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from tests.api.helpers import alerts_frame, vessels_frame

EXAMPLES = 50  # per operation, half valid, half refused: ~15 s on two shared cores


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    db = Path(tmp_path_factory.mktemp("schemathesis")) / "seawatch.db"
    # no request rates: hundreds of cases a second from one key and address are the point here
    app = create_app(Settings(database_url=f"sqlite:///{db}", rate_per_key=0, rate_per_address=0))
    with TestClient(app) as client:  # opens the store (the lifespan) to seed it
        store = client.app.state.store  # type: ignore[attr-defined]
        store.upsert_vessels(vessels_frame(5))
        store.upsert_alerts(pl.concat([alerts_frame(5), alerts_frame(3, kind="loitering", mmsi0=574000001)]))
        key = create_key(store, "schemathesis", "admin")
    yield app, key


def test_no_input_makes_the_api_fail(seeded: tuple[Any, str]) -> None:
    app, key = seeded
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).exclude(path="/api/v1/alerts/stream")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    statuses: dict[int, int] = {}
    for operation in operations:
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid input, and input the schema refuses

        @given(case=st.one_of(*[operation.as_strategy(generation_mode=m) for m in modes]))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: Any) -> None:
            response = case.call(headers={"X-API-Key": key})
            statuses[response.status_code // 100] = statuses.get(response.status_code // 100, 0) + 1
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
            )

        no_server_error()
    assert statuses.get(2, 0) > 0 and statuses.get(4, 0) > 0, statuses  # both valid and refused input were tried
