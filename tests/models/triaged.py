"""A store whose analysts triaged by a rule the shipped model does not know: tankers that loitered were
confirmed, fishing vessels that loitered (with more evidence: a stronger loitering and a gap) were dismissed. A
model fitted on these decisions learns the rule; the shipped one and the indicators rank the other way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from api.store import Store
from engine.alerts import ALERT_SCHEMA, alert_id
from models.schema import VESSEL_SCHEMA
from seawatch.train_job import StoreTrainOptions, StoreTrainSummary, run_train_from_store

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MMSI0 = 574100000


def _alert(kind: str, mmsi: int, start: datetime, score: float) -> dict[str, object]:
    return {"alert_id": alert_id(kind, mmsi, None, int(start.timestamp() * 1_000_000)), "kind": kind, "mmsi": mmsi,
            "other_mmsi": None, "start": start, "end": start + timedelta(hours=3), "lat": 20.5, "lon": 107.5,
            "score": score, "reasons": [f"{kind} of {mmsi}"]}  # fmt: skip


def _vessel(mmsi: int, ship_type: int) -> dict[str, object]:
    row: dict[str, object] = {k: None for k in VESSEL_SCHEMA}
    row.update({"mmsi": mmsi, "ship_type": ship_type, "positions": 500, "smuggling_score": 0.0, "fire_score": 0.0,
                "band": "low", "smuggling_band": "low", "fire_band": "low", "reasons": [], "smuggling_reasons": [],
                "fire_reasons": [], "alerts": 1, "last_seen": T0})  # fmt: skip
    for k in VESSEL_SCHEMA:
        if k.startswith("alerts_"):
            row[k] = 0
    return row


def fill(store: Store, n: int = 60, *, noisy_share: float = 0.0, seed: int = 0) -> pl.DataFrame:
    """``n`` vessels, one loitering alert each, all triaged in turn (their decisions in this order); the first
    ``noisy_share`` of the decisions are coin tosses instead of the rule. Returns the decided alerts with ``y``."""
    rng = np.random.default_rng(seed)
    alerts, vessels, decided = [], [], []
    for i in range(n):
        mmsi, tanker = MMSI0 + i, bool(rng.random() < 0.5)
        start = T0 + timedelta(hours=i)
        loiter = _alert("loitering", mmsi, start, 40.0 + 10 * rng.random() if tanker else 70.0 + 10 * rng.random())
        alerts.append(loiter)
        if not tanker:
            alerts.append(_alert("ais_gap", mmsi, start - timedelta(hours=5), 60.0))
        vessels.append(_vessel(mmsi, 80 if tanker else 30))
        y = tanker if i >= noisy_share * n else bool(rng.random() < 0.5)
        decided.append({"alert_id": loiter["alert_id"], "mmsi": mmsi, "y": int(y)})
    store.upsert_alerts(pl.DataFrame(alerts, schema=ALERT_SCHEMA))
    store.upsert_vessels(pl.DataFrame(vessels, schema=VESSEL_SCHEMA))
    for d in decided:
        if d["y"]:
            store.triage(str(d["alert_id"]), "confirmed", "tanker waiting", "le")
        else:
            store.triage(str(d["alert_id"]), "dismissed", "fleet at work", "le", reason="legitimate_activity")
    return pl.DataFrame(decided)


def train(url: str, out: Path, current: Path, name: str = "base") -> StoreTrainSummary:
    return run_train_from_store(StoreTrainOptions(database_url=url, current=current, current_name=name), out,
                                command="seawatch train --from-store (test)")  # fmt: skip
