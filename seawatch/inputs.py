"""Batch inputs of every kind, recognised from their content, as a stream of decoded tables.

- NMEA text (plain or .gz) in every framing the framer reads; it must carry times (tag block ``c:``, a timestamp
  prefix or suffix): a log without any cannot be placed in time and is refused (or skipped when asked);
- NOAA MarineCadastre and Danish Maritime Authority CSV archives (feeds/archives.py);
- our own ``positions.parquet`` from ``seawatch decode`` (its ``statics.parquet`` and ``events.parquet`` beside
  it are read too).

Every input is checked before anything is processed, so a bad input fails the run at once and names the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.decode import decode_bytes, empty_tables
from feeds.archives import archive_format, iter_archive
from feeds.files import CHUNK_BYTES, InputError, open_binary, sniff
from feeds.framing import Framer
from seawatch.decode_job import decode_file

TIME_SNIFF_BYTES = 1 << 18  # ~3,000 lines: enough to see whether a log carries times
PARQUET_MAGIC = b"PAR1"
PARQUET_ROWS = 1_000_000  # rows of a positions Parquet handed to the engine at a time
POSITION_COLUMNS = ("mmsi", "t", "lat", "lon")


@dataclass(frozen=True)
class Input:
    path: Path
    kind: str  # "nmea", "csv" or "parquet"


STALE = "stale_archive_row"  # the summaries' name for Chunk.stale among the rows set aside


@dataclass(frozen=True)
class Chunk:
    positions: pl.DataFrame
    statics: pl.DataFrame
    events: pl.DataFrame
    nbytes: int  # bytes of the input this chunk stands for (for progress)
    messages: int  # messages decoded (rows for archives)
    stale: int = 0  # archive rows left out as the archive's carried-over positions (feeds/archives.py)


def classify(paths: list[Path], skip_untimed: bool = False,
             need_times: bool = True) -> tuple[list[Input], list[Path]]:  # fmt: skip
    """Each input's kind, and the NMEA logs without times that were skipped; raises :class:`InputError`.

    ``need_times=False`` takes logs without times as they are (their rows are counted as ``no_time``)."""
    inputs, untimed = [], []
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file; give NMEA logs, NOAA/DMA CSV archives or positions.parquet")
        with open_binary(path) as f:
            head = f.read(4)
        if head == PARQUET_MAGIC:
            _check_parquet(path)
            inputs.append(Input(path, "parquet"))
        elif path.suffix.lower() == ".csv" and archive_format(path):
            inputs.append(Input(path, "csv"))
        else:
            sniff(path)
            if need_times and _untimed(path):
                untimed.append(path)
            else:
                inputs.append(Input(path, "nmea"))
    if untimed and not skip_untimed:
        names = ", ".join(str(p) for p in untimed)
        raise InputError(
            f"{names}: AIS sentences without any time (no tag block c:, no timestamp before or after them); a "
            "backtest cannot place them in time. Record with timestamps, or pass --skip-untimed to leave these out"
        )
    return inputs, untimed


def _untimed(path: Path) -> bool:
    with open_binary(path) as f:
        head = f.read(TIME_SNIFF_BYTES)
    d = decode_bytes(head, details=False)
    times = pl.concat([d.positions.select("t"), d.statics.select("t")])
    return times.height > 0 and times["t"].null_count() == times.height


def _check_parquet(path: Path) -> None:
    try:
        schema = pl.read_parquet_schema(path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in POSITION_COLUMNS if c not in schema]
    if missing:
        raise InputError(f"{path}: a Parquet input must be positions.parquet from `seawatch decode`; it lacks "
                         f"{', '.join(missing)}")  # fmt: skip


def chunks(inputs: list[Input], chunk_bytes: int = CHUNK_BYTES,
           columns: Mapping[str, Collection[str]] | None = None) -> Iterator[Chunk]:  # fmt: skip
    """Decoded tables of every input in turn, chunk by chunk (memory follows the chunk, not the input). NMEA is
    decoded into the ``columns`` its readers name (:func:`readers_columns`; every column when None); archives
    come with theirs."""
    no_events = empty_tables().events
    for item in inputs:
        if item.kind == "nmea":
            for decoded, nbytes in decode_file(item.path, Framer(), chunk_bytes, details=False, columns=columns):
                yield Chunk(decoded.positions, decoded.statics, decoded.events, nbytes, sum(decoded.types.values()))
        elif item.kind == "csv":
            size = item.path.stat().st_size
            for i, batch in enumerate(iter_archive(item.path)):
                rows = batch.positions.height + batch.statics.height
                yield Chunk(batch.positions, batch.statics, no_events, size if i == 0 else 0, rows, batch.stale)
        else:
            yield from _parquet_chunks(item.path, no_events)


def readers_columns(*readers: Mapping[str, Collection[str] | None]) -> dict[str, set[str]]:
    """The columns of each table that one of ``readers`` reads (a table a reader wants whole is not named: the
    decoder then builds all of it)."""
    out: dict[str, set[str]] = {}
    whole: set[str] = set()
    for reader in readers:
        for table, names in reader.items():
            if names is None:
                whole.add(table)
            else:
                out.setdefault(table, set()).update(names)
    return {table: names for table, names in out.items() if table not in whole}


def _parquet_chunks(path: Path, no_events: pl.DataFrame) -> Iterator[Chunk]:
    template = empty_tables()
    size = path.stat().st_size
    statics = _sibling(path, "statics.parquet", template.statics)
    events = _sibling(path, "events.parquet", template.events)
    total = pl.scan_parquet(path).select(pl.len()).collect().item()
    for start in range(0, max(total, 1), PARQUET_ROWS):
        part = _conform(pl.scan_parquet(path).slice(start, PARQUET_ROWS).collect(), template.positions)
        if start == 0:
            yield Chunk(part, statics, events, size, part.height + statics.height + events.height)
        else:
            yield Chunk(part, template.statics, no_events, 0, part.height)


def _sibling(path: Path, name: str, template: pl.DataFrame) -> pl.DataFrame:
    """The table ``seawatch decode`` wrote beside ``path`` (empty when it is not there)."""
    other = path.with_name(name)
    return _conform(pl.read_parquet(other), template) if other.is_file() else template


def _conform(frame: pl.DataFrame, template: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the decoder's schema: missing columns as nulls (NaN for floats), ``seq`` = row order."""
    if "seq" not in frame.columns:
        frame = frame.with_row_index("seq").with_columns(pl.col("seq").cast(pl.Int64))
    columns = []
    for name, dtype in template.schema.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        elif dtype == pl.Float64:
            columns.append(pl.lit(float("nan"), dtype).alias(name))
        else:
            columns.append(pl.lit(None, dtype).alias(name))
    return frame.select(columns)
