"""The distress fast path: a live distress alert is announced when its evidence arrives, not once the watermark
has passed it (the watermark trails the newest time by the live lateness: a second on a feed of whole-second tag
blocks, the whole 1 s alert budget).

Distress evidence needs no ordering with other vessels' rows. After every engine step the fast path asks the
distress detector what the rows still waiting for the watermark would give if the input ended now
(:meth:`engine.runner.Engine.waiting`, :meth:`DistressDetector.foresee`): the detector's own state and code, on
the rows the engine has accepted (neither late nor without time), copies of a message dropped as a step drops
them. Those alert rows are *announced*: handed to the sinks in place of the engine's versions of the same alerts.

Why the final alerts are the batch run's
----------------------------------------
An announced alert has the id the detector gives it (kind, vessel, episode start) if no other evidence of the
vessel arrives before the watermark passes it. An episode carried over from earlier steps has its start in the
detector's state: the id is the one the engine already holds. A new episode starts at its earliest waiting
evidence, and a later arrival may still come before it (within the lateness) and become the start; more evidence
only ever moves a start earlier. So an announced id that the engine does not hold is *open*; after each step:

- announced again: still open (or the engine now holds it: confirmed);
- not announced again and not held by the engine: wrong, for good. Either the watermark passed its first row and
  the detector, which saw every row before it, started that row's episode elsewhere; or the row still waits and
  the detector's foresight puts it in an episode with another (earlier) start. It is *withdrawn*: the sinks remove
  it (the store deletes it). The episode's right id is announced or held by then.

Each announced alert's last version reaches the sinks from the engine itself: the waiting rows that made an
announcement are processed later, and that step changes the alert in the engine (and the step's foresight
announces it again only while rows of its episode still wait). So when the input is done (``finish``) the sinks
hold exactly the engine's alerts, which are the batch run's.

The open ids are a function of the engine's state after a step (announced, not held), so they are recomputed
from a restored snapshot (:meth:`DistressFastPath.resume`) and need no snapshot of their own; a journal replayed
after it repeats the same announcements and withdrawals.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.alerts import empty_alerts
from engine.detectors.distress import SAFETY_TEXT_TYPE, STATUS_EVIDENCE, DistressDetector, may_be_evidence
from engine.detectors.mmsi import BEACON_PREFIXES
from engine.runner import Engine
from feeds.framing import MessageBatch
from feeds.jit import kernel

# what the header of an armored payload may show of distress (may_be_evidence, read from the first 8 characters)
_STATUSES = np.array([status for status, _ in STATUS_EVIDENCE], np.int64)
_PREFIXES = np.array(BEACON_PREFIXES, np.int64)


@kernel
def _distress_headers(payload, start, length, statuses, prefixes, out):
    """``out[i]``: message i may be distress evidence: a beacon's MMSI (any type), a type 14 safety broadcast, or
    a nav status of :data:`STATUS_EVIDENCE` (types 1-3 at bits 38-41, type 27 at bits 40-43; ITU-R M.1371-5)."""
    for i in range(start.shape[0]):
        head = 0
        n = min(length[i], 8)
        for k in range(n):
            v = payload[start[i] + k] - 48
            if v > 40:
                v -= 8
            head = (head << 6) | (v & 63)
        head <<= 6 * (8 - n)  # 48 bits: the first 8 characters, zeros past the end
        kind = head >> 42
        mmsi = (head >> 10) & ((1 << 30) - 1)
        status = -1
        if 1 <= kind <= 3 and n >= 7:
            status = (head >> 6) & 15
        elif kind == 27 and n >= 8:
            status = (head >> 4) & 15
        hit = n >= 1 and kind == SAFETY_TEXT_TYPE
        for p in prefixes:
            hit = hit or (n >= 7 and mmsi // 1_000_000 == p)
        for s in statuses:
            hit = hit or status == s
        out[i] = hit


def distress_headers(batch: MessageBatch) -> np.ndarray:
    """Which messages of ``batch`` may be distress evidence, from their headers alone (no decoding): a
    micro-batch holding one closes at once instead of at the end of its window (engine/stream.py)."""
    out = np.zeros(len(batch), np.bool_)
    if len(batch):
        _distress_headers(batch.payload, batch.start, batch.length.astype(np.int64), _STATUSES, _PREFIXES, out)
    return out


class DistressFastPath:
    """Announces the distress alerts of the rows waiting in ``engine`` and withdraws announcements proved wrong."""

    def __init__(self, engine: Engine, detector: DistressDetector) -> None:
        self.engine, self.detector = engine, detector
        self.open: set[str] = set()  # announced ids the engine does not hold yet

    @classmethod
    def of(cls, engine: Engine) -> DistressFastPath | None:
        """The fast path of ``engine``'s distress detector, resumed from the engine's state; None without one."""
        found = [d for d in engine.detectors if isinstance(d, DistressDetector)]
        if not found:
            return None
        fast = cls(engine, found[0])
        fast.resume()
        return fast

    def resume(self) -> None:
        """The open ids of the engine's present state (after a restore: the ones announced before the snapshot)."""
        self.open = self.engine.book.missing(self._announce()["alert_id"].to_list())

    def after_step(self, alerts: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
        """``alerts`` (the engine's new or changed alerts of a step) with the announcements, which replace the
        engine's version of the same alert; and the ids to withdraw."""
        announced = self._announce()
        ids = announced["alert_id"].to_list()
        withdrawn = sorted(self.engine.book.missing(self.open.difference(ids)))
        self.open = self.engine.book.missing(ids)
        if not announced.height:
            return alerts, withdrawn
        kept = alerts.filter(~pl.col("alert_id").is_in(announced["alert_id"].implode()))
        return pl.concat([kept, announced], how="vertical"), withdrawn

    def _announce(self) -> pl.DataFrame:
        step = self.engine.waiting(may_be_evidence())
        if not (len(step.fixes) or step.events.height):
            return empty_alerts()
        frames = self.detector.foresee(step)
        return pl.concat(frames, how="vertical") if frames else empty_alerts()
