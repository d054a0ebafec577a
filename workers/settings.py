"""arq ``WorkerSettings``: run with ``arq workers.settings.WorkerSettings`` (``make worker``)."""

from __future__ import annotations

from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.cron import cron

from app.config import get_settings
from workers import context, jobs

_settings = get_settings()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        jobs.ping_school,
        jobs.read_school,
        jobs.process_webhook,
        jobs.revoke_wonde_access,
        jobs.merge_school,
        jobs.sync_school,
    ]
    cron_jobs: ClassVar[list[Any]] = [
        cron(jobs.expire_credentials, minute=17, unique=True),
        cron(jobs.nightly_syncs, minute={0, 15, 30, 45}, unique=True),
        # At start-up too: after a deploy or a Redis restart, lost jobs are sent again without waiting.
        cron(jobs.recover_runs, minute=set(range(2, 60, 5)), unique=True, run_at_startup=True),
    ]
    on_startup = context.startup
    on_shutdown = context.shutdown
    redis_settings = RedisSettings.from_dsn(_settings.redis_url)
    queue_name = _settings.queue_name
    max_jobs = 4
    job_timeout = 30 * 60
    keep_result = 3600
