"""``seawatch decode``: NMEA files -> positions/statics/events Parquet, streamed in chunks with bounded memory.

Peak memory is set by the chunk size, not the input size. On several threads, each of the three tables is
written by polars while the decoding goes on (:class:`_StreamedTable`: encoded once, as the chunks come); the
rarer types' typed tables (with details: one per layout variant, :mod:`engine.decode_rare`, written to
``messages/<variant>.parquet``), whose set is known only at the end, and every table on one thread, go to part files
(Arrow IPC, uncompressed: written at memory speed, read back once) in a scratch folder that polars streams into
one Parquet file per table at the end.

Both cores by default: an uncompressed file is cut at line ends and up to ``threads`` workers frame its ranges
(:mod:`feeds.framing_ranges`; the caller's thread joins what crosses each cut, in order: multi-part messages,
tag-block groups, the framer's state), while up to ``threads`` more decode the framed chunks and write their parts
(the kernels release the GIL); a .gz file is framed in the caller's thread, chunk after chunk. Results come back in
input order, so the outputs are the same for any number of threads and any cut. ``SEAWATCH_THREADS`` (or
``--threads``) sets the number.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import polars as pl
from polars.io.plugins import register_io_source

from engine.decode import DECODE_REJECTS, Decoded, decode
from feeds.files import CHUNK_BYTES, InputError, map_chunks, map_whole, sniff
from feeds.framing import Framer, MessageBatch
from feeds.framing_ranges import RangeFrame, frame_range, line_ranges
from feeds.nmea_kernel import NOTES, OUTCOMES

THREADS_ENV = "SEAWATCH_THREADS"
# The rarer types' tables (~1.4 % of the messages of real feeds, ~30 tables) are held in memory up to this many rows
# in all, then written to part files: hundreds of tiny part files per table cost more than their rows.
HELD_ROWS = 200_000
_In = TypeVar("_In")
_Out = TypeVar("_Out")
TABLES = ("positions", "statics", "events")
MESSAGE_TYPE_NAMES = {
    1: "position A", 2: "position A", 3: "position A", 4: "base station", 5: "static/voyage",
    6: "binary addressed", 7: "binary ack", 8: "binary broadcast", 9: "SAR aircraft", 10: "UTC inquiry",
    11: "UTC response", 12: "safety addressed", 13: "safety ack", 14: "safety broadcast",
    15: "interrogation", 16: "assignment", 17: "DGNSS", 18: "position B", 19: "extended B",
    20: "data link mgmt", 21: "aid to navigation", 22: "channel mgmt", 23: "group assignment",
    24: "static B", 25: "binary single slot", 26: "binary multi slot", 27: "long-range position",
}  # fmt: skip


@dataclass
class DecodeOptions:
    keep_bad_checksums: bool = False
    details: bool = True
    chunk_bytes: int = CHUNK_BYTES
    progress: bool | None = None  # None: a bar when stderr is a terminal
    threads: int | None = None  # None: SEAWATCH_THREADS, else every core this process may use


@dataclass
class DecodeSummary:
    out: Path
    files: int = 0
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    types: Counter[int] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        msgs = sum(self.types.values())
        rate = msgs / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"decoded {msgs:,} messages from {self.lines:,} lines in {self.files} file(s), "
            f"{self.bytes / 1e6:,.1f} MB in {self.seconds:.2f} s ({rate:,.0f} messages/s)",
            "messages by type:",
        ]
        for t, n in sorted(self.types.items()):
            out.append(f"  {t:>2} {MESSAGE_TYPE_NAMES.get(t, '?'):<22} {n:>10,}")
        out.append("sentence records by outcome:")
        for name in OUTCOMES + DECODE_REJECTS:
            if self.outcomes[name]:
                out.append(f"  {name:<25} {self.outcomes[name]:>10,}")
        notes = [name for name in NOTES if self.outcomes[name]]
        if notes:
            out.append("notes:")
            out.extend(f"  {name:<25} {self.outcomes[name]:>10,}" for name in notes)
        out.append("written:")
        out.extend(f"  {self.out / (t + '.parquet')}  {self.rows.get(t, 0):,} rows" for t in TABLES)
        return "\n".join(out) + "\n"


class ProgressBar(Protocol):
    """What the commands call on their bar: tqdm's, or :class:`_NoBar` when none is shown (mypy holds both to it)."""

    def __enter__(self) -> ProgressBar: ...

    def __exit__(self, *exc: object) -> None: ...

    def update(self, n: int) -> object: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> object: ...


