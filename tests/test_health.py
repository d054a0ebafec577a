from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_checks_postgres_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgresql": "ok", "redis": "ok"}


async def test_readyz_is_503_when_redis_does_not_answer(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app: FastAPI = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["postgresql"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


async def test_request_id_is_echoed_or_made_up(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_unknown_route_uses_the_error_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "Not Found"}
