"""The backtest's chunks drawn one ahead in a thread of their own (seawatch/backtest_job.py ``drawn_ahead``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from seawatch.backtest_job import drawn_ahead


def producer(n: int, drawn: list[tuple[int, str]], second_drawn: threading.Event, fail_at: int | None = None
             ) -> Iterator[int]:  # fmt: skip
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"bad chunk {i}")
        drawn.append((i, threading.current_thread().name))
        if i == 1:
            second_drawn.set()
        yield i


def test_the_next_item_is_drawn_while_the_caller_holds_this_one_and_the_order_is_kept() -> None:
    drawn: list[tuple[int, str]] = []
    second = threading.Event()
    got = []
    for item in drawn_ahead(producer(5, drawn, second)):
        if item == 0:  # drawn one ahead: the second item comes while the caller still works on the first
            assert second.wait(10)
        got.append(item)
    assert got == [0, 1, 2, 3, 4]
    assert all(name.startswith("seawatch-ahead") for _, name in drawn)


def test_one_thread_draws_in_the_callers_thread() -> None:
    drawn: list[tuple[int, str]] = []
    second = threading.Event()
    for item in drawn_ahead(producer(3, drawn, second), ahead=False):
        if item == 0:
            assert not second.is_set()
    assert {name for _, name in drawn} == {threading.current_thread().name}


@pytest.mark.parametrize("ahead", [True, False])
def test_an_error_comes_where_its_item_would_have(ahead: bool) -> None:
    got = []
    with pytest.raises(ValueError, match="bad chunk 2"):
        for item in drawn_ahead(producer(5, [], threading.Event(), fail_at=2), ahead):
            got.append(item)
    assert got == [0, 1]
