"""Alerts in the store: upserts that keep triage, triage decisions (an audit trail kept forever), queries, the
revision feed. Alerts read back say whether a mute in force takes them out (``muted``, ``mute_id``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl
import sqlalchemy as sa

from api.store.audit import record
from api.store.base import rows_of, utcnow
from api.store.mutes import MutesMixin
from api.store.tables import (
    ALERT_STATUSES,
    DISMISSAL_REASONS,
    alerts,
    triage_decisions,
    watchlist_sightings,
    withdrawn_alerts,
)
from engine.alerts import ALERT_SCHEMA, UTC_US
from models.indicators import DECISION_SCHEMA

ALERT_COLUMNS = list(ALERT_SCHEMA)
MUTED_SCAN = 500  # alerts read at a time while skipping muted (or unmuted) ones for a page
LABEL_SCHEMA = {k: ALERT_SCHEMA[k] for k in ("alert_id", "kind", "mmsi", "start", "end")} | {
    "status": pl.String(),
    "reason": pl.String(),  # a dismissal's reason code (null for other decisions and for dismissals before 0003)
    "key_id": pl.String(),
    "by": pl.String(),
    "at": UTC_US,
}


class TriageError(ValueError):
    """A decision the audit trail cannot take: an unknown status or reason code, a dismissal without a reason."""


def check_decision(status: str, reason: str | None) -> None:
    """Refuse a decision without the reason the analysts' record needs (the API says the same with a 422)."""
    codes = ", ".join(DISMISSAL_REASONS)
    if status not in ALERT_STATUSES:
        raise TriageError(f"status {status!r}: use one of {', '.join(ALERT_STATUSES)}")
    if reason is not None and reason not in DISMISSAL_REASONS:
        raise TriageError(f"reason {reason!r}: use one of {codes}")
    if status == "dismissed" and reason is None:
        raise TriageError(f"a dismissal needs a reason code: one of {codes}")
    if status != "dismissed" and reason is not None:
        raise TriageError("a reason code goes with a dismissal only; say why in the note")


def latest_decisions() -> sa.Subquery:
    """The id (``id``) of each alert's latest triage decision: decisions are only ever added, so the highest id."""
    t = triage_decisions.c
    return sa.select(sa.func.max(t.id).label("id")).group_by(t.alert_id).subquery()


class CursorError(ValueError):
    """A cursor that this store did not hand out."""


@dataclass(frozen=True)
class BBox:
    """A lon/lat box; ``min_lon > max_lon`` means it crosses the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def clause(self, lat: sa.ColumnElement[Any], lon: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        in_lat = lat.between(self.min_lat, self.max_lat)
        if self.min_lon <= self.max_lon:
            return sa.and_(in_lat, lon.between(self.min_lon, self.max_lon))
        return sa.and_(in_lat, sa.or_(lon >= self.min_lon, lon <= self.max_lon))


@dataclass(frozen=True)
class AlertFilter:
    kinds: Sequence[str] = ()
    statuses: Sequence[str] = ()
    since: datetime | None = None  # alerts still going on at or after this time (end >= since)
    until: datetime | None = None  # alerts that started at or before this time
    bbox: BBox | None = None
    min_score: float | None = None
    mmsi: int | None = None  # either vessel of the alert
    # "false": the alerts no mute in force takes out (what an analyst works on), "true": the muted ones, "all"
    muted: Literal["false", "true", "all"] = "all"

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        c = alerts.c
        out: list[sa.ColumnElement[bool]] = []
        if self.kinds:
            out.append(c.kind.in_(list(self.kinds)))
        if self.statuses:
            out.append(c.status.in_(list(self.statuses)))
        if self.since is not None:
            out.append(c.end >= self.since)
        if self.until is not None:
            out.append(c.start <= self.until)
        if self.bbox is not None:
            out.append(self.bbox.clause(c.lat, c.lon))
        if self.min_score is not None:
            out.append(c.score >= self.min_score)
        if self.mmsi is not None:
            out.append(sa.or_(c.mmsi == self.mmsi, c.other_mmsi == self.mmsi))
        return out


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError(f"cursor {cursor!r} is not one this API handed out; start again without it") from exc


def page_cursor(start: datetime, alert_id: str) -> str:
    us = int(start.timestamp() * 1_000_000) if start.tzinfo else 0
    return _encode(f"{us}:{alert_id}")


def parse_page_cursor(cursor: str) -> tuple[datetime, str]:
    us, _, alert_id = _decode(cursor).partition(":")
    try:
        return datetime.fromtimestamp(int(us) / 1_000_000, UTC), alert_id
    except (ValueError, OverflowError, OSError) as exc:
        raise CursorError(f"cursor {cursor!r} is not one this API handed out; start again without it") from exc


def _event_key(table: sa.Table) -> sa.ColumnElement[str]:
    """What orders a table's events within one revision in the stream's cursor: the alert id, or a sighting's key."""
    return table.c.key if table is watchlist_sightings else table.c.alert_id


