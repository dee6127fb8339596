"""Triage quality from the store: the window's decisions with their alerts, the undecided alerts, and the report
(precision per kind, zone and station; the raised bars) that models/quality.py computes from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from api.store.alerts import latest_decisions
from api.store.base import StoreBase, rows_of
from api.store.tables import alerts, triage_decisions
from models.quality import (
    PLACE_KINDS,
    TRIAGED_SCHEMA,
    UNDECIDED_SCHEMA,
    NoisyBar,
    precision_by,
    raised_bars,
)


class QualityMixin(StoreBase):
    def triaged(self, since: datetime) -> pl.DataFrame:
        """Each alert's latest decision made at or after ``since``, with the alert's kind, score and reasons
        (:data:`models.quality.TRIAGED_SCHEMA`; a withdrawn alert's score and reasons are null)."""
        t, c = triage_decisions.c, alerts.c
        latest = latest_decisions()
        stmt = (
            sa.select(t.alert_id, t.kind, t.status, t.reason, t.at, c.score, c.reasons)
            .join_from(triage_decisions, latest, t.id == latest.c.id)
            .outerjoin(alerts, c.alert_id == t.alert_id)
            .where(t.at >= since)
            .order_by(t.id)
        )
        with self._read() as conn:
            rows = rows_of(conn, stmt)
        return pl.DataFrame(rows, schema=dict(TRIAGED_SCHEMA), orient="row")

    def undecided(self, since: datetime) -> pl.DataFrame:
        """Alerts going on at or after ``since`` that nobody decided (status new): zone_entry and ais_gap ones a row
        each with their reasons (their zone or station is in them), the others counted per kind
        (:data:`models.quality.UNDECIDED_SCHEMA`)."""
        c = alerts.c
        new = sa.and_(c.status == "new", c.end >= since)
        counted = sa.select(c.kind, sa.func.count().label("n")).where(new, c.kind.not_in(PLACE_KINDS)).group_by(c.kind)
        placed = sa.select(c.kind, c.reasons).where(new, c.kind.in_(PLACE_KINDS))
        with self._read() as conn:
            rows: list[dict[str, Any]] = [
                {"kind": r["kind"], "reasons": [], "n": r["n"]} for r in rows_of(conn, counted)
            ]
            rows += [{"kind": r["kind"], "reasons": r["reasons"], "n": 1} for r in rows_of(conn, placed)]
        return pl.DataFrame(rows, schema=dict(UNDECIDED_SCHEMA), orient="row")

    def quality(self, since: datetime, bar: NoisyBar) -> dict[str, Any]:
        """The triage quality report since ``since``: ``kinds``, ``zones`` and ``stations`` (counts, precision,
        dismissal reasons; a kind's or zone's ``raised_bar`` when it has one) and ``bars`` (the raised bars, as the
        scorer takes them)."""
        triaged, undecided = self.triaged(since), self.undecided(since)
        bars = raised_bars(triaged, bar)
        kind_bars = bars.filter(pl.col("scope") == "kind").select("kind", raised_bar=pl.struct("threshold", "said"))
        zone_bars = bars.filter(pl.col("scope") == "zone").select("zone", raised_bar=pl.struct("threshold", "said"))
        report: dict[str, Any] = {"bars": bars}
        for by, found in (("kind", kind_bars), ("zone", zone_bars), ("station", None)):
            table = precision_by(triaged, undecided, by)
            if found is not None:
                # a zone's bar is per kind and zone; zones are named by zone_entry alerts only
                table = table.join(found.unique(by), on=by, how="left", maintain_order="left")
            report[f"{by}s"] = table.to_dicts()
        return report
