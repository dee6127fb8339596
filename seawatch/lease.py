"""One engine per bus consumer: a leader lease in a JetStream key-value bucket, and a standby that takes over.

``seawatch serve --feed nats://...`` holds the key ``<durable>`` of the bucket ``seawatch-leases`` before it
opens the engine's state. The bucket's entries live ``LEASE_S`` (the bucket's TTL); the leader renews its entry
every ``LEASE_S / 5`` with a compare-and-set on the revision it wrote. A second ``seawatch serve`` on the same
consumer finds the key taken and waits, loaded and ready (land index, models, store), trying every
``POLL_S``; when the leader dies its entry expires and the standby's create succeeds: it restores the snapshot
from the shared state folder and resumes the consumer from there (the bus holds everything after it), within
``LEASE_S + POLL_S`` plus the restore. A clean stop deletes the entry, so the standby does not wait for the TTL.

A leader that cannot renew (its entry taken by another: a pause longer than the TTL; or the server away longer
than the TTL) stops at once: two engines never write alerts from the same consumer for longer than a renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from feeds.nats import bus_address, one_per_consumer

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.kv import KeyValue

log = logging.getLogger("seawatch.lease")
BUCKET = "seawatch-leases"
# a dead leader is replaced within LEASE_S + POLL_S plus the standby's restore (issue 16: within 10 s); renewals
# every LEASE_S / 5 ride out a pause or a slow disk of a second or two (a longer one stops the leader)
LEASE_S = 3.0
POLL_S = 0.5


class LeaseLost(Exception):
    """This process no longer holds the leader lease."""


class Lease:
    """The leader lease of one bus consumer (``name``) for this process (``holder``)."""

    def __init__(self, servers: Sequence[str], name: str, holder: str | None = None, ttl_s: float = LEASE_S,
                 poll_s: float = POLL_S, stream: str | None = None) -> None:  # fmt: skip
        self.servers, self.name, self.ttl_s, self.poll_s = list(servers), name, ttl_s, poll_s
        self.stream = stream  # the bucket is made with as many replicas as this stream has (on a cluster: 3)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.revision = 0
        self.acquired_at = 0.0  # time.time() when this process became the leader
        self._nc: Client | None = None
        self._kv: KeyValue | None = None

    @classmethod
    def for_feeds(cls, urls: list[str]) -> Lease | None:
        """The lease of the first bus feed's consumer (on all the servers given for it), or None when no feed is on
        the bus."""
        bus = one_per_consumer([u for u in urls if u.lower().startswith("nats://")])
        if not bus:
            return None
        a = bus_address(bus[0])
        return cls(a.servers, f"{a.stream}-{a.durable}", stream=a.stream)

    async def _bucket(self) -> KeyValue:
        import nats
        from nats.js.errors import BucketNotFoundError

        if self._kv is None:
            self._nc = await nats.connect(self.servers, name="seawatch-lease", max_reconnect_attempts=-1)
            js = self._nc.jetstream()
            try:
                self._kv = await js.key_value(BUCKET)
            except BucketNotFoundError:
                # replicated as the stream is: a lease on one node of a cluster would stop the leader with that node
                replicas = 1
                if self.stream is not None:
                    with contextlib.suppress(nats.js.errors.NotFoundError):
                        replicas = (await js.stream_info(self.stream)).config.num_replicas or 1
                self._kv = await js.create_key_value(bucket=BUCKET, ttl=self.ttl_s, history=1, replicas=replicas)
        return self._kv

    async def acquire(self) -> None:
        """Wait until this process holds the lease (a standby waits here, saying whom for)."""
        import nats
        from nats.js.errors import KeyWrongLastSequenceError

        kv = await self._bucket()
        said = ""
        while True:
            try:
                self.revision = await kv.create(self.name, self.holder.encode())
                self.acquired_at = time.time()
                log.warning("leader of %s (lease held by %s)", self.name, self.holder)
                return
            except KeyWrongLastSequenceError:
                with contextlib.suppress(nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                    entry = await kv.get(self.name)
                    who = (entry.value or b"").decode()
                    if who != said:
                        log.warning("standby for %s: %s leads; waiting to take over", self.name, who)
                        said = who
            except (nats.errors.Error, OSError) as exc:
                log.warning("standby for %s: the lease bucket cannot be read (%s); trying again", self.name, exc)
            await asyncio.sleep(self.poll_s)

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew the lease until ``stop``; set ``stop`` and raise :class:`LeaseLost` when it cannot be renewed."""
        import nats

        kv = await self._bucket()
        renewed = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl_s / 5)
            if stop.is_set():
                return
            try:
                self.revision = await kv.update(self.name, self.holder.encode(), last=self.revision)
                renewed = time.monotonic()
            except nats.js.errors.KeyWrongLastSequenceError:
                stop.set()
                raise LeaseLost(f"the leader lease of {self.name} {await self._lost_to(kv)}; stopping") from None
            except (nats.errors.Error, OSError) as exc:
                if time.monotonic() - renewed >= self.ttl_s:
                    stop.set()
                    raise LeaseLost(f"the leader lease of {self.name} could not be renewed for {self.ttl_s:g} s "
                                    f"({exc}); stopping: a standby may have taken over") from None  # fmt: skip

    async def _lost_to(self, kv: KeyValue) -> str:
        """Why a renewal found another revision: the entry expired (this process paused longer than the lease) or
        another engine holds it (named), as far as the bucket can still be read."""
        import nats

        try:
            entry = await asyncio.wait_for(kv.get(self.name), self.ttl_s)  # the engine stops meanwhile: no longer
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return f"expired: this process was not heard for {self.ttl_s:g} s (a pause, an overloaded machine)"
        except (nats.errors.Error, OSError, TimeoutError):
            return "was taken by another engine"
        return f"was taken by another engine ({(entry.value or b'').decode() or 'unnamed'})"

    async def release(self) -> None:
        """Give the lease up (a clean stop): the standby takes over at its next try, not after the TTL."""
        import nats

        if self._kv is not None and self.revision:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._kv.delete(self.name, last=self.revision)
        if self._nc is not None:
            with contextlib.suppress(nats.errors.Error, OSError):
                await self._nc.close()
        self._nc, self._kv = None, None
