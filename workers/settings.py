"""arq ``WorkerSettings``: run with ``arq workers.settings.WorkerSettings`` (``make worker``).

Its functions and cron jobs are ``app.kit.jobs``' table, each registered under the table's name and
bound to its function by ``workers.jobs``."""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar, cast

from arq.connections import RedisSettings
from arq.cron import cron
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import func

from app.config import get_settings
from app.kit.jobs import CRONS, JOBS
from workers import context
from workers.jobs import CRON_FUNCTIONS, FUNCTIONS

_settings = get_settings()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [func(cast(WorkerCoroutine, FUNCTIONS[spec]), name=spec.name) for spec in JOBS]
    cron_jobs: ClassVar[list[Any]] = [
        cron(
            cast(WorkerCoroutine, CRON_FUNCTIONS[spec]),
            name=spec.name,
            minute=set(spec.minute),
            hour=set(spec.hour) if spec.hour is not None else None,
            unique=True,
            run_at_startup=spec.run_at_startup,
        )
        for spec in CRONS
    ]
    # arq types ``ctx`` as a plain dict; our hooks and jobs read the same dict as a ``JobContext``.
    on_startup: ClassVar[StartupShutdown] = cast(StartupShutdown, context.startup)
    on_shutdown: ClassVar[StartupShutdown] = cast(StartupShutdown, context.shutdown)
    # Cron hours are UTC (``CronSpec.hour``), whatever the machine's time zone.
    timezone = UTC
    redis_settings = RedisSettings.from_dsn(_settings.redis_url)
    queue_name = _settings.queue_name
    max_jobs = 4
    job_timeout = 30 * 60
    keep_result = 3600
