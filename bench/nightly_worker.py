"""The production ``WorkerSettings`` with two additions for ``bench.nightly``: every job's SQL statements
are counted (in the worker process, so they cannot be counted from outside) and written to Redis, and
the crons are off (the benchmark queues the night itself, and a cron firing mid-run would add noise).

    BANDSYNC_... .venv/bin/arq bench.nightly_worker.MeasuredWorkerSettings
"""

from __future__ import annotations

import contextvars
from typing import Any

from sqlalchemy import event

from workers.settings import WorkerSettings

# The statement counter of the job running in this task (arq runs each job in its own task).
_CURRENT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("bench_statements", default=None)


def counts_key(queue_name: str) -> str:
    """The Redis hash of job id -> SQL statements, one per benchmark queue (deleted by the benchmark)."""
    return f"{queue_name}:bench-sql"


def _count(*_: Any) -> None:
    counter = _CURRENT.get()
    if counter is not None:
        counter[0] += 1


async def _startup(ctx: dict[str, Any]) -> None:
    await WorkerSettings.on_startup(ctx)
    event.listen(ctx["engine"].sync_engine, "before_cursor_execute", _count)


async def _job_start(ctx: dict[str, Any]) -> None:
    counter = [0]
    ctx["bench_statements"] = counter
    _CURRENT.set(counter)


async def _job_end(ctx: dict[str, Any]) -> None:
    await ctx["redis"].hset(counts_key(ctx["settings"].queue_name), ctx["job_id"], ctx["bench_statements"][0])


# arq reads a settings class's own ``__dict__`` (no inheritance), so the production settings are copied.
MeasuredWorkerSettings = type(
    "MeasuredWorkerSettings",
    (),
    {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("__")}
    | {"cron_jobs": [], "on_startup": _startup, "on_job_start": _job_start, "on_job_end": _job_end},
)
