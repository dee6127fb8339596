"""Identity: names, call signs, IMO numbers and ship types that change, alternate or make no sense.

- ``identity_change``: a vessel's name / call sign / IMO / ship type changed for good. A change is held for
  ``hold_s`` before it is reported: if the old value comes back within that time, it was not a change but two
  vessels on one MMSI (``identity_conflict``). Changes of one vessel within ``group_s`` make one alert.
- ``identity_conflict``: one field alternating between two values (A -> B -> A ...): two transmitters share an
  MMSI. Position evidence of the same thing (two simultaneous tracks) is in :mod:`engine.detectors.twin_tracks`;
  a change of MMSI at sea (old MMSI silent, new one where it was) in :mod:`engine.detectors.handover`.
- ``invalid_identity``: an MMSI that is no ship's (see :mod:`engine.detectors.mmsi`), once per vessel, its end
  following the vessel's latest fix.

Blank and "not available" values (empty, ``@``, IMO 0, type 0) are ignored, and so is the split of class B
identity into 24A (name) and 24B (call sign, type): a field only changes against the last value of that field.
Detection is columnar (polars, per field); the Python loop runs once per *change*, which is rare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.alerts import NO_OTHER, AlertRows
from engine.detectors.common import US_PER_H, US_PER_S, grow
from engine.detectors.mmsi import OK, describe, mmsi_problem
from engine.runner import Step

FIELDS = ("name", "callsign", "imo", "ship_type")
LABELS = {"name": "name", "callsign": "call sign", "imo": "IMO", "ship_type": "ship type"}
_NA = ("", "NOT AVAILABLE", "N/A", "NA", "UNKNOWN", "0")
HISTORY_KEPT = 64  # a vessel's latest identity changes kept in memory (the store keeps the whole history)
# one change of one field: vid, t_us, arrival, field index, field, old, new, lat, lon, t of the last report of the
# old value, whether it alternates back
_Change = tuple[int, int, int, int, str, str, str, float, float, int, bool]


@dataclass(frozen=True)
class IdentitySettings:
    hold_s: float = 2 * 3600.0  # a rename that reverts within 2 h is two vessels, not a rename (2+ static cycles)
    group_s: float = 1800.0  # class B sends name (24A) and call sign (24B) separately, minutes apart
    alternation_window_s: float = 24 * 3600.0  # A -> B -> A within a day: alternation (GFW identity practice)
    conflict_gap_s: float = 24 * 3600.0  # a new conflict episode after a day without alternation
    change_score: float = 45.0
    conflict_score: float = 70.0
    invalid_score: float = 60.0


def field_values(step: Step) -> dict[str, pl.DataFrame]:
    """Per field, the step's non-blank values with (vid, t_us, arrival, lat?, value), in (vid, t, arrival) order.

    Static reports repeat the same values for hours; only the first and the last report of each run of equal
    raw values can matter (a change is seen at a run's first report; the time of the previous report is its
    predecessor run's last), so the runs' middles are dropped before any string is cleaned. Reports without the
    field (class B sends its name and its call sign in different parts) are dropped first: they cut no run.
    """
    ids = step.identities
    imo = np.where((ids.imo > 0) & (ids.imo < 1_000_000_000), ids.imo, -1)
    stype = np.where((ids.ship_type > 0) & (ids.ship_type < 100), ids.ship_type, -1)
    out = {}
    for f in FIELDS:
        if f in ("name", "callsign"):
            text = pl.Series(getattr(ids, f), dtype=pl.String)
            rows = np.flatnonzero(text.is_not_null().to_numpy())
            raw = text.gather(rows)
            differs = raw.ne_missing(raw.shift(1)).to_numpy()  # row 0: True (against nothing)
        else:
            codes = imo if f == "imo" else stype
            rows = np.flatnonzero(codes >= 0)
            differs = np.ones(rows.shape[0], np.bool_)
            differs[1:] = codes[rows[1:]] != codes[rows[:-1]]
        edge = run_edges(ids.vid[rows], differs)
        rows = rows[edge]
        if f in ("name", "callsign"):
            value = raw.filter(pl.Series(edge)).str.replace_all("@", "").str.strip_chars().str.replace_all(r"\s+", " ")
        else:
            value = pl.Series(codes[rows]).cast(pl.String)
        frame = pl.DataFrame({"vid": ids.vid[rows], "t_us": ids.t_us[rows], "arrival": ids.arrival[rows],
                              "value": value})  # fmt: skip
        frame = frame.filter(pl.col("value").is_not_null())
        out[f] = frame.filter(~pl.col("value").str.to_uppercase().is_in(_NA))
    return out


def run_edges(vid: np.ndarray, differs: np.ndarray) -> np.ndarray:
    """Rows that begin or end a run of one vessel's equal values: ``differs[k]`` says row k's value is not row
    k - 1's (rows in (vid, t) order)."""
    n = vid.shape[0]
    begins = np.ones(n, np.bool_)
    begins[1:] = (vid[1:] != vid[:-1]) | differs[1:]
    ends = np.ones(n, np.bool_)
    ends[:-1] = begins[1:]
    return begins | ends


class IdentityDetector:
    """identity_change, identity_conflict (alternating identities) and invalid_identity."""

    name = "identity"

    def __init__(self, settings: IdentitySettings | None = None) -> None:
        self.settings = settings or IdentitySettings()
        self.cur = {f: np.zeros(0, object) for f in FIELDS}  # latest value of each field, per vessel
        self.before = {f: np.zeros(0, object) for f in FIELDS}  # the value before it
        self.t_changed = {f: np.zeros(0, np.int64) for f in FIELDS}
        self.t_seen = {f: np.zeros(0, np.int64) for f in FIELDS}  # last report of the field
        self.history: dict[int, list[tuple[int, str, str, str]]] = {}  # vid -> (t_us, field, old, new) changes
        # changes held for hold_s: (t, field, old, new, lat, lon, t of the last report of the old value)
        self.pending: dict[int, list[tuple[int, str, str, str, float, float, int]]] = {}
        self.last_fix = np.zeros((0, 3), np.float64)  # lat, lon, t (s) of each vessel's latest fix
        self._fix_key: np.ndarray | None = None  # the step's fixes as (vid, second) keys, made once a step
        self.conflict = np.zeros((0, 3), np.int64)  # start, last, switches
        self.conflict_text = np.zeros(0, object)
        self.conflict_pos = np.zeros((0, 2), np.float64)
        self.checked = np.zeros(0, np.int64)  # invalid: first fix time (0 = not seen), -1 when valid
        self.invalid = np.zeros((0, 2), np.int64)  # invalid: code, last fix time
        self.invalid_pos = np.zeros((0, 2), np.float64)

    # -- the fleet state wants these ------------------------------------------------------------------------------
    def latest_identity(self, vid: int) -> dict[str, str | None]:
        return {f: (self.cur[f][vid] if vid < self.cur[f].shape[0] else None) for f in FIELDS}

    def changes(self, vid: int) -> list[tuple[int, str, str, str]]:
        """The vessel's latest :data:`HISTORY_KEPT` changes (t_us, field, old, new), alternations included."""
        return list(self.history.get(vid, []))

    def _grow(self, size: int) -> None:
        for f in FIELDS:
            self.cur[f] = _grow_obj(self.cur[f], size)
            self.before[f] = _grow_obj(self.before[f], size)
            self.t_changed[f] = grow(self.t_changed[f], size, 0)
            self.t_seen[f] = grow(self.t_seen[f], size, 0)
        self.conflict = grow(self.conflict, size, 0)
        self.conflict_text = _grow_obj(self.conflict_text, size)
        self.checked = grow(self.checked, size, 0)
        self.invalid = grow(self.invalid, size, 0)
        self.invalid_pos = grow(self.invalid_pos, size, np.nan)
        self.last_fix = grow(self.last_fix, size, np.nan)
        self.conflict_pos = grow(self.conflict_pos, size, np.nan)

    def process(self, step: Step) -> list[pl.DataFrame]:
        self._grow(step.fleet.size)
        self._fix_key = None
        changes: list[_Change] = []
        for k, (f, frame) in enumerate(field_values(step).items()):
            if frame.height:
                changes += self._field(step, k, f, frame)
        self._fix_key = None  # not kept between steps
        touched = self._apply(sorted(changes))
        out = [self._emit_changes(step), self._conflicts(step, touched), self._invalid(step)]
        fx = step.fixes
        if len(fx):
            vids, starts = fx.vessel_runs()
            end = starts[1:] - 1
            self.last_fix[vids] = np.stack([fx.lat[end], fx.lon[end], fx.t_us[end] / US_PER_S], axis=1)
        return [f for f in out if f.height]

    def _field(self, step: Step, k: int, f: str, frame: pl.DataFrame) -> list[_Change]:
        """The step's changes of field ``f`` (the ``k``-th of FIELDS), each marked an alternation (back to the
        value before, within ``alternation_window_s``) or not, from this field's own state, which it carries on."""
        vid = frame["vid"].to_numpy()
        value = frame["value"].to_numpy().astype(object)
        first = np.concatenate(([True], vid[1:] != vid[:-1]))
        prev = np.empty(len(value), object)
        prev[1:] = value[:-1]
        prev[first] = self.cur[f][vid[first]]
        changed = np.flatnonzero((prev != value) & (prev != None))  # noqa: E711 (elementwise)
        last = np.concatenate((vid[1:] != vid[:-1], [True]))
        t = frame["t_us"].to_numpy()
        arrival = frame["arrival"].to_numpy()
        t_prev = np.empty_like(t)
        t_prev[1:] = t[:-1]
        t_prev[first] = self.t_seen[f][vid[first]]
        s = self.settings
        lat, lon = self._where(step, vid[changed], t[changed])
        out: list[_Change] = []
        for j, i in enumerate(changed.tolist()):  # one iteration per change
            v, old, new, ti = int(vid[i]), str(prev[i]), str(value[i]), int(t[i])
            recent = ti - self.t_changed[f][v] <= s.alternation_window_s * US_PER_S
            back = bool(new == self.before[f][v] and recent)
            out.append((v, ti, int(arrival[i]), k, f, old, new, float(lat[j]), float(lon[j]), int(t_prev[i]), back))
            self.before[f][v] = old
            self.cur[f][v] = new  # the last row of the vessel sets it below too
            self.t_changed[f][v] = ti
        self.cur[f][vid[last]] = value[last]
        self.t_seen[f][vid[last]] = t[last]
        return out

    def _apply(self, changes: list[_Change]) -> set[int]:
        """The step's changes of every field in (vessel, time, arrival, field) order -- the order of the messages,
        whatever the cut into steps: a change is held (``pending``) or, an alternation, extends the vessel's
        conflict, whose start is then its first alternation in time. Returns the vessels with an alternation."""
        touched: set[int] = set()
        for v, ti, _, _, f, old, new, lat, lon, t_prev, back in changes:
            history = self.history.setdefault(v, [])
            history.append((ti, f, old, new))
            if len(history) > HISTORY_KEPT:  # an identity cycling for months must not grow memory and snapshots
                del history[:-HISTORY_KEPT]
            if back:
                self._alternation(v, f, old, new, ti, (lat, lon))
                touched.add(v)
            else:
                self.pending.setdefault(v, []).append((ti, f, old, new, lat, lon, t_prev))
        return touched

    def _alternation(self, v: int, f: str, old: str, new: str, t: int, where: tuple[float, float]) -> None:
        s = self.settings
        hold = int(s.hold_s * US_PER_S)
        kept = [c for c in self.pending.get(v, []) if not (c[1] == f and t < c[0] + hold)]
        self.pending[v] = kept
        start, last, n = self.conflict[v]
        if n == 0 or t - last > s.conflict_gap_s * US_PER_S:
            self.conflict[v] = (t, t, 1)
            self.conflict_pos[v] = where
        else:
            self.conflict[v] = (start, t, n + 1)
        self.conflict_text[v] = f"{LABELS[f]} alternates between '{new}' and '{old}'"

    def _emit_changes(self, step: Step) -> pl.DataFrame:
        s = self.settings
        wait = int((s.hold_s + s.group_s) * US_PER_S)
        group = int(s.group_s * US_PER_S)
        rows: list[tuple[int, int, list[str]]] = []
        where: list[tuple[float, float]] = []
        ends: list[int] = []
        for v in sorted(self.pending):
            changes = sorted(self.pending[v])
            while changes and changes[0][0] + wait <= step.watermark_us:
                t0 = changes[0][0]
                these = [c for c in changes if c[0] < t0 + group]
                changes = [c for c in changes if c[0] >= t0 + group]
                reasons = [f"{LABELS[f]} changed from '{old}' to '{new}'" for _, f, old, new, *_ in these]
                where.append((these[0][4], these[0][5]))
                since = min(c[6] for c in these)  # the change happened between the last old and first new report
                ends.append(max(c[0] for c in these))
                rows.append((v, since, reasons + [f"kept for {s.hold_s / 3600:.0f} h: a change, not two vessels"]))
            self.pending[v] = changes
        self.pending = {v: c for v, c in self.pending.items() if c}
        return _rows("identity_change", step, rows, s.change_score, where=where, ends=ends)

    def _conflicts(self, step: Step, touched: set[int]) -> pl.DataFrame:
        rows = []
        where = [tuple(self.conflict_pos[v]) for v in sorted(touched)]
        for v in sorted(touched):
            start, last, n = (int(x) for x in self.conflict[v])
            why = f"{self.conflict_text[v]}: {n + 1} switches, two vessels broadcast one MMSI"
            rows.append((v, start, [why], last, min(95.0, self.settings.conflict_score + 5 * n)))
        return _rows("identity_conflict", step, [(v, t, r) for v, t, r, _, _ in rows], 0.0, where=where,
                     ends=[e for *_, e, _ in rows], scores=[sc for *_, sc in rows])  # fmt: skip

    def _invalid(self, step: Step) -> pl.DataFrame:
        fx = step.fixes
        vids, starts = fx.vessel_runs()
        if not vids.shape[0]:
            return _rows("invalid_identity", step, [], 0.0)
        unseen = self.checked[vids] == 0
        new, first = vids[unseen], starts[:-1][unseen]
        if new.shape[0]:
            code = mmsi_problem(step.fleet.mmsi[new])
            self.checked[new] = np.where(code == OK, -1, fx.t_us[first])
            self.invalid[new, 0] = code
            self.invalid_pos[new] = np.stack([fx.lat[first], fx.lon[first]], axis=1)
        bad = self.checked[vids] > 0
        v = vids[bad]
        self.invalid[v, 1] = fx.t_us[starts[1:][bad] - 1]
        mmsi = step.fleet.mmsi[v]
        reasons = [[describe(int(m), int(c))] for m, c in zip(mmsi.tolist(), self.invalid[v, 0].tolist(), strict=True)]
        n = v.shape[0]
        return AlertRows("invalid_identity", mmsi, np.full(n, NO_OTHER), self.checked[v], self.invalid[v, 1],
                         self.invalid_pos[v, 0], self.invalid_pos[v, 1],
                         np.full(n, self.settings.invalid_score), reasons).frame()  # fmt: skip

    def _where(self, step: Step, vid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each vessel's position at its latest fix up to ``t`` (this step's, else the carried one; NaN if > 6 h)."""
        fx = step.fixes
        lat, lon = self.last_fix[vid, 0].copy(), self.last_fix[vid, 1].copy()
        stale = ~(np.abs(t / US_PER_S - self.last_fix[vid, 2]) < 6 * 3600)
        lat[stale], lon[stale] = np.nan, np.nan
        if not len(fx) or not vid.shape[0]:
            return lat, lon
        if self._fix_key is None:  # every field with a change asks: made once a step
            self._fix_key = fx.vid * (1 << 40) + (fx.t_us // US_PER_S)  # sorted: fixes are in (vid, t) order
        key = self._fix_key
        want = vid * (1 << 40) + (t // US_PER_S)
        i = np.searchsorted(key, want, side="right") - 1
        ok = (i >= 0) & (fx.vid[np.clip(i, 0, None)] == vid)
        lat[ok], lon[ok] = fx.lat[i[ok]], fx.lon[i[ok]]
        far = ok & ~(np.abs(fx.t_us[np.clip(i, 0, None)] - t) < 6 * US_PER_H)
        lat[far], lon[far] = np.nan, np.nan
        return lat, lon

    def evict(self, vids: np.ndarray, now_us: int) -> None:
        """Vessels silent for a long time (engine/runner.py, "Bounded memory"): their change history (kept for the
        API; the store has it all) goes; so do the value each field alternated from and the words of the last
        conflict, once both windows have passed since the vessel's latest change (a later row cannot alternate
        back, or extend that conflict). The current values stay: a rename across any silence is a change."""
        s = self.settings
        window = int(max(s.alternation_window_s, s.conflict_gap_s) * US_PER_S)
        for v in vids.tolist():
            self.history.pop(v, None)
        vids = vids[vids < self.conflict.shape[0]]
        latest = np.max([self.t_changed[f][vids] for f in FIELDS], axis=0) if vids.shape[0] else vids
        old = vids[(latest < now_us - window) & (self.conflict[vids, 1] < now_us - window)]
        for f in FIELDS:
            self.before[f][old] = None
        self.conflict_text[old] = None

    def snapshot(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for f in FIELDS:
            out[f"cur_{f}"] = self.cur[f].astype(str)
            out[f"before_{f}"] = self.before[f].astype(str)
            out[f"t_changed_{f}"] = self.t_changed[f].copy()
            out[f"t_seen_{f}"] = self.t_seen[f].copy()
        books: dict[str, dict[int, list[tuple[Any, ...]]]] = {
            "pending": dict(self.pending),
            "history": dict(self.history),
        }
        for name, book in books.items():
            flat = [(v, *c) for v, cs in sorted(book.items()) for c in cs]
            out[f"{name}_vt"] = np.array([r[:2] for r in flat], np.int64).reshape(-1, 2)
            out[f"{name}_text"] = np.array([r[2:5] for r in flat], str).reshape(-1, 3)
            out[f"{name}_pos"] = np.array([(r + (0.0,) * 3)[5:8] for r in flat], np.float64).reshape(-1, 3)
        out.update(conflict=self.conflict.copy(), conflict_text=self.conflict_text.astype(str))
        out.update(conflict_pos=self.conflict_pos.copy(), last_fix=self.last_fix.copy())
        out.update(checked=self.checked.copy(), invalid=self.invalid.copy(), invalid_pos=self.invalid_pos.copy())
        return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        def obj(a: np.ndarray) -> np.ndarray:
            o = a.astype(object)
            o[a == "None"] = None
            return o

        for f in FIELDS:
            self.cur[f], self.before[f] = obj(arrays[f"cur_{f}"]), obj(arrays[f"before_{f}"])
            self.t_changed[f] = arrays[f"t_changed_{f}"].copy()
            self.t_seen[f] = arrays[f"t_seen_{f}"].copy()
        self.pending, self.history = {}, {}
        rows = zip(arrays["pending_vt"].tolist(), arrays["pending_text"].tolist(), arrays["pending_pos"].tolist(),
                   strict=True)  # fmt: skip
        for (v, t), (f, old, new), (lat, lon, t_prev) in rows:
            self.pending.setdefault(int(v), []).append((int(t), f, old, new, lat, lon, int(t_prev)))
        for (v, t), (f, old, new) in zip(arrays["history_vt"].tolist(), arrays["history_text"].tolist(), strict=True):
            self.history.setdefault(int(v), []).append((int(t), f, old, new))
        self.conflict, self.conflict_text = arrays["conflict"].copy(), obj(arrays["conflict_text"])
        self.conflict_pos, self.last_fix = arrays["conflict_pos"].copy(), arrays["last_fix"].copy()
        self.checked, self.invalid = arrays["checked"].copy(), arrays["invalid"].copy()
        self.invalid_pos = arrays["invalid_pos"].copy()


def _rows(
    kind: str,
    step: Step,
    rows: list[tuple[int, int, list[str]]],
    score: float,
    ends: list[int] | None = None,
    scores: list[float] | None = None,
    where: list[tuple[float, float]] | None = None,
) -> pl.DataFrame:
    """Alert rows for (vid, start, reasons) at the positions ``where``."""
    n = len(rows)
    vid = np.array([r[0] for r in rows], np.int64)
    start = np.array([r[1] for r in rows], np.int64)
    end = np.array(ends, np.int64) if ends is not None else start
    pos = np.array(where or [], np.float64).reshape(-1, 2)
    lat, lon = pos[:, 0], pos[:, 1]
    sc = np.array(scores, np.float64) if scores is not None else np.full(n, score)
    mmsi = step.fleet.mmsi[vid] if n else np.zeros(0, np.int64)
    return AlertRows(kind, mmsi, np.full(n, NO_OTHER), start, end, lat, lon, sc, [r[2] for r in rows]).frame()


def _grow_obj(arr: np.ndarray, size: int) -> np.ndarray:
    """:func:`grow` for object arrays (strings per vessel), new rows None."""
    if arr.shape[0] >= size:
        return arr
    out = np.full(max(size, 2 * arr.shape[0], 1024), None, dtype=object)
    out[: arr.shape[0]] = arr
    return out