def stream_cursor(rev: int, alert_id: str) -> str:
    return f"{rev}.{alert_id}"


def parse_stream_cursor(cursor: str) -> tuple[int, str]:
    rev, _, alert_id = cursor.partition(".")
    if not rev.isdigit() or len(rev) > 18:
        raise CursorError(f"stream cursor {cursor!r} is not one this API handed out; leave it out to start now")
    return int(rev), alert_id


def _alert_frame(df: pl.DataFrame, now: datetime, rev: int) -> pl.DataFrame:
    missing = [c for c in ALERT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"alerts frame lacks columns {missing}; give it engine.alerts.ALERT_SCHEMA")
    return (
        df.select(ALERT_COLUMNS)
        .cast(ALERT_SCHEMA)  # type: ignore[arg-type]
        .with_columns(
            pl.col("lat", "lon").fill_nan(None),
            pl.col("score").fill_nan(0.0).fill_null(0.0),
            pl.col("reasons").fill_null([]),
            pl.lit("new").alias("status"),
            pl.lit(now).alias("created_at"),
            pl.lit(now).alias("updated_at"),
            pl.lit(rev, pl.Int64).alias("rev"),
        )
        # one version per alert: the latest evidence (ON CONFLICT may not touch one row twice in a statement)
        .sort("end", "score", nulls_last=False)
        .unique("alert_id", keep="last", maintain_order=True)
    )


