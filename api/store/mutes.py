"""Mutes in the store: patterns of alerts an analyst takes out until they expire, kept forever as an audit record.

A mute in force takes the alerts it matches (:func:`models.indicators.muted_alerts`, the same rule the scorer
applies) out of the scores and of the default alert list; they are still stored and listed with ``muted=true``.
It ends by itself at ``expires_at``, or early when an analyst ends it (``ended_at``, who): nothing is erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from api.store.audit import record
from api.store.base import StoreBase, rows_of, utcnow
from api.store.tables import mutes
from engine.alerts import ALERT_KINDS, ALERT_SCHEMA
from models.indicators import MUTE_PATTERNS, MUTE_SCHEMA, muted_alerts

# A mute outliving a quarter would hide what changed in the meantime (a barge sold, a station moved): at most 90
# days, then the analyst looks again and mutes anew if it still holds (issue 12).
MAX_MUTE = timedelta(days=90)
GAP_KIND = "ais_gap"  # a station's mute takes out its gaps, the only alerts whose reasons name stations
_MATCH_COLUMNS = ("alert_id", "kind", "mmsi", "other_mmsi", "reasons")


class MuteError(ValueError):
    """A mute the store cannot take: a pattern without what it needs, a past or too distant expiry."""


def check_mute(pattern: str, *, kind: str | None, mmsi: int | None, other_mmsi: int | None, zone: str | None,
               station: str | None, reason: str, expires_at: datetime, now: datetime) -> dict[str, Any]:  # fmt: skip
    """The mute's columns, checked: each pattern has what it matches on and nothing else (:class:`MuteError`)."""
    needs = {"vessel": {"kind", "mmsi"}, "pair": {"mmsi", "other_mmsi"}, "zone": {"kind", "zone"},
             "station": {"station"}}  # fmt: skip
    if pattern not in MUTE_PATTERNS:
        raise MuteError(f"pattern {pattern!r}: use one of {', '.join(MUTE_PATTERNS)}")
    given = {"kind": kind, "mmsi": mmsi, "other_mmsi": other_mmsi, "zone": zone, "station": station}
    allowed = needs[pattern] | ({"kind"} if pattern in ("pair", "station") else set())
    missing = sorted(k for k in needs[pattern] if given[k] is None or given[k] == "")
    if missing:
        raise MuteError(f"a {pattern} mute needs {' and '.join(missing)}")
    extra = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if extra:
        raise MuteError(f"a {pattern} mute matches on {', '.join(sorted(allowed))}, not on {', '.join(extra)}")
    if kind is not None and kind not in ALERT_KINDS:
        raise MuteError(f"kind {kind!r}: use one of {', '.join(ALERT_KINDS)}")
    if pattern == "station":
        if kind not in (None, GAP_KIND):
            raise MuteError(f"a station mute takes out its {GAP_KIND} alerts only, not {kind}")
        given["kind"] = GAP_KIND
    if pattern == "pair" and mmsi == other_mmsi:
        raise MuteError("a pair mute needs two different MMSIs")
    if not reason.strip():
        raise MuteError("say why: the reason is shown in the scores' reasons and kept with the mute")
    if expires_at.tzinfo is None:
        raise MuteError("expires_at needs a time zone (UTC)")
    if expires_at <= now:
        raise MuteError(f"expires_at {expires_at:%Y-%m-%d %H:%M} UTC is not in the future")
    if expires_at > now + MAX_MUTE:
        raise MuteError(f"a mute lasts at most {MAX_MUTE.days} days (until {now + MAX_MUTE:%Y-%m-%d %H:%M} UTC)")
    return given | {"pattern": pattern, "reason": reason, "expires_at": expires_at}


