from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Pupil, School
from app.pupils.credentials import verify_password
from tests.fixtures.app import TokenFactory


async def test_create_a_pupil_in_bands_with_a_generated_username(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    band = (await client.post(f"/v1/schools/{school.id}/bands", json={"name": "4B"}, headers=auth(school.id))).json()
    base = f"/v1/schools/{school.id}/pupils"
    body = {"first_name": "Zoë", "last_name": "O'Brien", "year_group": 4, "band_ids": [band["id"]]}
    first = await client.post(base, json=body, headers=auth(school.id))
    assert first.status_code == 201
    assert first.json()["username"] == "zoe.obrien"
    second = await client.post(base, json=body, headers=auth(school.id))
    assert second.json()["username"] == "zoe.obrien2"
    in_band = (await client.get(base, params={"band_id": band["id"]}, headers=auth(school.id))).json()
    assert in_band["total"] == 2


async def test_update_keeps_the_username(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    pupil = (await client.post(base, json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id))).json()
    updated = await client.patch(
        f"{base}/{pupil['id']}", json={"first_name": "Amelia", "external_id": "A-1"}, headers=auth(school.id)
    )
    assert updated.status_code == 200
    assert (updated.json()["first_name"], updated.json()["username"]) == ("Amelia", "amy.jones")
    fetched = await client.get(f"{base}/{pupil['id']}", headers=auth(school.id))
    assert fetched.json()["external_id"] == "A-1"


async def test_external_ids_are_unique_per_school(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    body = {"first_name": "Amy", "last_name": "Jones", "external_id": "A-1"}
    assert (await client.post(base, json=body, headers=auth(school.id))).status_code == 201
    clash = await client.post(base, json=body, headers=auth(school.id))
    assert clash.status_code == 409
    assert clash.json()["error"] == "ExternalIdTaken"


async def test_pupil_input_is_validated(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    unknown_band = {"first_name": "A", "last_name": "B", "band_ids": ["00000000-0000-0000-0000-000000000000"]}
    response = await client.post(base, json=unknown_band, headers=auth(school.id))
    assert response.status_code == 404
    assert response.json()["error"] == "BandNotFound"
    for body in (
        {"first_name": "A"},
        {"first_name": "A", "last_name": "B", "year_group": -3},
        {"first_name": " ", "last_name": "B"},
    ):
        bad = await client.post(base, json=body, headers=auth(school.id))
        assert bad.status_code == 422, body


async def test_pagination_walks_every_pupil_once(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    for i in range(7):
        await client.post(base, json={"first_name": f"P{i}", "last_name": "Same"}, headers=auth(school.id))
    seen: list[str] = []
    for page in (1, 2, 3):
        body = (await client.get(base, params={"page": page, "per_page": 3}, headers=auth(school.id))).json()
        assert body["total"] == 7
        seen += [p["id"] for p in body["items"]]
    assert len(seen) == len(set(seen)) == 7


async def test_a_password_reset_is_shown_once_and_stored_as_a_hash(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    pupil = (await client.post(base, json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id))).json()
    reset = await client.post(f"{base}/{pupil['id']}/password", headers=auth(school.id))
    assert reset.status_code == 200
    body = reset.json()
    assert body["username"] == "amy.jones"
    assert body["password"][-3:].isdigit()
    teacher = await client.post(f"{base}/{pupil['id']}/password", headers=auth(school.id, role="teacher"))
    assert teacher.status_code == 403
    stored = await session.get(Pupil, uuid.UUID(pupil["id"]))
    assert stored is not None
    assert stored.password_hash is not None
    assert body["password"] not in stored.password_hash
    assert verify_password(stored.password_hash, body["password"])
