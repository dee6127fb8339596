"""What changed in the store, told to every process sharing it at once: the one way caches learn they are stale.

Each write transaction names what it changes (:meth:`StoreBase._mark`: ``alerts``, ``vessels``, ``keys``...). In
this process the topic's revision goes up after the commit (:class:`Changes`); other processes hear of it at the
commit through the database itself, and :class:`ChangeFollower` puts their revisions up as well:

- PostgreSQL: ``NOTIFY seawatch_changes`` in the writing transaction (delivered at its commit, never for a rolled
  back one); the follower LISTENs on a connection of its own.
- SQLite: a counter per topic (table ``store_changes``) put up in the writing transaction; the follower asks the
  file's ``PRAGMA data_version`` (no read at all while nobody else wrote) every :data:`POLL_S` and reads the
  counters when it moved.

A cache keyed by a topic's revision (the vessels pages, api/cache.py) is then never served past another process's
write by more than the notice takes (milliseconds). A follower that lost its database puts every topic up when it
is back: what it missed is unknown.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

TOPICS = ("alerts", "decisions", "keys", "mutes", "vessels", "watchlists", "zones")
CHANNEL = "seawatch_changes"
POLL_S = 0.05  # SQLite: how often the follower asks whether another connection wrote (a cheap in-memory check)
RETRY_S = 1.0  # a follower whose database went away tries again after this long
log = logging.getLogger(__name__)
Listener = Callable[[frozenset[str]], None]


class Changes:
    """This process's revision of every topic: put up by its own commits and by other processes' (the follower).

    Listeners are called with the topics that changed, from the writing thread or the follower's: keep them short
    (wake something up, drop a cache).
    """

    def __init__(self) -> None:
        self.origin = secrets.token_hex(6)  # names this process's notices: its follower skips them
        self._revisions = dict.fromkeys(TOPICS, 0)
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def revision(self, topic: str) -> int:
        return self._revisions[topic]

    def bump(self, topics: Iterable[str]) -> None:
        changed = frozenset(topics)
        with self._lock:
            for topic in changed:
                self._revisions[topic] += 1
        for listener in list(self._listeners):
            listener(changed)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)


def mark(conn: sa.Connection, dialect: str, origin: str, topics: Iterable[str]) -> dict[str, int]:
    """Inside a write transaction: tell other processes, at its commit, that it changed ``topics``. Returns the
    SQLite counters it set (none for PostgreSQL), which this process's follower then knows it has seen."""
    names = sorted(topics)
    unknown = set(names) - set(TOPICS)
    if unknown:
        raise ValueError(f"unknown change topics {sorted(unknown)}: use some of {TOPICS}")
    if dialect == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, f"{origin}:{','.join(names)}")))
        return {}
    seen = {}
    for topic in names:
        rev = conn.exec_driver_sql(
            "INSERT INTO store_changes (topic, rev) VALUES (?, 1) "
            "ON CONFLICT (topic) DO UPDATE SET rev = rev + 1 RETURNING rev",
            (topic,),
        ).scalar_one()
        seen[topic] = int(rev)
    return seen


def driver_errors(dialect: str) -> tuple[type[Exception], ...]:
    """What a lost database raises, through SQLAlchemy or straight from the driver (the follower's own
    connection)."""
    errors: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, OSError)
    if dialect == "postgresql":
        import psycopg

        errors += (psycopg.Error,)
    return errors


class ChangeFollower:
    """A daemon thread putting up ``changes`` for what other processes commit to the database of ``engine``.

    ``seen`` is shared with the store: the SQLite counters its own commits set, so that they are not counted twice.
    """

    def __init__(self, engine: sa.Engine, changes: Changes, seen: dict[str, int], poll_s: float = POLL_S) -> None:
        self.engine, self.changes, self.seen, self.poll_s = engine, changes, seen, poll_s
        self.heard = 0  # notices from other processes acted on (for tests and /metrics)
        self.connected = threading.Event()  # set while it follows the database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="seawatch-changes", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5 * RETRY_S)
            self._thread = None

    def _run(self) -> None:
        errors = driver_errors(self.engine.dialect.name)
        first = True
        while not self._stop.is_set():
            db: Any = None
            try:
                raw = self.engine.raw_connection()
                db = raw.driver_connection
                raw.detach()  # its own connection, never handed back to the pool (it LISTENs, or polls)
                if not first:  # what was missed while away is unknown: everything may have changed
                    self.changes.bump(TOPICS)
                first = False
                if self.engine.dialect.name == "postgresql":
                    self._listen(db)
                else:
                    self._poll(db)
            except errors as exc:
                self._lost(exc)
            finally:
                self.connected.clear()
                if db is not None:
                    with contextlib.suppress(*errors):
                        db.close()

    def _lost(self, exc: BaseException) -> None:
        log.warning("following other processes' changes stopped (%s): caches may lag until it is back, tried "
                    "again in %g s", exc, RETRY_S)  # fmt: skip
        self._stop.wait(RETRY_S)

    def _listen(self, pg: Any) -> None:
        pg.autocommit = True
        pg.execute(f"LISTEN {CHANNEL}")
        self.connected.set()
        while not self._stop.is_set():
            for notice in pg.notifies(timeout=RETRY_S, stop_after=1):
                origin, _, names = notice.payload.partition(":")
                if origin != self.changes.origin:
                    self.heard += 1
                    self.changes.bump(t for t in names.split(",") if t in TOPICS)

    def _poll(self, db: Any) -> None:
        version = None
        self.connected.set()
        while not self._stop.is_set():
            now = db.execute("PRAGMA data_version").fetchone()[0]
            if now != version:  # another connection committed (ours, or another process's)
                version = now
                rows = db.execute("SELECT topic, rev FROM store_changes").fetchall()
                new = [t for t, rev in rows if t in TOPICS and rev > self.seen.get(t, 0)]
                for t, rev in rows:
                    self.seen[t] = max(self.seen.get(t, 0), int(rev))
                if new:
                    self.heard += 1
                    self.changes.bump(new)
            self._stop.wait(self.poll_s)
