"""Receiving stations: each station's normal traffic, its outages, and which stations covered each vessel.

Reception is data (DESIGN.md): a station (the tag block ``s:``, the positions' ``source``) that normally hears
hundreds of messages every 10 minutes and suddenly hears none is down, and the vessels only it heard fall silent
with it. That silence is a ``station_outage`` event, never a vessel's gap: :class:`engine.detectors.gaps.GapDetector`
asks this monitor which stations covered a vessel when it fell silent and whether they were all down.

The monitor sees every copy of a message (:meth:`StationMonitor.observe`, called by the engine before the copies
heard by several stations are dropped), counts messages per station and 10-minute bucket, and judges a bucket once
it is complete (the watermark has passed its end), in time order, so the outages are the same however the input is
cut into batches. A station's usual rate is the median of its last day of normal buckets; it is *down* from the
first bucket where a busy station hears almost nothing until the first bucket where it hears again. Sources
without a name (NOAA and DMA archives) are no station: no outage, no coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.detectors.common import grow
from engine.fixes import vessel_rows_by_time
from engine.runner import FINAL_WATERMARK
from feeds.jit import kernel

OUTAGE_SCHEMA: dict[str, pl.DataType] = {
    "station": pl.String(),
    "start": pl.Datetime("us", "UTC"),  # the station's last message before it went quiet
    "end": pl.Datetime("us", "UTC"),  # its first message once back; null while the outage goes on
    "usual_per_10min": pl.Float64(),  # the messages it usually hears per 10 min (median of its last day)
    "heard": pl.Int64(),  # the messages it heard during the outage
}
STATION_SCHEMA: dict[str, pl.DataType] = {
    "station": pl.String(),
    "last_heard": pl.Datetime("us", "UTC"),
    "usual_per_10min": pl.Float64(),  # null until a station has enough history
    "current_per_10min": pl.Int64(),  # messages in its latest complete bucket
    "down": pl.Boolean(),
    "outages_24h": pl.Int64(),  # outages that started or went on in the last 24 h of data
}
_DAY_US = 86_400_000_000
_NONE = -1


@dataclass(frozen=True)
class StationSettings:
    bucket_min: float = 10.0  # traffic counted per station per 10 min: AIS reports every 2-10 s under way, 3 min
    # at anchor, so a busy station's bucket holds hundreds of messages and a dead one none
    learn_h: float = 24.0  # usual rate = median over the last day of normal buckets: one full daily cycle
    learn_min_buckets: int = 6  # an hour of history before a station's silence may be called an outage
    busy_messages: float = 20.0  # a station must usually hear >= 20 per bucket: Poisson P(0 | 20) ~ 2e-9, so a
    # silent bucket is a failure, not chance; a satellite's handful of messages a bucket never qualifies
    down_share: float = 0.1  # a bucket with at most 10 % of the usual messages is down ("hears ~0"); a partial
    # bucket at the start or end of an outage holds more and ends or starts it at its own messages' times
    cover_min: float = 30.0  # the stations that heard a vessel within 30 min before it fell silent covered it
    # (a few of its reporting intervals even at anchor; longer would count stations it had sailed away from)
    vanish_slack_min: float = 10.0  # an outage explains a silence that began at most 10 min before it (one
    # bucket: a vessel heard by the station reports within minutes before it went down)
    slots: int = 8  # stations remembered per vessel: more than 8 hearing one vessel are never all down at once


@kernel
def _cover_walk(vid, t_us, sid, has_pos, last_t, slot_sid, slot_t, min_gap_us, cover_us):
    """Walk every copy of the positions (given in arrival order), vessel by vessel in time order (equal times in
    the order given): each silence of at least ``min_gap_us`` between a vessel's fixes with a position, and the
    stations that heard it within ``cover_us`` before it.

    ``last_t`` (last fix with a position, -1 when none; one per vessel), ``slot_sid``/``slot_t`` (the stations that
    heard each vessel, latest time each) are updated in place. Returns (vid, t0) of each silence and its stations
    (-1 fill), by vessel.
    """
    n = vid.shape[0]
    k_slots = slot_sid.shape[1]
    # the walk's order: by vessel, then time (they come nearly in time order; equal times stay in the order given)
    order, start, t_o = vessel_rows_by_time(vid, t_us, last_t.shape[0])
    # silences are few (hours long): room for some, doubled when full (not a row per copy: tens of MB a day)
    room = 16 + n // 256
    out_v = np.empty(room, np.int64)
    out_t = np.empty(room, np.int64)
    out_s = np.full((room, k_slots), -1, np.int64)
    sid, has_pos = sid[order], has_pos[order]  # then read in order (t_o already is)
    # a vessel's state is held in locals over its rows, and the slot of its last station tried first: a vessel is
    # heard by a few stations, one of them mostly (a station is in at most one slot, so the first match is it)
    ss = np.empty(k_slots, np.int64)
    st = np.empty(k_slots, np.int64)
    m = 0
    for v in range(last_t.shape[0]):
        a, b = start[v], start[v + 1]
        if a == b:
            continue
        for k in range(k_slots):
            ss[k] = slot_sid[v, k]
            st[k] = slot_t[v, k]
        lt = last_t[v]
        hint = 0
        for r in range(a, b):
            t = t_o[r]
            if has_pos[r]:
                if lt >= 0 and t - lt >= min_gap_us:
                    if m == out_v.shape[0]:
                        out_v = np.concatenate((out_v, np.empty(m, np.int64)))
                        out_t = np.concatenate((out_t, np.empty(m, np.int64)))
                        out_s = np.concatenate((out_s, np.full((m, k_slots), -1, np.int64)))
                    out_v[m] = v
                    out_t[m] = lt
                    j = 0
                    for k in range(k_slots):
                        if ss[k] >= 0 and st[k] >= lt - cover_us:
                            out_s[m, j] = ss[k]
                            j += 1
                    m += 1
                lt = t
            s = sid[r]
            if s < 0:
                continue
            at = hint
            if ss[hint] != s:
                # its slot, else the last empty one, else the first of the oldest
                at = -1
                oldest = 0
                for k in range(k_slots):
                    if ss[k] == s:
                        at = k
                        break
                    if ss[k] < 0 or (ss[oldest] >= 0 and st[k] < st[oldest]):
                        oldest = k
                if at < 0:
                    at = oldest
                    ss[at] = s
                hint = at
            st[at] = max(st[at], t)
        last_t[v] = lt
        for k in range(k_slots):
            slot_sid[v, k] = ss[k]
            slot_t[v, k] = st[k]
    return out_v[:m], out_t[:m], out_s[:m]


@kernel
def _bucket_cells(sid, t, bucket_us, b0, span, n, lo, hi):
    """Count each row into its cell ``sid * span + (t // bucket_us - b0)`` with its first and last time, in one pass
    (``n``, ``lo``, ``hi`` filled in place)."""
    for i in range(sid.shape[0]):
        c = sid[i] * span + (t[i] // bucket_us - b0)
        n[c] += 1
        lo[c] = min(lo[c], t[i])
        hi[c] = max(hi[c], t[i])


def _per_bucket(sid: np.ndarray, t: np.ndarray, bucket_us: int) -> tuple[list[int], ...]:
    """(station, bucket, messages, first t, last t) of each (station, bucket) the rows fall in, as lists, by
    station then bucket."""
    b0 = int(t.min()) // bucket_us
    span = int(t.max()) // bucket_us - b0 + 1
    size = (int(sid.max()) + 1) * span
    if size > 4 * sid.shape[0] + 4096:  # times spread far apart (a clock gone wrong): number the cells used
        b = t // bucket_us
        used, cell = np.unique(sid * span + (b - b0), return_inverse=True)
        size = used.shape[0]
        n = np.bincount(cell, minlength=size)
        lo = np.full(size, np.iinfo(np.int64).max, np.int64)
        hi = np.full(size, np.iinfo(np.int64).min, np.int64)
        np.minimum.at(lo, cell, t)
        np.maximum.at(hi, cell, t)
    else:
        used = np.arange(size, dtype=np.int64)
        n = np.zeros(size, np.int64)
        lo = np.full(size, np.iinfo(np.int64).max, np.int64)
        hi = np.full(size, np.iinfo(np.int64).min, np.int64)
        _bucket_cells(np.ascontiguousarray(sid, np.int64), np.ascontiguousarray(t, np.int64), bucket_us, b0, span, n,
                      lo, hi)  # fmt: skip
    nz = np.flatnonzero(n)
    s, k = np.divmod(used[nz], span)
    return s.tolist(), (k + b0).tolist(), n[nz].tolist(), lo[nz].tolist(), hi[nz].tolist()


class StationMonitor:
    """Per-station traffic, outages and per-vessel coverage (see the module's docstring)."""

    def __init__(self, settings: StationSettings | None = None, min_silence_us: int = 7_200_000_000) -> None:
        self.settings = s = settings or StationSettings()
        self.bucket_us = int(s.bucket_min * 60e6)
        self.history = max(1, round(s.learn_h * 60 / s.bucket_min))
        self.min_silence_us = int(min_silence_us)
        self.names: list[str] = []
        self._ids: dict[str, int] = {}
        self.next_bucket = np.zeros(0, np.int64)  # per station: the first bucket not yet judged
        self.ring = np.zeros((0, self.history), np.int64)  # per station: counts of the last day's buckets (-1: none)
        self._peak: list[int] = []  # per station: at least its ring's largest count (read from the ring when low)
        self.last_heard = np.zeros(0, np.int64)
        self.current = np.zeros(0, np.int64)  # messages in the latest judged bucket
        self.down = np.zeros(0, np.int64)  # index of the station's ongoing outage in ``outages``, -1 when up
        # outages: station id, start, end (-1 ongoing), usual (x1000, as integers), heard
        self.outage_rows: list[list[int]] = []
        self.open: dict[tuple[int, int], list[int]] = {}  # (station, bucket) -> [count, first t, last t]
        self.max_t = _NONE
        self.judged_to = _NONE  # every bucket before this one is judged (the latest bucket end)
        self.last_t = np.zeros(0, np.int64)
        self.slot_sid = np.zeros((0, s.slots), np.int64)
        self.slot_t = np.zeros((0, s.slots), np.int64)
        self.silences: dict[tuple[int, int], tuple[str, ...]] = {}  # this step's (vid, t0) -> covering stations
        # each station's state as plain values, replaced whole when a bucket is judged: what the API and the metrics
        # read from other threads while the engine works
        self.published: list[dict[str, Any]] = []

    # --- input -------------------------------------------------------------------------------------------------
    def observe(self, ready: dict[str, pl.DataFrame | None], watermark_us: int) -> None:
        """Every copy of the messages ready at this step (tables with ``t_us``, ``arrival``, ``vid``, ``source``)."""
        positions_sid = None
        for name in ("positions", "statics", "events"):
            frame = ready.get(name)
            if frame is not None and frame.height:
                sid = self._count(frame)
                positions_sid = sid if name == "positions" else positions_sid
        self._cover(ready.get("positions"), positions_sid)
        judged = self.judged_to
        self._judge(watermark_us)
        if self.judged_to != judged:  # a bucket was judged: the stations' state changed
            self.published = self.report()

    def _station_ids(self, source: pl.Series) -> np.ndarray:
        """Each row's station id (-1: no name); a name not seen before gets the next id (in name order). The
        strings are looked up once, as an Enum of the known names (a feed names a handful of stations); the rows
        left without one are looked at for new names only when there are such rows. (A ``replace_strict`` on the
        map of the names looked 5x faster by the calling thread's clock, but it works in polars' pool: 13 ms of the
        process's CPU a 556,000-row table against 7.5 ms for the cast.)"""
        codes = source.cast(pl.Enum(self.names), strict=False)
        if codes.null_count() > source.null_count():  # a new name (or an empty one, which is no station)
            other = source.filter(codes.is_null()).drop_nulls().unique().sort().to_list()
            new = [name for name in other if name and name not in self._ids]
            if new:
                for name in new:
                    self._ids[name] = len(self.names)
                    self.names.append(name)
                codes = source.cast(pl.Enum(self.names), strict=False)
        n = len(self.names)
        for arr in ("next_bucket", "ring", "last_heard", "current", "down"):
            cur = getattr(self, arr)
            if cur.shape[0] < n:
                fill = np.full((n - cur.shape[0], *cur.shape[1:]), 0 if arr == "current" else _NONE, np.int64)
                setattr(self, arr, np.concatenate([cur, fill]))
        return codes.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()

    def _count(self, frame: pl.DataFrame) -> np.ndarray | None:
        """Count the frame's messages per (station, bucket) into ``open``; its station ids (None: no source)."""
        t = frame["t_us"].to_numpy()
        self.max_t = max(self.max_t, int(t.max()))
        if "source" not in frame.columns:
            return None
        sid = self._station_ids(frame["source"].cast(pl.String))
        keep = sid >= 0
        if not keep.any():
            return sid
        for s, b, n, lo, hi in zip(*_per_bucket(sid[keep], t[keep], self.bucket_us), strict=True):
            if self.next_bucket[s] == _NONE or b < self.next_bucket[s]:
                self.next_bucket[s] = b if self.next_bucket[s] == _NONE else min(b, int(self.next_bucket[s]))
            cell = self.open.get((s, b))
            if cell is None:
                self.open[(s, b)] = [n, lo, hi]
            else:
                cell[0] += n
                cell[1], cell[2] = min(cell[1], lo), max(cell[2], hi)
        return sid

    def _cover(self, positions: pl.DataFrame | None, sid: np.ndarray | None) -> None:
        self.silences = {}
        if positions is None or not positions.height:
            return
        vid = positions["vid"].to_numpy().astype(np.int64)
        n_v = int(vid.max()) + 1
        self.last_t = grow(self.last_t, n_v, -1)
        self.slot_sid = grow(self.slot_sid, n_v, -1)
        self.slot_t = grow(self.slot_t, n_v, -1)
        if sid is None:  # no source column: no station heard them
            sid = np.full(positions.height, -1, np.int64)
        if vid.min() < 0:
            raise ValueError("vessel ids must be >= 0 (rows without a vessel are dropped before the monitor)")
        lat, lon = positions["lat"].to_numpy(), positions["lon"].to_numpy()
        has_pos = ~(np.isnan(lat) | np.isnan(lon))
        arrival = positions["arrival"].to_numpy()
        rows = np.argsort(arrival, kind="stable") if bool(np.any(arrival[1:] < arrival[:-1])) else slice(None)
        v, t0, stations = _cover_walk(
            vid[rows], positions["t_us"].to_numpy().astype(np.int64)[rows], sid[rows], has_pos[rows],
            self.last_t, self.slot_sid, self.slot_t, self.min_silence_us, int(self.settings.cover_min * 60e6),
        )  # fmt: skip
        for a, b, row in zip(v.tolist(), t0.tolist(), stations.tolist(), strict=True):
            self.silences[(a, b)] = tuple(self.names[x] for x in row if x >= 0)

    # --- judging complete buckets ------------------------------------------------------------------------------
    def _judge(self, watermark_us: int) -> None:
        if self.max_t == _NONE:
            return
        # a bucket is complete once the watermark passed its end; at the end of the input, the buckets that ended
        # by the latest time (the last one, cut short by the end of the data, is never judged)
        limit = self.max_t if watermark_us == FINAL_WATERMARK else watermark_us
        upto = limit // self.bucket_us
        if len(self._peak) < len(self.names):  # a new station (or a restored monitor): its ring's largest count
            self._peak.extend(int(x) for x in self.ring[len(self._peak) :].max(axis=1))
        for s in range(len(self.names)):
            b = int(self.next_bucket[s])
            if b == _NONE:
                continue
            while b < upto:
                self._bucket(s, b, self.open.pop((s, b), None))
                b += 1
            self.next_bucket[s] = b
        self.judged_to = max(self.judged_to, upto * self.bucket_us)

    def _bucket(self, s: int, b: int, cell: list[int] | None) -> None:
        st = self.settings
        n = 0 if cell is None else cell[0]
        slot = b % self.history
        self.current[s] = n
        o = int(self.down[s])
        if o >= 0:  # down: back once a bucket holds more than the collapse
            row = self.outage_rows[o]
            if cell is not None and n > st.down_share * row[3] / 1000:
                row[2] = cell[1]
                self.down[s] = -1
                self._ring(s, slot, n)
            else:
                row[4] += n
                self.ring[s, slot] = -1  # an outage's buckets are not the station's usual traffic
        else:
            # the median only when the bucket could be a collapse (at most down_share of the busiest bucket kept)
            # (the ring's largest count read only when the bound it never exceeds could allow a collapse)
            usual = None
            if n <= st.down_share * self._peak[s]:
                self._peak[s] = int(self.ring[s].max())
                usual = self.usual(s) if n <= st.down_share * self._peak[s] else None
            if usual is not None and usual >= st.busy_messages and n <= st.down_share * usual:
                start = cell[2] if cell is not None else int(self.last_heard[s])
                self.outage_rows.append([s, start, -1, round(usual * 1000), 0])
                self.down[s] = len(self.outage_rows) - 1
                self.ring[s, slot] = -1
            else:
                self._ring(s, slot, n)
        if cell is not None:
            self.last_heard[s] = max(int(self.last_heard[s]), cell[2])

    def _ring(self, s: int, slot: int, n: int) -> None:
        self.ring[s, slot] = n
        self._peak[s] = max(self._peak[s], n)

    def usual(self, s: int) -> float | None:
        """Messages station ``s`` usually hears per bucket (median of its last day's normal buckets), or None."""
        seen = self.ring[s][self.ring[s] >= 0]
        return float(np.median(seen)) if seen.shape[0] >= self.settings.learn_min_buckets else None

    # --- questions ---------------------------------------------------------------------------------------------
    def covered_by(self, vid: int, t0: int) -> tuple[str, ...]:
        """The stations that heard vessel ``vid`` within the cover window before its fix at ``t0``: from this
        step's silences, else (a vessel still silent) from what the monitor holds now."""
        found = self.silences.get((vid, t0))
        if found is not None:
            return found
        if vid >= self.slot_sid.shape[0]:
            return ()
        cover_us = int(self.settings.cover_min * 60e6)
        return tuple(
            self.names[int(s)]
            for s, t in zip(self.slot_sid[vid], self.slot_t[vid], strict=True)
            if s >= 0 and t >= t0 - cover_us
        )

    def explained(self, stations: tuple[str, ...], t0: int) -> tuple[int, list[tuple]] | None:
        """When a silence that began at ``t0`` stops being explained by the outage of ``stations`` (all of them
        down: the earliest return; ``FINAL_WATERMARK`` while one is still down), and the outages; None when
        some station was not down then."""
        if not stations:
            return None
        slack = int(self.settings.vanish_slack_min * 60e6)
        until = FINAL_WATERMARK
        used = []
        for name in stations:
            s = self._ids.get(name)
            hit = None
            for row in self.outage_rows:
                if row[0] == s and row[1] <= t0 + slack and (row[2] < 0 or row[2] > t0):
                    hit = row
            if hit is None:
                return None
            until = min(until, FINAL_WATERMARK if hit[2] < 0 else hit[2])
            used.append((name, hit[1], hit[2], hit[3] / 1000, hit[4]))
        return until, used

    def outages(self) -> pl.DataFrame:
        """The ``station_outage`` events: station, start, end (null while it goes on), usual rate, heard."""
        rows = self.outage_rows
        return pl.DataFrame(
            {
                "station": [self.names[r[0]] for r in rows],
                "start": pl.Series([r[1] for r in rows], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                "end": pl.Series([r[2] if r[2] >= 0 else None for r in rows], dtype=pl.Int64).cast(
                    pl.Datetime("us", "UTC")
                ),
                "usual_per_10min": [r[3] / 1000 for r in rows],
                "heard": [r[4] for r in rows],
            },
            schema=OUTAGE_SCHEMA,
        )

    def table(self) -> pl.DataFrame:
        """Each station's state now (the data's time: the end of the latest complete bucket)."""
        since = self.judged_to - _DAY_US
        recent = [0] * len(self.names)
        for r in self.outage_rows:
            if r[2] < 0 or r[2] >= since:
                recent[r[0]] += 1
        usual = [self.usual(s) for s in range(len(self.names))]
        return pl.DataFrame(
            {
                "station": self.names,
                "last_heard": pl.Series([int(x) if x >= 0 else None for x in self.last_heard], dtype=pl.Int64).cast(
                    pl.Datetime("us", "UTC")
                ),
                "usual_per_10min": usual,
                "current_per_10min": self.current.tolist(),
                "down": (self.down >= 0).tolist(),
                "outages_24h": recent,
            },
            schema=STATION_SCHEMA,
        )

    def report(self) -> list[dict[str, Any]]:
        """:meth:`table` as one dict a station, with its outages of the last 24 h of data (``outages``)."""
        outages = self.outages()
        since = pl.lit(self.judged_to - _DAY_US).cast(pl.Datetime("us", "UTC"))
        recent = outages.filter(pl.col("end").is_null() | (pl.col("end") >= since))
        mine: dict[str, list[dict[str, Any]]] = {}  # each station's, in start order (one pass, not a filter each)
        for outage in recent.to_dicts():
            mine.setdefault(outage.pop("station"), []).append(outage)
        return [{**row, "outages": mine.get(row["station"], [])} for row in self.table().iter_rows(named=True)]

    # --- state -------------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, np.ndarray]:
        opened = np.array([[s, b, *c] for (s, b), c in self.open.items()], np.int64).reshape(-1, 5)
        return {
            "names": np.array(self.names, dtype=np.str_),
            "next_bucket": self.next_bucket.copy(),
            "ring": self.ring.copy(),
            "last_heard": self.last_heard.copy(),
            "current": self.current.copy(),
            "down": self.down.copy(),
            "outages": np.array(self.outage_rows, np.int64).reshape(-1, 5),
            "open": opened,
            "clock": np.array([self.max_t, self.judged_to], np.int64),
            "last_t": self.last_t.copy(),
            "slot_sid": self.slot_sid.copy(),
            "slot_t": self.slot_t.copy(),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.names = [str(x) for x in arrays["names"].tolist()]
        self._ids = {name: i for i, name in enumerate(self.names)}
        self.next_bucket, self.ring = arrays["next_bucket"], arrays["ring"].reshape(len(self.names), self.history)
        self._peak = []
        self.last_heard, self.current, self.down = arrays["last_heard"], arrays["current"], arrays["down"]
        self.outage_rows = [[int(x) for x in row] for row in arrays["outages"].tolist()]
        self.open = {(int(r[0]), int(r[1])): [int(x) for x in r[2:]] for r in arrays["open"].tolist()}
        self.max_t, self.judged_to = (int(x) for x in arrays["clock"])
        self.last_t, self.slot_sid, self.slot_t = arrays["last_t"], arrays["slot_sid"], arrays["slot_t"]
        self.published = self.report()


def station_report(detectors: Sequence[object]) -> list[dict[str, Any]]:
    """Each receiving station's state as the detectors' station monitor last published it (see
    :meth:`StationMonitor.report`); empty when no detector follows stations. Safe from any thread."""
    for d in detectors:
        monitor = getattr(d, "stations", None)
        if isinstance(monitor, StationMonitor):
            return monitor.published
    return []
