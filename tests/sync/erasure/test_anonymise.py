"""Anonymising accounts (issue 15, items 2 and 3), on a school onboarded from the sandbox:

- a leaver's account is anonymised once the school's grace period has passed (never before): names
  replaced, passwords cleared, memberships ended, the child's names gone from the journal and from the
  mirror row the MIS no longer has; journalled; and a returner gets the old account back, never a
  second one;
- erasure on request anonymises at once, unlinks, deletes the mirror record, keeps only the Wonde id
  on the erased list, so no later sync makes the child an account again; it cannot be undone, and an
  undo of an earlier run that changed the child is refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import pinned
from app.main import create_app
from app.models import BandMembership, ChangeRow, Credential, ErasedStudent, MisStudent, Pupil, SyncRun
from app.sync.erasure.service import ANONYMISED, anonymise_leavers
from app.sync.reconcile.held import decide_held
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.schools import account_of, mis_event, onboarded, sync

pytestmark = pytest.mark.slow


@pytest.fixture
async def api(settings: Settings, committed: Committed) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = committed.sessionmaker
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client


async def _pupil_of(committed: Committed, school_id: str, wonde_id: str) -> Pupil:
    pupil = await account_of(committed.sessionmaker, school_id, wonde_id)
    assert pupil is not None
    return pupil


async def _journal_text(committed: Committed, school_id: str) -> str:
    async with committed.sessionmaker() as session:
        rows = await session.execute(select(ChangeRow.before, ChangeRow.after).where(ChangeRow.school_id == school_id))
        return json.dumps([list(row) for row in rows])


async def _count(committed: Committed, school_id: str) -> int:
    async with committed.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(Pupil.school_id == school_id)) or 0)


async def test_a_leaver_is_anonymised_after_the_grace_period_and_a_returner_gets_the_account_back(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=120)
    student = sorted(sandbox.state.school(wonde_school).students)[0]
    record = sandbox.state.school(wonde_school).students[student]
    names = (record.forename, record.surname)
    pupil = await _pupil_of(committed, school_id, student)
    mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": student})
    assert (await sync(committed.sessionmaker, wonde, box, school_id)).get("leavers") == 1
    archived = await _pupil_of(committed, school_id, student)
    assert archived.archived_at is not None
    grace = timedelta(days=183)

    # Up to the end of the grace period nothing changes: the child is fully restorable.
    assert await anonymise_leavers(committed.sessionmaker, archived.archived_at + grace - timedelta(minutes=1)) == 0
    assert (await _pupil_of(committed, school_id, student)).first_name == names[0]
    # After it, the account is anonymised, once.
    later = archived.archived_at + grace + timedelta(minutes=1)
    assert await anonymise_leavers(committed.sessionmaker, later) == 1
    assert await anonymise_leavers(committed.sessionmaker, later) == 0
    gone = await _pupil_of(committed, school_id, student)  # still linked: a returner is known
    assert (gone.first_name, gone.last_name, gone.password_hash, gone.username) == (*ANONYMISED, None, pupil.username)
    assert gone.anonymised_at == later
    async with committed.sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(BandMembership.pupil_id == pupil.id)) == 0
        assert await session.scalar(select(func.count()).where(Credential.pupil_id == pupil.id)) == 0
        mirror = await session.scalar(select(MisStudent).where(MisStudent.id == pupil.mis_student_id))
        assert mirror is not None and (mirror.forename, mirror.surname) == ("", "")
        run = await session.scalar(select(SyncRun).where(SyncRun.school_id == school_id, SyncRun.kind == "anonymise"))
        assert run is not None and (run.status, run.trigger, run.counts) == ("succeeded", "schedule", {"anonymised": 1})
        [entry] = await session.scalars(select(ChangeRow).where(ChangeRow.run_id == run.id))
        assert (entry.action, entry.pupil_id, entry.before) == ("anonymise_pupil", pupil.id, None)
    journal = await _journal_text(committed, school_id)
    assert [name for name in names if name and name in journal] == []

    # The child comes back: the old account, held for the admin, then restored with the MIS names.
    before = await _count(committed, school_id)
    mis_event(sandbox, wonde_school, {"kind": "return", "student_id": student})
    with pinned(later + timedelta(days=1)):
        counts = await sync(committed.sessionmaker, wonde, box, school_id)
    # The return, and everything else of that pupil (names, bands), waits as one (issue 17).
    assert counts["held"] >= 1, counts
    async with committed.sessionmaker() as session:
        held = list(
            await session.execute(
                select(ChangeRow.id, ChangeRow.pupil_id).where(
                    ChangeRow.school_id == school_id, ChangeRow.status == "held"
                )
            )
        )
    assert {about for _, about in held} == {pupil.id}
    async with committed.sessionmaker() as session:
        await decide_held(session, school_id, held[0][0], approve=True, actor="admin", box=box)
        await session.commit()
    back = await _pupil_of(committed, school_id, student)
    assert (back.id, back.archived_at) == (pupil.id, None)
    assert (back.first_name, back.last_name) == names
    assert await _count(committed, school_id) == before


async def test_erasure_on_request_is_immediate_final_and_survives_every_later_sync(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
    api: httpx.AsyncClient,
    auth: TokenFactory,
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, pupils=120)
    student = sorted(sandbox.state.school(wonde_school).students)[1]
    record = sandbox.state.school(wonde_school).students[student]
    pupil = await _pupil_of(committed, school_id, student)
    async with committed.sessionmaker() as session:
        merge = await session.scalar(select(SyncRun.id).where(SyncRun.school_id == school_id, SyncRun.kind == "merge"))
        assert await session.scalar(select(func.count()).where(Credential.pupil_id == pupil.id)) == 1
    url = f"/v1/schools/{school_id}/pupils/{pupil.id}/erase"

    assert (await api.post(url, headers=auth(school_id, role="teacher"))).status_code == 403
    missing = await api.post(f"/v1/schools/{school_id}/pupils/{uuid.uuid4()}/erase", headers=auth(school_id))
    assert missing.status_code == 404
    response = await api.post(url, headers=auth(school_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erased_wonde_id"] == student
    assert (body["pupil"]["first_name"], body["pupil"]["last_name"]) == ANONYMISED
    assert body["pupil"]["mis_student_id"] is None and body["pupil"]["anonymised_at"] is not None
    assert body["pupil"]["archived_at"] is not None

    async with committed.sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(Credential.pupil_id == pupil.id)) == 0
        assert await session.scalar(select(func.count()).where(BandMembership.pupil_id == pupil.id)) == 0
        mirror = await session.scalar(
            select(MisStudent).where(MisStudent.school_id == school_id, MisStudent.wonde_id == student)
        )
        assert mirror is not None and mirror.deleted_at is not None
        assert (mirror.forename, mirror.surname, mirror.upn, mirror.legal_forename) == ("", "", None, None)
        assert list(
            await session.scalars(select(ErasedStudent.wonde_id).where(ErasedStudent.school_id == school_id))
        ) == [student]
    journal = await _journal_text(committed, school_id)
    assert [name for name in (record.forename, record.surname) if name and name in journal] == []
    assert record.forename and record.surname

    # No later read or sync brings the child back, nor makes them a second account.
    before = await _count(committed, school_id)
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": student})
    await sync(committed.sessionmaker, wonde, box, school_id)
    await sync(committed.sessionmaker, wonde, box, school_id)
    assert await _count(committed, school_id) == before
    async with committed.sessionmaker() as session:
        again = await session.scalar(
            select(MisStudent).where(MisStudent.school_id == school_id, MisStudent.wonde_id == student)
        )
        assert again is not None and (again.forename, again.deleted_at is not None) == ("", True)
    preview = await api.get(f"/v1/schools/{school_id}/sync/preview", headers=auth(school_id))
    assert preview.json()["erased_on_request"] == [student]

    # Final: the erasure cannot be undone, nor can an earlier run that changed the child.
    undo_erasure = await api.post(f"/v1/schools/{school_id}/runs/{body['run_id']}/undo", headers=auth(school_id))
    assert undo_erasure.status_code == 409, undo_erasure.text
    undo_merge = await api.post(f"/v1/schools/{school_id}/runs/{merge}/undo", headers=auth(school_id))
    assert undo_merge.status_code == 409
    assert "anonymised" in undo_merge.json()["detail"]
