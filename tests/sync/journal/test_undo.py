"""Undo against hand-made histories: what a later run did to the same MIS record, or the MIS record deleted
with the mirror of a school that disconnected long ago, blocks it cleanly."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.models import Band, ChangeRow, Credential, Entity, Pupil, SyncRun
from app.models.sync_run import RunStatus, RunTrigger
from app.sync.connection.service import disconnect_school
from app.sync.journal.entries import Action, Entry
from app.sync.journal.undo import UndoBlocked, UndoTooLate, undo_run
from app.sync.journal.writer import record
from app.sync.onboarding.flow import run_merge
from app.sync.retention.repository import delete_mirrors
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import savepoint_sessionmaker
from tests.fixtures.schools import decide, small_school


async def test_undo_is_refused_when_the_old_record_now_follows_another_account(session: AsyncSession) -> None:
    """Undoing a disconnect would link an account back to its MIS record; when a later run linked that
    record to another account, undo refuses (409) instead of giving one record two accounts."""
    school = await small_school(session)
    first, second = school.pupils[:2]
    first_id = first.id
    first.mis_student_id = school.students[0].id
    await session.flush()
    disconnect = await disconnect_school(
        session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False
    )
    disconnect.status = RunStatus.SUCCEEDED
    later = SyncRun(id=uuid.uuid4(), school_id=school.school_id, kind="merge", trigger="manual", status="succeeded")
    session.add(later)
    second.mis_student_id = school.students[0].id
    await session.flush()
    link = Entry(
        Entity.PUPIL, str(second.id), Action.LINK_PUPIL, {"mis_student_id": None}, {"student": "S0"}, second.id
    )
    await record(session, school.school_id, later.id, "admin", [link])
    await session.commit()

    disconnect_id = disconnect.id
    with pytest.raises(UndoBlocked, match="now follows another account"):
        await undo_run(session, school.school_id, disconnect_id, "admin")
    await session.rollback()
    assert await session.scalar(select(Pupil.mis_student_id).where(Pupil.id == first_id)) is None
    statuses = await session.scalars(select(ChangeRow.status).where(ChangeRow.run_id == disconnect_id))
    assert set(statuses) == {"applied"}


async def test_undoing_a_merge_clears_its_waiting_passwords_and_never_reverts_an_audit_entry(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    connection: AsyncConnection,
    settings: Settings,
) -> None:
    """The accounts a merge created are archived by its undo, so the passwords still waiting for them must
    not stay downloadable; what admins did by hand meanwhile (journalled outside any run) stays as it is."""
    school = await small_school(session)
    session.add_all([decide(school, school.form, "match", school.band), decide(school, school.other_form, "import")])
    run = SyncRun(school_id=school.school_id, kind="merge", trigger="manual", status="queued")
    session.add(run)
    await session.commit()
    run_id = run.id
    assert (
        await run_merge(savepoint_sessionmaker(connection), SecretBox(settings.encryption_key), run_id) == "succeeded"
    )
    base = f"/v1/schools/{school.school_id}"
    created = [
        p
        for p in (await client.get(f"{base}/pupils", headers=auth(school.school_id))).json()["items"]
        if p["source"] == "mis"
    ]
    assert len(created) == 5
    # By hand, meanwhile: one new account is renamed, another gets a new password.
    renamed = await client.patch(
        f"{base}/pupils/{created[0]['id']}", json={"first_name": "Mia"}, headers=auth(school.school_id)
    )
    assert renamed.status_code == 200
    assert (
        await client.post(f"{base}/pupils/{created[1]['id']}/password", headers=auth(school.school_id))
    ).status_code == 200
    waiting = await session.scalar(
        select(func.count())
        .select_from(Credential)
        .where(Credential.run_id == run_id, Credential.password_encrypted.is_not(None))
    )
    assert waiting == 4  # the reset cleared one

    undo = await client.post(f"{base}/runs/{run_id}/undo", headers=auth(school.school_id))
    assert undo.status_code == 200, undo.text
    login = await client.get(
        f"{base}/runs/{run_id}/credentials", params={"format": "json"}, headers=auth(school.school_id)
    )
    assert login.json() == []
    left = await session.scalar(
        select(func.count())
        .select_from(Credential)
        .where(Credential.run_id == run_id, Credential.password_encrypted.is_not(None))
    )
    assert left == 0
    journal = (await client.get(f"{base}/changes", params={"per_page": 200}, headers=auth(school.school_id))).json()
    by_hand = [(e["action"], e["status"], e["run_id"]) for e in journal["items"] if e["run_id"] is None]
    assert sorted(by_hand) == [
        ("download_login_details", "applied", None),  # the (empty) download above
        ("rename_pupil_by_hand", "applied", None),
        ("reset_password", "applied", None),
    ]
    undone = {e["action"] for e in journal["items"] if e["run_id"] == undo.json()["id"]}
    assert undone == {"undo_link_band", "undo_create_band", "undo_link_pupil", "undo_create_pupil", "undo_add_to_band"}


async def test_undoing_a_disconnect_after_the_mirror_was_deleted_is_refused_cleanly(session: AsyncSession) -> None:
    """Thirty days after the disconnect the retention job deleted the school's MIS mirror; undoing the
    disconnect would link the accounts and the band to rows that are gone (a database error, a 500), so
    it is refused (409) with the reason, and nothing changes."""
    school = await small_school(session)
    first = school.pupils[0]
    first_id, band_id = first.id, school.band.id
    first.mis_student_id, school.band.mis_class_id = school.students[0].id, school.form.id
    await session.flush()
    disconnect = await disconnect_school(
        session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False
    )
    await session.commit()
    await delete_mirrors(session, [school.school_id])
    await session.commit()

    disconnect_id = disconnect.id
    with pytest.raises(UndoTooLate, match="MIS records this run unlinked are no longer kept"):
        await undo_run(session, school.school_id, disconnect_id, "admin")
    await session.rollback()
    assert await session.scalar(select(Pupil.mis_student_id).where(Pupil.id == first_id)) is None
    assert await session.scalar(select(Band.mis_class_id).where(Band.id == band_id)) is None
    statuses = await session.scalars(select(ChangeRow.status).where(ChangeRow.run_id == disconnect_id))
    assert set(statuses) == {"applied"}
