"""The history dataset: decoded AIS as Parquet, partitioned by day and MMSI bucket, read back for backtests.

Layout (hive-style, on a local disk or any fsspec file system: ``file://``, ``s3://`` with s3fs, ...)::

    DATASET/_seawatch.json                                   what was ingested, and the arrival state
    DATASET/positions/day=2026-01-05/bucket=007/part-0000-000012.parquet
    DATASET/statics/...   DATASET/events/...                 (day=untimed for rows without a time)

Each file holds the rows of one ingest run (``0000``), one input chunk (``000012``), one day and one MMSI bucket
(:func:`engine.partitions.bucket_expr`), in arrival order, with the decoder's columns, ``arrival`` (the engine's
arrival number across every input ever ingested) and ``kept`` (the engine keeps the row: it has a time and is not
late; :class:`engine.partitions.Arrivals`). A run's files count only once ``_seawatch.json`` lists the run (it is
written last), so a failed ingest leaves nothing a backtest reads.

A backtest reads the chunks back in arrival order (:meth:`Dataset.steps`), any set of buckets at a time, with
predicate push-down: days outside ``--from``/``--to`` are not opened, and the time and ``--bbox`` filters go to
polars' Parquet reader (row groups skipped by their statistics).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engine.partitions import bucket_of
from feeds.files import InputError

META = "_seawatch.json"
TABLES = ("positions", "statics", "events")
VERSION = 1
_PART = re.compile(r"/day=([^/]+)/bucket=(\d+)/part-(\d+)-(\d+)\.parquet$")


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path in it; InputError when fsspec (the cluster extra) is missing."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise InputError(f"{url}: a history dataset needs fsspec: pip install 'seawatch[cluster]'") from None
    try:
        fs, root = url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url}: cannot open this location ({exc}); give a folder, file:// or s3:// URL") from None
    return fs, root.rstrip("/")


def is_dataset(url: str) -> bool:
    """Whether ``url`` is a history dataset (a folder or URL with ``_seawatch.json``); a local file is not."""
    if "://" not in url and not Path(url).is_dir():
        return False
    try:
        fs, root = filesystem(url)
        return bool(fs.isfile(f"{root}/{META}"))
    except (InputError, OSError):
        return False


@dataclass(frozen=True)
class Filters:
    """What a backtest reads of a dataset: ``start`` <= t < ``end`` (UTC), positions inside ``bbox`` (lon_min,
    lat_min, lon_max, lat_max) and the statics and events of the vessels that have one there."""

    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None

    @property
    def any(self) -> bool:
        return self.start is not None or self.end is not None or self.bbox is not None

    def day_ok(self, day: str) -> bool:
        if day == "untimed":
            return self.start is None and self.end is None
        return (self.start is None or day >= self.start.strftime("%Y-%m-%d")) and (
            self.end is None or day <= self.end.strftime("%Y-%m-%d")
        )

    def rows(self) -> pl.Expr:
        expr = pl.lit(True)
        if self.start is not None:
            expr &= pl.col("t") >= self.start
        if self.end is not None:
            expr &= pl.col("t") < self.end
        return expr

    def inside(self) -> pl.Expr:
        if self.bbox is None:
            return pl.lit(True)
        lon0, lat0, lon1, lat1 = self.bbox
        return pl.col("lon").is_between(lon0, lon1) & pl.col("lat").is_between(lat0, lat1)


@dataclass(frozen=True)
class Part:
    table: str
    day: str
    bucket: int
    run: int
    chunk: int
    path: str


@dataclass(frozen=True)
class Step:
    """One input chunk's rows of some buckets, in arrival order (``seq`` = arrival, as the engine takes it):
    every row (for the features) and whether the engine keeps it (``kept``)."""

    positions: pl.DataFrame
    statics: pl.DataFrame
    events: pl.DataFrame

    def kept(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The rows the engine takes, without the ``kept`` column."""
        return tuple(t.filter(pl.col("kept")).drop("kept") for t in (self.positions, self.statics, self.events))  # type: ignore[return-value]


