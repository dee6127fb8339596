"""Vessels in the store: the latest risk snapshot per MMSI, identity history, and thinned tracks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from api.store.alerts import BBox
from api.store.base import StoreBase, rows_of, utcnow
from api.store.tables import alerts, track_points, vessel_history, vessels
from models.schema import VESSEL_SCHEMA

VESSEL_COLUMNS = [c.name for c in vessels.columns if c.name not in ("score", "updated_at")]
IDENTITY = ("name", "callsign", "imo", "ship_type")
SORTABLE = ("score", "smuggling_score", "fire_score", "last_seen", "first_seen", "mmsi", "name", "updated_at")
IN_CHUNK = 5_000  # values per IN (...): well under SQLite's bound-parameter limit
PRUNE_EVERY_S = 600.0  # how often add_track deletes points past the retention


@dataclass(frozen=True)
class VesselFilter:
    min_score: float | None = None
    bands: Sequence[str] = ()
    bbox: BBox | None = None
    ship_types: Sequence[int] = ()
    flags: Sequence[str] = ()
    updated_since: datetime | None = None
    watchlisted: bool | None = None  # on a watchlist at the latest scoring (True), or not (False)

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        c = vessels.c
        out: list[sa.ColumnElement[bool]] = []
        if self.min_score is not None:
            out.append(c.score >= self.min_score)
        if self.bands:
            out.append(c.band.in_(list(self.bands)))
        if self.bbox is not None:
            out.append(self.bbox.clause(c.lat, c.lon))
        if self.ship_types:
            out.append(c.ship_type.in_(list(self.ship_types)))
        if self.flags:
            out.append(c.flag.in_([f.upper() for f in self.flags]))
        if self.updated_since is not None:
            out.append(c.updated_at >= self.updated_since)
        if self.watchlisted is not None:
            out.append(c.watchlists.is_not(None) if self.watchlisted else c.watchlists.is_(None))
        return out

    def cache_key(self) -> tuple[Any, ...]:
        """The filter as a hashable value: equal keys select the same vessels."""
        return (
            self.min_score,
            tuple(self.bands),
            self.bbox,
            tuple(self.ship_types),
            tuple(f.upper() for f in self.flags),
            self.updated_since,
            self.watchlisted,
        )


def _float_cols(df: pl.DataFrame) -> list[str]:
    return [name for name, dtype in df.schema.items() if dtype.is_float()]


def _page_statement(stmt: sa.Select[Any], where: VesselFilter, sort: str, page: int, page_size: int) -> sa.Select[Any]:
    key = sort.lstrip("-")
    if key not in SORTABLE:
        raise ValueError(f"cannot sort by {key!r}; use one of {', '.join(SORTABLE)} (prefix '-' to reverse)")
    col = vessels.c[key]
    order = col.desc().nulls_last() if sort.startswith("-") else col.asc().nulls_last()
    return stmt.where(*where.clauses()).order_by(order, vessels.c.mmsi).limit(page_size).offset((page - 1) * page_size)


class VesselsMixin(StoreBase):
    track_interval_s: float
    track_retention: timedelta
    _last_prune: float

    @property
    def vessels_revision(self) -> int:
        """Put up after every commit that changed the vessels table, in this process or (heard by the change
        follower) another: readers cache pages under it."""
        return self.changes.revision("vessels")

    def upsert_vessels(self, df: pl.DataFrame) -> int:
        """Replace the snapshot of every vessel in ``df`` (models.schema.VESSEL_SCHEMA), recording identity changes.

        Columns the table does not know are ignored; missing ones are stored as null.
        """
        if df.height == 0:
            return 0
        if "mmsi" not in df.columns:
            raise ValueError("vessels frame lacks 'mmsi'; give it models.schema.VESSEL_SCHEMA")
        cols = [c for c in VESSEL_COLUMNS if c in df.columns]
        df = df.select(cols).unique("mmsi", keep="last", maintain_order=True)
        df = df.with_columns(pl.col(_float_cols(df)).fill_nan(None))
        score_cols = [c for c in ("smuggling_score", "fire_score") if c in df.columns]
        score = pl.max_horizontal(score_cols) if score_cols else pl.lit(None, pl.Float64)
        now = utcnow()
        df = df.with_columns(score.alias("score"), pl.lit(now).alias("updated_at"))
        for c in VESSEL_COLUMNS:
            if c not in df.columns:
                df = df.with_columns(pl.lit(None, VESSEL_SCHEMA.get(c, pl.Float64())).alias(c))
        df = df.select(*VESSEL_COLUMNS, "score", "updated_at")
        update = [c for c in VESSEL_COLUMNS if c != "mmsi"] + ["score", "updated_at"]
        with self._write() as conn:
            self._mark(conn, "vessels")
            history = self._identity_changes(conn, df, now)
            self._bulk(conn, vessels, df, ["mmsi"], update)
            self._bulk(conn, vessel_history, history, ())
        return df.height

    def _identity_changes(self, conn: sa.Connection, df: pl.DataFrame, now: datetime) -> pl.DataFrame:
        """History rows for vessels that are new or whose name, call sign, IMO or type changed."""
        mmsis = df["mmsi"].to_list()
        known: list[dict[str, Any]] = []
        for i in range(0, len(mmsis), IN_CHUNK):
            stmt = sa.select(vessels.c.mmsi, *[vessels.c[k] for k in IDENTITY]).where(
                vessels.c.mmsi.in_(mmsis[i : i + IN_CHUNK])
            )
            known.extend(rows_of(conn, stmt))
        ident = df.select("mmsi", *IDENTITY, "last_seen")
        schema = {k: ident.schema[k] for k in ("mmsi", *IDENTITY)}
        old = pl.DataFrame(known, schema=schema, orient="row").rename({k: f"{k}_old" for k in IDENTITY})
        is_new = pl.col("mmsi").is_in(old["mmsi"].implode()).not_() if old.height else pl.lit(True)
        joined = ident.join(old, on="mmsi", how="left").with_columns(is_new.alias("_new"))
        differs = pl.any_horizontal([pl.col(k).ne_missing(pl.col(f"{k}_old")) for k in IDENTITY])
        changed = joined.filter(pl.col("_new") | differs).with_columns(pl.col("last_seen").fill_null(now).alias("t"))
        return changed.select("mmsi", "t", *IDENTITY)

    def vessels_page(
        self, where: VesselFilter, sort: str = "-score", page: int = 1, page_size: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of vessels matching ``where`` and how many match in all. ``sort``: a column, '-' for descending."""
        stmt = _page_statement(sa.select(vessels), where, sort, page, page_size)
        with self._read() as conn:
            return rows_of(conn, stmt), self._count(conn, where)

    def vessels_page_tuples(
        self, columns: Sequence[str], where: VesselFilter, sort: str = "-score", page: int = 1, page_size: int = 50
    ) -> list[tuple[Any, ...]]:
        """Like :meth:`vessels_page` without the total: ``columns`` of each vessel as plain tuples (no dicts)."""
        stmt = _page_statement(sa.select(*[vessels.c[c] for c in columns]), where, sort, page, page_size)
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def vessels_count(self, where: VesselFilter) -> int:
        """How many vessels match ``where``."""
        with self._read() as conn:
            return self._count(conn, where)

    @staticmethod
    def _count(conn: sa.Connection, where: VesselFilter) -> int:
        stmt = sa.select(sa.func.count()).select_from(vessels).where(*where.clauses())
        return int(conn.execute(stmt).scalar_one())

    def vessel(self, mmsi: int) -> dict[str, Any] | None:
        with self._read() as conn:
            found = rows_of(conn, sa.select(vessels).where(vessels.c.mmsi == mmsi))
        return found[0] if found else None

    def identity_history(self, mmsi: int) -> list[dict[str, Any]]:
        h = vessel_history.c
        stmt = sa.select(h.t, *[h[k] for k in IDENTITY]).where(h.mmsi == mmsi).order_by(h.t, h.id)
        with self._read() as conn:
            return rows_of(conn, stmt)

    def vessel_alerts(self, mmsi: int, limit: int = 50) -> list[dict[str, Any]]:
        c = alerts.c
        stmt = (
            sa.select(alerts)
            .where(sa.or_(c.mmsi == mmsi, c.other_mmsi == mmsi))
            .order_by(c.start.desc(), c.alert_id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return rows_of(conn, stmt)

    def add_track(self, df: pl.DataFrame) -> int:
        """Store positions (mmsi, t, lat, lon[, sog, cog]), thinned to one per vessel per track interval.

        Returns the number of points offered after thinning (points already stored in their interval are kept).
        """
        missing = [c for c in ("mmsi", "t", "lat", "lon") if c not in df.columns]
        if missing:
            raise ValueError(f"track frame lacks columns {missing}; give it positions with mmsi, t, lat, lon")
        interval_us = max(1, int(self.track_interval_s * 1_000_000))
        extra = [pl.col(c) if c in df.columns else pl.lit(None, pl.Float64).alias(c) for c in ("sog", "cog")]
        thin = (
            df.lazy()
            .select("mmsi", pl.col("t").cast(pl.Datetime("us", "UTC")), "lat", "lon", *extra)
            .with_columns(pl.col("lat", "lon", "sog", "cog").cast(pl.Float64).fill_nan(None))
            .drop_nulls(["mmsi", "t", "lat", "lon"])
            .with_columns((pl.col("t").dt.epoch("us") // interval_us).alias("bucket"))
            .sort("mmsi", "t")
            .unique(["mmsi", "bucket"], keep="first", maintain_order=True)
            .collect()
        )
        with self._write() as conn:
            self._bulk(conn, track_points, thin, ["mmsi", "bucket"])
        if time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self.prune_tracks()
        return thin.height

    def prune_tracks(self, now: datetime | None = None) -> int:
        """Delete track points older than the retention; returns how many."""
        self._last_prune = time.monotonic()
        cutoff = (now or utcnow()) - self.track_retention
        with self._write() as conn:
            return int(conn.execute(sa.delete(track_points).where(track_points.c.t < cutoff)).rowcount)

    def track(
        self, mmsi: int, since: datetime | None = None, until: datetime | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """A vessel's stored points in time order (the latest ``limit`` of them within the range)."""
        p = track_points.c
        stmt = sa.select(p.t, p.lat, p.lon, p.sog, p.cog).where(p.mmsi == mmsi)
        if since is not None:
            stmt = stmt.where(p.t >= since)
        if until is not None:
            stmt = stmt.where(p.t <= until)
        stmt = stmt.order_by(p.t.desc()).limit(limit)
        with self._read() as conn:
            return rows_of(conn, stmt)[::-1]

    def latest_fixes(self, mmsis: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Each vessel's newest stored track point (t, lat, lon, sog, cog), by MMSI; vessels without one are left
        out. One query per IN_CHUNK vessels: the newest point's time and thinning bucket per vessel, then its row
        by the primary key (mmsi, bucket). Joined on the time instead, the databases look the rows up by the time
        index, which costs ~0.5 ms a vessel when many vessels share report times (2,000 at the same times: ~0.9 s);
        a vessel whose newest bucket does not hold its newest time (the track interval changed between writes)
        is read again by its time."""
        p = track_points.c
        out: dict[int, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(int(m) for m in mmsis))
        with self._read() as conn:
            for i in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[i : i + IN_CHUNK]
                newest = (
                    sa.select(p.mmsi, sa.func.max(p.t).label("t"), sa.func.max(p.bucket).label("bucket"))
                    .where(p.mmsi.in_(chunk))
                    .group_by(p.mmsi)
                    .subquery()
                )
                stmt = sa.select(p.mmsi, p.t, p.lat, p.lon, p.sog, p.cog).join(
                    newest, sa.and_(p.mmsi == newest.c.mmsi, p.bucket == newest.c.bucket, p.t == newest.c.t)
                )
                out.update({int(r["mmsi"]): r for r in rows_of(conn, stmt)})
                if len(out) < len(chunk):
                    out.update(self._latest_by_time(conn, [m for m in chunk if m not in out]))
        return out

    def _latest_by_time(self, conn: sa.Connection, mmsis: list[int]) -> dict[int, dict[str, Any]]:
        p = track_points.c
        newest = sa.select(p.mmsi, sa.func.max(p.t).label("t")).where(p.mmsi.in_(mmsis)).group_by(p.mmsi).subquery()
        stmt = sa.select(p.mmsi, p.t, p.lat, p.lon, p.sog, p.cog).join(
            newest, sa.and_(p.mmsi == newest.c.mmsi, p.t == newest.c.t)
        )
        return {int(r["mmsi"]): r for r in rows_of(conn, stmt)}

    def speeds_since(self, mmsis: Sequence[int], since: datetime) -> pl.DataFrame:
        """The reported speeds (mmsi, t, sog; points without one left out) of these vessels' stored track points
        from ``since`` on, in time order: the intercept's vessels' own top speeds read in one query per IN_CHUNK
        vessels, not one per vessel."""
        p = track_points.c
        wanted = list(dict.fromkeys(int(m) for m in mmsis))
        rows: list[dict[str, Any]] = []
        with self._read() as conn:
            for i in range(0, len(wanted), IN_CHUNK):
                stmt = sa.select(p.mmsi, p.t, p.sog).where(
                    p.mmsi.in_(wanted[i : i + IN_CHUNK]), p.t >= since, p.sog.is_not(None)
                )
                rows += rows_of(conn, stmt)
        schema = pl.Schema([("mmsi", pl.Int64()), ("t", pl.Datetime("us", "UTC")), ("sog", pl.Float64())])
        return pl.DataFrame(rows, schema=schema).sort("mmsi", "t")

    def latest_seen(self) -> datetime | None:
        """The newest ``last_seen`` of any vessel: the feed's clock (a replayed archive's time, not the wall's)."""
        with self._read() as conn:
            value: datetime | None = conn.execute(sa.select(sa.func.max(vessels.c.last_seen))).scalar_one()
        return value
