"""The application frame: the interactive docs and the OpenAPI document are served only where the
``api_docs`` setting allows (by default in development only); ``bandsync openapi`` writes the same
document whatever the setting."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app import cli
from app.config import Settings
from app.main import create_app
from tests.test_config import production

DOCS = ("/docs", "/redoc", "/openapi.json")


async def _statuses(app: FastAPI) -> dict[str, int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return {path: (await client.get(path)).status_code for path in DOCS}


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        (Settings(environment="development"), True),
        (Settings(environment="development", api_docs=False), False),
        (production(environment="staging"), False),
        (production(), False),
        (production(api_docs=True), True),
    ],
    ids=["development", "development-off", "staging", "production", "production-on"],
)
async def test_the_docs_are_served_only_where_the_setting_allows(settings: Settings, served: bool) -> None:
    statuses = await _statuses(create_app(settings))
    assert statuses == dict.fromkeys(DOCS, 200 if served else 404)


def test_bandsync_openapi_writes_the_document_with_the_docs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "get_settings", production)
    assert not production().docs_served
    assert cli.openapi_document() == cli.OPENAPI_PATH.read_text()
