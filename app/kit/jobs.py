"""Our own job facade over arq, and the table of every job the workers run.

Jobs are collected on the session and sent only after its transaction commits, so a worker never
sees an id whose row is not yet visible, and a rolled-back request sends nothing. Keeping every
enqueue behind this one module keeps the queue replaceable (arq is in maintenance mode upstream).

The table is plain data: a job's name and the prefix of its ids. Both are written into Redis with
every queued job, so they never change (a job queued before a deploy is run by the workers after
it). Which function carries out each job is ``workers.jobs.FUNCTIONS``: ``kit`` knows no domain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job as ArqJob
from sqlalchemy.ext.asyncio import AsyncSession

_PENDING = "bandsync_pending_jobs"

# arq's JobStatus values.
JobState = Literal["deferred", "queued", "in_progress", "complete", "not_found"]


@dataclass(frozen=True)
class JobSpec:
    """One kind of job: the name of the worker function that carries it out, and the prefix of its
    job ids. A job takes one key (the id of its run or event), and its id is ``prefix:key``: arq drops
    a second copy of a job id while the first is queued or running."""

    name: str
    prefix: str

    def job_id(self, key: uuid.UUID | str) -> str:
        return f"{self.prefix}:{key}"


PING = JobSpec("ping_school", "ping")
READ = JobSpec("read_school", "read")
WEBHOOK = JobSpec("process_webhook", "webhook")
REVOKE = JobSpec("revoke_wonde_access", "revoke")
MERGE = JobSpec("merge_school", "merge")
SYNC = JobSpec("sync_school", "sync")
JOBS = (PING, READ, WEBHOOK, REVOKE, MERGE, SYNC)


@dataclass(frozen=True)
class CronSpec:
    """A job the workers start themselves at the given minutes of every hour, or of the given hours (UTC)
    only (one worker of many, as arq's cron jobs are unique); ``name`` is arq's name for it, and the
    prefix of its job ids."""

    name: str
    minute: frozenset[int]
    run_at_startup: bool = False
    hour: frozenset[int] | None = None  # None: every hour


EXPIRE_CREDENTIALS = CronSpec("cron:expire_credentials", frozenset({17}))
NIGHTLY_SYNCS = CronSpec("cron:nightly_syncs", frozenset({0, 15, 30, 45}))
# At start-up too: after a deploy or a Redis restart, lost jobs are sent again without waiting.
RECOVER_RUNS = CronSpec("cron:recover_runs", frozenset(range(2, 60, 5)), run_at_startup=True)
# Once a day, at 00:41 UTC: before the nightly syncs (02:00-05:00 school-local) and clear of the other crons.
APPLY_RETENTION = CronSpec("cron:apply_retention", frozenset({41}), hour=frozenset({0}))
CRONS = (EXPIRE_CREDENTIALS, NIGHTLY_SYNCS, RECOVER_RUNS, APPLY_RETENTION)


@dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...] = ()
    job_id: str | None = None


def enqueue(session: AsyncSession, spec: JobSpec, key: uuid.UUID | str) -> None:
    """Schedule ``spec``'s job for ``key`` (a run's or an event's id) to be sent once ``session``
    commits. Jobs take ids, never ORM objects."""
    session.info.setdefault(_PENDING, []).append(Job(spec.name, (str(key),), spec.job_id(key)))


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
            await self.redis.enqueue_job(job.function, *job.args, _job_id=job.job_id, _queue_name=self.queue_name)

    async def state(self, job_id: str) -> JobState:
        """Where a job is: waiting in the queue, being run, finished (its result kept), or gone."""
        status = await ArqJob(job_id, self.redis, _queue_name=self.queue_name).status()
        return status.value

    async def forget(self, job_id: str) -> None:
        """Drop what is left of a job that is neither queued nor running (a finished job's kept result,
        a job key no queue points at), so the same job id can be sent again."""
        await self.redis.delete(result_key_prefix + job_id, job_key_prefix + job_id)