class _NoBar:
    """The bar of a run that shows none: tqdm is not even imported (~15 ms of start-up)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:  # the backtest's rate beside its bar
        return None


def progress_bar(total: int, enabled: bool | None, desc: str = "decode") -> ProgressBar:
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, desc=desc)


def worker_threads(threads: int | None = None) -> int:
    """``threads`` when given, else ``SEAWATCH_THREADS``, else the cores this process may run on."""
    if threads is None:
        setting = os.environ.get(THREADS_ENV, "").strip()
        if setting:
            try:
                threads = int(setting)
            except ValueError:
                msg = f"{THREADS_ENV}={setting!r}: give a whole number of threads (1 for one core)"
                raise InputError(msg) from None
        else:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if threads < 1:
        raise InputError(f"threads={threads}: give at least 1 (1 runs on one core)")
    return threads


def ordered_map(fn: Callable[[_In], _Out], items: Iterable[_In], threads: int) -> Iterator[_Out]:
    """``fn`` of each item, in the items' order, with up to ``threads`` calls running at once in worker threads;
    the items themselves are drawn in the caller's thread (so a stateful producer such as a framer stays serial).
    At most ``threads`` results wait at a time, so memory follows the chunk size. One thread: no pool at all."""
    if threads <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="seawatch-decode") as pool:
        pending: deque[Future[_Out]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def framed_chunks(path: Path, framer: Framer, chunk_bytes: int,
                  threads: int = 1) -> Iterator[tuple[MessageBatch, int]]:  # fmt: skip
    """The framer's batches of ``path``, chunk by chunk, each with the bytes it read (the last, 0, flushes the
    framer's partial lines and parts). On several threads an uncompressed file is cut at line ends and its ranges
    framed by up to ``threads`` workers (:mod:`feeds.framing_ranges`), what crosses a cut joined here in order: the
    same messages as one framer fed it all."""
    whole = map_whole(path) if threads > 1 and framer.clock is None else None  # a clock times by arrival: serial
    if whole is None:
        for chunk in _with_end(map_chunks(path, chunk_bytes)):
            yield framer.feed(chunk or b"", final=chunk is None), len(chunk or b"")
        return

    def frame(cut: tuple[int, int, int]) -> tuple[RangeFrame, int]:
        framed = frame_range(whole, cut[0], cut[1], keep_bad_checksums=framer.keep_bad_checksums,
                             max_line=framer.max_line)  # fmt: skip
        return framed, cut[2]

    for framed, n_bytes in ordered_map(frame, line_ranges(whole, chunk_bytes), threads):
        batch = framer.take(framed)
        if n_bytes == 0:  # the last line, framed at the end: then the parts still pending are orphans
            framer.finish()
        yield batch, n_bytes


def decode_file(path: Path, framer: Framer, chunk_bytes: int, details: bool,
                columns: Mapping[str, Collection[str]] | None = None,
                threads: int | None = None) -> Iterator[tuple[Decoded, int]]:  # fmt: skip
    """The decoded tables of ``path``, chunk by chunk, each with the bytes it read; ``columns`` as
    :func:`engine.decode.decode` takes them. Chunks are framed in this thread and decoded by ``threads`` workers
    (:func:`worker_threads`), the next while the caller works on this one; the results are the same for any
    number."""

    def decode_one(item: tuple[MessageBatch, int]) -> tuple[Decoded, int]:
        return decode(item[0], details=details, columns=columns), item[1]

    threads = worker_threads(threads)
    yield from ordered_map(decode_one, framed_chunks(path, framer, chunk_bytes, threads), threads)


@dataclass
class _ChunkParts:
    """What a worker made of one chunk: its counts, its part files by table, and the bytes it stands for."""

    types: Counter[int]
    rejects: Counter[str]
    parts: dict[str, tuple[Path, int]]  # table -> (part file, rows)
    frames: dict[str, pl.DataFrame]  # the tables streamed or held in memory, to be handed over in order
    n_bytes: int


def _write_parts(decoded: Decoded, scratch: Path, index: int, n_bytes: int,
                 streamed: Collection[str]) -> _ChunkParts:  # fmt: skip
    tables = {t: getattr(decoded, t) for t in TABLES}
    tables |= {f"messages/{name}": frame for name, frame in decoded.messages.items()}
    parts, frames = {}, {}
    for table, frame in tables.items():
        if not frame.height:
            continue
        if table in streamed or table not in TABLES:  # the rarer types' few rows are held, not written
            frames[table] = frame
        else:
            part = scratch / f"{table}-{index:06d}.arrow"
            frame.write_ipc(part, compression="uncompressed")
            parts[table] = (part, frame.height)
    return _ChunkParts(decoded.types, decoded.rejects, parts, frames, n_bytes)


class _StreamedTable:
    """One Parquet file that polars writes while the decoding goes on: the frames :meth:`put` in order are encoded
    by polars' threads as they come (once; no part files to read back). The queue holds at most ``depth`` frames,
    so memory stays at a few chunks; a writer that failed is reported to the caller's thread."""

    POLL_S = 0.1  # how often a full queue looks whether the writer has stopped

    def __init__(self, target: Path, schema: pl.Schema, depth: int = 2) -> None:
        self.target = target
        self._queue: queue.Queue[pl.DataFrame | None] = queue.Queue(depth)
        self._error: Exception | None = None
        frames = register_io_source(self._frames, schema=schema)
        self._thread = threading.Thread(target=self._write, args=(frames,), name=f"parquet-{target.stem}", daemon=True)
        self._thread.start()

    def _frames(self, with_columns: list[str] | None, predicate: object, n_rows: int | None,
                batch_size: int | None) -> Iterator[pl.DataFrame]:  # fmt: skip
        while (frame := self._queue.get()) is not None:
            yield frame if with_columns is None else frame.select(with_columns)

    def _write(self, frames: pl.LazyFrame) -> None:
        try:
            frames.sink_parquet(self.target)
        except (pl.exceptions.PolarsError, OSError) as exc:  # raised again in the caller's thread
            self._error = exc

    def put(self, frame: pl.DataFrame | None) -> None:
        while True:
            if not self._thread.is_alive():
                raise InputError(f"{self.target}: the Parquet writer stopped ({self._error or 'no reason given'})")
            try:
                self._queue.put(frame, timeout=self.POLL_S)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """End the file and wait for it; raises :class:`InputError` if it could not be written."""
        self.put(None)
        self._thread.join()
        if self._error is not None:
            raise InputError(f"{self.target}: cannot be written ({self._error})")

    def abort(self) -> None:
        """End the writer after a failure elsewhere (its file is left unfinished in the scratch folder)."""
        if self._thread.is_alive():
            try:
                self.put(None)
            except InputError:
                return
            self._thread.join()


