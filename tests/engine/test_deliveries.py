"""A micro-batch's deliveries decoded at once (engine/deliveries.py) give the tables the whole input gives."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from engine.decode import decode
from engine.deliveries import TABLES, decode_all, may_be_distress
from feeds.framing import Framer
from feeds.sources import FeedBatch
from seawatch.simulator.config import SimConfig
from seawatch.simulator.scenario import simulate
from tests.engine.live import SART, SHIP, delivery, position_line


def test_deliveries_decoded_at_once_are_the_input_decoded_whole() -> None:
    feed = simulate(SimConfig(hours=1, vessels=20, seed=5)).feed
    framer = Framer()
    cuts = [0, 777, 5_000, 5_001, len(feed) // 2, len(feed)]
    got = [FeedBatch(0, "tcp://test", 0.0, messages=framer.feed(feed[a:b], final=b == len(feed)))
           for a, b in zip(cuts, cuts[1:], strict=False)]  # fmt: skip
    (parts,) = decode_all(got)
    whole = decode(Framer().feed(feed, final=True), details=False)
    for name in TABLES:
        assert parts[name].height > 0 or name == "events"
        assert_frame_equal(parts[name], getattr(whole, name))


def test_no_delivery_is_the_empty_tables() -> None:
    (parts,) = decode_all([])
    assert all(isinstance(parts[name], pl.DataFrame) and parts[name].height == 0 for name in TABLES)


def test_a_delivery_with_a_sart_or_a_status_14_may_be_distress() -> None:
    assert may_be_distress(delivery(position_line(SHIP, 0, 1_700_000_000_000), position_line(SART, 0, 1)))
    assert may_be_distress(delivery(position_line(SHIP, 14, 1_700_000_000_000)))
    assert not may_be_distress(delivery(position_line(SHIP, 0, 1_700_000_000_000)))
