"""What every part of the store shares: the engine, write transactions, dialect-neutral upserts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api.store.changes import ChangeFollower, Changes, mark
from api.store.types import UTCDateTime

EXECUTEMANY_CHUNK = 20_000  # rows per executemany call: bounds memory of the bound parameters


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    engine: sa.Engine

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # One writer at a time in this process: alert revisions are then committed in order, so a reader that
        # follows them (the live stream) never skips one.
        self._write_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        # what this process's writes changed, told to the others (api/store/changes.py); what the write under way
        # marked, and the SQLite counters seen (this process's own, which its follower then does not count again)
        self.changes = Changes()
        self.changes.subscribe(self._on_changes)
        self._marked: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._follower: ChangeFollower | None = None
        # the raised bars in force, kept by QualityMixin.bars_in_force: (decisions mark and bar, when, the bars)
        self._bars_cache: tuple[Any, float, Any] | None = None
        if self.dialect == "sqlite":
            _durable_commits(engine)

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._write_lock, self.engine.connect() as conn:
            self._marked = {}
            conn = conn.execution_options(sqlite_write=True)
            with conn.begin():
                yield conn
            marked, self._marked = self._marked, {}
            if marked:  # after the commit, in order: a page cached under the old revision is then never newer
                for topic, rev in marked.items():
                    self._seen[topic] = max(self._seen.get(topic, 0), rev)
                self.changes.bump(marked)

    def _mark(self, conn: sa.Connection, *topics: str) -> None:
        """Inside a write transaction (:meth:`_write`): it changes ``topics``. This process's revisions go up after
        the commit; other processes hear of it at the commit (api/store/changes.py)."""
        new = [t for t in topics if t not in self._marked]
        if new:
            self._marked.update(dict.fromkeys(new, 0) | mark(conn, self.dialect, self.changes.origin, new))

    def follow_changes(self) -> ChangeFollower | None:
        """Hear other processes' writes at once (a thread; stopped by :meth:`stop_following`). None for a SQLite
        database in memory: no other process can write to it."""
        if self.dialect == "sqlite" and self.engine.url.database in (None, "", ":memory:"):
            return None
        if self._follower is None:
            self._follower = ChangeFollower(self.engine, self.changes, self._seen)
            self._follower.start()
        return self._follower

    def stop_following(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def _on_changes(self, topics: frozenset[str]) -> None:
        if "alerts" in topics:  # the alerts' revision feed moved (here or in another process): wake the streams
            self._notify()

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"the store runs on SQLite and PostgreSQL, not {self.dialect}")

    def _bulk(
        self,
        conn: sa.Connection,
        table: sa.Table,
        df: pl.DataFrame,
        keys: Sequence[str],
        update: Sequence[str] = (),
        changed: Callable[[Any], sa.ColumnElement[bool]] | None = None,
    ) -> None:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET ``update`` [WHERE ``changed(excluded)``], or DO NOTHING
        (a plain INSERT without keys).

        Rows go to the driver as plain values serialised by polars (times as text, lists as JSON text):
        SQLAlchemy's per-row bind processing would cost several times more than the database itself.
        """
        if df.height == 0:
            return
        cols = list(df.columns)
        values = _driver_values(table, df, self.dialect)
        if self.dialect == "postgresql":
            # COPY into a scratch table, then one INSERT ... SELECT: an order of magnitude above executemany
            stage = sa.Table(f"_stage_{table.name}", sa.MetaData(), *[sa.Column(c, table.c[c].type) for c in cols])
            quoted = ", ".join(self.engine.dialect.identifier_preparer.quote(c) for c in cols)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
            conn.exec_driver_sql(  # the columns' types without their constraints
                f"CREATE TEMP TABLE {stage.name} ON COMMIT DROP AS SELECT {quoted} FROM {table.name} WITH NO DATA"
            )
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {stage.name} ({quoted}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
                copy.write(values.write_csv(include_header=False, null_value="\\N"))
            stmt = self._insert(table).from_select(cols, sa.select(*stage.c))
        else:
            stmt = self._insert(table).values({c: sa.bindparam(c) for c in cols})
        if update:
            ex = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: ex[c] for c in update},
                where=changed(ex) if changed is not None else None,
            )
        elif keys:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        if self.dialect == "postgresql":
            conn.execute(stmt)
            return
        # SQLite: the statement compiled once, rows as tuples in the order of its placeholders
        compiled = stmt.compile(dialect=self.engine.dialect)
        order = [cols.index(name) for name in compiled.positiontup or cols]
        values = values.select([values.columns[i] for i in order])
        for i in range(0, values.height, EXECUTEMANY_CHUNK):
            conn.exec_driver_sql(compiled.string, values.slice(i, EXECUTEMANY_CHUNK).rows())

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every commit that changed alerts: from the writing thread, or from the change
        follower's for another process's commit (:meth:`follow_changes`)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()


def _durable_commits(engine: sa.Engine) -> None:
    """A committed SQLite transaction survives a power loss too: ``synchronous=FULL`` syncs the WAL at every
    commit (one per micro-batch). NORMAL, WAL's usual setting, syncs only at checkpoints, so a power loss could take
    back commits the live engine already counted on: it drops its journal once a snapshot is on disk, and the
    alerts of the batches before it would not be replayed into the store. Runs after the engine's own settings."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def _driver_values(table: sa.Table, df: pl.DataFrame, dialect: str) -> pl.DataFrame:
    """``df`` with times as UTC text and JSON columns as JSON text, as the driver takes them."""
    time_format = "%Y-%m-%d %H:%M:%S%.6f" if dialect == "sqlite" else "%Y-%m-%d %H:%M:%S%.6f+00:00"
    exprs = []
    for name in df.columns:
        col, dtype = pl.col(name), df.schema[name]
        if isinstance(table.c[name].type, UTCDateTime):
            if isinstance(dtype, pl.Datetime):
                exprs.append(col.dt.convert_time_zone("UTC").dt.strftime(time_format))
            elif dtype != pl.Null:
                raise TypeError(f"{table.name}.{name}: expected UTC datetimes, got {dtype}")
        elif name in _json_columns(table):
            encoded = pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
            exprs.append(pl.when(col.is_null()).then(pl.lit(None, pl.String)).otherwise(encoded).alias(name))
    return df.with_columns(exprs) if exprs else df


def _json_columns(table: sa.Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, sa.JSON)}


def rows_of(conn: sa.Connection, stmt: sa.Executable) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(stmt).mappings()]
