"""The FastAPI application: ``create_app()`` and the lifespan that owns its connections."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis
from fastapi import APIRouter, FastAPI

from app import health, metrics
from app.bands.endpoints import router as bands_router
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.errors import install_error_handlers
from app.kit import cpu
from app.kit.access_log import AccessLogMiddleware
from app.kit.body_limit import BodyLimitMiddleware, document_body_limit
from app.kit.jobs import JobQueue
from app.kit.logging import configure_logging
from app.kit.request_id import RequestIdMiddleware
from app.kit.unit_of_work import UnitOfWorkRoute
from app.pupils.endpoints import router as pupils_router
from app.roster.endpoints import router as roster_router
from app.schools.endpoints import router as schools_router
from app.sync.connection.endpoints import router as connection_router
from app.sync.erasure.endpoints import router as erasure_router
from app.sync.journal.endpoints import router as journal_router
from app.sync.login_details.endpoints import router as login_details_router
from app.sync.mirror.quality.endpoints import router as data_quality_router
from app.sync.onboarding.endpoints import router as onboarding_router
from app.sync.reconcile.endpoints import router as reconcile_router
from app.sync.runs.endpoints import router as runs_router
from app.sync.state import cached
from app.webhooks.endpoints import router as webhooks_router

API_VERSION = "0.1.0"
V1_PREFIX = "/v1"
# Imported once by the process pool's fork server, so each pool process starts ready.
CPU_PRELOAD = ("app.sync.core.matching",)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings.database_url)
    # No ping here: the service starts (and /healthz answers) even while Redis is down; /readyz tells.
    redis = ArqRedis.from_url(settings.redis_url)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.queue = JobQueue(redis, settings.queue_name)
    app.state.metrics = metrics.MeasurementCache()  # this process's /metrics counts, at most 15 s old
    try:
        # The matcher runs in a process pool (the loop keeps answering); what the uploader computes is
        # kept under the school's state version (app/sync/state/cached.py).
        with cpu.running(preload=CPU_PRELOAD) as pool, cached.installed(redis, settings):
            await pool.start()
            _freeze_startup_objects()
            yield
    finally:
        await redis.aclose()
        await engine.dispose()


_frozen = False


def _freeze_startup_objects() -> None:
    """Leave what the process holds once started (modules, the app, its routes: ~200,000 objects) out of
    the garbage collector's full passes, which otherwise stall the event loop ~0.1 s each while a large
    school is read (bench/README.md, "API latency"). Once per process, after collecting what is garbage."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="bandsync",
        version=API_VERSION,
        description="Keeps an education app's bands and pupils in step with each school's MIS, read through Wonde.",
        lifespan=lifespan,
        # The interactive docs and the live document only where allowed (development by default);
        # app.openapi() still builds the document, for `bandsync openapi`.
        docs_url="/docs" if settings.docs_served else None,
        redoc_url="/redoc" if settings.docs_served else None,
        openapi_url="/openapi.json" if settings.docs_served else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Every body is limited before anything reads it; the roster upload has its own, larger limit.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path=[(V1_PREFIX + roster_router.prefix, settings.max_upload_bytes)],
    )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost, so the access line carries the request id
    app.include_router(health.router)
    app.include_router(metrics.router)
    v1 = APIRouter(prefix=V1_PREFIX, route_class=UnitOfWorkRoute)
    for router in (
        schools_router,
        bands_router,
        pupils_router,
        erasure_router,
        roster_router,
        runs_router,
        connection_router,
        onboarding_router,
        login_details_router,
        reconcile_router,
        journal_router,
        data_quality_router,
        webhooks_router,
    ):
        v1.include_router(router)
    app.include_router(v1)
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """Add to the generated OpenAPI document what middleware answers (the body limit's 413)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_body_limit(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
