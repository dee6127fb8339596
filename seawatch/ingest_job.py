"""``seawatch ingest``: NMEA logs and NOAA/DMA archives decoded once into a history dataset (seawatch/history.py).

Inputs are read chunk by chunk as ``seawatch backtest`` reads them (seawatch/inputs.py), numbered in arrival order
with the engine's lateness rule decided over the whole stream (:class:`engine.partitions.Arrivals`), and written
per day and MMSI bucket. Ingesting again into the same dataset appends: the arrival numbering and the latest time
go on from the last run, so backtesting the dataset is backtesting every input in the order it was ingested.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from engine.partitions import Arrivals, bucket_expr
from feeds.files import InputError
from seawatch.backtest_job import BACKTEST_CHUNK_BYTES
from seawatch.decode_job import progress_bar
from seawatch.history import META, TABLES, VERSION, filesystem
from seawatch.inputs import STALE, chunks, classify

DEFAULT_BUCKETS = 32  # MMSI buckets: the finest cut a backtest can spread over workers (more: smaller files)


@dataclass
class IngestOptions:
    buckets: int = DEFAULT_BUCKETS
    skip_untimed: bool = False
    # The backtest's own step: a dataset is read back one ingest chunk per engine step, so the steps fall where
    # `seawatch backtest INPUT` puts them (alerts do not depend on where steps fall: stream = batch; the memory does).
    chunk_bytes: int = BACKTEST_CHUNK_BYTES
    progress: bool | None = None


@dataclass
class IngestSummary:
    url: str
    run: int = 0
    files: int = 0
    messages: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    written: int = 0  # Parquet files
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    skipped: list[Path] = field(default_factory=list)

    def render(self) -> str:
        rows = ", ".join(f"{t} {self.rows[t]:,}" for t in TABLES)
        out = [f"run {self.run}: {self.messages:,} messages from {self.files} file(s) in {self.seconds:.1f} s "
               f"-> {self.url} ({rows}; {self.written:,} Parquet files)"]  # fmt: skip
        set_aside = {k: v for k, v in self.counts.items() if v}
        if set_aside:
            out.append("rows set aside: " + ", ".join(f"{k} {v:,}" for k, v in sorted(set_aside.items())))
        out.extend(f"skipped (no times): {p}" for p in self.skipped)
        return "\n".join(out) + "\n"


def run_ingest(paths: list[Path], url: str, options: IngestOptions) -> IngestSummary:
    """Decode ``paths`` and append them to the dataset at ``url`` (created when absent); raises InputError."""
    if options.buckets < 1:
        raise InputError(f"--buckets {options.buckets}: give at least 1 MMSI bucket")
    inputs, skipped = classify(paths, options.skip_untimed)
    fs, root = filesystem(url)
    meta = _read_meta(fs, root, url, options.buckets)
    arrivals = Arrivals.from_state(meta["arrival"]) if meta["runs"] else Arrivals()
    run = len(meta["runs"])
    summary = IngestSummary(url=url, run=run, files=len(inputs), skipped=skipped)
    buckets = int(meta["buckets"])
    started = time.perf_counter()
    stale = 0
    with progress_bar(sum(i.path.stat().st_size for i in inputs), options.progress, desc="ingest") as bar:
        for index, chunk in enumerate(chunks(inputs, options.chunk_bytes)):
            numbered = arrivals.number({"positions": chunk.positions, "statics": chunk.statics,
                                        "events": chunk.events})  # fmt: skip
            for table, frame in numbered.items():
                summary.written += _write_partitions(fs, f"{root}/{table}", frame, buckets, run, index)
                summary.rows[table] += frame.height
            summary.messages += chunk.messages
            stale += chunk.stale
            bar.update(chunk.nbytes)
    before = Counter(meta["arrival"]["counts"]) if meta["runs"] else Counter()
    summary.counts = Counter(arrivals.counts) - before + Counter({STALE: stale})
    meta["arrival"] = arrivals.state()
    meta["runs"].append({"run": run, "inputs": [str(i.path) for i in inputs], "messages": summary.messages,
                         "rows": dict(summary.rows), "counts": dict(summary.counts),
                         "at": datetime.now(UTC).isoformat(timespec="seconds")})  # fmt: skip
    with fs.open(f"{root}/{META}", "w") as f:  # last: the run's files count from now on
        json.dump(meta, f, indent=1)
    summary.seconds = time.perf_counter() - started
    return summary


def _read_meta(fs: Any, root: str, url: str, buckets: int) -> dict[str, Any]:
    if not fs.exists(f"{root}/{META}"):
        if fs.exists(root) and fs.isfile(root):
            raise InputError(f"{url}: is a file; give a folder for the dataset (created when absent)")
        try:
            fs.makedirs(root, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{url}: cannot create the dataset folder ({exc})") from None
        return {"version": VERSION, "buckets": buckets, "runs": [], "arrival": Arrivals().state()}
    with fs.open(f"{root}/{META}", "rb") as f:
        meta: dict[str, Any] = json.load(f)
    if meta.get("version") != VERSION:
        raise InputError(f"{url}: a dataset of version {meta.get('version')}; this seawatch writes {VERSION}. "
                         "Ingest into a new folder")  # fmt: skip
    if buckets != DEFAULT_BUCKETS and buckets != meta["buckets"]:
        raise InputError(f"{url}: the dataset has {meta['buckets']} MMSI buckets; --buckets {buckets} cannot "
                         "be appended to it (leave --buckets out, or ingest into a new folder)")  # fmt: skip
    return meta


def _write_partitions(fs: Any, folder: str, frame: pl.DataFrame, buckets: int, run: int, chunk: int) -> int:
    """Write ``frame``'s rows to one file per (day, bucket); returns how many files."""
    if not frame.height:
        return 0
    keyed = frame.with_columns(pl.col("t").dt.strftime("%Y-%m-%d").fill_null("untimed").alias("day"),
                               bucket_expr(buckets))  # fmt: skip
    written = 0
    for (day, bucket), part in keyed.partition_by("day", "bucket", as_dict=True, include_key=False).items():
        target = f"{folder}/day={day}/bucket={bucket:03d}"
        fs.makedirs(target, exist_ok=True)
        with fs.open(f"{target}/part-{run:04d}-{chunk:06d}.parquet", "wb") as f:
            part.write_parquet(f, statistics=True)
        written += 1
    return written
