"""The revision cache: entries per key and revision, bounded by age and count, one build per key at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.cache import RevisionCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_serves_its_revision_until_it_is_too_old() -> None:
    clock = Clock()
    cache = RevisionCache(max_entries=4, max_age=2.0, clock=clock)
    builds: list[str] = []

    async def get(key: str, revision: int) -> str:
        return str(await cache.get(key, revision, lambda: builds.append(key) or f"{key}@{revision}"))

    async def scenario() -> None:
        assert await get("a", 1) == "a@1"
        assert await get("a", 1) == "a@1"
        assert await get("b", 1) == "b@1"  # another key is another entry
        assert await get("a", 2) == "a@2"  # a new revision is a miss
        clock.now = 2.0
        assert await get("a", 2) == "a@2"  # too old: built again

    asyncio.run(scenario())
    assert builds == ["a", "b", "a", "a"]
    assert (cache.hits, cache.misses) == (1, 4)


def test_least_recently_used_entries_go_first() -> None:
    cache = RevisionCache(max_entries=2, max_age=60.0, clock=Clock())

    async def scenario() -> None:
        for key in ("a", "b", "a", "c"):  # "a" used again: "b" is the oldest when "c" comes
            await cache.get(key, 0, lambda k=key: k)

    asyncio.run(scenario())
    assert len(cache) == 2
    assert cache.lookup("a", 0) == (True, "a") and cache.lookup("c", 0) == (True, "c")
    assert cache.lookup("b", 0) == (False, None)


def test_concurrent_misses_share_one_build_and_failures_are_not_kept() -> None:
    cache = RevisionCache(max_entries=4, max_age=60.0, clock=Clock())
    release = threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        release.wait(5)
        return "page"

    def broken() -> str:
        raise RuntimeError("database gone")

    async def scenario() -> None:
        waiting = [asyncio.ensure_future(cache.get("k", 0, slow)) for _ in range(10)]
        await asyncio.sleep(0.05)
        release.set()
        assert await asyncio.gather(*waiting) == ["page"] * 10
        with pytest.raises(RuntimeError, match="database gone"):
            await cache.get("x", 0, broken)
        assert cache.lookup("x", 0) == (False, None)

    asyncio.run(scenario())
    assert len(calls) == 1


def test_max_age_zero_caches_nothing() -> None:
    cache = RevisionCache(max_entries=4, max_age=0.0, clock=Clock())
    calls: list[int] = []

    async def scenario() -> None:
        for _ in range(3):
            await cache.get("k", 0, lambda: calls.append(1) or "v")

    asyncio.run(scenario())
    assert len(calls) == 3 and len(cache) == 0


def test_an_entry_in_use_is_rebuilt_in_the_background_before_it_is_too_old() -> None:
    """Past REFRESH_AT (3/4) of its age an entry is due: refresh() rebuilds it while the old value still serves,
    the new value is dated from its build's start, and no second rebuild starts while one runs; a new revision is
    still a miss."""
    clock = Clock()
    cache = RevisionCache(max_entries=4, max_age=2.0, clock=clock)
    release = threading.Event()
    versions = iter(["v1", "v2"])

    def build() -> str:
        release.wait(5)
        return next(versions)

    async def scenario() -> None:
        release.set()
        assert await cache.get("k", 0, build) == "v1"
        clock.now = 1.4
        assert not cache.due("k", 0)
        clock.now = 1.5
        assert cache.due("k", 0)
        release.clear()
        cache.refresh("k", 0, build)
        assert not cache.due("k", 0), "one rebuild at a time"
        cache.refresh("k", 0, lambda: pytest.fail("a second rebuild started"))
        assert cache.lookup("k", 0) == (True, "v1"), "the old value serves while the rebuild runs"
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if cache.lookup("k", 0) == (True, "v2"):
                break
        assert cache.lookup("k", 0) == (True, "v2")
        clock.now = 3.4  # 1.9 s after the rebuild began: still fresh (the first build would be too old)
        assert cache.lookup("k", 0) == (True, "v2")
        assert cache.lookup("k", 1) == (False, None)

    asyncio.run(scenario())
