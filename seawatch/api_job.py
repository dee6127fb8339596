"""``seawatch api [--workers N]``: the HTTP API and the map alone, on the store an engine elsewhere writes.

Each of the N worker processes (uvicorn's, sharing one listening socket) builds the app from the ``SEAWATCH_*``
settings (:func:`app`); the store is the database they share with the engine (``seawatch serve --no-api`` or a
whole ``seawatch serve``): PostgreSQL (``SEAWATCH_DATABASE_URL``) for a service, a SQLite file on one machine.
Every worker serves the live alert stream from the database, woken at once by what the engine and the other
workers commit (api/store/changes.py: PostgreSQL NOTIFY, or SQLite's change counters), and its caches (vessels
pages, remembered keys) follow those commits too. No engine runs here, so /healthz reports the API and
its database, not the feeds.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app, open_store
from api.settings import Settings


def app() -> FastAPI:
    """The app of one worker process (uvicorn's factory)."""
    return create_app(Settings())


def run_api(host: str, port: int, workers: int) -> None:
    """Serve until SIGINT/SIGTERM with ``workers`` processes."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more worker processes")
    # a bad setting is named here once, not by every worker; and the database's schema is made or migrated here,
    # once: workers starting together on a new database would race to create it ("database is locked")
    open_store(Settings()).close()
    uvicorn.run("seawatch.api_job:app", factory=True, host=host, port=port, workers=workers, log_level="warning")
