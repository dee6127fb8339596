"""Test data for the store and API tests: alerts and vessels in the engine's schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from engine.alerts import ALERT_SCHEMA, alert_id
from models.schema import VESSEL_SCHEMA

T0 = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def alerts_frame(n: int = 5, *, kind: str = "encounter", score: float = 60.0, mmsi0: int = 574000001) -> pl.DataFrame:
    """``n`` alerts an hour apart, the i-th at (20 + i/10 N, 107 + i/10 E); pairs for encounters."""
    rows = []
    for i in range(n):
        start = T0 + timedelta(hours=i)
        other = mmsi0 + 100 + i if kind == "encounter" else None
        rows.append(
            {
                "alert_id": alert_id(kind, mmsi0 + i, other, int(start.timestamp() * 1_000_000)),
                "kind": kind,
                "mmsi": mmsi0 + i,
                "other_mmsi": other,
                "start": start,
                "end": start + timedelta(hours=2),
                "lat": 20.0 + i / 10,
                "lon": 107.0 + i / 10,
                "score": score + i,
                "reasons": [f"close and slow {2 + i} h with {other}"],
            }
        )
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)


def vessels_frame(n: int = 5, *, mmsi0: int = 574000001, name: str = "HAI AU") -> pl.DataFrame:
    """``n`` vessels with smuggling score 10*i+5 (bands low..critical), Vietnamese flag, ship type 30 or 80."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "mmsi": mmsi0 + i,
                "name": f"{name} {i}",
                "callsign": f"XV{i:03d}",
                "imo": None,
                "ship_type": 80 if i % 2 else 30,
                "flag": "VN",
                "lat": 20.0 + i / 10,
                "lon": 107.0 + i / 10,
                "first_seen": T0,
                "last_seen": T0 + timedelta(hours=i),
                "positions": 100 + i,
                "smuggling_score": 20.0 * i + 5,
                "fire_score": 3.0,
                "band": ("low", "medium", "medium", "high", "critical")[min(i, 4)],
                "smuggling_band": "low",
                "fire_band": "low",
                "unusual": None,
                "reasons": [f"smuggling +{i} evidence"],
                "smuggling_reasons": [f"+{i} evidence"],
                "fire_reasons": [],
                "alerts": i,
                **{k: 0 for k in VESSEL_SCHEMA if k.startswith("alerts_")},
                "alerts_encounter": i,
            }
        )
    return pl.DataFrame(rows, schema=VESSEL_SCHEMA)


def sse_events(lines: Iterator[str], n: int) -> list[dict[str, Any]]:
    """The first ``n`` events of a server-sent stream's lines: each with its ``data`` (JSON), ``id`` and ``event``."""
    out: list[dict[str, Any]] = []
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith("data:"):
            event["data"] = json.loads(line[5:])
        elif line.startswith("id:"):
            event["id"] = line[3:].strip()
        elif line.startswith("event:"):
            event["event"] = line[6:].strip()
        elif not line and "data" in event:
            out.append(event)
            event = {}
            if len(out) == n:
                break
    return out
