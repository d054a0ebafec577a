"""What every job gets in ``ctx``: the settings and a session factory, built once per worker."""

from __future__ import annotations

from typing import Any

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.kit.jobs import JobQueue
from app.kit.logging import configure_logging


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    configure_logging(settings.log_level)
    engine = create_engine(settings.database_url)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["sessionmaker"] = create_sessionmaker(engine)
    # Jobs may enqueue follow-up jobs through the same facade as requests do.
    ctx["queue"] = JobQueue(ctx["redis"], settings.queue_name)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()
