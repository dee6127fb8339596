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

import polars as pl

from engine.alerts import empty_alerts
from engine.detectors.distress import DistressDetector, may_be_evidence
from engine.runner import Engine


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
