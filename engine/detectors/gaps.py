"""``ais_gap``: a vessel went dark where reception was good (other vessels nearby kept reporting).

Coverage comes from the fixes themselves: a grid of distinct vessels heard per spatial cell and time bucket.
A bucket's count is final once the watermark has passed its end (every fix in it has arrived), so a gap is
decided when its reappearance fix and every bucket up to it are complete; until then it waits in the state.
A silence counts as going dark when the vessel spent long enough of it where reception was good: for each time bucket
strictly inside it, where it likely was (on the straight line from where it vanished to where it reappeared, at
constant speed) and whether enough other vessels were heard around there. Counted from where it vanished (GFW judges
AIS disabling where the vessel went dark), the stretch in which most buckets were well covered is the time it was
unheard in good coverage; where it went afterwards (an area nobody hears, a station down there) does not undo it. A
point's 3 x 3 cells reach past it, so a point counts only when the points a cell before and after it on the line are
covered too: a vessel sailing out of (or into) coverage is not counted in good coverage beyond the last vessels
heard. A satellite-only area hears few, so it produces no alert.

Reception is data: :class:`engine.detectors.stations.StationMonitor` learns each receiving station's traffic and
finds its outages, and remembers which stations heard each vessel before it fell silent. A silence that began as
every one of those stations went down is reception, not a vessel going dark: no alert while they are down, and
what goes on after the first of them is back counts from its return (a vessel silent 1 h past the return is dark
1 h, not 3 h); the reasons then name the outage. The outages themselves are ``station_outage`` events
(:meth:`GapDetector.outages`), never alerts.

How long a silence must be scales with how much reporting was expected around it: ``gap_h`` (6 h, GFW) where
few vessels are heard, shortened in proportion to the vessels heard per bucket down to ``dense_gap_h``. Class B
is heard over a shorter range than class A, so a class B vessel's coverage counts class B neighbours only.

It scales with the vessel's own reception too. Neighbours heard nearby do not say how well *this* vessel was heard:
reception fades with distance to the station, and class B loses messages, so a boat at the edge of reception is
heard only now and then, and a small move takes it out of range for hours. The fixes of the half hour before it
vanished and of the half hour after it reappeared give how often it was heard (``heard every 40 s``); the shortest
significant silence grows in proportion from ``dense_gap_h`` for a vessel heard about every ``heard_every_s``. A
vessel heard every 10-40 s that falls silent for 3 h is going dark; one heard every 5 min is at the edge of reception
(fading out before, fading in after) and needs 10 h. A gap is judged once the half hour after its reappearance is
complete (every fix of it has arrived), so stream and batch count the same fixes.

A vessel still dark at the end of the input is not reported by default (``report_open``): an open silence cannot
yet be told from a vessel that sailed out of range, moored with its set off, or simply the end of the data; a
live engine reports it when the vessel reappears. With ``report_open``, :meth:`Engine.finish` judges it on the
coverage around where it vanished up to the last time in the input ("still dark at the end of the data").
Only fixes with a position take part (a report without a position says nothing about where it went dark).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import KM_PER_NM, US_PER_H, grow, haversine_km
from engine.detectors.stations import StationMonitor, StationSettings
from engine.fixes import Fixes
from engine.runner import FINAL_WATERMARK, Step
from feeds.jit import kernel


@dataclass(frozen=True)
class GapSettings:
    gap_h: float = 6.0  # GFW AIS gap events: a gap of 6 h or more
    dense_gap_h: float = 2.0  # shortest significant gap, where dense shore coverage makes silence rare
    good_vessels: float = 1.0  # vessels heard nearby per bucket for "good" coverage (GFW: others kept reporting)
    full_gap_vessels: float = 0.5  # vessels heard per bucket at which gap_h is needed; more shorten it in proportion
    good_fraction: float = 0.8  # share of the gap's buckets that must have good coverage
    cell_deg: float = 0.2  # coverage cell (~22 km): the neighbourhood is 3 x 3 cells around a point
    bucket_min: float = 30.0  # coverage time bucket
    own_window_min: float = 30.0  # the vessel's own reception: its fixes in the half hour before it vanished and
    # after it reappeared (dozens of reports from a vessel in good reception; short enough that its distance to the
    # station has barely changed, so the count shows reception where it vanished and where it came back)
    heard_every_s: float = 60.0  # dense_gap_h is significant for a vessel heard about once a minute (a class A
    # under way reports every 2-10 s, class B every 30 s: a well-covered vessel is heard several times a minute); a
    # vessel heard less often is lost for hours by chance in proportion (heard every 5 min: 10 h)
    own_slot_min: float = 5.0  # the half hour before is kept as counts of 5-min slots per vessel (a few bytes each)
    retain_h: float = 72.0  # coverage kept this long; a longer gap is judged on its last retain_h hours
    report_open: bool = False  # report vessels still dark at the end of the input


@kernel
def gap_candidates(vid, t_us, lat, lon, last_t, last_lat, last_lon, min_gap_us):
    """Silences of at least ``min_gap_us`` between consecutive fixes of a vessel (rows sorted by vid, time).

    ``last_*`` hold each vessel's previous fix (``last_t`` < 0 when none) and are updated in place. Returns the
    row index of each reappearance and the previous fix (time, lat, lon) before it. NaN positions are skipped.
    """
    n = vid.shape[0]
    rows = np.empty(n, np.int64)
    t0 = np.empty(n, np.int64)
    la0 = np.empty(n, np.float64)
    lo0 = np.empty(n, np.float64)
    k = 0
    for r in range(n):
        if np.isnan(lat[r]) or np.isnan(lon[r]):
            continue
        v = vid[r]
        if last_t[v] >= 0 and t_us[r] - last_t[v] >= min_gap_us:
            rows[k] = r
            t0[k] = last_t[v]
            la0[k] = last_lat[v]
            lo0[k] = last_lon[v]
            k += 1
        last_t[v] = t_us[r]
        last_lat[v] = lat[r]
        last_lon[v] = lon[r]
    return rows[:k], t0[:k], la0[:k], lo0[:k]


@kernel
def heard_before(vid, t_us, lat, lon, gap_t0, first_t, slot_n, slot_at, slot_us):
    """How often each vessel was heard before each of its silences (rows sorted by vid, time; NaN positions
    skipped, as in :func:`gap_candidates`): for each row where ``gap_t0`` >= 0 (a reappearance, ``gap_t0`` the
    vessel's fix before the silence), the fixes in the vessel's last ``slot_n.shape[1]`` slots of ``slot_us`` (the
    slot of that fix and the ones before it) and the time they span: from the start of the oldest slot (or the
    vessel's first fix, if later) to that fix.

    Per-vessel state updated in place: ``first_t`` (first fix, -1 when none), ``slot_n`` (fix counts of the recent
    slots, a ring indexed by slot modulo its width), ``slot_at`` (the slot of the latest fix, -1 when none).
    """
    n = vid.shape[0]
    k_slots = slot_n.shape[1]
    out_n = np.zeros(n, np.int64)
    out_span = np.zeros(n, np.int64)
    m = 0
    for r in range(n):
        if np.isnan(lat[r]) or np.isnan(lon[r]):
            continue
        v = vid[r]
        if gap_t0[r] >= 0:
            heard = 0
            if slot_at[v] >= 0:
                for k in range(k_slots):
                    heard += slot_n[v, k]
            since = max(first_t[v], (slot_at[v] - k_slots + 1) * slot_us)
            out_n[m] = heard
            out_span[m] = max(0, gap_t0[r] - since) if heard > 0 else 0
            m += 1
        if first_t[v] < 0:
            first_t[v] = t_us[r]
        s = t_us[r] // slot_us
        if s > slot_at[v]:
            for j in range(max(slot_at[v] + 1, s - k_slots + 1), s + 1):
                slot_n[v, j % k_slots] = 0
            slot_at[v] = s
        slot_n[v, s % k_slots] += 1
    return out_n[:m], out_span[:m]


@kernel
def _coverage_rows(vid, t_us, lat, lon, b, cell_deg, n_lon, bucket_us):
    n = vid.shape[0]
    cell = np.empty(n, np.int64)
    bucket = np.empty(n, np.int64)
    out_vid = np.empty(n, np.int64)
    out_b = np.empty(n, np.bool_)
    m = 0
    for i in range(n):
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            continue
        ci = np.int64(np.floor((lat[i] + 90.0) / cell_deg))
        x = lon[i] - 360.0 * np.floor((lon[i] + 180.0) / 360.0)
        cj = np.int64(np.floor((x + 180.0) / cell_deg)) % n_lon
        c, k = ci * n_lon + cj, t_us[i] // bucket_us
        # a vessel's fixes come in time order: most repeat the row before (same cell and bucket)
        if m and cell[m - 1] == c and bucket[m - 1] == k and out_vid[m - 1] == vid[i] and out_b[m - 1] == b[i]:
            continue
        cell[m], bucket[m], out_vid[m], out_b[m] = c, k, vid[i], b[i]
        m += 1
    return cell[:m], bucket[:m], out_vid[:m], out_b[:m]


def coverage_rows(vid: np.ndarray, t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, b: np.ndarray,
                  cell_deg: float, n_lon: int, bucket_us: int) -> tuple[np.ndarray, ...]:  # fmt: skip
    """(cell, bucket, vid, class B) of the fixes with a position, as :meth:`CoverageGrid.cell` places them; a row
    equal to the one before is left out (the grid keeps distinct rows only)."""
    return _coverage_rows(np.ascontiguousarray(vid, np.int64), np.ascontiguousarray(t_us, np.int64),
                          np.ascontiguousarray(lat, np.float64), np.ascontiguousarray(lon, np.float64),
                          np.ascontiguousarray(b, np.bool_), float(cell_deg), int(n_lon), int(bucket_us))  # fmt: skip


_KM_PER_DEG = 111.2  # a degree of latitude
Waiting = tuple[int, int, float, float, int, float, float, int]  # a gap: mmsi, t0, lat0, lon0, t1, lat1, lon1, B
_BUCKETS_PER_CELL = 2**32
_BUCKET_OFFSET = 2**31


class CoverageGrid:
    """Distinct vessels heard per (cell, time bucket), from the fixes; a bucket is final once the watermark passed."""

    def __init__(self, cell_deg: float, bucket_us: int) -> None:
        self.cell_deg = cell_deg
        self.bucket_us = bucket_us
        self.n_lon = math.ceil(360.0 / cell_deg)
        self._open = pl.DataFrame(schema={"cell": pl.Int64, "bucket": pl.Int64, "vid": pl.Int64, "b": pl.Boolean})
        # final buckets only: sorted keys of (cell, bucket) (see _key) and their (vessels heard, class B heard)
        self._keys = np.zeros(0, np.int64)
        self._heard = np.zeros((0, 2), np.int64)

    @staticmethod
    def _key(cell: np.ndarray, bucket: np.ndarray) -> np.ndarray:
        """One sortable int64 per (cell, bucket): buckets are 2**32 apart per cell, offset to hold any int32."""
        return np.asarray(cell, np.int64) * _BUCKETS_PER_CELL + (np.asarray(bucket, np.int64) + _BUCKET_OFFSET)

    @property
    def counts(self) -> np.ndarray:
        """The final buckets as rows (cell, bucket, vessels heard, class B vessels heard)."""
        cell, bucket = np.divmod(self._keys, _BUCKETS_PER_CELL)
        return np.column_stack([cell, bucket - _BUCKET_OFFSET, self._heard]).astype(np.int64).reshape(-1, 4)

    @counts.setter
    def counts(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.int64).reshape(-1, 4)
        keys = self._key(rows[:, 0], rows[:, 1])
        order = np.argsort(keys, kind="stable")
        self._keys, self._heard = keys[order], rows[order, 2:4]

    def cell(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ci = np.floor((np.asarray(lat) + 90.0) / self.cell_deg).astype(np.int64)
        x = np.asarray(lon) - 360.0 * np.floor((np.asarray(lon) + 180.0) / 360.0)
        cj = np.floor((x + 180.0) / self.cell_deg).astype(np.int64) % self.n_lon
        return ci, cj

    def add(self, vid: np.ndarray, t_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, b: np.ndarray) -> None:
        cell, bucket, v, bb = coverage_rows(vid, t_us, lat, lon, b, self.cell_deg, self.n_lon, self.bucket_us)
        new = pl.DataFrame({"cell": cell, "bucket": bucket, "vid": v, "b": bb})
        # copies (a vessel back in a cell and bucket) count once when the bucket closes; dropped there
        self._open = pl.concat([self._open, new])

    def close(self, watermark_us: int, keep_from_us: int) -> None:
        """Count the buckets that ended before the watermark; forget the ones before ``keep_from_us``."""
        done = self._open["bucket"] < watermark_us // self.bucket_us if watermark_us != FINAL_WATERMARK else None
        final = self._open if done is None else self._open.filter(done)
        self._open = self._open.clear() if done is None else self._open.filter(~done).unique(maintain_order=True)
        per_vessel = final.group_by(["cell", "bucket", "vid"]).agg(pl.col("b").any())
        counted = per_vessel.group_by(["cell", "bucket"]).agg(pl.len().alias("n"), pl.col("b").sum().alias("nb"))
        if counted.height:
            # a bucket counted again (late rows) takes its newer count: the last of equal keys in a stable sort
            keys = np.concatenate([self._keys, self._key(counted["cell"].to_numpy(), counted["bucket"].to_numpy())])
            heard = np.concatenate([self._heard, counted.select("n", "nb").to_numpy().astype(np.int64)])
            order = np.argsort(keys, kind="stable")
            keys, heard = keys[order], heard[order]
            last = np.ones(keys.shape[0], np.bool_)
            last[:-1] = keys[1:] != keys[:-1]
            self._keys, self._heard = keys[last], heard[last]
        oldest = keep_from_us // self.bucket_us
        kept = (self._keys % _BUCKETS_PER_CELL) - _BUCKET_OFFSET >= oldest
        if not kept.all():
            self._keys, self._heard = self._keys[kept], self._heard[kept]

    def heard(self, lat: float, lon: float, bucket: int, class_b: bool) -> int:
        """Vessels heard in the 3 x 3 cells around a point in one bucket (a vessel crossing cells counts twice).

        Class B transmits with less power and is heard over a shorter range, so for a class B vessel only class B
        neighbours show that reception was good.
        """
        return self.heard_over(lat, lon, [bucket], class_b)[0]

    def heard_over(self, lat: float, lon: float, buckets: list[int], class_b: bool) -> list[int]:
        """:meth:`heard` in each of ``buckets`` around one point."""
        n = len(buckets)
        return [int(x) for x in self.heard_along(np.full(n, lat), np.full(n, lon), np.asarray(buckets), class_b)]

    def heard_along(self, lat: np.ndarray, lon: np.ndarray, buckets: np.ndarray,
                    class_b: bool | np.ndarray) -> np.ndarray:  # fmt: skip
        """:meth:`heard` around each point in its own bucket (a vessel's likely path, one point a bucket); ``class_b``
        for every point or one a point."""
        ci, cj = self.cell(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
        step = np.array([-1, 0, 1])
        rows = (ci[:, None, None] + step[None, :, None]) * self.n_lon
        cells = (rows + (cj[:, None, None] + step[None, None, :]) % self.n_lon).reshape(-1, 9)
        wanted = self._key(cells, np.asarray(buckets, np.int64)[:, None])  # (point, cell)
        if not self._keys.shape[0]:
            return np.zeros(wanted.shape[0], np.int64)
        at = np.searchsorted(self._keys, wanted).clip(max=self._keys.shape[0] - 1)
        col = np.broadcast_to(np.asarray(class_b, np.intp), (wanted.shape[0],))[:, None]  # 1: class B neighbours
        heard = np.where(self._keys[at] == wanted, self._heard[at, col], 0)
        return heard.sum(axis=1).astype(np.int64)


class GapDetector:
    """Detector of ``ais_gap`` (see the module's docstring)."""

    name = "gaps"

    def __init__(self, settings: GapSettings | None = None, stations: StationSettings | None = None) -> None:
        self.settings = settings or GapSettings()
        s = self.settings
        self.stations = StationMonitor(stations, min_silence_us=int(s.dense_gap_h * US_PER_H))
        self.bucket_us = int(s.bucket_min * 60e6)
        self.grid = CoverageGrid(s.cell_deg, self.bucket_us)
        self.last_t = np.zeros(0, np.int64)
        self.last_lat = np.zeros(0, np.float64)
        self.last_lon = np.zeros(0, np.float64)
        self.max_t = -1
        self.is_b = np.zeros(0, np.bool_)  # class B (types 18, 19) at the vessel's last fix
        # the vessel's own reception (see heard_before): first fix, fix counts of its recent slots, latest slot
        self.own_slots = max(1, round(s.own_window_min / s.own_slot_min))
        self.slot_us = int(s.own_slot_min * 60e6)
        self.window_us = int(s.own_window_min * 60e6)
        self.first_t = np.zeros(0, np.int64)
        self.slot_n = np.zeros((0, self.own_slots), np.int64)
        self.slot_at = np.zeros(0, np.int64)
        # gaps whose reappearance has arrived, waiting for their coverage: mmsi, t0, lat0, lon0, t1, lat1, lon1, B,
        # and the stations that heard the vessel before it fell silent
        self.waiting: list[Waiting] = []
        self.waiting_cover: list[tuple[str, ...]] = []
        # and how often it was heard: fixes in the window before it vanished, the time they span, fixes in the
        # window after it reappeared so far (-1: unknown, a gap restored from a snapshot that did not count them),
        # and its vessel id
        self.waiting_own: list[list[int]] = []

    def observe(self, ready: dict[str, pl.DataFrame | None], watermark_us: int) -> None:
        """Every copy of the ready messages, to the station monitor (see :class:`engine.runner.Observer`)."""
        self.stations.observe(ready, watermark_us)

    def outages(self) -> pl.DataFrame:
        """The receiving stations' outages found so far (``station_outage`` events)."""
        return self.stations.outages()

    def process(self, step: Step) -> list[pl.DataFrame]:
        s = self.settings
        f = step.fixes
        n = step.fleet.size
        self.last_t, self.last_lat, self.last_lon = (
            grow(self.last_t, n, -1),
            grow(self.last_lat, n, np.nan),
            grow(self.last_lon, n, np.nan),
        )
        self.is_b = grow(self.is_b, n, False)
        self.first_t, self.slot_at = grow(self.first_t, n, -1), grow(self.slot_at, n, -1)
        self.slot_n = grow(self.slot_n, n, 0)
        if len(f):
            self.max_t = max(self.max_t, int(f.t_us.max()))
            rows, t0, la0, lo0 = gap_candidates(
                f.vid, f.t_us, f.lat, f.lon, self.last_t, self.last_lat, self.last_lon, int(s.dense_gap_h * US_PER_H)
            )
            gap_t0 = np.full(len(f), -1, np.int64)
            gap_t0[rows] = t0
            pre_n, pre_span = heard_before(
                f.vid, f.t_us, f.lat, f.lon, gap_t0, self.first_t, self.slot_n, self.slot_at, self.slot_us
            )
            for r, a, b, c, hn, hs in zip(rows.tolist(), t0.tolist(), la0.tolist(), lo0.tolist(), pre_n.tolist(),
                                          pre_span.tolist(), strict=True):  # fmt: skip
                g = (int(f.mmsi[r]), a, b, c, int(f.t_us[r]), float(f.lat[r]), float(f.lon[r]), int(f.class_b[r]))
                self.waiting.append(g)
                self.waiting_cover.append(self.stations.covered_by(int(f.vid[r]), a))
                self.waiting_own.append([hn, hs, 0, int(f.vid[r])])
            self._count_after(f)
            self.grid.add(f.vid, f.t_us, f.lat, f.lon, f.class_b)
            vids, starts = f.vessel_runs()
            self.is_b[vids] = f.class_b[starts[1:] - 1]  # each vessel's latest fix
        retain_us = int(s.retain_h * US_PER_H)
        keep_from = -(2**62) if step.final else step.watermark_us - retain_us - 2 * self.bucket_us
        if self.waiting:  # a step may carry the watermark past retain_h: the coverage its gaps are judged on stays
            keep_from = min(keep_from, min(max(g[1], g[4] - retain_us) for g in self.waiting))
        self.grid.close(step.watermark_us, keep_from)
        complete = FINAL_WATERMARK if step.final else (step.watermark_us // self.bucket_us) * self.bucket_us
        # a gap is judged once its coverage buckets and the window after its reappearance are complete
        is_ready = [
            (g[4] // self.bucket_us + 1) * self.bucket_us <= complete and (step.final or g[4] + self.window_us
                                                                          <= step.watermark_us)
            for g in self.waiting
        ]  # fmt: skip
        ready = [
            (g, c, o)
            for g, c, o, ok in zip(self.waiting, self.waiting_cover, self.waiting_own, is_ready, strict=True)
            if ok
        ]
        self.waiting = [g for g, ok in zip(self.waiting, is_ready, strict=True) if not ok]
        self.waiting_cover = [c for c, ok in zip(self.waiting_cover, is_ready, strict=True) if not ok]
        self.waiting_own = [o for o, ok in zip(self.waiting_own, is_ready, strict=True) if not ok]
        found = self._judge_reappeared(ready)
        if step.final and s.report_open:
            found += self._open_gaps(step)
        return [self._rows(found)] if found else []

    def _count_after(self, f: Fixes) -> None:
        """Add this step's fixes (with a position) in the window after each waiting gap's reappearance."""
        if not self.waiting:
            return
        vids, starts = f.vessel_runs()
        has_pos = ~(np.isnan(f.lat) | np.isnan(f.lon))
        cum = np.concatenate(([0], np.cumsum(has_pos)))
        run_of = {int(v): k for k, v in enumerate(vids.tolist())}
        for g, own in zip(self.waiting, self.waiting_own, strict=True):
            k = run_of.get(own[3])
            if k is None or own[2] < 0:
                continue
            a, b = int(starts[k]), int(starts[k + 1])
            lo, hi = np.searchsorted(f.t_us[a:b], [g[4], g[4] + self.window_us], side="left")
            own[2] += int(cum[a + hi] - cum[a + lo])

    def _own(self, own: list[int], t1: int) -> tuple[int, int, int, int]:
        """(fixes before, their span, fixes after, their span): the window after ends at the last time in the data."""
        return own[0], own[1], own[2], max(0, min(self.window_us, self.max_t - t1))

    def _open_gaps(self, step: Step) -> list[tuple]:
        min_us = int(self.settings.dense_gap_h * US_PER_H)
        dark = np.flatnonzero(
            (self.last_t[: step.fleet.size] >= 0) & (self.last_t[: step.fleet.size] <= self.max_t - min_us)
        )
        out = []
        for v in dark.tolist():
            lat, lon = float(self.last_lat[v]), float(self.last_lon[v])
            cover = self.stations.covered_by(v, int(self.last_t[v]))
            heard = int(self.slot_n[v].sum())
            since = max(int(self.first_t[v]), (int(self.slot_at[v]) - self.own_slots + 1) * self.slot_us)
            own = (heard, max(0, int(self.last_t[v]) - since), -1, 0)
            a = self._judge_dark(int(step.fleet.mmsi[v]), int(self.last_t[v]), lat, lon, self.max_t,
                                 bool(self.is_b[v]), cover, own)  # fmt: skip
            if a is not None:
                out.append(a)
        return out

    def _judge_reappeared(self, ready: list[tuple[Waiting, tuple[str, ...], list[int]]]) -> list[tuple]:
        """The alerts of the gaps ``ready`` (gap, stations, own reception) whose vessels reappeared: the coverage
        along all their paths is looked up in one call (:meth:`_heard_on_paths`)."""
        silences = [self._silence(g[1], g[4], c) for g, c, _ in ready]
        paths = [(g[2], g[3], g[1], g[5], g[6], g[4], sil[2], bool(g[7]))
                 for (g, _, _), sil in zip(ready, silences, strict=True) if sil is not None]  # fmt: skip
        heard = iter(self._heard_on_paths(paths))
        found = []
        for (g, _, o), sil in zip(ready, silences, strict=True):
            if sil is not None:
                a = self._decide(*g[:7], bool(g[7]), False, sil, next(heard), self._own(o, g[4]))
                if a is not None:
                    found.append(a)
        return found

    def _judge_dark(self, mmsi: int, t0: int, lat: float, lon: float, t1: int, b: bool, cover: tuple[str, ...],
                    own: tuple[int, int, int, int]) -> tuple | None:  # fmt: skip
        """The alert of a vessel still dark at ``t1`` since its fix at (``lat``, ``lon``) at ``t0``, or None: where
        it went is unknown, so its silence is judged around where it vanished."""
        silence = self._silence(t0, t1, cover)
        if silence is None:
            return None
        heard = np.asarray(self.grid.heard_over(lat, lon, silence[2].tolist(), b), np.int64)
        return self._decide(mmsi, t0, lat, lon, t1, lat, lon, b, True, silence, heard, own)

    def _silence(self, t0: int, t1: int, cover: tuple[str, ...]
                 ) -> tuple[tuple | None, int, np.ndarray, np.ndarray] | None:  # fmt: skip
        """What of a silence from ``t0`` to ``t1`` is judged: (the outage of the stations ``cover`` that explains
        its start, or None; when it counts from; the buckets wholly inside it; the time each stands for), or None
        when nothing of it is."""
        s = self.settings
        outage = self.stations.explained(cover, t0)
        if outage is not None:  # the stations that heard it went down as it fell silent: dark only once one is back
            if outage[0] >= t1:
                return None
            t0 = outage[0]
        lo = max(t0, t1 - int(s.retain_h * US_PER_H))
        first, last = lo // self.bucket_us + 1, t1 // self.bucket_us - 1  # buckets wholly inside the gap
        if last < first:
            return None
        buckets = np.arange(first, last + 1, dtype=np.int64)
        # the part of a bucket at either end of the silence is judged with the whole bucket next to it
        span = np.full(buckets.shape[0], self.bucket_us, np.int64)
        span[0] += first * self.bucket_us - lo
        span[-1] += t1 - (last + 1) * self.bucket_us
        return outage, t0, buckets, span

    def _decide(self, mmsi: int, vanished: int, lat0: float, lon0: float, t1: int, lat1: float, lon1: float, b: bool,
                still_dark: bool, silence: tuple[tuple | None, int, np.ndarray, np.ndarray], heard: np.ndarray,
                own: tuple[int, int, int, int]) -> tuple | None:  # fmt: skip
        """The alert of a silence (:meth:`_silence`) given the vessels ``heard`` around it in each of its buckets."""
        s = self.settings
        outage, t0, _, span = silence
        n_good = good_stretch(heard >= s.good_vessels, s.good_fraction)
        if n_good == 0:
            return None
        typical = float(np.median(heard[:n_good]))
        good = float(np.mean(heard[:n_good] >= s.good_vessels))
        if typical <= 0:
            return None
        need_h = min(s.gap_h, max(s.dense_gap_h, s.gap_h * s.full_gap_vessels / typical))
        every = _heard_every_s(own)  # its own reception: a vessel heard only now and then is lost for hours by chance
        own_h = s.dense_gap_h * max(every) / s.heard_every_s if every else 0.0
        hours = (t1 - t0) / US_PER_H
        dark_h = float(span[:n_good].sum()) / US_PER_H
        if dark_h < max(need_h, own_h):
            return None
        km = float(haversine_km(lat0, lon0, lat1, lon1))
        kn = km / KM_PER_NM / hours
        vessels = f"{typical:.0f} vessel{'s' if round(typical) != 1 else ''}"
        if dark_h >= hours:
            why = [f"dark {hours:.1f} h in good coverage ({vessels} heard nearby)"]
        else:
            why = [
                f"dark {hours:.1f} h, unheard {dark_h:.1f} h of it on its way while in good coverage ({vessels} heard "
                "around its path)"
            ]
        if outage is not None:
            back = " and ".join(o[0] for o in outage[1])
            why[0] += f" after station {back} came back at {_hm(t0)}"
            why.append(f"silent since {_hm(vanished)}; " + "; ".join(_outage_words(*o) for o in outage[1]))
        if still_dark:
            why.append(f"still dark at the end of the data; vanished at {lat0:.4f}, {lon0:.4f}")
        else:
            why.append(f"vanished at {lat0:.4f}, {lon0:.4f}; reappeared {km:.0f} km away, {kn:.1f} kn implied")
        verb = "is" if round(typical) == 1 else "are"
        why.append(f"a gap of {need_h:.1f} h is significant where {vessels} {verb} heard (GFW: 6 h)")
        if every:
            why.append(_own_words(own, max(need_h, own_h)))
        score = min(100.0, 30.0 + 30.0 * math.log2(1.0 + dark_h / need_h) * good)
        return (mmsi, t0, t1, lat0, lon0, score, why)

    def _heard_on_paths(self, paths: list[tuple[float, float, int, float, float, int, np.ndarray, bool]]
                        ) -> list[np.ndarray]:  # fmt: skip
        """Vessels heard around where each vessel likely was in each bucket of its silence (``paths``: where and
        when it vanished, where and when it reappeared, the buckets, class B): on the straight line from where it
        vanished to where it reappeared, at constant speed, and a cell before and after that point on the line
        (the fewest of the three). The 3 x 3 cells reach one to two cells beyond a point: a vessel sailing out of
        coverage, or into it, would count as well covered while it was already beyond the last vessel heard; with
        the point a cell further on also well covered, it counts only while it was within the cells where
        vessels were heard. A vessel that stayed put is judged where it was (the three points are one). The points
        of every path, at the three places, are looked up in one call."""
        if not paths:
            return []
        cell_km = self.settings.cell_deg * _KM_PER_DEG
        aheads = []
        for lat0, lon0, t0, lat1, lon1, t1, _, _ in paths:
            km = float(haversine_km(lat0, lon0, lat1, lon1))
            # the time to sail one cell at the implied speed; a vessel that barely moved: the ends of its path
            aheads.append(int((t1 - t0) * min(1.0, cell_km / km)) if km > 0 else t1 - t0)
        sizes = [p[6].shape[0] for p in paths]
        buckets = np.concatenate([p[6] for p in paths])

        def each(k: int, dtype: type) -> np.ndarray:  # the paths' k-th value at each of their points, three times
            return np.tile(np.repeat(np.array([p[k] for p in paths], dtype), sizes), 3)

        ahead = np.repeat(np.array(aheads, np.int64), sizes)
        mid = buckets * self.bucket_us + self.bucket_us // 2
        t_us = np.concatenate([mid - ahead, mid, mid + ahead])  # a cell before, at, and a cell after the point
        f8, i8 = np.float64, np.int64
        plat, plon = path_points(each(0, f8), each(1, f8), each(2, i8), each(3, f8), each(4, f8), each(5, i8), t_us)
        here = self.grid.heard_along(plat, plon, np.tile(buckets, 3), each(7, np.bool_)).reshape(3, -1)
        heard = np.minimum(np.minimum(here[0], here[1]), here[2])
        return np.split(heard, np.cumsum(sizes)[:-1])

    @staticmethod
    def _rows(found: list[tuple]) -> pl.DataFrame:
        cols = list(zip(*found, strict=True))
        return AlertRows(
            kind="ais_gap",
            mmsi=np.array(cols[0], np.int64),
            other_mmsi=np.full(len(found), NO_OTHER, np.int64),
            start_us=np.array(cols[1], np.int64),
            end_us=np.array(cols[2], np.int64),
            lat=np.array(cols[3], np.float64),
            lon=np.array(cols[4], np.float64),
            score=np.array(cols[5], np.float64),
            reasons=list(cols[6]),
        ).frame()

    def snapshot(self) -> dict[str, np.ndarray]:
        counts = self.grid.counts
        opened = self.grid._open.to_numpy().astype(np.int64).reshape(-1, 4)
        waiting = np.array(self.waiting, np.float64).reshape(-1, 8)  # times fit float64 exactly below 2**53 µs
        cover = np.array([",".join(c) for c in self.waiting_cover], dtype=np.str_)
        stations = {f"stations/{k}": v for k, v in self.stations.snapshot().items()}
        return {
            **stations,
            "waiting_cover": cover,
            "last_t": self.last_t.copy(),
            "last_lat": self.last_lat.copy(),
            "last_lon": self.last_lon.copy(),
            "max_t": np.array([self.max_t]),
            "is_b": self.is_b.copy(),
            "counts": counts,
            "open": opened,
            "waiting": waiting,
            "waiting_own": np.array(self.waiting_own, np.int64).reshape(-1, 4),
            "first_t": self.first_t.copy(),
            "slot_n": self.slot_n.copy(),
            "slot_at": self.slot_at.copy(),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.last_t, self.last_lat, self.last_lon = arrays["last_t"], arrays["last_lat"], arrays["last_lon"]
        self.max_t = int(arrays["max_t"][0])
        self.is_b = arrays["is_b"]
        self.grid.counts = arrays["counts"]
        opened = arrays["open"]
        self.grid._open = pl.DataFrame(
            {"cell": opened[:, 0], "bucket": opened[:, 1], "vid": opened[:, 2], "b": opened[:, 3].astype(bool)}
        )
        self.waiting = [
            (int(m), int(a), b, c, int(d), e, g, int(k)) for m, a, b, c, d, e, g, k in arrays["waiting"].tolist()
        ]
        # a snapshot from before stations were followed has none: every station is learned afresh
        cover = arrays.get("waiting_cover", np.array([""] * len(self.waiting)))
        self.waiting_cover = [tuple(x for x in str(c).split(",") if x) for c in cover.tolist()]
        # a snapshot from before the vessels' own reception was followed: its gaps are judged on coverage alone, and
        # each vessel's reception is learned afresh
        own = arrays.get("waiting_own", np.tile(np.array([0, 0, -1, -1], np.int64), (len(self.waiting), 1)))
        self.waiting_own = [[int(x) for x in row] for row in own.reshape(-1, 4).tolist()]
        self.first_t = arrays.get("first_t", np.zeros(0, np.int64))
        self.slot_at = arrays.get("slot_at", np.zeros(0, np.int64))
        self.slot_n = arrays.get("slot_n", np.zeros((0, self.own_slots), np.int64)).reshape(-1, self.own_slots)
        stations = {k.removeprefix("stations/"): v for k, v in arrays.items() if k.startswith("stations/")}
        if stations:
            self.stations.restore(stations)


def path_points(lat0: float | np.ndarray, lon0: float | np.ndarray, t0: int | np.ndarray, lat1: float | np.ndarray,
                lon1: float | np.ndarray, t1: int | np.ndarray,
                t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Where a vessel that vanished at (lat0, lon0) at ``t0`` and reappeared at (lat1, lon1) at ``t1`` likely was at
    each of ``t_us``: on the straight line between the two, at constant speed (across the antimeridian the short way).
    The ends are one path, or one a time (arrays like ``t_us``).
    """
    share = (np.clip(np.asarray(t_us, np.int64), t0, t1) - t0) / np.maximum(1, np.subtract(t1, t0))
    dlon = (lon1 - lon0 + 180.0) % 360.0 - 180.0
    lon = lon0 + share * dlon
    return lat0 + share * (lat1 - lat0), (lon + 180.0) % 360.0 - 180.0


def good_stretch(good: np.ndarray, fraction: float) -> int:
    """How many buckets from the start of a silence were in good coverage: the longest run from the first bucket
    that ends in a good bucket and holds at least ``fraction`` of good ones (0 when there is none). The vessel went
    dark where reception was good (GFW judges AIS disabling where the vessel vanished); what comes after it left
    good coverage says nothing."""
    share_ok = np.cumsum(good) >= fraction * np.arange(1, good.shape[0] + 1)
    ends = np.flatnonzero(good & share_ok)
    return int(ends[-1]) + 1 if ends.shape[0] else 0


def _hm(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1e6, UTC).strftime("%H:%M")


def _outage_words(station: str, start: int, end: int, usual: float, heard: int) -> str:
    """The evidence of one outage: "station CT01 heard 0 of its usual ~240 messages per 10 min, 15:40-17:52"."""
    until = _hm(end) if end >= 0 else "still down"
    return f"station {station} heard {heard} of its usual ~{usual:.0f} messages per 10 min, {_hm(start)}-{until}"


def _heard_every_s(own: tuple[int, int, int, int]) -> list[float]:
    """Seconds per fix heard in the window before the vessel vanished and in the window after it reappeared (a side
    unknown, or of no length, says nothing)."""
    pre_n, pre_span, post_n, post_span = own
    return [span / 1e6 / k for k, span in ((pre_n, pre_span), (post_n, post_span)) if k >= 1 and span > 0]


def _own_words(own: tuple[int, int, int, int], need_h: float) -> str:
    """The vessel's own reception: "heard every 40 s in the 30 min before it vanished and every 38 s in the 30 min
    after it reappeared: a gap of 2.0 h is significant for it"."""
    pre_n, pre_span, post_n, post_span = own
    parts = []
    if pre_n >= 1 and pre_span > 0:
        parts.append(f"every {pre_span / 1e6 / pre_n:.0f} s in the {pre_span / 60e6:.0f} min before it vanished")
    if post_n >= 1 and post_span > 0:
        parts.append(f"every {post_span / 1e6 / post_n:.0f} s in the {post_span / 60e6:.0f} min after it reappeared")
    return "heard " + " and ".join(parts) + f": a gap of {need_h:.1f} h is significant for it"
