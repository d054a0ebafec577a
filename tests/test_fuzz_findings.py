"""Inputs `make fuzz` found answered 400 (undocumented) or 500: each is now a documented 422."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import openapi_document
from app.models import School
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import small_school


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/schools"), ("POST", "/v1/schools/{school}/bands"), ("PATCH", "/v1/schools/{school}")],
)
async def test_a_body_that_is_not_utf8_is_a_validation_error(
    client: httpx.AsyncClient, school: School, auth: TokenFactory, method: str, path: str
) -> None:
    response = await client.request(
        method,
        path.format(school=school.id),
        content=b"\xff\x16S\xfe",
        headers={**auth(school.id), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ValidationError"
    assert body["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("action", ["approve", "reject", "accept-suggestion"])
@pytest.mark.parametrize("change_id", ["79879654650136321861877760", "0", "-1"])
async def test_a_change_id_outside_bigint_is_a_validation_error(
    client: httpx.AsyncClient, school: School, auth: TokenFactory, action: str, change_id: str
) -> None:
    response = await client.post(f"/v1/schools/{school.id}/held-changes/{change_id}/{action}", headers=auth(school.id))
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationError"


async def test_a_missing_change_is_still_not_found(
    client: httpx.AsyncClient, school: School, auth: TokenFactory
) -> None:
    response = await client.post(f"/v1/schools/{school.id}/held-changes/{2**63 - 1}/approve", headers=auth(school.id))
    assert response.status_code == 404
    assert set(response.json()) == {"error", "detail"}


async def test_a_link_without_a_pupil_is_the_documented_422(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """Found once `make fuzz` sent a real MIS student id: the 422 for a "link" without a pupil_id was an
    error body while the operation documented only FastAPI's validation error (a list in ``detail``)."""
    school = await small_school(session)
    await session.commit()
    response = await client.put(
        f"/v1/schools/{school.school_id}/uploader/pupils/S0",
        json={"resolution": "link", "pupil_id": None},
        headers=auth(school.school_id),
    )
    assert response.status_code == 422
    assert response.json() == {"error": "InvalidInput", "detail": 'A "link" needs the pupil_id of the account to link.'}
    operation = json.loads(openapi_document())["paths"]["/v1/schools/{school_id}/uploader/pupils/{wonde_student_id}"]
    documented = operation["put"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert documented == {"$ref": "#/components/schemas/ErrorResponse"}
