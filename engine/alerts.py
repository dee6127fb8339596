"""Alerts: the table every consumer relies on (DESIGN.md, "Alerts"), and the book that keeps their latest state.

Detectors report alert *rows*: new alerts, and new versions of alerts that go on (same ``alert_id``, a later
``end``, more evidence). :class:`AlertBook` keeps the latest version of each, so the final table does not depend
on how the input was cut into batches. ``alert_id`` is derived from the evidence that starts an alert (kind,
vessel, other vessel, start time), never from a counter, so the same evidence gives the same id on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

ALERT_KINDS = (
    "ais_gap",  # went dark where coverage was good
    "encounter",  # two vessels close and slow at sea: a ship-to-ship transfer
    "loitering",
    "spoofing",  # impossible jumps and speeds
    "land_position",
    "identity_conflict",  # one MMSI, two vessels
    "identity_change",  # name / call sign / IMO / type changed
    "invalid_identity",  # malformed or default MMSI
    "draught_change",  # at sea, without a port call
    "zone_entry",
    "border_crossing",
    "distress",  # AIS-SART / MOB / EPIRB, not under command, aground, safety broadcasts
)

UTC_US = pl.Datetime("us", "UTC")
ALERT_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "kind": pl.String(),
    "mmsi": pl.Int64(),
    "other_mmsi": pl.Int64(),
    "start": UTC_US,
    "end": UTC_US,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "score": pl.Float64(),
    "reasons": pl.List(pl.String()),
}
NO_OTHER = -1  # other_mmsi of an alert about one vessel, in the arrays detectors fill (null in the table)


def alert_id(kind: str, mmsi: int, other_mmsi: int | None, start_us: int) -> str:
    """Stable id: the same kind, vessels and start give the same id on every run and every machine.

    A pair is ordered (smaller MMSI first) so that both vessels' views of one encounter share an id.
    """
    a, b = mmsi, other_mmsi if other_mmsi is not None and other_mmsi >= 0 else -1
    if b >= 0 and b < a:
        a, b = b, a
    key = f"{kind}|{a}|{b}|{start_us}".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def empty_alerts() -> pl.DataFrame:
    return pl.DataFrame(schema=ALERT_SCHEMA)


@dataclass
class AlertRows:
    """Alert rows as arrays, filled by a detector (usually from a Numba kernel's output buffers).

    ``reasons`` holds one list of sentences per row. ``start_us``/``end_us`` are UTC microseconds.
    """

    kind: str
    mmsi: np.ndarray
    other_mmsi: np.ndarray  # NO_OTHER where the alert concerns one vessel
    start_us: np.ndarray
    end_us: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    score: np.ndarray
    reasons: Sequence[list[str]] = field(default_factory=list)

    def frame(self) -> pl.DataFrame:
        """The rows in the ALERT_SCHEMA, with their stable ids."""
        n = int(self.mmsi.shape[0])
        if n == 0:
            return empty_alerts()
        if len(self.reasons) != n:
            raise ValueError(f"{self.kind}: {n} alert rows but {len(self.reasons)} lists of reasons")
        if self.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; expected one of {', '.join(ALERT_KINDS)}")
        mmsi = self.mmsi.astype(np.int64)
        other = self.other_mmsi.astype(np.int64)
        start = self.start_us.astype(np.int64)
        ids = [
            alert_id(self.kind, int(m), int(o), int(s))
            for m, o, s in zip(mmsi.tolist(), other.tolist(), start.tolist(), strict=True)
        ]
        other_s = pl.Series("other_mmsi", other)
        return pl.DataFrame(
            {
                "alert_id": pl.Series(ids, dtype=pl.String),
                "kind": pl.Series([self.kind] * n, dtype=pl.String),
                "mmsi": pl.Series(mmsi),
                "other_mmsi": other_s.set(other_s < 0, None),
                "start": pl.Series(start).cast(UTC_US),
                "end": pl.Series(self.end_us.astype(np.int64)).cast(UTC_US),
                "lat": pl.Series(self.lat.astype(np.float64)),
                "lon": pl.Series(self.lon.astype(np.float64)),
                "score": pl.Series(np.clip(self.score.astype(np.float64), 0.0, 100.0)),
                "reasons": pl.Series(list(self.reasons), dtype=pl.List(pl.String)),
            },
            schema=ALERT_SCHEMA,
        )


class AlertBook:
    """The latest version of every alert seen so far, keyed by ``alert_id``.

    A later version replaces an earlier one; versions of one alert arriving in one batch are resolved by the
    latest ``end`` (then the highest score), so the result does not depend on the order rows were reported in.

    A live engine runs for months: with ``keep_us`` the book keeps only the alerts whose evidence reaches into the
    last ``keep_us`` of feed time (:meth:`prune`): the open ones and the recent ones. The older ones went to the
    sinks when they changed last (the store keeps every alert); one that comes back (new evidence for an old id)
    is new to the book again and handed on, which an upsert by id makes harmless. None keeps all (a batch run).
    """

    def __init__(self, keep_us: int | None = None) -> None:
        self._table = empty_alerts()
        self.keep_us = keep_us
        self.pruned = 0  # alerts let go by prune, for /metrics

    def update(self, rows: pl.DataFrame | Iterable[pl.DataFrame]) -> pl.DataFrame:
        """Merge new rows; returns the rows that are new or changed (what a live stream would publish)."""
        frames = [rows] if isinstance(rows, pl.DataFrame) else list(rows)
        frames = [f for f in frames if f.height]
        if not frames:
            return empty_alerts()
        incoming = _latest(pl.concat(frames, how="vertical"))
        changed = incoming.join(self._table, on=incoming.columns, how="anti", nulls_equal=True)
        if changed.height:
            # only the ids that came are merged again: the rest of the book is neither sorted nor copied twice
            came = pl.col("alert_id").is_in(incoming["alert_id"].implode())
            merged = _latest(pl.concat([self._table.filter(came), incoming], how="vertical"))
            self._table = pl.concat([self._table.filter(~came), merged], how="vertical", rechunk=True)
        return changed

    def prune(self, now_us: int) -> int:
        """Let go of the alerts whose ``end`` is more than ``keep_us`` before ``now_us`` (feed time); how many."""
        if self.keep_us is None or not self._table.height:
            return 0
        horizon = pl.lit(now_us - self.keep_us).cast(pl.Int64).cast(UTC_US)
        kept = self._table.filter(pl.col("end") >= horizon)
        gone = self._table.height - kept.height
        if gone:
            self._table, self.pruned = kept, self.pruned + gone
        return gone

    def table(self) -> pl.DataFrame:
        """Every alert, in a canonical order (kind, start, mmsi, alert_id)."""
        return self._table.sort(["kind", "start", "mmsi", "alert_id"])

    def missing(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that no alert in the book has."""
        wanted = pl.Series("alert_id", list(ids), pl.String)
        return set(wanted.filter(~wanted.is_in(self._table["alert_id"].implode())).to_list())

    def __len__(self) -> int:
        return self._table.height


def _latest(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["alert_id", "end", "score"]).unique(subset="alert_id", keep="last", maintain_order=True)
