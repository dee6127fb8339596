"""What the stream runner makes of the feeds' deliveries: the tables of a micro-batch, decoded at once, and whether
a delivery holds a message that may be distress evidence (which closes its micro-batch at once)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import polars as pl

from engine.decode import decode, empty_tables
from engine.fast_path import distress_headers
from feeds.framing import MessageBatch
from feeds.sources import FeedBatch

TABLES = ("positions", "statics", "events")  # the decoder's tables, as the journal keeps them


def may_be_distress(d: FeedBatch) -> bool:
    """A delivery with a message that may be distress evidence closes its micro-batch at once: the distress fast
    path announces it after that step, without the rest of the window (JSON rows wait for the window)."""
    return d.messages is not None and bool(distress_headers(d.messages).any())


def decode_all(deliveries: Sequence[FeedBatch]) -> list[dict[str, pl.DataFrame]]:
    """The tables of the deliveries (empty tables where there are none), in the decoder's schema: consecutive
    deliveries of NMEA messages decoded at once (a decode per delivery was a third of a live step's time)."""
    empty = empty_tables()
    parts = []
    for nmea, run in groupby(deliveries, key=lambda d: d.messages is not None):
        if nmea:
            decoded = decode(MessageBatch.concat([d.messages for d in run if d.messages is not None]), details=False)
            parts.append({name: getattr(decoded, name) for name in TABLES})
            continue
        for d in run:
            if d.records is None:
                continue
            parts.append({
                "positions": d.records.positions.select(empty.positions.columns),
                "statics": d.records.statics.select(empty.statics.columns),
                "events": empty.events,
            })  # fmt: skip
    return parts or [{name: getattr(empty, name) for name in TABLES}]
