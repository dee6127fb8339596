"""draught_change: loaded or discharged at sea; a vessel back from dark is placed by its first fix after."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.decode import decode_bytes
from engine.detectors.draught import DraughtDetector
from engine.runner import Engine
from tests.engine.detectors.tracks import T0, line, track

SEA = (19.3, 107.6)  # mid-Gulf, far from every port, terminal and anchorage of the pack
HAI_PHONG = (20.84, 106.7)  # Hai Phong's port area (a port of the pack)


def statics(mmsi: int, t_s: list[float], draught: list[float]) -> pl.DataFrame:
    schema = decode_bytes(b"", details=False).statics.schema
    n = len(t_s)
    data = {
        "mmsi": np.full(n, mmsi, np.int64),
        "t": pl.Series((T0 + np.asarray(t_s, float)) * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
        "msg_type": np.full(n, 5, np.int8),
        "draught": np.asarray(draught, float),
    }
    cols = {name: pl.Series(name, data[name]) if name in data else pl.Series(name, [None] * n) for name in schema}
    return pl.DataFrame(cols).cast(dict(schema))  # type: ignore[arg-type]


def numbered(positions: pl.DataFrame, st: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both tables with arrival numbers in time order, as a feed would deliver them."""
    rows = pl.concat([positions.select("t").with_columns(kind=pl.lit(0)), st.select("t").with_columns(kind=pl.lit(1))])
    order = rows.with_row_index("i").sort("t", "kind")["i"].to_numpy()
    seq = np.empty(order.shape[0], np.int64)
    seq[order] = np.arange(order.shape[0])
    return (positions.with_columns(seq=pl.Series(seq[: positions.height])),
            st.with_columns(seq=pl.Series(seq[positions.height :])))  # fmt: skip


def run(positions: pl.DataFrame, st: pl.DataFrame, cuts: int = 1) -> pl.DataFrame:
    """Alerts of the draught detector, the input cut into ``cuts`` batches in arrival order."""
    d = decode_bytes(b"", details=False)
    pos, sta = numbered(positions, st)
    engine = Engine([DraughtDetector()])
    edges = np.linspace(0, pos.height + sta.height, cuts + 1).astype(int)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        engine.process(pos.filter(pl.col("seq").is_between(a, b - 1)).select(d.positions.columns),
                       sta.filter(pl.col("seq").is_between(a, b - 1)).select(d.statics.columns), d.events)  # fmt: skip
    engine.finish()
    return engine.alerts()


def dark_then_back(back_at: tuple[float, float], back_after_s: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Heard at sea for 2 h (draught 3.0 m), dark for 5 h, new draught 5.2 m, then its first fix ``back_after_s``
    later at ``back_at``."""
    t1 = np.arange(0, 7200, 60.0)
    lat1, lon1 = line(t1, *SEA, kn=0.5, course=90)
    change = 7200 + 5 * 3600.0
    t2 = change + back_after_s + np.arange(0, 3600, 60.0)
    pos = pl.concat(
        [
            track(574000001, t1, lat1, lon1, sog=0.5),
            track(574000001, t2, np.full(t2.shape, back_at[0]), np.full(t2.shape, back_at[1]), sog=0.2),
        ]
    )
    st = statics(574000001, [600.0, 3600.0, change, change + 1800], [3.0, 3.0, 5.2, 5.2])  # fmt: skip
    return pos, st


@pytest.mark.parametrize("cuts", [1, 7])
def test_a_change_while_dark_is_placed_by_the_first_fix_after(cuts: int) -> None:
    got = run(*dark_then_back(SEA, 44.0), cuts=cuts)
    assert got["kind"].to_list() == ["draught_change"]
    row = got.row(0, named=True)
    assert row["lat"] == pytest.approx(SEA[0]) and "3.0 -> 5.2 m" in row["reasons"][0]
    assert "at sea" in row["reasons"][1]


def test_back_in_port_or_too_late_is_no_alert() -> None:
    assert run(*dark_then_back(HAI_PHONG, 44.0)).height == 0  # it loaded in port, for all we know
    assert run(*dark_then_back(SEA, 4 * 3600.0)).height == 0  # no fix within 3 h: where it was is unknown


def test_stream_equals_batch_with_a_snapshot_in_between(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pos, st = numbered(*dark_then_back(SEA, 600.0))
    d = decode_bytes(b"", details=False)
    whole = run(pos, st)
    cut = T0 + 7200 + 5 * 3600 + 60  # after the change, before the first fix after it: the change waits
    early = pl.col("t").dt.epoch("s") < cut
    engine = Engine([DraughtDetector()])
    engine.process(pos.filter(early)[d.positions.columns], st.filter(early)[d.statics.columns], d.events)
    engine.snapshot(tmp_path / "snap")
    again = Engine.restore(tmp_path / "snap", [DraughtDetector()])
    again.process(pos.filter(~early)[d.positions.columns], st.filter(~early)[d.statics.columns], d.events)
    again.finish()
    assert whole.height == 1 and again.alerts()["alert_id"].to_list() == whole["alert_id"].to_list()


def test_outside_the_waters_whose_ports_the_pack_knows_nothing_is_said() -> None:
    off_california = (33.4, -119.3)  # a Gulf of Tonkin pack knows no port within thousands of km
    assert run(*dark_then_back(off_california, 44.0)).height == 0
    assert run(*dark_then_back(SEA, 44.0)).height == 1
