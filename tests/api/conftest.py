"""The real app on a real database: a temporary SQLite file, and PostgreSQL when SEAWATCH_TEST_POSTGRES_URL is set.

Start a throwaway PostgreSQL with ``eval "$(.ci/postgres.sh)"`` to run every store and API test on both.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import Settings
from api.store import Store

POSTGRES_ENV = "SEAWATCH_TEST_POSTGRES_URL"


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'seawatch.db'}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f'PostgreSQL: set {POSTGRES_ENV} (eval "$(.ci/postgres.sh)" starts a throwaway server)')
    _reset_postgres(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(environment="production", database_url=db_url, stream_poll_s=0.2)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """A key per role: {"viewer": "sw_...", "analyst": ..., "admin": ...}."""
    store = client.app.state.store  # type: ignore[attr-defined]
    return {role: create_key(store, f"{role} on duty", role) for role in ("viewer", "analyst", "admin")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_api(db_url: str) -> Iterator[tuple[str, Store, str]]:
    """The app served by uvicorn on a loopback port: (base URL, the store the server uses, a viewer key), the store
    shared as the stream runner shares it (the live stream's tests)."""
    store = Store(db_url)
    key = create_key(store, "watch officer", "viewer")
    app = create_app(Settings(database_url=db_url, stream_poll_s=0.2, stream_ping_s=1), store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, key
    server.should_exit = True
    thread.join(10)
    store.close()
