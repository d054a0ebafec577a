"""Every response that carries a password is marked ``Cache-Control: no-store``, so no browser, proxy or
cache keeps a child's password. The routes are found in the OpenAPI document (any response whose schema
has a ``password`` field), so a new one cannot be missed; each is then called, in every format."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.main import create_app
from app.models import School, SyncRun
from tests.fixtures.app import TokenFactory

CREDENTIALS = ("GET", "/v1/schools/{school_id}/runs/{run_id}/credentials")
RESET = ("POST", "/v1/schools/{school_id}/pupils/{pupil_id}/password")


def _has_password(schema: Any, components: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    if isinstance(schema, dict):
        if ref := schema.get("$ref"):
            name = ref.rsplit("/", 1)[-1]
            return name not in seen and _has_password(components[name], components, seen | {name})
        if "password" in schema.get("properties", {}):
            return True
        return any(_has_password(value, components, seen) for value in schema.values())
    if isinstance(schema, list):
        return any(_has_password(value, components, seen) for value in schema)
    return False


def test_the_responses_that_carry_a_password_are_these() -> None:
    document = create_app(Settings()).openapi()
    components = document["components"]["schemas"]
    found = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2") and _has_password(response.get("content", {}), components)
    }
    assert found == {CREDENTIALS, RESET}


async def test_each_says_no_store_in_every_format(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    run = SyncRun(school_id=school.id, kind="merge", trigger="manual", status="succeeded")
    session.add(run)
    await session.commit()
    for format in ("csv", "json", "pdf"):
        response = await client.get(
            f"/v1/schools/{school.id}/runs/{run.id}/credentials", params={"format": format}, headers=auth(school.id)
        )
        assert response.status_code == 200, format
        assert response.headers["cache-control"] == "no-store", format
    pupil = await client.post(
        f"/v1/schools/{school.id}/pupils", json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id)
    )
    reset = await client.post(f"/v1/schools/{school.id}/pupils/{pupil.json()['id']}/password", headers=auth(school.id))
    assert reset.status_code == 200
    assert reset.headers["cache-control"] == "no-store"
