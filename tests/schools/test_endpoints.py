from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import pinned, utc_now
from app.models import School
from app.models.school import SchoolState
from tests.fixtures.app import TokenFactory


async def test_the_platform_registers_a_school_with_its_urn(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    body = {"id": "oak-1", "name": "Oak Primary", "urn": "123456", "la_code": "201", "establishment_number": "2001"}
    response = await client.post("/v1/schools", json=body, headers=auth(role="platform"))
    assert response.status_code == 201, response.text
    registered = response.json()
    assert (registered["id"], registered["state"], registered["timezone"]) == ("oak-1", "pending", "Europe/London")
    assert (registered["urn"], registered["la_code"], registered["establishment_number"]) == ("123456", "201", "2001")
    assert registered["wonde_urn"] is None
    assert "wonde_token_encrypted" not in registered
    again = await client.post("/v1/schools", json=body, headers=auth(role="platform"))
    assert again.status_code == 409
    assert again.json()["error"] == "SchoolAlreadyExists"


@pytest.mark.parametrize("role", ["admin", "teacher"])
async def test_a_schools_token_cannot_register_a_school_and_learns_nothing_of_the_body(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, role: str
) -> None:
    """403 before the body is read: a valid body, an invalid one and a taken Wonde id answer alike."""
    await client.patch(f"/v1/schools/{school.id}", json={"wonde_school_id": "A1"}, headers=auth(role="platform"))
    bodies = [
        {"id": "oak-2", "name": "Oak Primary", "urn": "123457"},
        {"id": "oak 2", "name": "", "extra": 1},
        {"id": "oak-3", "name": "Oak", "urn": "123458", "wonde_school_id": "A1"},
    ]
    for body in bodies:
        for token_school in ("oak-2", school.id):
            response = await client.post("/v1/schools", json=body, headers=auth(token_school, role=role))
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "Forbidden"
            assert "already" not in response.json()["detail"]
    assert (await client.post("/v1/schools", json=bodies[0])).status_code == 401


async def test_a_new_school_needs_a_urn_and_dfe_codes_are_checked(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    response = await client.post(
        "/v1/schools",
        json={
            "id": "oak 3",
            "name": "",
            "timezone": "Mars/Base",
            "extra": 1,
            "la_code": "20",
            "establishment_number": "x",
        },
        headers=auth(role="platform"),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ValidationError"
    assert {tuple(e["loc"]) for e in body["detail"]} == {
        ("body", "id"),
        ("body", "name"),
        ("body", "timezone"),
        ("body", "extra"),
        ("body", "urn"),
        ("body", "la_code"),
        ("body", "establishment_number"),
    }
    for urn in ("12345", "012345", "12345a", "123456789"):
        bad = await client.post(
            "/v1/schools", json={"id": "oak-4", "name": "Oak", "urn": urn}, headers=auth(role="platform")
        )
        assert bad.status_code == 422, urn


async def test_the_platform_binds_a_school_to_wonde_and_only_the_platform(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, other_school: School
) -> None:
    url = f"/v1/schools/{school.id}"
    for fields in ({"wonde_school_id": "A1"}, {"urn": "654321"}, {"wonde_school_id": "not valid!", "x": 1}):
        refused = await client.patch(url, json=fields, headers=auth(school.id))
        assert refused.status_code == 403, fields  # before the body is validated
        assert refused.json()["detail"].startswith("Only the platform")
    bound = await client.patch(url, json={"wonde_school_id": "A1", "urn": "654321"}, headers=auth(role="platform"))
    assert bound.status_code == 200, bound.text
    assert (bound.json()["wonde_school_id"], bound.json()["urn"]) == ("A1", "654321")
    taken = await client.patch(
        f"/v1/schools/{other_school.id}", json={"wonde_school_id": "A1"}, headers=auth(role="platform")
    )
    assert (taken.status_code, taken.json()["error"]) == (409, "SchoolAlreadyExists")
    settings = await client.patch(url, json={"hold_min_pupils": 3}, headers=auth(role="platform"))
    assert settings.status_code == 403  # a school's settings are its admins'
    assert (await client.patch(url, json={"name": "X"}, headers=auth(school.id))).status_code == 200


async def test_a_school_holding_a_wonde_approval_is_not_rebound(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School
) -> None:
    school.wonde_school_id, school.wonde_token_encrypted, school.state = "A1", b"sealed", SchoolState.SYNCING
    await session.commit()
    response = await client.patch(
        f"/v1/schools/{school.id}", json={"wonde_school_id": "A2"}, headers=auth(role="platform")
    )
    assert (response.status_code, response.json()["error"]) == (409, "WondeBindingInUse")
    same = await client.patch(f"/v1/schools/{school.id}", json={"wonde_school_id": "A1"}, headers=auth(role="platform"))
    assert same.status_code == 200  # not a change


async def test_the_platform_lists_every_school_and_filters_by_state(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School, other_school: School
) -> None:
    other_school.state, other_school.wonde_urn = SchoolState.NEEDS_CONFIRMATION, "999999"
    await session.commit()
    every = await client.get("/v1/schools", params={"per_page": 100}, headers=auth(role="platform"))
    assert {school.id, other_school.id} <= {s["id"] for s in every.json()["items"]}
    waiting = await client.get("/v1/schools", params={"state": "needs_confirmation"}, headers=auth(role="platform"))
    assert [(s["id"], s["urn"], s["wonde_urn"]) for s in waiting.json()["items"]] == [
        (other_school.id, other_school.urn, "999999")
    ]
    row = await client.get(f"/v1/schools/{school.id}", headers=auth(role="platform"))
    assert (row.status_code, row.json()["id"]) == (200, school.id)
    assert (await client.get("/v1/schools/nowhere", headers=auth(role="platform"))).status_code == 404


async def test_the_list_leaves_out_a_school_whose_tokens_were_revoked(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, school: School, other_school: School
) -> None:
    headers = auth(school.id, other_school.id)
    with pinned(utc_now() + timedelta(minutes=1)):
        school.tokens_valid_after = utc_now()
        await session.commit()
    listed = await client.get("/v1/schools", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [other_school.id]
    assert (await client.get(f"/v1/schools/{school.id}", headers=headers)).status_code == 401


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


async def test_a_settings_change_is_journalled_with_only_the_fields_that_changed(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    url = f"/v1/schools/{school.id}"
    body = {"hold_min_pupils": 12, "hold_fraction": 0.25, "leaver_grace_days": 183, "name": school.name}
    changed = await client.patch(url, json=body, headers=auth(school.id, subject="ms.khan@oak.example"))
    assert changed.status_code == 200
    # The platform binding the school to Wonde is journalled too, with the platform's subject.
    bound = await client.patch(url, json={"wonde_school_id": "A1"}, headers=auth(role="platform", subject="platform"))
    assert bound.status_code == 200
    # Asking for what is already so changes nothing, and journals nothing.
    assert (await client.patch(url, json={"hold_min_pupils": 12}, headers=auth(school.id))).status_code == 200
    journal = (await client.get(f"{url}/changes", headers=auth(school.id, role="teacher"))).json()
    assert [
        (e["action"], e["actor"], e["run_id"], e["entity_type"], e["entity_id"], e["before"], e["after"])
        for e in journal["items"]
    ] == [
        (
            "change_settings",
            "platform",
            None,
            "school",
            school.id,
            {"wonde_school_id": None},
            {"wonde_school_id": "A1"},
        ),
        (
            "change_settings",
            "ms.khan@oak.example",
            None,
            "school",
            school.id,
            {"hold_min_pupils": 5, "hold_fraction": "0.100"},
            {"hold_min_pupils": 12, "hold_fraction": "0.250"},
        ),
    ]
