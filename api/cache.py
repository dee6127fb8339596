"""A small LRU of computed responses, each valid for one store revision and at most ``max_age`` seconds.

Used from the event loop only (no lock): a miss runs ``build`` in the threadpool once, and every request for the
same key and revision that arrives meanwhile awaits that one build instead of starting its own, so a new revision
under load costs one query, not one per waiting client.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool


class RevisionCache:
    """``await cache.get(key, revision, build)``: the value built for ``key`` under ``revision``.

    An entry is used while the revision is the same and it is younger than ``max_age`` (the bound for writers the
    revision cannot see: another process writing to the same database). ``max_age=0`` turns caching off.
    """

    def __init__(self, max_entries: int, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries={max_entries}: keep at least one entry (max_age=0 turns caching off)")
        self.max_entries, self.max_age, self.clock = max_entries, max_age, clock
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        self._building: dict[tuple[Hashable, int], asyncio.Future[Any]] = {}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Hashable, revision: int) -> tuple[bool, Any]:
        """``(True, value)`` on a fresh entry, ``(False, None)`` otherwise; no await, no threadpool."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != revision or self.clock() - entry[1] >= self.max_age:
            return False, None
        self._entries.move_to_end(key)
        self.hits += 1
        return True, entry[2]

    async def get(self, key: Hashable, revision: int, build: Callable[[], Any]) -> Any:
        found, value = self.lookup(key, revision)
        if found:
            return value
        self.misses += 1
        pending = self._building.get((key, revision))
        if pending is None:
            built_at = self.clock()
            pending = asyncio.ensure_future(run_in_threadpool(build))
            self._building[(key, revision)] = pending
            pending.add_done_callback(lambda done: self._built(key, revision, built_at, done))
        # shielded: a client that goes away must not cancel the build the others are waiting for
        return await asyncio.shield(pending)

    def _built(self, key: Hashable, revision: int, built_at: float, done: asyncio.Future[Any]) -> None:
        self._building.pop((key, revision), None)
        if done.cancelled() or done.exception() is not None or self.max_age <= 0:
            return
        self._entries[key] = (revision, built_at, done.result())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
