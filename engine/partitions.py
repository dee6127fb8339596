"""How a backtest is cut into partitions that give exactly the single-process answer (issue 15).

The single-process engine (:mod:`engine.runner`) depends on the whole input in two ways only:

1. **Arrival order.** A row is *late* (dropped) when its time is more than ``lateness`` before the latest time
   among *all* rows that arrived before it, whatever their vessel. This is decided once, over the whole stream, when
   the history is written (``seawatch ingest``: :class:`Arrivals`): every row keeps its global ``arrival`` number
   (the engine's arrival, :meth:`engine.runner.Engine._arrive`) and a ``kept`` flag. A partition then hands its
   engine only the kept rows, in arrival order. None of them is late within the partition either (the latest time
   before a row in a partition is at most the latest time before it in the whole stream), none lacks a time, and
   the watermark of a partition never passes a row still to come in it. Appending a day continues the numbering
   and the latest time from where the last ingest stopped, so an appended dataset is the concatenated input.
2. **Other vessels.** Most detectors keep their state per vessel id and decide each vessel from its own rows
   (stream = batch: the cut into steps does not change their alerts). Their output for an MMSI is a function of
   that MMSI's kept rows in arrival order: they run per **MMSI bucket** (:func:`bucket_expr`), any number of
   buckets to a partition. Four read other vessels (:data:`FLEET_DETECTORS`): encounters and transfers (pairs by
   grid hash, dark partners), the gap detector (the coverage grid of every vessel heard, the station monitor),
   loitering (the company of other slow vessels) and MMSI handovers (a new MMSI where an old one fell silent). They
   run over every kept row, in arrival order, exactly as in one process. They share no state, so each may be a
   **fleet stage** of its own (:data:`FLEET_GROUPS`: the gap detector with its station monitor, encounters,
   loitering with handovers); every fleet stage reads every row again (the reading, the arrival numbering and
   the steps' sorting: ~0.6 s of the ~1.7 s one-stage backtest of the 7-day benchmark log), so the fleet detectors
   are cut only when the workers outnumber what the per-vessel partitions and one fleet stage keep busy
   (seawatch/cluster_job.py, ``fleet_groups``). Their alerts do not depend on the cut (tested with random
   counts of buckets, partitions and fleet stages).

The fleet stages bound the speed-up: once the buckets are spread over enough workers, the run takes as long as
the slowest fleet stage (the gap detector's, ~40 % of the fleet work; benchmarks/RESULTS.md). Cutting them by
**time ranges** with a warm-up -- each range read from a warm-up before its start, only the alerts of its own span
kept -- gives the single-process answer only when nothing a detector decides at a time depends on rows older than
the warm-up. None of the four has that bound today, each for a decision a patrol relies on:

- loitering: a slow spell lasts as long as the vessel drifts (its alert starts where the spell began, days back for
  a vessel drifting at anchor offshore); a range starting inside it would report a shorter spell, or none;
- encounters: a meeting lasts as long as the pair stays together (the same), and the dark-partner search looks
  back ``dark_window_h`` (12 h) from a reappearance that may follow a silence of any length;
- gaps: a silence of any length is an ``ais_gap`` (the vanishing point is kept), and the coverage it is judged on
  looks back ``retain_h`` (72 h);
- handovers: a *new* MMSI (never heard before, in the whole history) is matched with the vessels that fell silent;
  a range cannot know whether an MMSI is new without every earlier row, nor the first static data of a hull.

A time cut that is exact would need those look-backs bounded in the detectors first (a longest spell, meeting and
gap; "new" within a horizon), then ranges read from a warm-up of the longest horizon, each alert kept by the range
whose span holds its last update; or the engine's state handed from range to range, which is sequential again.
Until then the fleet detectors are cut by detector, not by time.

Per-vessel features (models/features.py) are sums per MMSI and MMSI-day: they too are computed per bucket, over
every row (kept or not, as the single-process backtest adds them), and concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.runner import LATENESS_S, Detector, _lateness

FLEET_DETECTORS = frozenset({"encounters", "gaps", "loitering", "handover"})  # read other vessels (docstring)
# The fleet detectors share no state: each may be a stage of its own. Grouped by cost on the 7-day log (in process:
# gaps with its station monitor 0.3 s, encounters 0.17 s, loitering 0.07 s, handovers 0.03 s; benchmarks/RESULTS.md)
FLEET_GROUPS: tuple[tuple[str, ...], ...] = (("gaps",), ("encounters",), ("handover", "loitering"))
_NONE = np.iinfo(np.int64).min
_MIX = 0x9E3779B1  # Knuth's multiplicative hash: MMSIs cluster by country (MID), buckets should not


def bucket_expr(buckets: int, mmsi: str = "mmsi") -> pl.Expr:
    """The MMSI bucket (0 .. ``buckets``-1) of each row: the same in every process (Python's ``hash`` is salted)."""
    mixed = (pl.col(mmsi).fill_null(0).cast(pl.UInt64) * _MIX) % (1 << 32)
    return (mixed % buckets).cast(pl.Int32).alias("bucket")


def bucket_of(mmsi: np.ndarray, buckets: int) -> np.ndarray:
    """:func:`bucket_expr` for an array of MMSIs (the reference the tests compare it with)."""
    return ((mmsi.astype(np.uint64) * np.uint64(_MIX)) % np.uint64(1 << 32) % np.uint64(buckets)).astype(np.int32)


def split_detectors(detectors: Sequence[Detector]) -> tuple[list[Detector], list[Detector]]:
    """The per-vessel detectors and the fleet (cross-vessel) ones, in their order."""
    per_vessel = [d for d in detectors if d.name not in FLEET_DETECTORS]
    fleet = [d for d in detectors if d.name in FLEET_DETECTORS]
    return per_vessel, fleet


@dataclass
class Arrivals:
    """The engine's arrival numbering and lateness rule over a whole stream, chunk by chunk, for the history.

    :meth:`number` gives each row of a chunk its ``arrival`` (the row's ``seq``, shifted past every earlier input
    when a new input starts numbering from 0 again) and ``kept`` (neither without time nor late), as
    :meth:`engine.runner.Engine._arrive` decides them. The state is three numbers, kept in the dataset so that the
    next ingest continues the stream."""

    lateness_us: int = int(LATENESS_S * 1e6)
    offset: int = 0
    next_arrival: int = 0
    max_t: int = _NONE
    counts: dict[str, int] = field(default_factory=lambda: {"no_time": 0, "late": 0})

    def number(self, tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """``tables`` with ``arrival`` (Int64) in place of ``seq`` and ``kept`` (Boolean)."""
        parts = [(name, table) for name, table in tables.items() if table.height]
        out = {name: table.with_columns(pl.col("seq").alias("arrival"), pl.lit(False).alias("kept")).drop("seq")
               for name, table in tables.items()}  # fmt: skip
        if not parts:
            return out
        seq_min = min(int(table["seq"].min()) for _, table in parts)  # type: ignore[arg-type]
        if self.offset + seq_min < self.next_arrival:  # a new input, numbered from 0 again
            self.offset = self.next_arrival - seq_min
        arrivals = [self.offset + table["seq"].to_numpy().astype(np.int64, copy=False) for _, table in parts]
        times = [table["t"].dt.epoch("us").fill_null(_NONE).to_numpy().astype(np.int64, copy=False)
                 for _, table in parts]  # fmt: skip
        arrival = np.concatenate(arrivals)
        order = np.argsort(arrival, kind="stable")
        keep, _, self.max_t, no_time, late = _lateness(order, np.concatenate(times), self.max_t, self.lateness_us,
                                                       _NONE)  # fmt: skip
        self.counts["no_time"] += no_time
        self.counts["late"] += late
        self.next_arrival = max(self.next_arrival, int(arrival.max()) + 1)
        start = 0
        for (name, table), arr in zip(parts, arrivals, strict=True):
            rows = slice(start, start + table.height)
            start += table.height
            out[name] = table.drop("seq").with_columns(pl.Series("arrival", arr), pl.Series("kept", keep[rows]))
        return out

    def state(self) -> dict[str, object]:
        return {"lateness_us": self.lateness_us, "offset": self.offset, "next_arrival": self.next_arrival,
                "max_t": self.max_t, "counts": dict(self.counts)}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict) -> Arrivals:
        return cls(int(state["lateness_us"]), int(state["offset"]), int(state["next_arrival"]), int(state["max_t"]),
                   {k: int(v) for k, v in state["counts"].items()})  # fmt: skip
