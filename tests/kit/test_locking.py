"""The per-school lock, over real PostgreSQL: one transaction at a time per school, schools apart, and
released at commit or rollback."""

from __future__ import annotations

import asyncio

from app.kit.locking import lock_school
from tests.fixtures.database import Committed

WAIT = 0.3  # long enough for a lock that was free to have been taken


async def test_a_second_transaction_waits_for_the_school_until_the_first_commits(committed: Committed) -> None:
    async with committed.sessionmaker() as first, committed.sessionmaker() as second:
        await lock_school(first, "lock-a")
        waiting = asyncio.create_task(lock_school(second, "lock-a"))
        await asyncio.sleep(WAIT)
        assert not waiting.done()
        await first.commit()
        await asyncio.wait_for(waiting, timeout=10)
        await second.rollback()


async def test_a_rollback_releases_the_school_too(committed: Committed) -> None:
    async with committed.sessionmaker() as first, committed.sessionmaker() as second:
        await lock_school(first, "lock-b")
        waiting = asyncio.create_task(lock_school(second, "lock-b"))
        await asyncio.sleep(WAIT)
        assert not waiting.done()
        await first.rollback()
        await asyncio.wait_for(waiting, timeout=10)
        await second.rollback()


async def test_two_schools_are_locked_apart_and_a_holder_may_lock_again(committed: Committed) -> None:
    async with committed.sessionmaker() as first, committed.sessionmaker() as second:
        await lock_school(first, "lock-c")
        await asyncio.wait_for(lock_school(second, "lock-d"), timeout=WAIT * 10)
        await asyncio.wait_for(lock_school(first, "lock-c"), timeout=WAIT * 10)  # already its own
        await first.rollback()
        await second.rollback()
