"""Liveness and readiness for the orchestrator: /healthz says the process answers, /readyz that
PostgreSQL and Redis answer too."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


async def _check_database(request: Request) -> None:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_redis(request: Request) -> None:
    await request.app.state.queue.redis.ping()


@router.get(
    "/readyz", response_model=Health, responses={503: {"model": Health, "description": "A dependency does not answer"}}
)
async def readyz(request: Request) -> Health | JSONResponse:
    checks: dict[str, str] = {}
    for name, check in (("postgresql", _check_database), ("redis", _check_redis)):
        try:
            await asyncio.wait_for(check(request), timeout=_CHECK_TIMEOUT_SECONDS)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the name of it helps the operator
            checks[name] = f"unavailable: {type(exc).__name__}"
    if all(value == "ok" for value in checks.values()):
        return Health(status="ok", checks=checks)
    return JSONResponse(Health(status="unavailable", checks=checks).model_dump(), status_code=503)
