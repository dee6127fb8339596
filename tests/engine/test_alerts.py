"""Alert ids are stable and the book keeps the latest version of each alert, whatever the order of reports."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alerts import ALERT_SCHEMA, NO_OTHER, AlertBook, AlertRows, alert_id

HOUR = 3_600_000_000


def _rows(kind: str, versions: list[tuple[int, int, int, float]]) -> pl.DataFrame:
    """(mmsi, start hour, end hour, score) rows."""
    a = np.array(versions, dtype=np.float64).reshape(-1, 4)
    return AlertRows(
        kind=kind,
        mmsi=a[:, 0].astype(np.int64),
        other_mmsi=np.full(a.shape[0], NO_OTHER, np.int64),
        start_us=(a[:, 1] * HOUR).astype(np.int64),
        end_us=(a[:, 2] * HOUR).astype(np.int64),
        lat=np.full(a.shape[0], 20.5),
        lon=np.full(a.shape[0], 107.5),
        score=a[:, 3],
        reasons=[[f"ended at hour {int(e)}"] for e in a[:, 2]],
    ).frame()


def test_id_is_stable_and_the_same_for_both_sides_of_a_pair() -> None:
    assert alert_id("encounter", 574000001, 412000002, 10) == alert_id("encounter", 412000002, 574000001, 10)
    assert alert_id("encounter", 574000001, 412000002, 10) != alert_id("encounter", 574000001, 412000002, 11)
    assert alert_id("ais_gap", 1, None, 0) == alert_id("ais_gap", 1, NO_OTHER, 0)
    assert len(alert_id("ais_gap", 1, None, 0)) == 16  # 8 bytes of BLAKE2b, hex: unsalted, the same everywhere


def test_frame_follows_the_schema() -> None:
    frame = _rows("loitering", [(574000001, 1, 3, 40.0)])
    assert dict(frame.schema) == ALERT_SCHEMA
    row = frame.row(0, named=True)
    assert row["other_mmsi"] is None and row["reasons"] == ["ended at hour 3"]


def test_unknown_kind_and_missing_reasons_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        _rows("piracy", [(1, 0, 1, 1.0)])
    bad = AlertRows("spoofing", np.ones(2, np.int64), np.full(2, -1), np.zeros(2), np.ones(2), np.zeros(2),
                    np.zeros(2), np.zeros(2), [["one"]])  # fmt: skip
    with pytest.raises(ValueError, match="2 alert rows but 1 lists"):
        bad.frame()


@settings(deadline=None)  # polars' first calls are slow on a loaded machine
@given(st.permutations(range(4)), st.integers(1, 4))
def test_book_keeps_the_latest_version_whatever_the_order_and_batching(order: list[int], batch: int) -> None:
    versions = [(574000001, 1, end, 10.0 * end) for end in (2, 3, 4, 5)]
    frames = [_rows("loitering", [versions[i]]) for i in order]
    book = AlertBook()
    for k in range(0, len(frames), batch):
        book.update(frames[k : k + batch])
    table = book.table()
    assert table.height == 1
    assert table.row(0, named=True)["reasons"] == ["ended at hour 5"]


def test_update_returns_only_what_changed() -> None:
    book = AlertBook()
    first = _rows("spoofing", [(1, 0, 1, 50.0), (2, 0, 1, 50.0)])
    assert book.update(first).height == 2
    assert book.update(first).height == 0  # the same evidence again: nothing new to publish
    assert book.update(_rows("spoofing", [(1, 0, 2, 60.0)])).height == 1
    assert len(book) == 2
