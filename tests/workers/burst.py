"""Running a real arq worker in burst mode inside a test: it drains the queue, then returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

from app.config import Settings
from workers.settings import WorkerSettings


def burst_worker(settings: Settings, functions: list[Callable[..., Any]] | None = None) -> Worker:
    """A worker with the real start-up (``workers.context``, run once however often it is started)
    whose ``main()`` drains the queue named in ``settings`` and returns; ``close()`` it at the end."""
    started = False

    async def startup_once(ctx: dict[str, Any]) -> None:
        nonlocal started
        if not started:
            await WorkerSettings.on_startup(ctx)
            started = True

    return Worker(
        functions=functions if functions is not None else list(WorkerSettings.functions),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=startup_once,
        on_shutdown=WorkerSettings.on_shutdown,
        ctx={"settings": settings},
        burst=True,
        poll_delay=0.02,
        handle_signals=False,
    )


async def run_burst_worker(settings: Settings, functions: list[Callable[..., Any]]) -> None:
    """Run the given job functions until the queue named in ``settings`` is empty."""
    worker = burst_worker(settings, functions)
    try:
        await worker.main()
    finally:
        await worker.close()
