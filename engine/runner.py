"""The engine: decoded tables in, alerts out, the same whether the input comes in one batch or a thousand.

How stream = batch holds
------------------------
Every row gets a global *arrival* index. A row is **late** when its time is more than ``lateness`` before the
latest time among the rows that arrived before it; late rows are dropped and counted. This rule depends only on
the arrival order, so it drops the same rows however the input is cut into batches.

The **watermark** is the latest time seen so far minus ``lateness``: every row with a time before it has
arrived (any other would be late). Rows before the watermark are *ready*; the rest wait for a later step. Each
step hands the detectors the ready rows sorted by (vessel, time, arrival), and the watermark. A detector keeps
its state per vessel and may finish any decision about times before the watermark. At the end of the input,
:meth:`Engine.finish` releases everything (the watermark becomes +inf). A detector that processes each vessel's
rows in time order, carrying its state between steps, therefore sees the same sequence in stream and in batch,
and reports the same final alerts; :class:`engine.alerts.AlertBook` keeps the latest version of each. The same
rules let a history be cut by MMSI bucket and still give this answer: :mod:`engine.partitions`.

Rows without a time cannot be placed and are counted (``no_time``); the same message heard by several stations
(same vessel, time, type and position) is kept once (``duplicate``). A detector that needs every copy (the
station monitor counts each receiving station's traffic) is an :class:`Observer`: it sees the ready rows with
their ``source`` before the copies are dropped, at the same steps, so it too is the same in stream and batch.

Bounded memory in a long-running service (issue 14)
---------------------------------------------------
Nothing a detector keeps grows with feed time: every time-indexed structure is dropped once it is older than the
longest look-back of its detector (the encounter buffer keeps two fixes a vessel a slice until the slice is walked,
its slow-vessel history ``dark_window_h`` = 12 h; the gap detector's coverage ``retain_h`` = 72 h; the station
monitor's counts one day; identity and draught changes are held for 2.5 h and 3 h). What grows is the fleet:
a vessel id, once given, keeps its slot in every per-vessel array.

**Eviction.** A vessel silent for ``evict_after_s`` (default 48 h) of feed time -- its latest ready row older than
the watermark minus that -- is handed to every detector's optional ``evict(vids, now_us)`` hook, once (again after
it is heard again and falls silent again). A detector drops there the variable-size payloads it holds for the
vessel (the identity change history kept for the API, the value an identity alternated from and the words of its
last conflict, the first text of a distress episode) and keeps its fixed-size scalars. It drops only what no row
at or after ``now_us`` (the watermark) can use -- each payload past its own horizon, checked against the vessel's
own times -- so a vessel that comes back is judged exactly as if nothing had been evicted, whatever the setting:
alerts are identical (tests/engine/test_eviction.py: a simulated day evicting after 3 h, with a snapshot and a
restore in the middle). The longest horizon among what is dropped is the identity detector's alternation and
conflict windows (24 h): the 48 h default evicts a vessel once all of it can go.

Ids are not compacted (a vessel keeps its id and its slot, a few kB across the detectors): some look-backs have
no horizon at all -- a gap of any length is an ``ais_gap`` (its vanishing point is kept), a rename across any
silence an ``identity_change`` (the last name is kept), an invalid MMSI is one alert per vessel -- so freeing a
slot would change those alerts. Reclaiming slots needs a bound on those look-backs first (e.g. no gap longer than
a week), then a remap of vid-indexed arrays; until then memory grows with the vessels ever seen, not with time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from engine.alerts import AlertBook
from engine.durable import crash_point, fsync_dir, fsync_file
from engine.fixes import DIMENSIONS, Fixes, Identities, fixes_in_order, identities_in_order, vessel_time_sorted
from engine.fleet import VesselIndex
from feeds.jit import kernel, read_only

LATENESS_S = 600.0  # how far out of time order a feed may be; merged station feeds are within minutes
EVICT_AFTER_S = 48 * 3600.0  # a vessel silent this long is evicted (module docstring); the longest horizon is 24 h
FINAL_WATERMARK = np.iinfo(np.int64).max
SNAPSHOT_VERSION = 1
_NONE = np.iinfo(np.int64).min
POSITION_KEY = ("mmsi", "t_us", "msg_type", "lat", "lon")
STATIC_KEY = ("mmsi", "t_us", "msg_type", "part")
EVENT_KEY = ("mmsi", "t_us", "msg_type", "payload", "text")
# the columns detectors get (through Fixes and Identities); the rest is dropped on arrival, not carried along
COLUMNS: dict[str, tuple[str, ...] | None] = {
    "positions": ("mmsi", "t", "lat", "lon", "sog", "cog", "heading", "nav_status", "msg_type", "source", "seq"),
    "statics": ("mmsi", "t", "msg_type", "part", "imo", "ship_type", "draught", "name", "callsign", "destination",
                *DIMENSIONS, "source", "seq"),
    "events": None,
}  # fmt: skip
_NAN_BITS = int(np.array([np.nan]).view(np.int64)[0])  # every NaN is one key, as polars compares them
_FLOAT_NULL_BITS = 0x7FF0DEAD0000BEEF  # a NaN payload no NaN has once they are all _NAN_BITS: a null float
_INT_NULL = np.iinfo(np.int64).min

@dataclass(frozen=True)
class Step:
    """What detectors get at each step: the ready rows and how far time is complete."""

    fixes: Fixes  # sorted by (vid, t_us, arrival)
    identities: Identities  # sorted by (vid, t_us, arrival)
    events: pl.DataFrame  # Events rows with `vid`, `t_us` and `arrival` columns, sorted by (t_us, arrival)
    watermark_us: int  # every row with t < watermark has been delivered; FINAL_WATERMARK at the end
    fleet: VesselIndex  # fleet.mmsi[vid]; fleet.size bounds every vid seen so far

    @property
    def final(self) -> bool:
        return self.watermark_us == FINAL_WATERMARK


class Detector(Protocol):
    """One family of behaviours. State is kept per vessel id and carried between steps."""

    name: str

    def process(self, step: Step) -> list[pl.DataFrame]:
        """Alert rows (ALERT_SCHEMA) that are new or changed at this step."""
        ...

    def snapshot(self) -> dict[str, np.ndarray]:
        """The detector's state as arrays (for :meth:`Engine.snapshot`)."""
        ...

    def restore(self, arrays: dict[str, np.ndarray]) -> None: ...


