"""Reissuing a band's passwords (issue 17, item 5): an admin's act that gives every active pupil of one
band a new password (hashed on the account; the old one stops working) and leaves the new login details
waiting as a run of their own (kind ``new_passwords``), to download in any format and confirm like a
merge's. Older login details still waiting for those pupils are cleared, as a reset clears them. The act is
journalled as its actor's, never with a password; a band with no active pupil is refused, and nothing
changes."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import pinned, utc_now
from app.models import Band, Pupil
from app.pupils.credentials import verify_password
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import small_school

ADMIN = "ms.khan@oak.example"


async def _hashes(session: AsyncSession, school_id: str) -> dict[str, str | None]:
    rows = await session.execute(select(Pupil.username, Pupil.password_hash).where(Pupil.school_id == school_id))
    return dict(rows.all())


async def test_reissuing_gives_each_active_pupil_of_the_band_a_new_password_waiting_in_a_run(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    leaver = school.pupils[4]
    leaver.archived_at = utc_now()
    await session.commit()
    left, active, band_id = leaver.username, {p.username: p.id for p in school.pupils[:4]}, school.band.id
    school_id = school.school_id
    base = f"/v1/schools/{school.school_id}"
    headers = auth(school.school_id, subject=ADMIN)
    before = await _hashes(session, school.school_id)

    reissued = await client.post(f"{base}/bands/{band_id}/passwords", headers=headers)

    assert reissued.status_code == 201, reissued.text
    run = reissued.json()
    assert (run["kind"], run["status"], run["actor"]) == ("new_passwords", "succeeded", ADMIN)
    assert (run["counts"], run["credentials_waiting"]) == ({"pupils": 4}, 4)
    details = await client.get(f"{base}/runs/{run['id']}/credentials", params={"format": "json"}, headers=headers)
    assert details.status_code == 200
    by_username = {d["username"]: d for d in details.json()}
    assert set(by_username) == set(active)
    assert {d["band"] for d in by_username.values()} == {"Class 4B"}
    session.expire_all()
    after = await _hashes(session, school.school_id)
    for username, detail in by_username.items():
        assert after[username] != before[username]
        assert verify_password(after[username] or "", detail["password"])
    assert after[left] == before[left]  # a leaver keeps what they had
    journal = (await client.get(f"{base}/changes", headers=headers)).json()["items"]
    reissues = [
        (e["entity_type"], e["entity_id"], e["actor"], e["run_id"], e["after"])
        for e in journal
        if e["action"] == "reissue_band_passwords"
    ]
    about = {"band_id": str(band_id), "run_id": run["id"]}
    assert sorted(reissues, key=str) == sorted(
        [
            ("school", school_id, ADMIN, None, about | {"pupils": 4}),
            *(("pupil", str(pupil_id), ADMIN, None, about) for pupil_id in active.values()),
        ],
        key=str,
    )
    assert not any(d["password"] in str(journal) for d in by_username.values())


async def test_a_second_reissue_clears_the_first_ones_waiting_passwords(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    base = f"/v1/schools/{school.school_id}"
    headers = auth(school.school_id)
    with pinned(utc_now()):
        first = (await client.post(f"{base}/bands/{school.band.id}/passwords", headers=headers)).json()
        second = (await client.post(f"{base}/bands/{school.band.id}/passwords", headers=headers)).json()

    # The first run's passwords no longer work: nothing of it waits, and it was never confirmed.
    assert (await client.get(f"{base}/runs/{first['id']}", headers=headers)).json()["credentials_waiting"] == 0
    old = await client.get(f"{base}/runs/{first['id']}/credentials", params={"format": "json"}, headers=headers)
    assert (old.status_code, old.json()) == (200, [])
    assert (await client.get(f"{base}/runs/{second['id']}", headers=headers)).json()["credentials_waiting"] == 5


async def test_a_band_with_no_active_pupil_or_of_another_school_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    other = await small_school(session)
    empty = Band(school_id=school.school_id, name="Class 5Z")
    session.add(empty)
    await session.commit()
    base = f"/v1/schools/{school.school_id}"
    headers = auth(school.school_id)
    before = await _hashes(session, school.school_id)

    refused = await client.post(f"{base}/bands/{empty.id}/passwords", headers=headers)
    assert (refused.status_code, refused.json()["error"]) == (409, "NoActivePupils")
    for band_id in (other.band.id, uuid.uuid4()):
        missing = await client.post(f"{base}/bands/{band_id}/passwords", headers=headers)
        assert (missing.status_code, missing.json()["error"]) == (404, "BandNotFound")
    runs = (await client.get(f"{base}/runs", headers=headers)).json()
    assert runs["total"] == 0
    session.expire_all()
    assert await _hashes(session, school.school_id) == before
