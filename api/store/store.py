"""The store: one data layer over SQLite (default, a file) and PostgreSQL (several processes sharing it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.store.alerts import AlertsMixin
from api.store.engine import latest_version, make_engine, migrate, schema_version
from api.store.quality import QualityMixin
from api.store.vessels import VesselsMixin
from api.store.zones import KeysMixin, ZonesMixin

DEFAULT_TRACK_INTERVAL_S = 60.0  # one point a minute per vessel is enough to draw and replay a track
DEFAULT_TRACK_RETENTION = timedelta(days=7)


class Store(AlertsMixin, QualityMixin, VesselsMixin, ZonesMixin, KeysMixin):
    """Alerts and triage (and its quality), vessels, tracks, zones and API keys.

    ``Store("sqlite:///seawatch.db")`` or ``Store("postgresql+psycopg://user@host/db")``; the schema is migrated
    to the latest version on opening (``migrate=False`` to leave it). Methods are synchronous and thread-safe:
    call them from a worker thread in async code.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        track_interval_s: float = DEFAULT_TRACK_INTERVAL_S,
        track_retention: timedelta = DEFAULT_TRACK_RETENTION,
    ) -> None:
        super().__init__(make_engine(url))
        self.url = url
        self.track_interval_s = track_interval_s
        self.track_retention = track_retention
        self._last_prune = 0.0
        self.vessels_revision = 0
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        migrate(self.engine)

    def schema_version(self) -> str | None:
        return schema_version(self.engine)

    def is_current(self) -> bool:
        return self.schema_version() == latest_version()

    def ping(self) -> bool:
        """Whether the database answers (for /healthz)."""
        try:
            with self._read() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()
