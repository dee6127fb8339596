"""Triage quality from the store: the window's decisions with their alerts, the undecided alerts, and the report
(precision per kind, zone and station; the raised bars) that models/quality.py computes from them; alerts read
back say whether a raised bar takes them out of the scores (``below_bar``, :func:`mark_below_bar`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from api.store.alerts import latest_decisions
from api.store.base import StoreBase, rows_of, utcnow
from api.store.tables import alerts, triage_decisions
from models.quality import (
    BAR_SCHEMA,
    PLACE_KINDS,
    TRIAGED_SCHEMA,
    UNDECIDED_SCHEMA,
    NoisyBar,
    bars_applied,
    precision_by,
    raised_bars,
    window_start,
)

# an analyst's confirmation or escalation of the alert itself outweighs its kind's or zone's raised bar
# (models.indicators.with_decisions): such an alert counts in the scores and is not below the bar
OUTWEIGH_BAR = ("confirmed", "escalated")


BARS_CACHE_S = 60.0  # the raised bars in force are read again after this long without a new decision

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

    def bars_in_force(self, bar: NoisyBar, now: datetime | None = None) -> pl.DataFrame:
        """The raised bars the window's decisions earn now (:data:`models.quality.BAR_SCHEMA`): the ones the live
        scorer applies at its next cycle; none with the bars turned off (``bar.min_precision`` 0)."""
        if bar.min_precision <= 0:
            return pl.DataFrame(schema=dict(BAR_SCHEMA))
        if now is not None:
            return raised_bars(self.triaged(window_start(now, bar)), bar)
        # the same decisions give the same bars: every triage answer and alert list asked for them again, which
        # grew with the window's decisions (896 decisions: 60 ms an update); kept until a decision comes or the
        # window has moved a minute
        with self._read() as conn:  # the latest decision's id: one indexed max()
            top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(triage_decisions.c.id), 0))).scalar_one()
        key, clock = (int(top), bar), time.monotonic()
        cached = self._bars_cache
        if cached is not None and cached[0] == key and clock - cached[1] < BARS_CACHE_S:
            return cached[2]
        bars = raised_bars(self.triaged(window_start(utcnow(), bar)), bar)
        self._bars_cache = (key, clock, bars)
        return bars

    def mark_below_bar(self, rows: Sequence[dict[str, Any]], bar: NoisyBar) -> list[dict[str, Any]]:
        """``rows`` marked after the raised bars in force now (:func:`below_bar`); no query without an alert."""
        if not any("kind" in r for r in rows):
            return list(rows)
        return below_bar(rows, self.bars_in_force(bar))


def below_bar(rows: Sequence[dict[str, Any]], bars: pl.DataFrame) -> list[dict[str, Any]]:
    """``rows`` (alerts as the store gives them) with ``below_bar`` (a raised bar applies to the alert and its
    score is under it: its points leave the scores, as :func:`models.indicators.with_decisions` takes them out)
    and ``raised_bar`` (that bar: ``threshold`` and ``said``; null otherwise). An alert an analyst confirmed or
    escalated outweighs the bar, as in the scores. Rows without a ``kind`` (withdrawals) are left as they are."""
    alerts = [r for r in rows if "kind" in r]
    if bars.height == 0 or not alerts:
        return [r | {"below_bar": False, "raised_bar": None} if "kind" in r else r for r in rows]
    frame = pl.DataFrame(
        [{"kind": r["kind"], "score": r["score"], "reasons": r["reasons"] or []} for r in alerts],
        schema={"kind": pl.String(), "score": pl.Float64(), "reasons": pl.List(pl.String())},
        orient="row",
    )
    applied = bars_applied(frame, bars).select("bar", "below_bar").iter_rows()
    out = []
    for r in rows:
        if "kind" in r:
            threshold, said = next(applied)
            below = said is not None and r.get("status") not in OUTWEIGH_BAR
            r = r | {"below_bar": below, "raised_bar": {"threshold": threshold, "said": said} if below else None}
        out.append(r)
    return out
