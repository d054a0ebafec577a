"""What every job gets in ``ctx``, built once per worker: settings, a session factory, the job queue,
the process-wide Wonde client and the box that decrypts school tokens."""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.logging import configure_logging
from app.wonde.client import WondeClient, create_http_client


class JobContext(TypedDict):
    """arq's ``ctx`` dict: arq's own keys, then ours, set by ``startup`` (``settings`` may be given
    beforehand, as the tests do)."""

    redis: ArqRedis
    # Set by arq for each job (absent at start-up and shutdown).
    job_id: NotRequired[str]
    job_try: NotRequired[int]
    enqueue_time: NotRequired[datetime]
    score: NotRequired[int]
    settings: Settings
    engine: AsyncEngine
    http: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    # Jobs may enqueue follow-up jobs through the same facade as requests do.
    queue: JobQueue
    wonde: WondeClient
    secret_box: SecretBox


async def startup(ctx: JobContext) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    configure_logging(settings.log_level)
    engine = create_engine(settings.database_url)
    http = create_http_client(settings.wonde.timeout_seconds)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["http"] = http
    ctx["sessionmaker"] = create_sessionmaker(engine)
    ctx["queue"] = JobQueue(ctx["redis"], settings.queue_name)
    ctx["wonde"] = WondeClient.from_settings(settings.wonde, http)
    ctx["secret_box"] = SecretBox(settings.encryption_key)


async def shutdown(ctx: JobContext) -> None:
    await ctx["http"].aclose()
    await ctx["engine"].dispose()