class Evictable(Protocol):
    """A detector that holds variable-size payloads per vessel: :meth:`evict` is called with the vessels silent for
    :attr:`Engine.evict_after_us` before the watermark ``now_us`` (once each until heard again), and drops what
    they hold that no row at or after ``now_us`` can use, so that alerts do not change (module docstring,
    "Bounded memory")."""

    def evict(self, vids: np.ndarray, now_us: int) -> None: ...


class Observer(Protocol):
    """A detector that also sees every copy of the ready rows (a message heard by several stations, each with its
    ``source``) before the copies are dropped: :meth:`observe` is called at each step before :meth:`process`."""

    def observe(self, ready: dict[str, pl.DataFrame | None], watermark_us: int) -> None: ...

    def outages(self) -> pl.DataFrame: ...


class Engine:
    """Runs detectors over decoded batches (see the module's docstring for the timing rules)."""

    def __init__(self, detectors: Sequence[Detector], *, lateness_s: float = LATENESS_S,
                 evict_after_s: float | None = EVICT_AFTER_S) -> None:  # fmt: skip
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"detector names must be unique, got {names}")
        self.detectors = list(detectors)
        self.lateness_us = int(lateness_s * 1e6)
        self.evict_after_us = None if evict_after_s is None else int(evict_after_s * 1e6)
        self.heard = np.zeros(0, np.int64)  # per vessel id: the time of its latest ready row (-1: none yet)
        self.evicted = np.zeros(0, np.bool_)  # per vessel id: evicted since it was last heard
        self.evictions = 0  # vessels evicted so far (not in ``counts``: a batch run in one step evicts none)
        self.fleet = VesselIndex()
        self.book = AlertBook()
        self.extra: dict[str, Any] = {}  # what the snapshot restored from kept for its writer (engine/stream.py)
        self.counts: Counter[str] = Counter()
        self._offset = 0  # added to a message's seq to give its arrival
        self._next_arrival = 0
        self._max_t = _NONE
        self._pending: dict[str, pl.DataFrame | None] = {"positions": None, "statics": None, "events": None}

    @property
    def watermark_us(self) -> int:
        return _NONE if self._max_t == _NONE else self._max_t - self.lateness_us

    def process(self, positions: pl.DataFrame, statics: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
        """Take one decoded batch (tables with their ``seq`` column); returns the alerts new or changed."""
        tables = {"positions": positions, "statics": statics, "events": events}
        arrived = self._arrive({name: _narrow(name, table) for name, table in tables.items()})
        return self._step(arrived, self.watermark_us)

    def finish(self) -> pl.DataFrame:
        """End of input: release every waiting row; returns the alerts that are new or changed."""
        return self._step({name: None for name in self._pending}, FINAL_WATERMARK)

    def alerts(self) -> pl.DataFrame:
        return self.book.table()

    def outages(self) -> pl.DataFrame:
        """The receiving stations' outages (``station_outage`` events) the detectors found, in start order."""
        from engine.detectors.stations import OUTAGE_SCHEMA

        frames = [d.outages() for d in self.detectors if hasattr(d, "outages")]
        return pl.concat(frames).sort("start", "station") if frames else pl.DataFrame(schema=OUTAGE_SCHEMA)

    def waiting(self, where: dict[str, pl.Expr]) -> Step:
        """The rows still waiting for the watermark of every vessel with a waiting row that matches ``where`` (an
        expression per table), as detectors would get them if the input ended now: the step of :meth:`finish`
        for those vessels. Nothing changes (no count either): what the distress fast path looks ahead with.

        Whole vessels are taken because the copies of a message all belong to one vessel: the copy kept is the
        one a step will keep, even when only another copy matches ``where``.
        """
        frames = {name: f for name, f in self._pending.items() if f is not None and f.height}
        vids = [frames[name].filter(expr)["vid"] for name, expr in where.items() if name in frames]
        chosen = pl.concat(vids).unique() if vids else pl.Series("vid", [], pl.Int64)
        ready: dict[str, pl.DataFrame | None] = {name: None for name in self._pending}
        for name, frame in frames.items():
            mine = frame.filter(pl.col("vid").is_in(chosen.implode()))
            ready[name] = mine if mine.height else None
        step, _ = self._make_step(ready, FINAL_WATERMARK)
        return step

    def snapshot(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        """Write the whole state to the folder ``path``, atomically and durably (:meth:`capture`, then
        :func:`write_snapshot`). ``extra`` (the stream runner's journal position) is kept in it, so the state and
        what it covers change together."""
        write_snapshot(self.capture(extra), path)

    def capture(self, extra: dict[str, Any] | None = None) -> Captured:
        """The whole state now, as copies nothing later changes: a live runner captures it between micro-batches
        and writes it in another thread while the engine steps on (engine/stream.py). Detectors' ``snapshot()``
        return copies; polars tables are not changed in place."""
        meta = {
            "version": SNAPSHOT_VERSION,
            "detectors": [d.name for d in self.detectors],
            "lateness_us": self.lateness_us,
            "offset": self._offset,
            "next_arrival": self._next_arrival,
            "max_t": self._max_t,
            "counts": dict(self.counts),
            "evict_after_us": self.evict_after_us,
            "evictions": self.evictions,
            "extra": extra or {},
        }
        arrays = {"fleet.npz": {**self.fleet.state(), "heard": self.heard.copy(), "evicted": self.evicted.copy()}}
        arrays.update({f"detector-{d.name}.npz": d.snapshot() for d in self.detectors})
        tables = {"alerts.parquet": self.book.table()}
        tables.update({f"pending-{name}.parquet": f for name, f in self._pending.items() if f is not None})
        return Captured(meta, arrays, tables)

    @staticmethod
    def recover(path: Path) -> bool:
        """Put the snapshot folder ``path`` back in its place after a crash during :meth:`snapshot`, whatever the
        moment: the old snapshot alone (``.path.old``) is moved back, a stale one removed, and half-written
        temporary folders removed. Whether a snapshot is there."""
        path = Path(path)
        old = _old(path)
        if not path.exists() and (old / "engine.json").is_file():
            os.replace(old, path)
            fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
        if path.parent.is_dir():
            for leftover in path.parent.glob(f".{path.name}-*"):
                shutil.rmtree(leftover, ignore_errors=True)
        return (path / "engine.json").is_file()

    @classmethod
    def restore(cls, path: Path, detectors: Sequence[Detector]) -> Engine:
        """An engine that continues from the snapshot in ``path``, with ``detectors`` (the same, by name)."""
        meta = _snapshot_meta(Path(path), [d.name for d in detectors])
        after = meta.get("evict_after_us", int(EVICT_AFTER_S * 1e6))
        engine = cls(detectors, lateness_s=meta["lateness_us"] / 1e6,
                     evict_after_s=None if after is None else after / 1e6)  # fmt: skip
        engine._load(Path(path), meta)
        return engine

    def reload(self, path: Path) -> dict[str, Any]:
        """Go back to the snapshot in ``path`` (this engine's own detectors restored from it): after a step that
        failed half-way, whose state cannot be trusted. Returns the snapshot's ``extra``."""
        meta = _snapshot_meta(Path(path), [d.name for d in self.detectors])
        self.lateness_us = int(meta["lateness_us"])
        self._load(Path(path), meta)
        return dict(meta.get("extra", {}))

    def _load(self, path: Path, meta: dict[str, Any]) -> None:
        self._offset = meta["offset"]
        self._next_arrival = meta["next_arrival"]
        self._max_t = meta["max_t"]
        self.counts = Counter(meta["counts"])
        self.extra = dict(meta.get("extra", {}))
        with np.load(path / "fleet.npz") as arrays:
            self.fleet = VesselIndex.from_state(dict(arrays))
            # older snapshots: nobody heard yet (a vessel is evictable once heard again)
            self.heard = arrays["heard"].copy() if "heard" in arrays else np.full(self.fleet.size, -1, np.int64)
            self.evicted = arrays["evicted"].copy() if "evicted" in arrays else np.zeros(self.fleet.size, np.bool_)
        self.evictions = int(meta.get("evictions", 0))
        for d in self.detectors:
            with np.load(path / f"detector-{d.name}.npz") as arrays:
                d.restore(dict(arrays))
        self.book = AlertBook(keep_us=self.book.keep_us)
        self.book.update(pl.read_parquet(path / "alerts.parquet"))
        for name in self._pending:
            file = path / f"pending-{name}.parquet"
            extra = ("t_us", "arrival", "vid")
            self._pending[name] = _narrow(name, pl.read_parquet(file), extra) if file.exists() else None

    def keep_alerts(self, seconds: float | None) -> None:
        """Keep in memory only the alerts with evidence in the last ``seconds`` of feed time (None: all, as a
        batch run does); older ones have been handed to the sinks, which keep them."""
        self.book.keep_us = None if seconds is None else int(seconds * 1e6)

    def _arrive(self, tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame | None]:
        """Number the rows in arrival order; drop (and count) the ones without time and the late ones.

        A message's arrival is its ``seq`` from the framer (batching does not change it), shifted past every
        earlier input when a new input starts (its ``seq`` begins again at 0).
        """
        parts = [(name, table) for name, table in tables.items() if table.height]
        out: dict[str, pl.DataFrame | None] = {name: None for name in tables}
        if not parts:
            return out
        seq_min = min(int(table["seq"].min()) for _, table in parts)  # type: ignore[arg-type]
        if self._offset + seq_min < self._next_arrival:  # a new input, numbered from 0 again
            self._offset = self._next_arrival - seq_min
        arrivals = [self._offset + table["seq"].to_numpy().astype(np.int64, copy=False) for _, table in parts]
        times = [
            table["t"].dt.epoch("us").fill_null(_NONE).to_numpy().astype(np.int64, copy=False) for _, table in parts
        ]
        arrival = np.concatenate(arrivals)
        t = np.concatenate(times)
        order = np.argsort(arrival, kind="stable")
        keep, kept_sorted, max_t, no_time, late = _lateness(order, t, self._max_t, self.lateness_us, _NONE)
        self.counts["no_time"] += no_time
        self.counts["late"] += late
        self._max_t = max_t
        self._next_arrival = max(self._next_arrival, int(arrival.max()) + 1)
        # vessel ids in arrival order across the three tables, so they too do not depend on batching
        mmsi = np.concatenate([table["mmsi"].to_numpy().astype(np.int64, copy=False) for _, table in parts])
        vid = np.full(mmsi.shape[0], -1, np.int64)
        vid[kept_sorted] = self.fleet.ids(mmsi[kept_sorted])
        start = 0
        for (name, table), arr, tt in zip(parts, arrivals, times, strict=True):
            rows = slice(start, start + table.height)
            start += table.height
            frame = table.with_columns(pl.Series("t_us", tt), pl.Series("arrival", arr), pl.Series("vid", vid[rows]))
            out[name] = frame if keep[rows].all() else frame.filter(pl.Series(keep[rows]))
        return out

    def _step(self, arrived: dict[str, pl.DataFrame | None], watermark: int) -> pl.DataFrame:
        ready: dict[str, pl.DataFrame | None] = {}
        for name, new in arrived.items():
            frames = [f for f in (self._pending[name], new) if f is not None and f.height]
            if not frames:
                ready[name] = None
                self._pending[name] = None
                continue
            table = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
            is_ready = table["t_us"] < watermark
            if is_ready.all():  # at the end of the input, and often in a long batch: no copy
                ready[name], self._pending[name] = table, None
                continue
            ready[name] = table.filter(is_ready)
            rest = table.filter(~is_ready)
            self._pending[name] = rest if rest.height else None
        for d in self.detectors:
            if hasattr(d, "observe"):  # an Observer: every copy, before they are dropped
                d.observe(ready, watermark)
        step, duplicates = self._make_step(ready, watermark)
        self.counts["duplicate"] += duplicates
        rows = [frame for d in self.detectors for frame in d.process(step)]
        changed = self.book.update(rows)
        if self._max_t != _NONE:
            self.book.prune(self._max_t)
        self._heard_in(step)
        self._evict(watermark)
        return changed

    def _heard_in(self, step: Step) -> None:
        """Each vessel's latest ready row (positions, statics, events): it is no longer evicted."""
        size = step.fleet.size
        if self.heard.shape[0] < size:
            self.heard = np.concatenate([self.heard, np.full(size - self.heard.shape[0], -1, np.int64)])
            self.evicted = np.concatenate([self.evicted, np.zeros(size - self.evicted.shape[0], np.bool_)])
        vid = np.concatenate([step.fixes.vid, step.identities.vid, step.events["vid"].to_numpy()]).astype(np.int64)
        t_us = np.concatenate([step.fixes.t_us, step.identities.t_us, step.events["t_us"].to_numpy()])
        ok = vid >= 0
        np.maximum.at(self.heard, vid[ok], t_us[ok].astype(np.int64))
        self.evicted[vid[ok]] = False

    def _evict(self, watermark: int) -> None:
        """Hand the vessels silent for ``evict_after_us`` before the watermark to the detectors' ``evict`` hooks."""
        if self.evict_after_us is None or watermark in (FINAL_WATERMARK, _NONE):
            return
        silent = np.flatnonzero((self.heard >= 0) & (self.heard < watermark - self.evict_after_us) & ~self.evicted)
        if not silent.shape[0]:
            return
        for d in self.detectors:
            if hasattr(d, "evict"):
                d.evict(silent, watermark)
        self.evicted[silent] = True
        self.evictions += int(silent.shape[0])

    def _make_step(self, ready: dict[str, pl.DataFrame | None], watermark: int) -> tuple[Step, int]:
        """The step of the ``ready`` rows, and how many of them were copies of a message (dropped)."""
        positions = _EMPTY["positions"]() if ready["positions"] is None else ready["positions"]
        statics = _EMPTY["statics"]() if ready["statics"] is None else ready["statics"]
        rows, vid, t_us = self._by_vessel(ready["positions"], POSITION_KEY)
        fixes = fixes_in_order(positions, rows, vid, t_us, positions["arrival"].to_numpy(), self.fleet.mmsi)
        copies = positions.height - rows.shape[0]
        rows, vid, t_us = self._by_vessel(ready["statics"], STATIC_KEY)
        identities = identities_in_order(statics, rows, vid, t_us, self.fleet.mmsi)
        copies += statics.height - rows.shape[0]
        events = self._prepare(ready["events"], EVENT_KEY, "events")
        copies += (0 if ready["events"] is None else ready["events"].height) - events.height
        return Step(fixes, identities, events, watermark, self.fleet), copies

    @staticmethod
    def _by_vessel(table: pl.DataFrame | None, key: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of ``table`` to keep, in the order detectors get them: the first arrival of each message (same
        ``key``), ordered by (vessel, time, arrival); and their vessel ids and times. One compiled pass over the key
        columns; no table is gathered.
        """
        if table is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        arrival = table["arrival"].to_numpy()
        # vessel and time make the runs; mmsi is the vessel; the rest of the key tells copies within a run
        keys = _key_bits(table, [k for k in key if k not in ("mmsi", "t_us") and k in table.columns])
        t_us, vid = table["t_us"].to_numpy(), table["vid"].to_numpy()
        if arrival.shape[0] > 1 and not bool(np.all(arrival[1:] >= arrival[:-1])):
            by_arrival = np.argsort(arrival, kind="stable")
            rows, vid_s, t_s = vessel_time_sorted(vid[by_arrival], t_us[by_arrival], keys[by_arrival])
            rows = by_arrival[rows]
        else:
            rows, vid_s, t_s = vessel_time_sorted(vid, t_us, keys)
        return rows, vid_s, t_s

    @staticmethod
    def _prepare(table: pl.DataFrame | None, key: tuple[str, ...], name: str) -> pl.DataFrame:
        """Keep the first arrival of each message, then order by time and arrival (events: few rows, any columns).

        The masks and the order are computed on the few key columns; the wide table is gathered once.
        """
        if table is None:
            return _EMPTY[name]()
        arrival = table["arrival"].to_numpy()
        if arrival.shape[0] > 1 and not bool(np.all(arrival[1:] >= arrival[:-1])):
            table = table[np.argsort(arrival, kind="stable")]
        table = table.filter(pl.Series(first_distinct(table, [k for k in key if k in table.columns])))
        t_us, arrival = table["t_us"].to_numpy(), table["arrival"].to_numpy()
        return table[np.lexsort((arrival, t_us))]


def first_distinct(table: pl.DataFrame, cols: list[str]) -> np.ndarray:
    """``struct(cols).is_first_distinct()`` of ``table`` (as a bool array), comparing only the rows whose hash of
    ``cols`` is shared with another row: equal keys hash alike, so a row with a hash of its own is the first of its
    key, and the rows that share one keep their order. Three times faster on a step's events, which are rarely
    copies (the struct comparison of every row was ~2 % of the engine's time on a simulated week)."""
    maybe = table.select(pl.struct(cols).hash().is_duplicated()).to_series()
    first = (~maybe).to_numpy().copy()
    if not first.all():
        rows = maybe.arg_true().to_numpy()
        first[rows] = table[rows].select(pl.struct(cols).is_first_distinct()).to_series().to_numpy()
    return first


@kernel
def _lateness_kernel(order, t, max_t, lateness_us, none):
    keep = np.zeros(t.shape[0], np.bool_)
    kept = np.empty(t.shape[0], np.int64)
    n_kept = 0
    no_time = 0
    late = 0
    for i in order:  # in arrival order
        if t[i] == none:
            no_time += 1
            continue
        if max_t != none and t[i] < max_t - lateness_us:
            late += 1
        else:
            keep[i] = True
            kept[n_kept] = i
            n_kept += 1
        max_t = max(max_t, t[i])  # late rows count too: the latest time among the rows that arrived before
    return keep, kept[:n_kept], max_t, no_time, late


def _lateness(order: np.ndarray, t: np.ndarray, max_t: int, lateness_us: int,
              none: int) -> tuple[np.ndarray, np.ndarray, int, int, int]:  # fmt: skip
    """Rows ``order`` (arrival order) of times ``t`` (``none``: no time) after the latest time ``max_t``: which to
    keep (neither without time nor more than ``lateness_us`` before the latest time that arrived before them), the
    kept rows in arrival order, the new latest time, and how many had no time and how many were late."""
    keep, kept, new_max, no_time, late = _lateness_kernel(order, t, max_t, lateness_us, none)
    return keep, kept, int(new_max), int(no_time), int(late)


def _narrow(name: str, table: pl.DataFrame, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """Only the columns detectors use (of positions and statics; events keep all theirs)."""
    cols = COLUMNS[name]
    if cols is None:
        return table
    if "source" not in table.columns:  # tables made without it (a snapshot's pending rows from before it was kept)
        table = table.with_columns(pl.lit(None, pl.String).alias("source"))
    if name == "statics":  # likewise the dimensions (kept since the handover detector compares hulls)
        table = table.with_columns(pl.lit(None, pl.Int16).alias(c) for c in DIMENSIONS if c not in table.columns)
    return table.select(*cols, *extra)


@kernel
def _float_key_kernel(x, bits, k, nan_bits, out):
    for i in range(x.shape[0]):
        if np.isnan(x[i]):
            out[i, k] = nan_bits
        elif x[i] == 0.0:
            out[i, k] = 0
        else:
            out[i, k] = bits[i]


def float_key(x: np.ndarray, out: np.ndarray, k: int) -> None:
    """Column ``k`` of ``out`` (int64 rows) := the floats ``x`` as keys: their bits, every NaN one value
    (``_NAN_BITS``), -0.0 the same as 0.0. One pass, written in place."""
    x = np.ascontiguousarray(x, np.float64)
    if out.dtype != np.int64 or out.ndim != 2 or out.shape[0] != x.shape[0] or not 0 <= k < out.shape[1]:
        raise ValueError(f"out must be int64 rows of {x.shape[0]} with a column {k}, got {out.dtype} {out.shape}")
    x = read_only(x)
    _float_key_kernel(x, x.view(np.int64), k, _NAN_BITS, out)


def _key_bits(table: pl.DataFrame, cols: list[str]) -> np.ndarray:
    """Key columns as one int64 row per table row, equal where polars finds the values equal: floats by their
    bits (every NaN one value, -0.0 the same as 0.0), nulls a value of their own."""
    out = np.empty((table.height, len(cols)), np.int64)
    for k, name in enumerate(cols):
        col = table[name]
        if col.dtype.is_float():
            float_key(col.to_numpy(), out, k)
            null = _FLOAT_NULL_BITS
        else:
            out[:, k] = col.fill_null(0).to_numpy()
            null = _INT_NULL
        if col.null_count():
            out[col.is_null().to_numpy(), k] = null
    return out


@cache  # a step without statics or events is common
def _empty(name: str) -> pl.DataFrame:
    from engine.decode import empty_tables

    frame: pl.DataFrame = getattr(empty_tables(), name)
    if name == "events":
        frame = frame.with_columns(pl.lit(None, pl.String).alias("fields"))
    return frame.with_columns(
        pl.lit(0, pl.Int64).alias("t_us"), pl.lit(0, pl.Int64).alias("arrival"), pl.lit(0, pl.Int64).alias("vid")
    ).clear()


# a new (empty) frame each time: a detector may add to the one it gets
_EMPTY = {name: (lambda n=name: _empty(n).clear()) for name in ("positions", "statics", "events")}


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


@dataclass(frozen=True)
class Captured:
    """An engine's state at a batch boundary (:meth:`Engine.capture`): what :func:`write_snapshot` puts on disk."""

    meta: dict[str, Any]  # engine.json
    arrays: dict[str, dict[str, np.ndarray]]  # by file name: the fleet's and each detector's arrays
    tables: dict[str, pl.DataFrame]  # by file name: the alerts and the rows waiting for the watermark


def write_snapshot(state: Captured, path: Path) -> None:
    """Write ``state`` to the folder ``path``, atomically and durably: a crash at any point leaves the old snapshot
    or the new one, which :meth:`Engine.recover` puts back in place.

    The new snapshot is written to a temporary folder beside ``path`` and synced; then ``path`` is renamed to
    ``.path.old`` and the new folder to ``path`` (a folder cannot be renamed over a full one), and the parent
    folder synced; then the old one is removed.
    """
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        crash_point("snapshot.write")
        files = []
        for name, arrays in state.arrays.items():
            files.append(tmp / name)
            _save(files[-1], arrays)
        for name, table in state.tables.items():
            files.append(tmp / name)
            table.write_parquet(files[-1])
        files.append(tmp / "engine.json")  # last: a folder with it is complete
        files[-1].write_text(json.dumps(state.meta))
        for file in files:
            fsync_file(file)
        fsync_dir(tmp)
        crash_point("snapshot.written")
        old = _old(path)
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)  # a leftover: path is whole, so old is not needed
            os.replace(path, old)
            crash_point("snapshot.old_moved")  # only .path.old is left: recover() moves it back
        os.replace(tmp, path)
        fsync_dir(path.parent)
        crash_point("snapshot.replaced")
        shutil.rmtree(old, ignore_errors=True)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed write (a full disk); a crash leaves it to recover()
        raise


def _snapshot_meta(path: Path, names: list[str]) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((path / "engine.json").read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no engine snapshot here (engine.json missing)") from None
    if meta.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"{path}: snapshot version {meta.get('version')}, this engine reads {SNAPSHOT_VERSION}")
    if names != meta["detectors"]:
        raise ValueError(f"{path}: snapshot of detectors {meta['detectors']}, given {names}")
    return meta


def _save(file: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(file, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as the allow_pickle flag
