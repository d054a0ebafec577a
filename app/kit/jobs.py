"""Our own job facade over arq.

Jobs are collected on the session and sent only after its transaction commits, so a worker never
sees an id whose row is not yet visible, and a rolled-back request sends nothing. Keeping every
enqueue behind this one module keeps the queue replaceable (arq is in maintenance mode upstream).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job as ArqJob
from sqlalchemy.ext.asyncio import AsyncSession

_PENDING = "bandsync_pending_jobs"

# arq's JobStatus values.
JobState = Literal["deferred", "queued", "in_progress", "complete", "not_found"]


@dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...] = ()
    # A per-school job id makes arq drop a second copy while the first is queued or running.
    job_id: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def enqueue(session: AsyncSession, function: str, *args: Any, job_id: str | None = None, **kwargs: Any) -> None:
    """Schedule a job to be sent once ``session`` commits. Jobs take ids, never ORM objects."""
    session.info.setdefault(_PENDING, []).append(Job(function, args, job_id, kwargs))


def take_pending(session: AsyncSession) -> list[Job]:
    jobs: list[Job] = session.info.pop(_PENDING, [])
    return jobs


class JobQueue:
    """Sends jobs to the arq queue the workers listen on."""

    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def send(self, jobs: list[Job]) -> None:
        for job in jobs:
            await self.redis.enqueue_job(
                job.function, *job.args, _job_id=job.job_id, _queue_name=self.queue_name, **job.kwargs
            )

    async def state(self, job_id: str) -> JobState:
        """Where a job is: waiting in the queue, being run, finished (its result kept), or gone."""
        status = await ArqJob(job_id, self.redis, _queue_name=self.queue_name).status()
        return status.value

    async def forget(self, job_id: str) -> None:
        """Drop what is left of a job that is neither queued nor running (a finished job's kept result,
        a job key no queue points at), so the same job id can be sent again."""
        await self.redis.delete(result_key_prefix + job_id, job_key_prefix + job_id)
