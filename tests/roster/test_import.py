"""Importing a roster over the API, against the real database."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, BandMembership, Pupil, School
from tests.fixtures.app import TokenFactory
from tests.fixtures.rosters import make_roster

HEADER = "pupil_id,first_name,last_name,band,year_group\n"


async def _counts(session: AsyncSession, school: School) -> tuple[int, int, int]:
    async def count(model: type[Band] | type[Pupil] | type[BandMembership]) -> int:
        return int(
            await session.scalar(select(func.count()).select_from(model).where(model.school_id == school.id)) or 0
        )

    return await count(Band), await count(Pupil), await count(BandMembership)


async def _post(
    client: httpx.AsyncClient, school: School, headers: dict[str, str], body: str | bytes
) -> httpx.Response:
    return await client.post(
        f"/v1/schools/{school.id}/roster", content=body, headers={**headers, "content-type": "text/csv"}
    )


async def test_three_bad_lines_among_fifty_are_all_named_and_nothing_is_written(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    lines = make_roster(50).splitlines()
    data_lines = len(lines) - 1
    assert data_lines >= 50
    lines[5] = "p9x,,Jones,4B,4"
    lines[20] = "p20x,Amy,Jones,4B,Year Twelve"
    lines[44] = "p44x,Amy," + "x" * 150 + ",4B,4"
    before = await _counts(session, school)
    response = await _post(client, school, auth(school.id), "\n".join(lines) + "\n")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidRoster"
    assert [(e["line"], e["column"]) for e in body["detail"]] == [
        (6, "first_name"),
        (21, "year_group"),
        (45, "last_name"),
    ]
    assert await _counts(session, school) == before


async def test_a_large_roster_imports_once_and_again_changes_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    body = make_roster(2000)
    rows = body.count("\n") - 1
    assert rows == 3000
    first = await _post(client, school, auth(school.id), body)
    assert first.status_code == 200, first.text
    summary = first.json()
    assert summary["rows"] == rows
    assert summary["pupils_created"] == 2000
    assert summary["memberships_added"] == rows
    counts = await _counts(session, school)
    assert counts[1:] == (2000, rows)

    again = await _post(client, school, auth(school.id), body)
    assert again.status_code == 200
    assert again.json() | {"rows": 0} == {
        "rows": 0,
        "bands_created": 0,
        "pupils_created": 0,
        "pupils_updated": 0,
        "pupils_unchanged": 2000,
        "memberships_added": 0,
    }
    assert await _counts(session, school) == counts
    usernames = await session.scalars(select(Pupil.username).where(Pupil.school_id == school.id))
    assert len(set(usernames)) == 2000


async def test_rows_without_pupil_id_are_found_again_by_band_and_name(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    body = HEADER + ",Amy,Jones,4B,4\n,Amy,Jones,4B,4\n,Ben,Brown,4B,4\n"
    first = (await _post(client, school, auth(school.id), body)).json()
    assert first["pupils_created"] == 2
    # Later the app exports ids: the existing children are adopted, not duplicated.
    with_ids = HEADER + "a1,Amy,Jones,4B,4\nb1,Ben,Brown,4B,4\n"
    second = (await _post(client, school, auth(school.id), with_ids)).json()
    assert (second["pupils_created"], second["pupils_updated"]) == (0, 2)
    ids = set(await session.scalars(select(Pupil.external_id).where(Pupil.school_id == school.id)))
    assert ids == {"a1", "b1"}


async def test_a_pupil_id_updates_names_and_year_but_never_the_username(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    await _post(client, school, auth(school.id), HEADER + "a1,Amy,Jones,4B,4\n")
    response = await _post(client, school, auth(school.id), HEADER + "a1,Amelia,Jones-Smith,5B,5\n")
    assert response.json()["pupils_updated"] == 1
    pupil = (await session.scalars(select(Pupil).where(Pupil.school_id == school.id))).one()
    await session.refresh(pupil)
    assert (pupil.first_name, pupil.last_name, pupil.year_group, pupil.username) == (
        "Amelia",
        "Jones-Smith",
        5,
        "amy.jones",
    )


async def test_a_band_name_shared_by_two_bands_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    session.add_all([Band(school_id=school.id, name="4B"), Band(school_id=school.id, name="4B")])
    await session.commit()
    response = await _post(client, school, auth(school.id), HEADER + "a1,Amy,Jones,4B,4\n")
    assert response.status_code == 422
    assert response.json()["detail"][0] | {"message": ""} == {"line": 2, "column": "band", "message": ""}


async def test_bad_bytes_and_oversized_files(client: httpx.AsyncClient, auth: TokenFactory, school: School) -> None:
    bad = await _post(client, school, auth(school.id), HEADER.encode() + b"a1,Zo\xeb,Jones,4B,4\n")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["line"] == 2
    huge = await _post(client, school, auth(school.id), HEADER + "a1,Amy,Jones,4B,4\n" * 60_000)
    assert huge.status_code == 413
    assert huge.json()["error"] == "PayloadTooLarge"
    wrong_type = await client.post(f"/v1/schools/{school.id}/roster", json={"a": 1}, headers=auth(school.id))
    assert wrong_type.status_code == 415


async def test_an_import_is_journalled_with_its_actor_and_on_each_pupil_it_changed(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    admin = auth(school.id, subject="ms.khan@oak.example")
    first = await _post(client, school, admin, HEADER + "a1,Amy,Jones,4B,4\nb1,Ben,Brown,4B,4\n")
    assert first.status_code == 200
    # Amy is renamed and joins a club; Ben is as he was.
    again = await _post(client, school, auth(school.id), HEADER + "a1,Amelia,Jones,4B,4\na1,Amelia,Jones,Chess,4\n")
    assert again.status_code == 200
    bands = {b.name: str(b.id) for b in await session.scalars(select(Band).where(Band.school_id == school.id))}
    amy, ben = (
        str(p.id)
        for p in await session.scalars(select(Pupil).where(Pupil.school_id == school.id).order_by(Pupil.external_id))
    )
    journal = (await client.get(f"/v1/schools/{school.id}/changes", headers=auth(school.id))).json()["items"]
    said = [
        (e["action"], e["actor"], e["run_id"], e["entity_type"], e["pupil_id"], e["before"], e["after"])
        for e in journal
    ]
    # Newest first: the second import (its school entry, then Amy's), then the first (Ben's, Amy's, the school's).
    assert said == [
        ("import_roster", "test-user", None, "pupil", amy,
         {"first_name": "Amy"}, {"first_name": "Amelia", "band_ids": [bands["Chess"]]}),
        ("import_roster", "test-user", None, "school", None, None,
         {"rows": 2, "bands_created": 1, "pupils_created": 0, "pupils_updated": 1, "pupils_unchanged": 0,
          "memberships_added": 1}),
        ("import_roster", "ms.khan@oak.example", None, "pupil", ben,
         None, {"username": "ben.brown", "band_ids": [bands["4B"]]}),
        ("import_roster", "ms.khan@oak.example", None, "pupil", amy,
         None, {"username": "amy.jones", "band_ids": [bands["4B"]]}),
        ("import_roster", "ms.khan@oak.example", None, "school", None, None,
         {"rows": 2, "bands_created": 1, "pupils_created": 2, "pupils_updated": 0, "pupils_unchanged": 0,
          "memberships_added": 2}),
    ]  # fmt: skip
    timeline = (await client.get(f"/v1/schools/{school.id}/pupils/{ben}/timeline", headers=auth(school.id))).json()
    assert [e["action"] for e in timeline] == ["import_roster"]
