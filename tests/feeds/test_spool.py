"""The relay's spool: records come back in order from the first one not acknowledged, across a restart; a record
a kill cut short is never read; a full spool gives up its oldest records and counts them."""

from __future__ import annotations

from pathlib import Path

from feeds.spool import Spool


def put(spool: Spool, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        spool.append("AIS.x", f"id-{i}", {"k": str(i)}, f"line {i}\n".encode())


def ids(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.msg_id for r in records]


def test_records_come_back_in_order_and_an_acknowledged_prefix_is_forgotten_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=200)
    put(spool, 20)
    first = spool.read(7)
    assert ids(first) == [f"id-{i}" for i in range(7)]
    assert first[3].payload == b"line 3\n" and first[3].headers == {"k": "3"}
    spool.acknowledge(first[4], force=True)
    assert ids(spool.read(100)) == [f"id-{i}" for i in range(7, 20)]
    spool.rewind()
    assert ids(spool.read(3)) == ["id-5", "id-6", "id-7"]
    spool.close()
    again = Spool(tmp_path, segment_bytes=200)
    put(again, 2, start=20)
    assert ids(again.read(100)) == [f"id-{i}" for i in range(5, 22)]


def test_a_record_cut_short_by_a_kill_is_not_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    put(spool, 3)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-4])
    again = Spool(tmp_path)
    put(again, 1, start=3)
    assert ids(again.read(100)) == ["id-0", "id-1", "id-3"]


def test_a_full_spool_gives_up_its_oldest_records_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=300, max_bytes=1000)
    put(spool, 40)
    got = ids(spool.read(100))
    assert spool.dropped > 0
    assert spool.bytes_held() <= 1000 + 300
    assert got == [f"id-{i}" for i in range(spool.dropped, 40)], "the newest are kept, in order, none twice"
