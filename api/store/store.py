"""The store: one data layer over SQLite (default, a file) and PostgreSQL (several processes sharing it)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.store.alerts import AlertsMixin
from api.store.audit import AuditMixin
from api.store.base import utcnow
from api.store.engine import latest_version, make_engine, migrate, schema_version
from api.store.quality import QualityMixin
from api.store.tables import alerts, vessel_history, withdrawn_alerts
from api.store.training import TrainingMixin
from api.store.vessels import VesselsMixin
from api.store.watchlists import WatchlistsMixin
from api.store.zones import KeysMixin, ZonesMixin

DEFAULT_TRACK_INTERVAL_S = 60.0  # one point a minute per vessel is enough to draw and replay a track
DEFAULT_TRACK_RETENTION = timedelta(days=7)
BACKUP_PAGES = 1024  # pages copied per step of SQLite's online backup: writers get the lock between steps


class Store(WatchlistsMixin, AlertsMixin, QualityMixin, VesselsMixin, ZonesMixin, KeysMixin, AuditMixin, TrainingMixin):
    """Alerts and triage (and its quality), vessels, tracks, zones, API keys, the audit log, watchlists, and what
    retraining from the store reads.

    ``Store("sqlite:///seawatch.db")`` or ``Store("postgresql+psycopg://user@host/db")``; the schema is migrated
    to the latest version on opening (``migrate=False`` to leave it). Methods are synchronous and thread-safe:
    call them from a worker thread in async code. ``alert_retention``, ``history_retention``,
    ``sighting_retention``: what :meth:`prune` deletes (None: kept forever).
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        track_interval_s: float = DEFAULT_TRACK_INTERVAL_S,
        track_retention: timedelta = DEFAULT_TRACK_RETENTION,
        alert_retention: timedelta | None = None,
        history_retention: timedelta | None = None,
        sighting_retention: timedelta | None = None,
    ) -> None:
        super().__init__(make_engine(url))
        self.url = url
        self.track_interval_s = track_interval_s
        self.track_retention = track_retention
        self.alert_retention = alert_retention
        self.history_retention = history_retention
        self.sighting_retention = sighting_retention
        self._last_prune = 0.0
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

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is past retention at ``now``: track points, undecided alerts the engine has not changed for
        the alert retention (stored times, not the data's: a replay of last year's archive is not pruned as it is
        stored; decided alerts are the models' labels: kept), identity history, watchlist sightings of vessels no
        longer listed (:meth:`prune_sightings`). Triage decisions, mutes, the watchlists and the audit log are never
        pruned. Returns how many rows of each went."""
        now = now or utcnow()
        done = {"track_points": self.prune_tracks(now), "alerts": 0, "vessel_history": 0, "watchlist_sightings": 0}
        if self.alert_retention is not None:
            done["alerts"] = self._prune_alerts(now - self.alert_retention)
        if self.history_retention is not None:
            with self._write() as conn:
                stmt = sa.delete(vessel_history).where(vessel_history.c.t < now - self.history_retention)
                done["vessel_history"] = int(conn.execute(stmt).rowcount)
        if self.sighting_retention is not None:
            done["watchlist_sightings"] = self.prune_sightings(now - self.sighting_retention)
        return done

    def _prune_alerts(self, cutoff: datetime) -> int:
        a = alerts.c
        with self._write() as conn:
            top = conn.execute(sa.select(a.alert_id, a.rev).order_by(a.rev.desc()).limit(1)).first()
            gone = int(conn.execute(sa.delete(alerts).where(a.updated_at < cutoff, a.status == "new")).rowcount)
            if gone and top is not None and self.dialect == "sqlite":
                # SQLite's next revision is the highest stored plus one: if the alert holding it went, its tombstone
                # keeps it, so no revision is given twice (a live stream client past it would miss the next)
                left = conn.execute(sa.select(sa.func.max(a.rev))).scalar_one()
                stones = conn.execute(sa.select(sa.func.max(withdrawn_alerts.c.rev))).scalar_one()
                if max(int(left or 0), int(stones or 0)) < int(top.rev):
                    conn.execute(sa.delete(withdrawn_alerts).where(withdrawn_alerts.c.alert_id == top.alert_id))
                    conn.execute(sa.insert(withdrawn_alerts).values(alert_id=top.alert_id, rev=top.rev, at=utcnow()))
        return gone

    def backup(self, out: Path) -> int:
        """Copy a SQLite store to ``out`` with SQLite's online backup (a consistent copy while the service writes);
        returns its size in bytes. A PostgreSQL store raises ValueError naming the ``pg_dump`` command to use."""
        if self.dialect != "sqlite":
            raise ValueError(f"a PostgreSQL store is backed up with pg_dump: {pg_dump_command(self.url, out)}")
        out = out.expanduser()
        if out.exists():
            raise ValueError(f"{out} exists: give a new file (a backup never overwrites)")
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = self.engine.raw_connection()
        try:
            source = raw.driver_connection
            with sqlite3.connect(out) as target:
                source.backup(target, pages=BACKUP_PAGES)  # type: ignore[union-attr]
            target.close()
        finally:
            raw.close()
        return out.stat().st_size

    def close(self) -> None:
        self.stop_following()
        self.engine.dispose()


def pg_dump_command(url: str, out: Path) -> str:
    """The ``pg_dump`` line that backs up the PostgreSQL database of ``url`` to ``out`` (custom format, restored
    with ``pg_restore``); the password is left out: give it in PGPASSWORD or ~/.pgpass."""
    given = sa.make_url(url)
    target = sa.URL.create("postgresql", username=given.username, host=given.host, port=given.port,
                           database=given.database, query=given.query).render_as_string()  # fmt: skip
    return f"pg_dump --format=custom --no-owner --file '{out}' '{target}'"
