"""The read job through the real queue: ``start_read`` enqueues after commit, an arq worker built from
``WorkerSettings``' own context reads the school from the sandbox, and the run records the outcome."""

from __future__ import annotations

import uuid

import httpx
from arq.connections import ArqRedis

from app.config import Settings, WondeSettings
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.mirror.service import start_read
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.database import Committed
from tests.fixtures.worker import run_burst_worker
from workers import jobs


async def test_a_queued_read_is_carried_out_by_a_worker(
    committed: Committed, settings: Settings, sandbox: SandboxServer
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        wonde_school = (
            await admin.post("/schools/generate", json={"phase": "primary", "pupils": 120, "seed": 5})
        ).json()
    worker_settings = settings.model_copy(
        update={"wonde": WondeSettings(base_url=sandbox.base_url), "queue_name": f"{settings.queue_name}:read"}
    )
    school_id = committed.track(f"job-{uuid.uuid4().hex[:8]}")
    school = School(
        id=school_id,
        name="Job Primary",
        urn=wonde_school["urn"],
        wonde_school_id=wonde_school["school_id"],
        wonde_domain=sandbox.domain,
        wonde_token_encrypted=SecretBox(settings.encryption_key).encrypt(wonde_school["token"]),
    )
    redis = ArqRedis.from_url(settings.redis_url)
    try:
        async with unit_of_work(committed.sessionmaker, JobQueue(redis, worker_settings.queue_name)) as session:
            session.add(school)
            await session.flush()
            run = await start_read(session, school_id, kind=RunKind.FULL_READ, trigger=RunTrigger.MANUAL)
        await run_burst_worker(worker_settings, [jobs.read_school])
    finally:
        await redis.aclose()
    async with committed.sessionmaker() as session:
        finished = await session.get(SyncRun, run.id)
    assert finished is not None
    assert finished.status == "succeeded", finished.error
    assert finished.counts["students"]["inserted"] == 120