def run_decode(inputs: list[Path], out: Path, options: DecodeOptions) -> DecodeSummary:
    """Decode ``inputs`` into ``out``; raises :class:`InputError` naming a bad input before writing anything."""
    threads = worker_threads(options.threads)
    for path in inputs:
        sniff(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    summary = DecodeSummary(out=out)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=".decode-", dir=out))
    parts: dict[str, list[Path]] = {t: [] for t in TABLES}
    rows: Counter[str] = Counter()
    (scratch / "messages").mkdir()
    total = sum(p.stat().st_size for p in inputs)
    index = 0
    streams: dict[str, _StreamedTable] = {}
    held: dict[str, list[pl.DataFrame]] = {}  # the rarer types' tables since the last flush to part files

    def flush_held() -> None:
        for table, frames in held.items():
            if frames:
                part = scratch / f"{table}-{index:06d}.arrow"
                pl.concat(frames).write_ipc(part, compression="uncompressed")
                parts.setdefault(table, []).append(part)
        held.clear()

    def decode_and_write(item: tuple[int, tuple[MessageBatch, int]]) -> _ChunkParts:
        i, (batch, n_bytes) = item
        return _write_parts(decode(batch, details=options.details), scratch, i, n_bytes, streams)

    try:
        if threads > 1:
            streams = {t: _StreamedTable(scratch / f"{t}.parquet", _empty(t).schema) for t in TABLES}
        with progress_bar(total, options.progress) as bar:
            for path in inputs:
                framer = Framer(keep_bad_checksums=options.keep_bad_checksums)
                numbered = enumerate(framed_chunks(path, framer, options.chunk_bytes, threads), start=index)
                for done in ordered_map(decode_and_write, numbered, threads):
                    summary.types.update(done.types)
                    summary.outcomes.update(done.rejects)
                    for table, (part, n) in done.parts.items():
                        parts.setdefault(table, []).append(part)
                        rows[table] += n
                    for table, frame in done.frames.items():
                        if table in streams:
                            streams[table].put(frame)
                        else:
                            held.setdefault(table, []).append(frame)
                        rows[table] += frame.height
                    if sum(frame.height for frames in held.values() for frame in frames) > HELD_ROWS:
                        flush_held()
                    summary.bytes += done.n_bytes
                    bar.update(done.n_bytes)
                    index += 1
                summary.outcomes.update(framer.counts)
                summary.lines += framer.lines
                summary.files += 1
        # the tables not streamed are written while the streamed ones finish in their threads, all at once
        if len(parts.keys() | held.keys()) > len(TABLES):
            (out / "messages").mkdir(exist_ok=True)
        sinks = []
        for table in sorted((parts.keys() | held.keys()) - streams.keys()):
            target = out / f"{table}.parquet"
            written = [pl.scan_ipc(parts[table])] if parts.get(table) else []
            written += [pl.concat(held[table]).lazy()] if held.get(table) else []
            if written:
                sinks.append(pl.concat(written).sink_parquet(target, lazy=True))
            else:
                _empty(table).write_parquet(target)
            summary.rows[table] = rows[table]
        if sinks:
            pl.collect_all(sinks)
        for table, stream in streams.items():
            stream.close()
            os.replace(stream.target, out / f"{table}.parquet")
            summary.rows[table] = rows[table]
    finally:
        for stream in streams.values():
            stream.abort()
        shutil.rmtree(scratch, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _with_end(chunks):
    """The chunks, then None to say the input has ended."""
    yield from chunks
    yield None


def _empty(table: str) -> pl.DataFrame:
    """An empty table with the right columns, from decoding nothing."""
    from engine.decode import decode_bytes

    frame: pl.DataFrame = getattr(decode_bytes(b""), table)
    return frame
