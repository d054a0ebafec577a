"""One transaction per request or job, over real PostgreSQL and Redis: the work commits once, and the
jobs it enqueued are sent only after that commit; an exception, or a commit that fails, rolls back and
sends nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.kit.jobs import JobQueue, JobSpec, enqueue, take_pending
from app.kit.unit_of_work import unit_of_work
from app.models import School
from tests.fixtures.database import Committed

# The ping job under an id prefix of its own, so these tests' jobs are never mistaken for a real ping.
UOW = JobSpec("ping_school", "uow")


def _school_id(committed: Committed) -> str:
    return committed.track(f"uow-{uuid.uuid4().hex[:8]}")


async def _exists(committed: Committed, school_id: str) -> bool:
    async with committed.sessionmaker() as session:
        return await session.scalar(select(School.id).where(School.id == school_id)) is not None


async def test_the_work_commits_then_its_jobs_are_sent(committed: Committed, queue: JobQueue) -> None:
    school_id = _school_id(committed)
    async with unit_of_work(committed.sessionmaker, queue) as session:
        session.add(School(id=school_id, name="Committed Primary"))
        enqueue(session, UOW, school_id)
        await session.flush()
        # Not yet: nothing is committed, nothing is sent.
        assert not await _exists(committed, school_id)
        assert await queue.state(f"uow:{school_id}") == "not_found"
    assert await _exists(committed, school_id)
    assert await queue.state(f"uow:{school_id}") == "queued"
    assert await _queued(queue) == [f"uow:{school_id}".encode()]


async def test_an_exception_rolls_back_and_sends_nothing(committed: Committed, queue: JobQueue) -> None:
    school_id = _school_id(committed)
    with pytest.raises(RuntimeError, match="half-way"):
        async with unit_of_work(committed.sessionmaker, queue) as session:
            session.add(School(id=school_id, name="Rolled Back Primary"))
            enqueue(session, UOW, school_id)
            await session.flush()
            raise RuntimeError("half-way")
    assert not await _exists(committed, school_id)
    assert await queue.state(f"uow:{school_id}") == "not_found"
    assert await _queued(queue) == []


async def test_a_commit_that_fails_sends_nothing(committed: Committed, queue: JobQueue) -> None:
    school_id = _school_id(committed)
    async with committed.sessionmaker() as session:
        session.add(School(id=school_id, name="Already Here"))
        await session.commit()
    with pytest.raises(IntegrityError):
        async with unit_of_work(committed.sessionmaker, queue) as session:
            session.add(School(id=school_id, name="A Second With The Same Id"))  # fails at the commit's flush
            enqueue(session, UOW, school_id)
    assert await queue.state(f"uow:{school_id}") == "not_found"
    async with committed.sessionmaker() as session:
        kept = await session.get(School, school_id)
    assert kept is not None
    assert kept.name == "Already Here"


async def test_without_a_queue_the_work_commits_and_its_jobs_are_dropped(committed: Committed, queue: JobQueue) -> None:
    school_id = _school_id(committed)
    async with unit_of_work(committed.sessionmaker, None) as session:
        session.add(School(id=school_id, name="Queueless Primary"))
        enqueue(session, UOW, school_id)
    assert await _exists(committed, school_id)
    assert take_pending(session) == []  # taken, not left for a later commit
    assert await queue.state(f"uow:{school_id}") == "not_found"


async def _queued(queue: JobQueue) -> list[bytes]:
    """The ids of the jobs waiting in the queue."""
    return list(await queue.redis.zrange(queue.queue_name, 0, -1))
