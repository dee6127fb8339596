"""For stream tests: AIS lines as a live feed sends them (a tag block with the time in milliseconds), deliveries
of them, and a sink that keeps alerts as the store does."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyais

from engine.alerts import ALERT_SCHEMA
from engine.decode import decode_bytes
from engine.runner import Detector, Engine
from feeds.framing import Framer
from feeds.sources import FeedBatch

SART = 970_012_345  # an AIS-SART's MMSI (ITU-R M.585 Annex 2)
SHIP = 574_000_001  # an ordinary vessel


def position_line(mmsi: int, status: int, unix_ms: int, lat: float = 20.5, lon: float = 107.0) -> bytes:
    """A type 1 position report stamped ``unix_ms`` (tag block ``c:``)."""
    fields: dict[str, str | int | float | bytes | bool] = {
        "msg_type": 1, "mmsi": mmsi, "status": status, "lat": lat, "lon": lon, "speed": 8.0, "course": 90.0,
        "heading": 90,
    }  # fmt: skip
    (sentence,) = pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel="A")
    body = f"s:TEST,c:{unix_ms}"
    cs = 0
    for c in body.encode("ascii"):
        cs ^= c
    return f"\\{body}*{cs:02X}\\{sentence}\n".encode("ascii")


def delivery(*lines: bytes) -> FeedBatch:
    """``lines`` as one delivery of a live feed."""
    return FeedBatch(0, "tcp://test", 0.0, messages=Framer().feed(b"".join(lines), final=True))


class Upserts:
    """A sink that keeps the latest version of every alert it is given and forgets withdrawn ones, as the store."""

    def __init__(self) -> None:
        self.alerts: dict[str, dict[str, Any]] = {}
        self.withdrawn: list[str] = []
        self.rows = 0

    def consume(self, tables: dict[str, pl.DataFrame], alerts: pl.DataFrame) -> None:
        self.rows += tables["positions"].height
        for row in alerts.iter_rows(named=True):
            self.alerts[row["alert_id"]] = row

    def withdraw(self, alert_ids: list[str]) -> None:
        self.withdrawn.extend(alert_ids)
        for alert_id in alert_ids:
            del self.alerts[alert_id]  # only what it was given is withdrawn

    def table(self) -> pl.DataFrame:
        """The alerts held, in the engine's canonical order."""
        frame = pl.DataFrame(list(self.alerts.values()), schema=ALERT_SCHEMA, orient="row")
        return frame.sort(["kind", "start", "mmsi", "alert_id"])


def batch_alerts_of(feed: bytes, detectors: list[Detector]) -> pl.DataFrame:
    """The alerts of one batch run of ``detectors`` over the whole ``feed``: what a stream must give."""
    d = decode_bytes(feed, details=False)
    engine = Engine(detectors)
    engine.process(d.positions, d.statics, d.events)
    engine.finish()
    return engine.alerts()
