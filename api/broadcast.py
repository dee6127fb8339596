"""Wakes the live streams of this process when the store commits alert changes.

The store is the source of truth: a woken stream reads what changed since its cursor (``Store.alerts_since``).
Other processes' commits wake them too, through the store's change follower (api/store/changes.py); streams also
poll on a timer, for a follower that is off or lost its database.
"""

from __future__ import annotations

import asyncio


class Broadcaster:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        """Thread-safe: called by the store from whichever thread wrote."""
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop has closed: the app is shutting down, nobody is listening
            return

    def _wake(self) -> None:
        for event in self._waiters:
            event.set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def close(self) -> None:
        self._wake()
