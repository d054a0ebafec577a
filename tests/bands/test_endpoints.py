from __future__ import annotations

import uuid

import httpx

from app.models import School
from tests.fixtures.app import TokenFactory


async def test_create_list_get_update_a_band(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    base = f"/v1/schools/{school.id}/bands"
    created = await client.post(base, json={"name": "  4B ", "year_group": 4}, headers=auth(school.id))
    assert created.status_code == 201
    band = created.json()
    assert (band["name"], band["year_group"], band["source"], band["mis_class_id"]) == ("4B", 4, "app", None)
    await client.post(base, json={"name": "3A"}, headers=auth(school.id))
    listed = (await client.get(base, headers=auth(school.id))).json()
    assert [b["name"] for b in listed["items"]] == ["3A", "4B"]
    updated = await client.patch(f"{base}/{band['id']}", json={"name": "5B", "year_group": 5}, headers=auth(school.id))
    assert (updated.json()["name"], updated.json()["year_group"]) == ("5B", 5)
    fetched = await client.get(f"{base}/{band['id']}", headers=auth(school.id, role="teacher"))
    assert fetched.json()["name"] == "5B"


async def test_band_input_is_validated(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    base = f"/v1/schools/{school.id}/bands"
    for body in ({"name": ""}, {"name": "x" * 201}, {"name": "4B", "year_group": 15}, {"name": "4\x00B"}):
        response = await client.post(base, json=body, headers=auth(school.id))
        assert response.status_code == 422, body
        assert response.json()["error"] == "ValidationError"


async def test_unknown_and_other_schools_bands_are_404(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, other_school: School
) -> None:
    theirs = await client.post(
        f"/v1/schools/{other_school.id}/bands", json={"name": "9Z"}, headers=auth(other_school.id)
    )
    both = auth(school.id, other_school.id)
    for band_id in (uuid.uuid4(), theirs.json()["id"]):
        response = await client.get(f"/v1/schools/{school.id}/bands/{band_id}", headers=both)
        assert response.status_code == 404
        assert response.json()["error"] == "BandNotFound"
    malformed = await client.get(f"/v1/schools/{school.id}/bands/not-a-uuid", headers=both)
    assert malformed.status_code == 422
