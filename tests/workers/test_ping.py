"""The job pipeline end to end over real Redis and a real arq worker: a request enqueues after its
commit, the worker opens its own unit of work, and the run records the outcome."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from arq.connections import ArqRedis
from fastapi import FastAPI

from app.config import Settings
from app.kit.jobs import PING, JobQueue, enqueue
from app.kit.unit_of_work import unit_of_work
from app.main import create_app
from app.models import Band, School
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.worker import run_burst_worker
from workers import jobs


@pytest.fixture
async def committed_school(committed: Committed) -> School:
    school = School(id=committed.track(f"ping-{uuid.uuid4().hex[:8]}"), name="Ping Primary")
    async with committed.sessionmaker() as session:
        session.add(school)
        await session.flush()
        session.add(Band(school_id=school.id, name="4B"))
        await session.commit()
    return school


@pytest.fixture
async def live_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_ping_is_queued_after_commit_and_completed_by_a_worker(
    live_app: FastAPI, settings: Settings, auth: TokenFactory, committed_school: School
) -> None:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        queued = await client.post(f"/v1/schools/{committed_school.id}/ping", headers=auth(committed_school.id))
        assert queued.status_code == 202
        run_id = queued.json()["id"]
        assert queued.json()["status"] == "queued"

        await run_burst_worker(settings, [jobs.ping_school])

        run = (
            await client.get(f"/v1/schools/{committed_school.id}/runs/{run_id}", headers=auth(committed_school.id))
        ).json()
    assert run["status"] == "succeeded"
    assert run["counts"] == {"bands": 1, "pupils": 0}
    assert run["finished_at"] is not None


async def test_a_rolled_back_unit_of_work_sends_no_job(committed: Committed, settings: Settings) -> None:
    redis = ArqRedis.from_url(settings.redis_url)
    queue = JobQueue(redis, f"{settings.queue_name}:rollback")
    try:
        with pytest.raises(RuntimeError):
            async with unit_of_work(committed.sessionmaker, queue) as session:
                enqueue(session, PING, "not-sent")
                raise RuntimeError("the request failed half-way")
        assert await redis.zcard(queue.queue_name) == 0

        async with unit_of_work(committed.sessionmaker, queue) as session:
            enqueue(session, PING, "sent")
        assert await redis.zcard(queue.queue_name) == 1
    finally:
        await redis.delete(queue.queue_name, "arq:job:ping:sent")
        await redis.aclose()
