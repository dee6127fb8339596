"""What retraining from the store reads (``seawatch train --from-store``): every triage decision, the stored
alerts of the vessels they were about, with when the store first held each (``created_at``), and the vessels'
identity and size.

The store keeps no copy of a vessel's features at the moment of a decision; what it keeps is time-stamped enough
to rebuild the alert evidence as it stood then (:mod:`models.training_rows`): the alerts the store held at the
decision (``created_at`` at or before it), and the decisions made before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from api.store.base import StoreBase, rows_of
from api.store.tables import alerts, triage_decisions, vessels
from engine.alerts import ALERT_SCHEMA, UTC_US

DECISION_ROWS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "alert_id": pl.String(),
    "kind": pl.String(),
    "mmsi": pl.Int64(),
    "other_mmsi": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
    "by": pl.String(),
    "at": UTC_US,
}
STORED_ALERT_SCHEMA: dict[str, pl.DataType] = {**ALERT_SCHEMA, "created_at": UTC_US}
VESSEL_ROWS_SCHEMA: dict[str, pl.DataType] = {"mmsi": pl.Int64(), "positions": pl.Int64(), "ship_type": pl.Int64(),
                                              "unusual": pl.Float64()}  # fmt: skip


@dataclass(frozen=True)
class TrainingData:
    decisions: pl.DataFrame  # every decision ever made, oldest first (DECISION_ROWS_SCHEMA)
    alerts: pl.DataFrame  # the stored alerts of every vessel decided on (STORED_ALERT_SCHEMA)
    vessels: pl.DataFrame  # those vessels' positions heard, type and unusualness, as last scored (VESSEL_ROWS_SCHEMA)


class TrainingMixin(StoreBase):
    def training_data(self) -> TrainingData:
        """Decisions, and the alerts and vessels they need to be rebuilt as training rows. Decisions are few (human
        work); the alerts read are those of the vessels decided on, either vessel of a pair's."""
        t, a, v = triage_decisions.c, alerts.c, vessels.c
        with self._read() as conn:
            decided = rows_of(conn, sa.select(t.id, t.alert_id, t.kind, t.mmsi, t.other_mmsi, t.status, t.reason,
                                              t.by, t.at).order_by(t.at, t.id))  # fmt: skip
            mmsis = sorted({r["mmsi"] for r in decided} | {r["other_mmsi"] for r in decided if r["other_mmsi"]})
            stored: list[dict[str, object]] = []
            fleet: list[dict[str, object]] = []
            for i in range(0, len(mmsis), 500):  # bound the IN lists
                part = mmsis[i : i + 500]
                columns = [a[c] for c in ALERT_SCHEMA] + [a.created_at]
                stored += rows_of(conn, sa.select(*columns).where(sa.or_(a.mmsi.in_(part), a.other_mmsi.in_(part))))
                fleet += rows_of(conn, sa.select(v.mmsi, v.positions, v.ship_type, v.unusual).where(v.mmsi.in_(part)))
        return TrainingData(
            decisions=pl.DataFrame(decided, schema=DECISION_ROWS_SCHEMA, orient="row"),
            alerts=pl.DataFrame(stored, schema=STORED_ALERT_SCHEMA, orient="row").unique("alert_id").sort("start"),
            vessels=pl.DataFrame(fleet, schema=VESSEL_ROWS_SCHEMA, orient="row"),
        )
