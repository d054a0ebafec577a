"""How undo reverts each journalled action, one function per way of reverting; ``entries.KINDS`` says
which action reverts how. Accounts are never deleted: what a run created is archived instead."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, BandMembership, ChangeRow, Pupil, School
from app.sync.journal.errors import NothingToUndo, UndoBlocked


class UndoQueries(Protocol):
    """What a revert reads besides the row (``ChangeRepository`` answers)."""

    async def container_columns(self, wonde_id: str) -> dict[str, uuid.UUID | None]: ...

    async def follower(self, student: uuid.UUID, other_than: uuid.UUID) -> uuid.UUID | None: ...


@dataclass(frozen=True)
class Undoing:
    """An applied row being reverted, in its school's transaction."""

    session: AsyncSession
    school_id: str
    row: ChangeRow
    now: datetime
    queries: UndoQueries

    @property
    def before(self) -> dict[str, Any]:
        return self.row.before or {}

    def refused(self) -> NothingToUndo:
        return NothingToUndo(f"a {self.row.action} change cannot be undone")

    async def pupil(self) -> Pupil:
        pupil = await self.session.get(Pupil, self.row.pupil_id) if self.row.pupil_id else None
        if pupil is None:
            raise self.refused()
        return pupil

    async def band(self) -> Band:
        band = await self.session.get(Band, self.row.band_id) if self.row.band_id else None
        if band is None:
            raise self.refused()
        return band

    def membership(self) -> tuple[uuid.UUID, uuid.UUID]:
        if not (self.row.band_id and self.row.pupil_id):
            raise self.refused()
        return self.row.band_id, self.row.pupil_id


Revert = Callable[[Undoing], Awaitable[None]]


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def link_band_back(u: Undoing) -> None:
    """Back to the class or group the band followed before (a Wonde id, or a disconnect's columns)."""
    band, before = await u.band(), u.before
    if "container" in before:
        columns = await u.queries.container_columns(before["container"]) if before["container"] else {}
    else:
        columns = {"mis_class_id": _uuid(before.get("mis_class_id")), "mis_group_id": _uuid(before.get("mis_group_id"))}
    band.mis_class_id = columns.get("mis_class_id")
    band.mis_group_id = columns.get("mis_group_id")


async def archive_created_band(u: Undoing) -> None:
    band = await u.band()
    band.archived_at, band.mis_class_id, band.mis_group_id = u.now, None, None


async def band_name_back(u: Undoing) -> None:
    (await u.band()).name = u.before["name"]


async def link_pupil_back(u: Undoing) -> None:
    """Back to the student the pupil followed before: none for a first link, the old record for a
    re-link after an MIS migration, the student a disconnect unlinked it from."""
    pupil = await u.pupil()
    student = _uuid(u.before.get("mis_student_id"))
    if student is not None and await u.queries.follower(student, other_than=pupil.id) is not None:
        raise UndoBlocked(f"The MIS record this run unlinked from pupil {pupil.id} now follows another account.")
    pupil.mis_student_id = student


async def archive_created_pupil(u: Undoing) -> None:
    """An account is never deleted: the one a run created is archived and follows no one."""
    pupil = await u.pupil()
    pupil.archived_at, pupil.mis_student_id = u.now, None


async def names_back(u: Undoing) -> None:
    pupil = await u.pupil()
    pupil.first_name, pupil.last_name = u.before["first_name"], u.before["last_name"]


async def year_back(u: Undoing) -> None:
    (await u.pupil()).year_group = u.before.get("year_group")


async def unarchive(u: Undoing) -> None:
    (await u.pupil()).archived_at = None


async def archive_again(u: Undoing) -> None:
    (await u.pupil()).archived_at = u.now


async def take_out_of_band(u: Undoing) -> None:
    band, pupil = u.membership()
    await u.session.execute(
        delete(BandMembership).where(BandMembership.band_id == band, BandMembership.pupil_id == pupil)
    )


async def put_back_in_band(u: Undoing) -> None:
    band, pupil = u.membership()
    u.session.add(BandMembership(band_id=band, pupil_id=pupil, school_id=u.school_id, source="mis"))


async def migrating_again(u: Undoing) -> None:
    school = await u.session.get(School, u.school_id)
    assert school is not None
    school.migrating_since = datetime.fromisoformat(u.before["migrating_since"])
