"""Undo against hand-made histories: what a later run did to the same MIS record, or the MIS record deleted
with the mirror of a school that disconnected long ago, blocks it cleanly."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, ChangeRow, Entity, Pupil, SyncRun
from app.models.sync_run import RunStatus, RunTrigger
from app.sync.connection.service import disconnect_school
from app.sync.journal.entries import Action, Entry
from app.sync.journal.undo import UndoBlocked, UndoTooLate, undo_run
from app.sync.journal.writer import record
from app.sync.retention.repository import delete_mirrors
from tests.fixtures.schools import small_school


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