class AlertsMixin(MutesMixin):
    def _next_rev(self, conn: sa.Connection) -> int:
        """A revision above every one given so far, to alerts or to withdrawals (a deleted alert's revision is not
        given again: a client whose cursor passed it would miss what gets it). The live streams hear of it at the
        commit, in every process (api/store/changes.py)."""
        self._mark(conn, "alerts")
        if self.dialect == "postgresql":
            return int(conn.execute(sa.text("SELECT nextval('alerts_rev_seq')")).scalar_one())
        tops = (conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c.rev), 0))).scalar_one()
                for t in (alerts, withdrawn_alerts, watchlist_sightings))  # fmt: skip
        return max(int(top) for top in tops) + 1

    def upsert_alerts(self, df: pl.DataFrame) -> int:
        """Insert new alerts and update new versions of known ones (end, score, reasons, place).

        A new version keeps the alert's triage status. Rows identical to what is stored change nothing (and
        do not reach the live stream). Returns the number of rows given after de-duplication.
        """
        if df.height == 0:
            return 0
        with self._write() as conn:
            rev = self._next_rev(conn)
            frame = _alert_frame(df, utcnow(), rev)
            t = alerts.c

            def changed(ex: Any) -> sa.ColumnElement[bool]:
                return sa.or_(
                    t.end != ex.end,
                    t.score != ex.score,
                    t.reasons != ex.reasons,
                    t.lat.is_distinct_from(ex.lat),
                    t.lon.is_distinct_from(ex.lon),
                )

            update = ["end", "score", "reasons", "lat", "lon", "updated_at", "rev"]
            self._bulk(conn, alerts, frame, ["alert_id"], update, changed)
        return frame.height

    def withdraw_alerts(self, alert_ids: Sequence[str]) -> int:
        """Delete alerts the engine announced early and later evidence proved wrong (the distress fast path,
        engine/fast_path.py: the right alert of the same episode is stored too). Their triage decisions stay (an
        audit record); a tombstone with a new revision tells the live stream's clients. Returns how many were
        stored."""
        if not alert_ids:
            return 0
        with self._write() as conn:
            stored = conn.execute(sa.select(alerts.c.alert_id).where(alerts.c.alert_id.in_(list(alert_ids))))
            gone = sorted(stored.scalars())
            if gone:
                rev, now = self._next_rev(conn), utcnow()
                conn.execute(sa.delete(withdrawn_alerts).where(withdrawn_alerts.c.alert_id.in_(gone)))
                conn.execute(sa.insert(withdrawn_alerts), [{"alert_id": a, "rev": rev, "at": now} for a in gone])
                conn.execute(sa.delete(alerts).where(alerts.c.alert_id.in_(gone)))
        return len(gone)

    def triage(self, alert_id: str, status: str, note: str, by: str, *, reason: str | None = None,
               key_id: str | None = None) -> dict[str, Any] | None:  # fmt: skip
        """Set an alert's status and record the decision: who (the key's id and name), when, what and why (a
        dismissal's ``reason`` code, see :data:`DISMISSAL_REASONS`; :class:`TriageError` without one). Returns the
        alert; None when there is no such alert."""
        check_decision(status, reason)
        now = utcnow()
        with self._write() as conn:
            found = conn.execute(
                sa.select(alerts.c.kind, alerts.c.mmsi, alerts.c.other_mmsi).where(alerts.c.alert_id == alert_id)
            ).first()
            if found is None:
                return None
            rev = self._next_rev(conn)
            self._mark(conn, "decisions")
            conn.execute(
                sa.update(alerts).where(alerts.c.alert_id == alert_id).values(status=status, updated_at=now, rev=rev)
            )
            conn.execute(sa.insert(triage_decisions).values(
                alert_id=alert_id, kind=found.kind, mmsi=found.mmsi, other_mmsi=found.other_mmsi, status=status,
                reason=reason, note=note, key_id=key_id, by=by, at=now,
            ))  # fmt: skip
            record(conn, "triage", alert_id, actor=by, key_id=key_id, at=now, details={
                "status": status, "reason": reason, "note": note, "kind": found.kind, "mmsi": found.mmsi})  # fmt: skip
        return self.alert(alert_id)

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            found = rows_of(conn, sa.select(alerts).where(alerts.c.alert_id == alert_id))
        return self.mark_muted(found)[0] if found else None

    def triage_history(self, alert_id: str) -> list[dict[str, Any]]:
        """Every decision on ``alert_id``, oldest first, also after the alert was withdrawn."""
        t = triage_decisions.c
        stmt = (
            sa.select(t.alert_id, t.kind, t.mmsi, t.other_mmsi, t.status, t.reason, t.note, t.key_id, t.by, t.at)
            .where(t.alert_id == alert_id)
            .order_by(t.at, t.id)
        )
        with self._read() as conn:
            return rows_of(conn, stmt)

    def vessel_triage(self, mmsi: int, limit: int = 100) -> list[dict[str, Any]]:
        """The latest ``limit`` decisions on the alerts of a vessel (either vessel of a pair's alert), newest
        first: what was decided on which alert, who, when and why; withdrawn alerts' decisions too. Decisions are
        few (human work): reading them by vessel needs no index of its own."""
        t = triage_decisions.c
        stmt = (
            sa.select(t.alert_id, t.kind, t.mmsi, t.other_mmsi, t.status, t.reason, t.note, t.key_id, t.by, t.at)
            .where(sa.or_(t.mmsi == mmsi, t.other_mmsi == mmsi))
            .order_by(t.at.desc(), t.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return rows_of(conn, stmt)

    def vessel_mutes(self, mmsi: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every vessel or pair mute naming ``mmsi`` (in force, expired or ended), newest first. Mutes are few."""
        return [m for m in self.mutes_list(in_force=False, now=now) if mmsi in (m["mmsi"], m["other_mmsi"])]

    def decisions(self) -> pl.DataFrame:
        """Each decided alert's latest decision, as the scorer takes them (``models.indicators.DECISION_SCHEMA``:
        alert_id, status, reason, by, at). Decisions are few (human work), so reading them all is cheap."""
        t = triage_decisions.c
        latest = latest_decisions()
        stmt = sa.select(t.alert_id, t.status, t.reason, t.by, t.at).join_from(
            triage_decisions, latest, t.id == latest.c.id
        )
        with self._read() as conn:
            rows = rows_of(conn, stmt.order_by(t.id))
        return (
            pl.DataFrame(rows, schema=DECISION_SCHEMA, orient="row") if rows else pl.DataFrame(schema=DECISION_SCHEMA)
        )

    def decisions_mark(self) -> int:
        """A number that grows with every decision recorded (the latest decision's id; 0 before any): whoever
        scores with decisions reads them again when it moves."""
        with self._read() as conn:
            top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(triage_decisions.c.id), 0))).scalar_one()
        return int(top)

    def alerts_page(
        self, where: AlertFilter, cursor: str | None = None, limit: int = 100, *, now: datetime | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Alerts matching ``where``, newest start first, marked ``muted`` after the mutes in force at ``now``; the
        cursor of the next page (None after the last). With ``where.muted`` "false" or "true", the others are
        skipped (read :data:`MUTED_SCAN` at a time: mutes match on reasons too, which SQL does not see)."""
        in_force = self.mutes_in_force(now)
        if where.muted == "all" or in_force.height == 0:
            if where.muted == "true":
                return [], None
            rows, next_cursor = self._alerts_page(where, cursor, limit)
            return self.mark_muted(rows, in_force), next_cursor
        want = where.muted == "true"
        kept: list[dict[str, Any]] = []
        while True:
            rows, after = self._alerts_page(where, cursor, MUTED_SCAN)
            for row in self.mark_muted(rows, in_force):
                if row["muted"] == want:
                    kept.append(row)
                if len(kept) > limit:
                    last = kept[limit - 1]
                    return kept[:limit], page_cursor(last["start"], last["alert_id"])
            if after is None:
                return kept, None
            cursor = after

    def _alerts_page(
        self, where: AlertFilter, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        c = alerts.c
        stmt = sa.select(alerts).where(*where.clauses())
        if cursor:
            start, alert_id = parse_page_cursor(cursor)
            stmt = stmt.where(sa.or_(c.start < start, sa.and_(c.start == start, c.alert_id < alert_id)))
        stmt = stmt.order_by(c.start.desc(), c.alert_id.desc()).limit(limit + 1)
        with self._read() as conn:
            rows = rows_of(conn, stmt)
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        return rows, page_cursor(rows[-1]["start"], rows[-1]["alert_id"])

    def alerts_count(self, where: AlertFilter) -> int:
        """How many alerts match ``where`` (mutes aside: ``where.muted`` is not read)."""
        stmt = sa.select(sa.func.count()).select_from(alerts).where(*where.clauses())
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def alerts_head(self) -> str:
        """The stream cursor of the latest change: follow from here to see only what comes next."""
        latest = []
        with self._read() as conn:
            for t in (alerts, withdrawn_alerts, watchlist_sightings):
                key = _event_key(t)
                stmt = sa.select(t.c.rev, key).order_by(t.c.rev.desc(), key.desc()).limit(1)
                row = conn.execute(stmt).first()
                if row is not None:
                    latest.append((int(row[0]), str(row[1])))
        return stream_cursor(*max(latest)) if latest else stream_cursor(0, "")

    def alerts_since(self, cursor: str | None, limit: int = 500) -> tuple[list[dict[str, Any]], str]:
        """Alerts added, changed or withdrawn after ``cursor`` (all of them from None), oldest change first, marked
        ``muted`` after the mutes in force, and the new cursor. A withdrawn alert is a row
        ``{"alert_id", "rev", "withdrawn": True}``; a watchlist sighting (a listed vessel first matched) a row of
        ``watchlist_sightings`` with ``"sighting": True`` and its key as ``alert_id``."""
        rev, alert_id = parse_stream_cursor(cursor) if cursor else (0, "")
        rows: list[dict[str, Any]] = []
        with self._read() as conn:
            for table in (alerts, withdrawn_alerts, watchlist_sightings):
                c, key = table.c, _event_key(table)
                columns: list[Any] = [table]
                if table is withdrawn_alerts:
                    columns = [c.alert_id, c.rev, sa.true().label("withdrawn")]
                elif table is watchlist_sightings:
                    own = [col for col in c if col.name != "key"]
                    columns = [*own, key.label("alert_id"), sa.true().label("sighting")]
                stmt = (
                    sa.select(*columns)
                    .where(sa.or_(c.rev > rev, sa.and_(c.rev == rev, key > alert_id)))
                    .order_by(c.rev, key)
                    .limit(limit)
                )
                rows += rows_of(conn, stmt)
        rows = sorted(rows, key=lambda r: (r["rev"], r["alert_id"]))[:limit]
        if not rows:
            return [], cursor or stream_cursor(0, "")
        return self.mark_muted(rows), stream_cursor(rows[-1]["rev"], rows[-1]["alert_id"])

    def labels(self) -> pl.DataFrame:
        """Triage decisions as training labels: one row per triaged alert still stored, with its current status and
        the decision that set it (reason code, the key's id and name, when). A withdrawn alert has no label: the
        engine itself proved it wrong (its decisions stay in :meth:`triage_history`)."""
        c, t = alerts.c, triage_decisions.c
        latest = latest_decisions()
        stmt = (
            sa.select(c.alert_id, c.kind, c.mmsi, c.start, c.end, c.status, t.reason, t.key_id, t.by, t.at)
            .join_from(alerts, triage_decisions, t.alert_id == c.alert_id)
            .join(latest, t.id == latest.c.id)
            .where(c.status != "new")
        )
        with self._read() as conn:
            rows = rows_of(conn, stmt.order_by(c.start, c.alert_id))
        return pl.DataFrame(rows, schema=LABEL_SCHEMA, orient="row") if rows else pl.DataFrame(schema=LABEL_SCHEMA)
