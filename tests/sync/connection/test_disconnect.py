"""Disconnecting a school: every link removed and journalled, every account and membership kept, and
Wonde's access revoked afterwards (against the sandbox over real HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import pinned
from app.models import Band, BandMembership, ChangeRow, MisClass, MisStudent, Pupil, School, SyncRun
from app.sync.connection.flow import revoke_access
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed

DISCONNECTED = datetime(2027, 3, 8, 15, 45, tzinfo=UTC)


async def _link(session: AsyncSession, school: School) -> tuple[Band, Pupil]:
    student = MisStudent(school_id=school.id, wonde_id="S1", forename="Amy", surname="Jones")
    mis_class = MisClass(school_id=school.id, wonde_id="C1", name="4B")
    session.add_all([student, mis_class])
    await session.flush()
    band = Band(school_id=school.id, name="4B", mis_class_id=mis_class.id, source="mis")
    pupil = Pupil(
        school_id=school.id, first_name="Amy", last_name="Jones", username="amy.jones", mis_student_id=student.id
    )
    session.add_all([band, pupil])
    await session.flush()
    session.add(BandMembership(band_id=band.id, pupil_id=pupil.id, school_id=school.id, source="mis"))
    await session.commit()
    return band, pupil


async def test_disconnect_unlinks_everything_and_keeps_every_account(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    band, pupil = await _link(session, school)
    band_id, pupil_id, student_id, school_id = band.id, pupil.id, pupil.mis_student_id, school.id
    headers = auth(school.id)
    with pinned(DISCONNECTED):
        response = await client.post(f"/v1/schools/{school.id}/disconnect", headers=headers)
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["kind"], run["status"]) == ("disconnect", "succeeded")
    assert run["counts"] == {"bands_unlinked": 1, "pupils_unlinked": 1, "revoke": "not needed"}
    session.expire_all()
    kept_band, kept_pupil = await session.get(Band, band_id), await session.get(Pupil, pupil_id)
    assert kept_band is not None
    assert kept_pupil is not None
    assert (kept_band.mis_class_id, kept_pupil.mis_student_id, kept_pupil.username) == (None, None, "amy.jones")
    assert (
        await session.scalar(select(func.count()).select_from(BandMembership).where(BandMembership.band_id == band_id))
        == 1
    )
    journal = {
        c.action: c for c in await session.scalars(select(ChangeRow).where(ChangeRow.run_id == uuid.UUID(run["id"])))
    }
    assert set(journal) == {"unlink_band", "unlink_pupil"}
    # The student's Wonde id too: after the mirror is deleted (consent ended), a reconnection finds them by it.
    assert journal["unlink_pupil"].before == {"mis_student_id": str(student_id), "student": "S1"}
    school_row = await session.get(School, school_id)
    assert school_row is not None
    assert (school_row.state, school_row.consent_ended_at) == ("disconnected", DISCONNECTED)
    listed = (
        await client.get(f"/v1/schools/{school_id}/changes", params={"run_id": run["id"]}, headers=auth(school_id))
    ).json()
    assert sorted(c["action"] for c in listed["items"]) == ["unlink_band", "unlink_pupil"]
    timeline = (await client.get(f"/v1/schools/{school_id}/pupils/{pupil_id}/timeline", headers=auth(school_id))).json()
    assert [(c["action"], c["before"]) for c in timeline] == [
        ("unlink_pupil", {"mis_student_id": str(student_id), "student": "S1"})
    ]


async def test_disconnect_is_refused_while_a_merge_runs(
    client: httpx.AsyncClient, auth: TokenFactory, school: School, session: AsyncSession
) -> None:
    session.add(SyncRun(school_id=school.id, kind="merge", trigger="manual", status="running"))
    await session.commit()
    response = await client.post(f"/v1/schools/{school.id}/disconnect", headers=auth(school.id))
    assert response.status_code == 409
    assert response.json()["error"] == "SyncAlreadyRunning"


@pytest.mark.wonde(attempts=1)
async def test_access_is_revoked_in_wonde_and_the_token_forgotten(
    committed: Committed, settings: Settings, sandbox: SandboxServer, wonde: WondeClient
) -> None:
    box = SecretBox(settings.encryption_key)
    async with httpx.AsyncClient() as admin:
        generated = (
            await admin.post(
                f"{sandbox.admin_url}/schools/generate", json={"phase": "primary", "pupils": 20, "seed": 8}
            )
        ).json()
    school_id = committed.track(f"revoke-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(
            School(
                id=school_id,
                name="Revoke Primary",
                state="disconnected",
                urn=generated["urn"],
                wonde_school_id=generated["school_id"],
                wonde_domain=sandbox.domain,
                wonde_token_encrypted=box.encrypt(generated["token"]),
            )
        )
        await session.flush()
        run = SyncRun(
            school_id=school_id, kind="disconnect", trigger="manual", status="succeeded", counts={"revoke": "pending"}
        )
        session.add(run)
        await session.commit()

    assert await revoke_access(committed.sessionmaker, wonde, box, run.id) == "revoked"
    async with committed.sessionmaker() as session:
        school = await session.get(School, school_id)
        finished = await session.get(SyncRun, run.id)
    assert school is not None
    assert finished is not None
    assert school.wonde_token_encrypted is None
    assert finished.counts["revoke"] == "revoked"
    # Wonde no longer accepts the token.
    async with httpx.AsyncClient() as http:
        probe = await http.get(
            f"{sandbox.base_url}/schools/{generated['school_id']}",
            headers={"Authorization": f"Bearer {generated['token']}"},
        )
    assert probe.status_code == 401
