from __future__ import annotations

import httpx

from app.models import School
from tests.fixtures.app import TokenFactory


async def test_an_admin_registers_their_school(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    response = await client.post("/v1/schools", json={"id": "oak-1", "name": "Oak Primary"}, headers=auth("oak-1"))
    assert response.status_code == 201
    body = response.json()
    assert (body["id"], body["state"], body["timezone"]) == ("oak-1", "pending", "Europe/London")
    assert "wonde_token_encrypted" not in body
    again = await client.post("/v1/schools", json={"id": "oak-1", "name": "Oak Primary"}, headers=auth("oak-1"))
    assert again.status_code == 409
    assert again.json()["error"] == "SchoolAlreadyExists"


async def test_only_an_admin_of_that_school_may_register_it(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    body = {"id": "oak-2", "name": "Oak Primary"}
    assert (await client.post("/v1/schools", json=body, headers=auth("elm"))).status_code == 404
    assert (await client.post("/v1/schools", json=body, headers=auth("oak-2", role="teacher"))).status_code == 403
    assert (await client.post("/v1/schools", json=body)).status_code == 401


async def test_bad_school_input_is_a_422_naming_the_field(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    response = await client.post(
        "/v1/schools", json={"id": "oak 3", "name": "", "timezone": "Mars/Base", "extra": 1}, headers=auth("oak 3")
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ValidationError"
    assert {tuple(e["loc"]) for e in body["detail"]} == {
        ("body", "id"),
        ("body", "name"),
        ("body", "timezone"),
        ("body", "extra"),
    }


async def test_list_shows_only_the_callers_schools_paginated(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, other_school: School
) -> None:
    response = await client.get("/v1/schools", params={"per_page": 1}, headers=auth(school.id, other_school.id))
    body = response.json()
    assert (body["total"], len(body["items"]), body["per_page"]) == (2, 1, 1)
    second = await client.get(
        "/v1/schools", params={"per_page": 1, "page": 2}, headers=auth(school.id, other_school.id)
    )
    assert {body["items"][0]["id"], second.json()["items"][0]["id"]} == {school.id, other_school.id}
    only_one = await client.get("/v1/schools", headers=auth(school.id, role="teacher"))
    assert [s["id"] for s in only_one.json()["items"]] == [school.id]
    bad_page = await client.get("/v1/schools", params={"per_page": 500}, headers=auth(school.id))
    assert bad_page.status_code == 422


async def test_a_school_in_the_token_but_not_registered_is_404(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    response = await client.get("/v1/schools/unknown/bands", headers=auth("unknown"))
    assert response.status_code == 404
    assert response.json() == {"error": "SchoolNotFound", "detail": "School not found."}


async def test_an_admin_changes_the_schools_settings(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    url = f"/v1/schools/{school.id}"
    changed = await client.patch(
        url, json={"hold_min_pupils": 12, "hold_fraction": 0.25, "leaver_grace_days": 90}, headers=auth(school.id)
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["hold_min_pupils"], body["hold_fraction"], body["leaver_grace_days"]) == (12, "0.250", 90)
    for bad in ({"hold_fraction": 2}, {"timezone": "Mars/Base"}, {"leaver_grace_days": -1}, {"state": "syncing"}):
        assert (await client.patch(url, json=bad, headers=auth(school.id))).status_code == 422, bad
    assert (await client.patch(url, json={"name": "X"}, headers=auth(school.id, role="teacher"))).status_code == 403
