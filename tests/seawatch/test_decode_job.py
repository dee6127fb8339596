"""Decoding on several threads gives what one pass gives: the same tables, counts and Parquet files for any chunk
size and any number of threads, on the real recordings of ``../shared/data/nmea`` (multi-part messages and
tag-block groups cut at every kind of place; on several threads the file is framed in ranges, joined at the cuts:
tests/feeds/test_framing_ranges.py checks that for any cut)."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decode import Decoded, decode_bytes
from feeds.files import InputError
from feeds.framing import Framer
from seawatch.cli import main
from seawatch.decode_job import DecodeOptions, decode_file, ordered_map, run_decode, worker_threads

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
TABLES = ("positions", "statics", "events")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every real recording, one after another in one file (the benchmark's corpus, once)."""
    files = sorted(p for p in NMEA_DIR.glob("*") if p.is_file()) if NMEA_DIR.is_dir() else []
    if not files:
        pytest.skip(f"the real NMEA recordings are not in {NMEA_DIR} (see ../shared/data/README.md)")
    path = tmp_path_factory.mktemp("corpus") / "all.nmea"
    path.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in files))
    return path


@pytest.fixture(scope="module")
def one_pass(recordings: Path) -> Decoded:
    """The whole corpus framed and decoded at once, in this thread."""
    return decode_bytes(recordings.read_bytes())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(min_value=1, max_value=150), threads=st.integers(min_value=1, max_value=5))
def test_decode_file_equals_one_pass_for_any_chunks_and_threads(recordings, one_pass, count, threads):
    whole = one_pass
    chunk_bytes = -(-recordings.stat().st_size // count)
    framer = Framer()
    chunks = list(decode_file(recordings, framer, chunk_bytes, details=True, threads=threads))
    assert sum(n for _, n in chunks) == recordings.stat().st_size
    assert len(chunks) == count + 1  # cut as asked (the last flushes): the property is not vacuous
    for table in TABLES:
        got = pl.concat([getattr(d, table) for d, _ in chunks])
        assert got.equals(getattr(whole, table), null_equal=True), table
    types = sum((d.types for d, _ in chunks), start=type(whole.types)())
    assert types == whole.types
    for name, frame in whole.messages.items():
        parts = [d.messages[name] for d, _ in chunks if name in d.messages]
        assert pl.concat(parts).equals(frame, null_equal=True), name


def written(out: Path) -> dict[str, pl.DataFrame]:
    return {str(p.relative_to(out)): pl.read_parquet(p) for p in sorted(out.rglob("*.parquet"))}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(min_value=1, max_value=60), threads=st.integers(min_value=2, max_value=4))
