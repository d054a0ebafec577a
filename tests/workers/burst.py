"""Running a real arq worker in burst mode inside a test: it drains the queue, then returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

from app.config import Settings
from workers import context


async def run_burst_worker(settings: Settings, functions: list[Callable[..., Any]]) -> None:
    """Run the given job functions with the worker's real start-up (``workers.context``) until the
    queue named in ``settings`` is empty."""
    worker = Worker(
        functions=functions,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=context.startup,
        on_shutdown=context.shutdown,
        ctx={"settings": settings},
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
