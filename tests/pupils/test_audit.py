"""What an admin does to an account by hand is journalled with who did it (the token's subject) and shows
on the pupil's timeline: a new password (never the password itself), a rename, any other edit, a creation;
and a response carrying a password is never stored by a browser or a proxy."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Pupil, School
from tests.fixtures.app import TokenFactory

ADMIN = "ms.khan@oak.example"


async def _timeline(client: httpx.AsyncClient, auth: TokenFactory, school: School, pupil_id: str) -> list[Any]:
    response = await client.get(
        f"/v1/schools/{school.id}/pupils/{pupil_id}/timeline", headers=auth(school.id, role="teacher")
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _said(entry: dict[str, Any]) -> tuple[Any, ...]:
    return entry["action"], entry["actor"], entry["run_id"], entry["before"], entry["after"], entry["status"]


async def test_a_pupil_created_by_hand_is_journalled_with_its_creator(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    band = (await client.post(f"/v1/schools/{school.id}/bands", json={"name": "4B"}, headers=auth(school.id))).json()
    body = {"first_name": "Amy", "last_name": "Jones", "band_ids": [band["id"]]}
    created = await client.post(f"/v1/schools/{school.id}/pupils", json=body, headers=auth(school.id, subject=ADMIN))
    assert created.status_code == 201
    pupil = created.json()
    [entry] = await _timeline(client, auth, school, pupil["id"])
    assert _said(entry) == (
        "create_pupil_by_hand",
        ADMIN,
        None,
        None,
        {"username": "amy.jones", "band_ids": [band["id"]]},
        "applied",
    )
    assert (entry["entity_type"], entry["entity_id"], entry["pupil_id"]) == ("pupil", pupil["id"], pupil["id"])


async def test_a_rename_by_hand_keeps_the_old_and_new_names_and_other_edits_their_fields(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    pupil = (await client.post(base, json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id))).json()
    url = f"{base}/{pupil['id']}"
    renamed = await client.patch(url, json={"first_name": "Amelia"}, headers=auth(school.id, subject=ADMIN))
    assert renamed.status_code == 200
    moved = await client.patch(url, json={"year_group": 5, "first_name": "Amelia"}, headers=auth(school.id))
    assert moved.status_code == 200
    # Nothing changed: nothing journalled.
    assert (await client.patch(url, json={"year_group": 5}, headers=auth(school.id))).status_code == 200
    _, rename, edit = await _timeline(client, auth, school, pupil["id"])
    assert _said(rename) == (
        "rename_pupil_by_hand",
        ADMIN,
        None,
        {"first_name": "Amy", "last_name": "Jones"},
        {"first_name": "Amelia", "last_name": "Jones"},
        "applied",
    )
    assert _said(edit) == (
        "change_pupil_by_hand",
        "test-user",
        None,
        {"year_group": None},
        {"year_group": 5},
        "applied",
    )


async def test_a_new_password_is_journalled_never_stored_in_the_journal_and_never_cached(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    base = f"/v1/schools/{school.id}/pupils"
    pupil = (await client.post(base, json={"first_name": "Amy", "last_name": "Jones"}, headers=auth(school.id))).json()
    reset = await client.post(f"{base}/{pupil['id']}/password", headers=auth(school.id, subject=ADMIN))
    assert reset.status_code == 200
    assert reset.headers["cache-control"] == "no-store"
    _, entry = await _timeline(client, auth, school, pupil["id"])
    assert _said(entry) == ("reset_password", ADMIN, None, None, None, "applied")
    # The whole journal, as the API shows it, holds neither the password nor its hash.
    journal = await client.get(f"/v1/schools/{school.id}/changes", headers=auth(school.id))
    stored = await session.get(Pupil, pupil["id"])
    assert stored is not None
    await session.refresh(stored)
    shown = json.dumps(journal.json())
    assert reset.json()["password"] not in shown
    assert stored.password_hash and stored.password_hash not in shown
    assert [e["action"] for e in journal.json()["items"]] == ["reset_password", "create_pupil_by_hand"]
