"""A small LRU of computed responses, each valid for one store revision and at most ``max_age`` seconds.

Used from the event loop only (no lock): a miss runs ``build`` in the threadpool once, and every request for the
same key and revision that arrives meanwhile awaits that one build instead of starting its own, so a new revision
under load costs one query, not one per waiting client. An entry in use is rebuilt in the background once past
``REFRESH_AT`` of its age (:meth:`RevisionCache.refresh`), so that while the revision holds no request waits for
a build: at a million vessels a build (the count and the page) takes tens of milliseconds, and every request that
came during it waited that long (the p99 of GET /vessels under load).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool

ALIASES_PER_ENTRY = 4  # query strings remembered per entry kept: several spellings of one page (parameter order)
REFRESH_AT = 0.75  # of max_age: a rebuild then has a quarter of it (0.5 s by default) to finish before anyone waits


class RevisionCache:
    """``await cache.get(key, revision, build)``: the value built for ``key`` under ``revision``.

    An entry is used while the revision is the same and it is younger than ``max_age`` (the bound for writes the
    revision does not see: another process's, when changes are not followed, api/store/changes.py).
    ``max_age=0`` turns caching off.
    """

    def __init__(self, max_entries: int, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries={max_entries}: keep at least one entry (max_age=0 turns caching off)")
        self.max_entries, self.max_age, self.clock = max_entries, max_age, clock
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        self._building: dict[tuple[Hashable, int], asyncio.Future[Any]] = {}
        self._aliases: OrderedDict[Hashable, Any] = OrderedDict()
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

    def remember(self, alias: Hashable, value: Any) -> None:
        """Keep ``value`` (an entry's key and how to rebuild it) under ``alias`` (a request as it came: its query
        string), so that the next identical request finds its entry without being parsed again; bounded, LRU."""
        self._aliases[alias] = value
        self._aliases.move_to_end(alias)
        while len(self._aliases) > ALIASES_PER_ENTRY * self.max_entries:
            self._aliases.popitem(last=False)

    def alias(self, alias: Hashable) -> Any | None:
        """What :meth:`remember` kept under ``alias``, if anything."""
        value = self._aliases.get(alias)
        if value is not None:
            self._aliases.move_to_end(alias)
        return value

    def due(self, key: Hashable, revision: int) -> bool:
        """Whether the entry of ``key`` under ``revision`` is past ``REFRESH_AT`` of its age, with no rebuild running:
        time to :meth:`refresh` it (call after a :meth:`lookup` that found it)."""
        entry = self._entries.get(key)
        return (entry is not None and entry[0] == revision and (key, revision) not in self._building
                and self.clock() - entry[1] >= REFRESH_AT * self.max_age)  # fmt: skip

    def refresh(self, key: Hashable, revision: int, build: Callable[[], Any]) -> None:
        """Rebuild the entry of ``key`` in the background (the threadpool); the old value serves meanwhile, and the
        new one, dated from when its build began, replaces it. ``build`` must not use other entries of the cache
        (they may be as old as ``max_age``): the new value is to be as fresh as a miss's."""
        if (key, revision) not in self._building:
            self._start(key, revision, build)

    async def get(self, key: Hashable, revision: int, build: Callable[[], Any]) -> Any:
        found, value = self.lookup(key, revision)
        if found:
            return value
        self.misses += 1
        pending = self._building.get((key, revision)) or self._start(key, revision, build)
        # shielded: a client that goes away must not cancel the build the others are waiting for
        return await asyncio.shield(pending)

    def _start(self, key: Hashable, revision: int, build: Callable[[], Any]) -> asyncio.Future[Any]:
        built_at = self.clock()
        pending = asyncio.ensure_future(run_in_threadpool(build))
        self._building[(key, revision)] = pending
        pending.add_done_callback(lambda done: self._built(key, revision, built_at, done))
        return pending

    def _built(self, key: Hashable, revision: int, built_at: float, done: asyncio.Future[Any]) -> None:
        self._building.pop((key, revision), None)
        if done.cancelled() or done.exception() is not None or self.max_age <= 0:
            return
        self._entries[key] = (revision, built_at, done.result())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
