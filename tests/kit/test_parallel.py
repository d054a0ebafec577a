"""Work spread over every core (``app/kit/parallel.py``): results in order, and a failure drops the
calls not yet started rather than running the whole batch in the background."""

from __future__ import annotations

import threading

import pytest

from app.kit.parallel import cores, map_on_every_core


async def test_results_come_back_in_the_order_of_the_items() -> None:
    assert await map_on_every_core(lambda n: n * n, range(50)) == [n * n for n in range(50)]
    assert await map_on_every_core(str, []) == []


async def test_a_failure_is_raised_and_the_calls_not_yet_started_are_dropped() -> None:
    started: list[int] = []
    release = threading.Event()

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            raise ValueError("the first item fails")
        release.wait(timeout=10)  # the others hold their thread until the failure has been raised
        return item

    with pytest.raises(ValueError, match="the first item fails"):
        await map_on_every_core(work, range(100))
    release.set()
    # The failing thread may have taken one more item before the rest were dropped.
    assert len(started) <= cores() + 1