def test_run_decode_writes_the_same_files_on_any_threads(recordings, tmp_path_factory, count, threads):
    tmp = tmp_path_factory.mktemp("out")
    chunk_bytes = -(-recordings.stat().st_size // count)
    one = run_decode([recordings], tmp / "one", DecodeOptions(progress=False, threads=1))
    many = run_decode(
        [recordings], tmp / "many", DecodeOptions(progress=False, threads=threads, chunk_bytes=chunk_bytes)
    )
    assert (many.lines, many.bytes, many.types, many.outcomes, many.rows) == (
        one.lines, one.bytes, one.types, one.outcomes, one.rows,
    )  # fmt: skip
    a, b = written(tmp / "one"), written(tmp / "many")
    assert a.keys() == b.keys() and len(a) > len(TABLES)  # the rarer types' tables too
    for name in a:
        assert a[name].schema == b[name].schema and a[name].equals(b[name], null_equal=True), name
    assert not list((tmp / "many").glob(".decode-*")), "the scratch folder is removed"


def test_the_rarer_tables_held_or_flushed_to_parts_are_the_same(recordings, tmp_path, monkeypatch):
    from seawatch import decode_job

    held = run_decode([recordings], tmp_path / "held", DecodeOptions(progress=False, threads=2, chunk_bytes=400_000))
    monkeypatch.setattr(decode_job, "HELD_ROWS", 40)  # flushed to part files every chunk or two
    flushed = run_decode([recordings], tmp_path / "flushed", DecodeOptions(progress=False, threads=2,
                                                                          chunk_bytes=400_000))  # fmt: skip
    assert held.rows == flushed.rows and sum(n for t, n in held.rows.items() if t.startswith("messages/")) > 1000
    a, b = written(tmp_path / "held"), written(tmp_path / "flushed")
    assert a.keys() == b.keys() and len(a) > len(TABLES)
    for name in a:
        assert a[name].schema == b[name].schema and a[name].equals(b[name], null_equal=True), name


def test_two_inputs_on_threads_come_out_in_order(recordings, tmp_path):
    summary = run_decode([recordings, recordings], tmp_path / "out", DecodeOptions(progress=False, threads=2,
                                                                                   chunk_bytes=300_000))  # fmt: skip
    positions = pl.read_parquet(tmp_path / "out" / "positions.parquet")
    single = decode_bytes(recordings.read_bytes(), details=False).positions
    assert positions.equals(pl.concat([single, single]), null_equal=True)
    assert summary.files == 2 and summary.rows["positions"] == 2 * single.height


def test_ordered_map_keeps_the_order_whatever_finishes_first():
    rng = random.Random(3)
    delays = [rng.random() / 200 for _ in range(40)]
    drawn_in: set[str] = set()

    def items():
        for i, delay in enumerate(delays):
            drawn_in.add(threading.current_thread().name)
            yield i, delay

    def slow(item: tuple[int, float]) -> int:
        time.sleep(item[1])
        return item[0]

    assert list(ordered_map(slow, items(), threads=4)) == list(range(40))
    assert drawn_in == {threading.current_thread().name}  # a stateful producer stays in the caller's thread
    assert list(ordered_map(slow, items(), threads=1)) == list(range(40))


def test_ordered_map_holds_at_most_threads_results():
    started: list[int] = []

    def record(i: int) -> int:
        started.append(i)
        return i

    out = ordered_map(record, iter(range(100)), threads=3)
    assert next(out) == 0
    assert len(started) <= 3  # nothing decoded far ahead of the reader: memory follows the chunk size


def test_worker_threads_from_argument_setting_or_cores(monkeypatch):
    monkeypatch.delenv("SEAWATCH_THREADS", raising=False)
    assert worker_threads(3) == 3
    assert worker_threads() >= 1
    monkeypatch.setenv("SEAWATCH_THREADS", "1")
    assert worker_threads() == 1
    assert worker_threads(2) == 2  # the argument wins
    monkeypatch.setenv("SEAWATCH_THREADS", "two")
    with pytest.raises(InputError, match="SEAWATCH_THREADS='two': give a whole number"):
        worker_threads()
    with pytest.raises(InputError, match="at least 1"):
        worker_threads(0)


def test_the_threads_flag_sets_the_workers_and_the_pools(recordings, tmp_path, monkeypatch, capsys):
    for name in ("SEAWATCH_THREADS", "POLARS_MAX_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(name, "")  # restored after the test, whatever the command sets
    monkeypatch.delenv("POLARS_MAX_THREADS")
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    assert main(["decode", str(recordings), "--out", str(tmp_path / "out"), "--threads", "1", "--progress", "off"]) == 0
    assert "messages by type" in capsys.readouterr().out

    assert [os.environ.get(n) for n in ("SEAWATCH_THREADS", "POLARS_MAX_THREADS", "NUMBA_NUM_THREADS")] == ["1"] * 3
    with pytest.raises(SystemExit):
        main(["decode", str(recordings), "--out", str(tmp_path / "x"), "--threads", "0"])
    assert "give a whole number of threads, at least 1" in capsys.readouterr().err


def test_a_table_that_cannot_be_written_is_reported_in_the_callers_thread(tmp_path):
    from seawatch.decode_job import _StreamedTable

    positions = decode_bytes(b"", details=False).positions
    stream = _StreamedTable(tmp_path / "gone" / "positions.parquet", positions.schema)
    with pytest.raises(InputError, match=r"gone/positions.parquet: (cannot be written|the Parquet writer stopped)"):
        for _ in range(5):  # more than the queue holds: a writer that stopped must not block the decoding
            stream.put(positions)
        stream.close()
    stream.abort()  # after a failure: returns at once