def _with_state(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    state = "ended" if row["ended_at"] is not None else "expired" if row["expires_at"] <= now else "in_force"
    return row | {"state": state}


class MutesMixin(StoreBase):
    def add_mute(self, pattern: str, *, reason: str, by: str, expires_at: datetime, kind: str | None = None,
                 mmsi: int | None = None, other_mmsi: int | None = None, zone: str | None = None,
                 station: str | None = None, key_id: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """Record a mute (:func:`check_mute`; :class:`MuteError` if it is not one); returns it."""
        now = now or utcnow()
        values = check_mute(pattern, kind=kind, mmsi=mmsi, other_mmsi=other_mmsi, zone=zone, station=station,
                            reason=reason, expires_at=expires_at, now=now)  # fmt: skip
        with self._write() as conn:
            self._mark(conn, "mutes")
            mute_id = conn.execute(
                sa.insert(mutes).values(**values, key_id=key_id, by=by, created_at=now).returning(mutes.c.id)
            ).scalar_one()
            details = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
            record(conn, "mute.create", mute_id, actor=by, key_id=key_id, at=now, details=details)
        found = self.mute(int(mute_id), now=now)
        if found is None:  # just written, and mutes are never deleted
            raise RuntimeError(f"mute {mute_id} vanished as it was written")
        return found

    def mute(self, mute_id: int, *, now: datetime | None = None) -> dict[str, Any] | None:
        """One mute with its ``state``: in_force, expired or ended; None when there is no such mute."""
        with self._read() as conn:
            found = rows_of(conn, sa.select(mutes).where(mutes.c.id == mute_id))
        return _with_state(found[0], now or utcnow()) if found else None

    def mutes_list(self, *, in_force: bool = True, now: datetime | None = None) -> list[dict[str, Any]]:
        """The mutes in force (all of them, ended and expired too, with ``in_force=False``), newest first."""
        now = now or utcnow()
        stmt = sa.select(mutes)
        if in_force:
            stmt = stmt.where(mutes.c.ended_at.is_(None), mutes.c.expires_at > now)
        with self._read() as conn:
            rows = rows_of(conn, stmt.order_by(mutes.c.id.desc()))
        return [_with_state(r, now) for r in rows]

    def end_mute(self, mute_id: int, by: str, *, key_id: str | None = None,
                 now: datetime | None = None) -> dict[str, Any] | None:  # fmt: skip
        """End a mute now, recording who (a mute already ended or expired is left as it is); returns it, or None
        when there is no such mute. The record stays."""
        now = now or utcnow()
        m = mutes.c
        with self._write() as conn:
            self._mark(conn, "mutes")
            ended = conn.execute(
                sa.update(mutes)
                .where(m.id == mute_id, m.ended_at.is_(None), m.expires_at > now)
                .values(ended_at=now, ended_by=by, ended_key_id=key_id)
            ).rowcount
            if ended:
                record(conn, "mute.end", mute_id, actor=by, key_id=key_id, at=now)
        return self.mute(mute_id, now=now)

    def mutes_in_force(self, now: datetime | None = None) -> pl.DataFrame:
        """The mutes in force at ``now`` (the wall clock by default) as the scorer takes them
        (:data:`models.indicators.MUTE_SCHEMA`). Mutes are few (human work), so reading them is cheap."""
        rows = [
            {"mute_id": r["id"]} | {k: r[k] for k in MUTE_SCHEMA if k != "mute_id"}
            for r in self.mutes_list(in_force=True, now=now)
        ]
        return pl.DataFrame(rows, schema=dict(MUTE_SCHEMA), orient="row") if rows else pl.DataFrame(schema=MUTE_SCHEMA)

    def mark_muted(self, rows: Sequence[dict[str, Any]], in_force: pl.DataFrame | None = None) -> list[dict[str, Any]]:
        """``rows`` (alerts as the store gives them) with ``muted`` and ``mute_id`` after the mutes ``in_force``
        (read now when not given); rows without a ``kind`` (withdrawals) are left as they are."""
        in_force = self.mutes_in_force() if in_force is None else in_force
        alerts = [r for r in rows if "kind" in r]
        if in_force.height == 0 or not alerts:
            return [r | {"muted": False, "mute_id": None} if "kind" in r else r for r in rows]
        frame = pl.DataFrame([{k: r[k] for k in _MATCH_COLUMNS} for r in alerts],
                             schema={k: ALERT_SCHEMA[k] for k in _MATCH_COLUMNS}, orient="row")  # fmt: skip
        ids = iter(muted_alerts(frame, in_force)["mute_id"].to_list())
        out = []
        for r in rows:
            if "kind" in r:
                mute_id = next(ids)
                r = r | {"muted": mute_id is not None, "mute_id": mute_id}
            out.append(r)
        return out
