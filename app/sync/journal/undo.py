"""Undo: revert every change a run applied, newest first, as a journalled run of its own.

Refused, with the reason, when a later run changed the same thing (undo that one first), or when the
run was undone already. Accounts are never deleted: an account the run created is archived and
unlinked instead, and a band it created is archived.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models import Band, BandMembership, ChangeRow, MisClass, MisGroup, Pupil, School, SyncRun
from app.sync.journal.writer import Entry, record
from app.sync.runs.service import claim_school, get_run


class NothingToUndo(Conflict):
    """This run has no applied change left to undo (it was undone already, or changed nothing)."""


class UndoBlocked(Conflict):
    """A later run changed the same things: undo that run first."""


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def _container(session: AsyncSession, school_id: str, wonde_id: str) -> dict[str, uuid.UUID | None]:
    found = await session.scalar(
        select(MisClass.id).where(MisClass.school_id == school_id, MisClass.wonde_id == wonde_id)
    )
    if found is not None:
        return {"mis_class_id": found, "mis_group_id": None}
    group = await session.scalar(
        select(MisGroup.id).where(MisGroup.school_id == school_id, MisGroup.wonde_id == wonde_id)
    )
    return {"mis_class_id": None, "mis_group_id": group}


async def _relink(session: AsyncSession, school_id: str, pupil: Pupil, student: uuid.UUID | None) -> None:
    if student is not None:
        taken = await session.scalar(
            select(Pupil.id).where(Pupil.school_id == school_id, Pupil.mis_student_id == student, Pupil.id != pupil.id)
        )
        if taken is not None:
            raise UndoBlocked(f"The MIS record this run unlinked from pupil {pupil.id} now follows another account.")
    pupil.mis_student_id = student


async def _revert(session: AsyncSession, school_id: str, change: ChangeRow) -> None:
    before, now = change.before or {}, utc_now()
    pupil = await session.get(Pupil, change.pupil_id) if change.pupil_id else None
    band = await session.get(Band, change.band_id) if change.band_id else None
    match change.action:
        case "create_pupil" if pupil:
            pupil.archived_at, pupil.mis_student_id = now, None
        case "link_pupil" | "unlink_pupil" if pupil:
            # Back to the student it followed before: none for a first link, the old record for a
            # re-link after an MIS migration, the student a disconnect unlinked it from.
            await _relink(session, school_id, pupil, _uuid(before.get("mis_student_id")))
        case "rename_pupil" if pupil:
            pupil.first_name, pupil.last_name = before["first_name"], before["last_name"]
        case "change_year" if pupil:
            pupil.year_group = before.get("year_group")
        case "archive_pupil" if pupil:
            pupil.archived_at = None
        case "restore_pupil" if pupil:
            pupil.archived_at = now
        case "create_band" if band:
            band.archived_at, band.mis_class_id, band.mis_group_id = now, None, None
        case "rename_band" if band:
            band.name = before["name"]
        case "link_band" | "unlink_band" if band:
            if "container" in before:
                columns = await _container(session, school_id, before["container"]) if before["container"] else {}
            else:
                columns = {
                    "mis_class_id": _uuid(before.get("mis_class_id")),
                    "mis_group_id": _uuid(before.get("mis_group_id")),
                }
            band.mis_class_id = columns.get("mis_class_id")
            band.mis_group_id = columns.get("mis_group_id")
        case "end_migration":
            school = await session.get(School, school_id)
            assert school is not None
            school.migrating_since = datetime.fromisoformat(before["migrating_since"])
        case "add_to_band" if change.band_id and change.pupil_id:
            await session.execute(
                delete(BandMembership).where(
                    BandMembership.band_id == change.band_id, BandMembership.pupil_id == change.pupil_id
                )
            )
        case "remove_from_band" if change.band_id and change.pupil_id:
            session.add(
                BandMembership(band_id=change.band_id, pupil_id=change.pupil_id, school_id=school_id, source="mis")
            )
        case _:
            raise NothingToUndo(f"a {change.action} change cannot be undone")
    await session.flush()


async def undo_run(session: AsyncSession, school_id: str, run_id: uuid.UUID, actor: str) -> SyncRun:
    await lock_school(session, school_id)
    await get_run(session, school_id, run_id)
    applied = list(
        await session.scalars(
            select(ChangeRow)
            .where(ChangeRow.run_id == run_id, ChangeRow.status == "applied")
            .order_by(ChangeRow.id.desc())
        )
    )
    if not applied:
        raise NothingToUndo()
    touched = {(c.entity_type, c.entity_id) for c in applied}
    later = await session.scalar(
        select(ChangeRow.run_id)
        .where(
            ChangeRow.school_id == school_id,
            ChangeRow.run_id != run_id,
            ChangeRow.id > min(c.id for c in applied),
            ChangeRow.status == "applied",
            or_(*(and_(ChangeRow.entity_type == t, ChangeRow.entity_id == i) for t, i in touched)),
        )
        .limit(1)
    )
    if later is not None:
        raise UndoBlocked(f"Run {later} changed some of the same pupils or bands later: undo it first.")
    now = utc_now()
    undo = SyncRun(
        id=uuid.uuid4(),
        school_id=school_id,
        kind="undo",
        trigger="manual",
        status="running",
        actor=actor,
        started_at=now,
    )
    await claim_school(session, undo)
    for change in applied:
        await _revert(session, school_id, change)
        change.status, change.decided_at = "undone", now
    await record(
        session,
        school_id,
        undo.id,
        actor,
        [
            Entry(
                c.entity_type,
                c.entity_id,
                f"undo_{c.action}",
                c.after,
                c.before,
                pupil_id=c.pupil_id,
                band_id=c.band_id,
            )
            for c in applied
        ],
    )
    undo.status, undo.finished_at = "succeeded", utc_now()
    undo.counts = {"undone": len(applied), "of_run": str(run_id)}
    await session.flush()
    return undo