class Dataset:
    """A history dataset opened for reading (``url``: a folder, ``file://`` or another fsspec URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = filesystem(url)
        try:
            with self.fs.open(f"{self.root}/{META}", "rb") as f:
                self.meta: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            raise InputError(f"{url}: not a history dataset (no {META}); write one with `seawatch ingest`") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{url}/{META}: cannot be read ({exc}); ingest the history again") from None
        if self.meta.get("version") != VERSION:
            raise InputError(f"{url}: dataset version {self.meta.get('version')}, this seawatch reads {VERSION}; "
                             "ingest the history again")  # fmt: skip

    @property
    def buckets(self) -> int:
        return int(self.meta["buckets"])

    @property
    def runs(self) -> list[dict[str, Any]]:
        return list(self.meta["runs"])

    @cached_property
    def parts(self) -> list[Part]:
        """Every file of a committed run, in (run, chunk) order."""
        committed = {int(r["run"]) for r in self.runs}
        found = []
        for table in TABLES:
            for path in self.fs.glob(f"{self.root}/{table}/day=*/bucket=*/part-*.parquet"):
                m = _PART.search("/" + path.lstrip("/"))
                if m and int(m.group(3)) in committed:
                    found.append(Part(table, m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), path))
        return sorted(found, key=lambda p: (p.run, p.chunk, p.table, p.day, p.bucket))

    def buckets_present(self) -> list[int]:
        return sorted({p.bucket for p in self.parts})

    def steps(self, buckets: set[int] | None = None, filters: Filters | None = None,
              columns: Mapping[str, Collection[str]] | None = None) -> Iterator[Step]:  # fmt: skip
        """The rows of ``buckets`` (None: all), input chunk by input chunk, in arrival order; of each table only
        the ``columns`` named (:func:`seawatch.inputs.readers_columns`; a table not named: all of them)."""
        filters = filters or Filters()
        chosen = [p for p in self.parts if (buckets is None or p.bucket in buckets) and filters.day_ok(p.day)]
        vessels = self._vessels_inside(chosen, filters) if filters.bbox is not None else None
        groups: dict[tuple[int, int], list[Part]] = {}
        for p in chosen:
            groups.setdefault((p.run, p.chunk), []).append(p)
        for key in sorted(groups):
            frames = {t: self._read([p for p in groups[key] if p.table == t], t, filters, vessels,
                                    (columns or {}).get(t)) for t in TABLES}  # fmt: skip
            yield Step(frames["positions"], frames["statics"], frames["events"])

    def _vessels_inside(self, parts: list[Part], filters: Filters) -> pl.Series:
        files = [p.path for p in parts if p.table == "positions"]
        if not files:
            return pl.Series("mmsi", [], pl.Int64)
        found = self._scan(files).filter(filters.rows() & filters.inside()).select("mmsi").unique().collect()
        return found["mmsi"]

    def _read(self, parts: list[Part], table: str, filters: Filters, vessels: pl.Series | None,
              columns: Collection[str] | None) -> pl.DataFrame:  # fmt: skip
        if not parts:
            return self.empty(table)
        lazy = self._scan([p.path for p in parts]).filter(filters.rows())
        if vessels is not None:
            lazy = lazy.filter(filters.inside() if table == "positions" else pl.col("mmsi").is_in(vessels.implode()))
        if columns is not None:  # read only these from the files (Parquet is by column)
            lazy = lazy.select(*sorted({"arrival" if c == "seq" else c for c in columns} | {"arrival", "kept"}))
        frame = lazy.collect()
        return frame.sort("arrival").rename({"arrival": "seq"}) if frame.height else self.empty(table)

    def _scan(self, files: list[str]) -> pl.LazyFrame:
        if _is_local(self.fs):
            return pl.scan_parquet(files, hive_partitioning=False)
        return pl.concat([pl.read_parquet(self.fs.open(f, "rb")).lazy() for f in files], how="vertical_relaxed")

    @staticmethod
    def empty(table: str) -> pl.DataFrame:
        """An empty table of the dataset's columns (``seq`` = arrival, ``kept``)."""
        from engine.decode import empty_tables

        frame: pl.DataFrame = getattr(empty_tables(), table)
        return frame.with_columns(pl.lit(False).alias("kept"))

    def read_positions(self, mmsi: list[int], filters: Filters | None = None) -> pl.DataFrame:
        """Every position of the vessels ``mmsi`` (for the report's track maps), reading their buckets only."""
        wanted = set(bucket_of(np.array(mmsi, np.int64), self.buckets).tolist()) if mmsi else set()
        parts = [p for p in self.parts if p.table == "positions" and p.bucket in wanted]
        if not parts:
            return self.empty("positions")
        rows = (filters or Filters()).rows() & pl.col("mmsi").is_in(pl.Series(mmsi, dtype=pl.Int64).implode())
        return self._scan([p.path for p in parts]).filter(rows).collect()


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")
