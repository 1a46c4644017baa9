"""The threads behind the status client's concurrent calls (`compensation.status.workers`)."""

from __future__ import annotations

import threading
import time

import pytest

from compensation.status.workers import Workers


def test_every_item_is_worked_once_by_at_most_the_threads_asked_for() -> None:
    running, most = 0, 0
    lock = threading.Lock()
    first_four = threading.Barrier(4, timeout=5)  # proves four run at once, whatever the load
    seen: list[int] = []

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            seen.append(item)
        if item < 4:
            first_four.wait()
        time.sleep(0.01)
        with lock:
            running -= 1
        return item * 10

    workers = Workers(work, list(range(40)), threads=4, name="t")
    results = list(workers.arriving())
    workers.stop()
    assert sorted(results) == [n * 10 for n in range(40)]
    assert sorted(seen) == list(range(40))
    assert most == 4


def test_results_are_handed_over_in_the_order_they_come() -> None:
    delays = {"slow": 0.3, "quick": 0.0}

    def work(item: str) -> str:
        time.sleep(delays[item])
        return item

    workers = Workers(work, ["slow", "quick"], threads=2, name="t")
    assert list(workers.arriving()) == ["quick", "slow"]
    workers.stop()


def test_an_items_exception_is_raised_in_the_callers_thread() -> None:
    worked: list[int] = []

    def work(item: int) -> int:
        if item == 2:
            raise ValueError("item 2 failed")
        worked.append(item)
        return item

    workers = Workers(work, [1, 2, 3], threads=1, name="t")
    arriving = workers.arriving()
    assert next(arriving) == 1
    with pytest.raises(ValueError, match="item 2 failed"):
        next(arriving)
    workers.stop()  # the caller leaves, as from any error of its own
    assert worked in ([1], [1, 3])  # item 3 only if its thread took it before the stop


def test_stop_takes_no_new_item_and_waits_for_those_started() -> None:
    started: list[int] = []
    finished: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        time.sleep(0.05)
        finished.append(item)
        return item

    workers = Workers(work, list(range(100)), threads=2, name="t")
    next(workers.arriving())
    workers.stop()
    assert sorted(finished) == sorted(started)  # nothing left running behind the caller
    assert 1 <= len(started) < 10  # the ones under way, not the hundred
    assert all(not t.is_alive() for t in threading.enumerate() if t.name.startswith("t-"))


def test_a_single_item_takes_one_thread() -> None:
    workers = Workers(lambda item: item + 1, [41], threads=32, name="one")
    assert list(workers.arriving()) == [42]
    workers.stop()
    assert len(workers._threads) == 1
