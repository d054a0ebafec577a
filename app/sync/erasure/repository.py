"""Every query of anonymisation and erasure. Tenancy: each query of ``ErasureRepository`` filters by its
school; ``schools_with_leavers_due`` is the daily job's one look across schools (ids only)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    BandMembership,
    ChangeRow,
    Credential,
    ErasedStudent,
    MisMembership,
    MisStudent,
    Pupil,
    School,
)


async def schools_with_leavers_due(session: AsyncSession, now: datetime) -> list[str]:
    """Schools with an account archived longer ago than the school's grace period, not yet anonymised."""
    due = (
        select(Pupil.school_id)
        .join(School, School.id == Pupil.school_id)
        .where(
            Pupil.archived_at.is_not(None),
            Pupil.anonymised_at.is_(None),
            Pupil.archived_at < now - func.make_interval(0, 0, 0, School.leaver_grace_days),
        )
        .distinct()
    )
    return list(await session.scalars(due))


class ErasureRepository:
    def __init__(self, session: AsyncSession, school_id: str) -> None:
        self.session = session
        self.school_id = school_id

    async def leavers_due(self, now: datetime, grace_days: int) -> list[Pupil]:
        """The school's accounts archived more than ``grace_days`` ago and not yet anonymised, locked."""
        rows = await self.session.scalars(
            select(Pupil)
            .where(
                Pupil.school_id == self.school_id,
                Pupil.archived_at.is_not(None),
                Pupil.anonymised_at.is_(None),
                Pupil.archived_at < now - func.make_interval(0, 0, 0, grace_days),
            )
            .order_by(Pupil.id)
            .with_for_update()
        )
        return list(rows)

    async def pupil(self, pupil_id: uuid.UUID) -> Pupil | None:
        return await self.session.scalar(
            select(Pupil).where(Pupil.school_id == self.school_id, Pupil.id == pupil_id).with_for_update()
        )

    async def students(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, MisStudent]:
        """The mirror records of these ids, and every other record of the same children (by UPN): an
        MIS migration leaves the child's earlier record, under its old Wonde id, beside the new one."""
        linked = list(
            await self.session.scalars(
                select(MisStudent).where(MisStudent.school_id == self.school_id, MisStudent.id.in_(list(ids)))
            )
        )
        upns = {row.upn for row in linked if row.upn}
        same_child: list[MisStudent] = []
        if upns:
            same_child = list(
                await self.session.scalars(
                    select(MisStudent).where(MisStudent.school_id == self.school_id, MisStudent.upn.in_(upns))
                )
            )
        return {row.id: row for row in [*linked, *same_child]}

    async def end_memberships(self, pupil_ids: Collection[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """End every band membership of these accounts; returns the (band, pupil) pairs ended."""
        result = await self.session.execute(
            delete(BandMembership)
            .where(BandMembership.school_id == self.school_id, BandMembership.pupil_id.in_(list(pupil_ids)))
            .returning(BandMembership.band_id, BandMembership.pupil_id)
        )
        return sorted((band, pupil) for band, pupil in result.all())

    async def clear_waiting_passwords(self, pupil_ids: Collection[uuid.UUID]) -> None:
        await self.session.execute(
            delete(Credential).where(Credential.school_id == self.school_id, Credential.pupil_id.in_(list(pupil_ids)))
        )

    async def journal_about(self, pupil_ids: Collection[uuid.UUID], students: Collection[str]) -> list[ChangeRow]:
        """The journal rows about these accounts, and the held changes about these Wonde students."""
        about_student = ChangeRow.after["change"]["student"].astext.in_(list(students))
        rows = await self.session.scalars(
            select(ChangeRow)
            .where(
                ChangeRow.school_id == self.school_id,
                or_(ChangeRow.pupil_id.in_(list(pupil_ids)), about_student if students else text("false")),
            )
            .order_by(ChangeRow.id)
        )
        return list(rows)

    async def blank_left_students(self, ids: Collection[uuid.UUID]) -> None:
        """Take the names off mirror rows of students the MIS no longer has (their ids stay, so that a
        returner is known); a student the MIS still shares keeps what the MIS says."""
        await self.session.execute(
            update(MisStudent)
            .where(
                MisStudent.school_id == self.school_id,
                MisStudent.id.in_(list(ids)),
                MisStudent.deleted_at.is_not(None),
            )
            .values(forename="", surname="", legal_forename=None, legal_surname=None, middle_names=None)
        )

    async def forget_students(self, ids: Collection[uuid.UUID]) -> None:
        """Take everything but the Wonde id off the mirror rows of students erased on request, and mark
        them and their memberships deleted (nothing in the mirror is hard-deleted; no read restores them)."""
        await self.session.execute(
            update(MisMembership)
            .where(
                MisMembership.school_id == self.school_id,
                MisMembership.mis_student_id.in_(list(ids)),
                MisMembership.deleted_at.is_(None),
            )
            .values(deleted_at=func.now(), updated_at=func.now())
        )
        await self.session.execute(
            update(MisStudent)
            .where(MisStudent.school_id == self.school_id, MisStudent.id.in_(list(ids)))
            .values(
                forename="",
                surname="",
                legal_forename=None,
                legal_surname=None,
                middle_names=None,
                upi=None,
                upn=None,
                mis_id=None,
                year_code=None,
                deleted_at=func.coalesce(MisStudent.deleted_at, func.now()),
                updated_at=func.now(),
            )
        )

    async def add_erased(self, erased: dict[str, str | None], now: datetime) -> None:
        """Put Wonde student ids (each with its UPN's digest, if any) on the school's erased list."""
        known = await self.erased()
        for wonde_id, digest in sorted(erased.items()):
            if wonde_id not in known:
                self.session.add(
                    ErasedStudent(school_id=self.school_id, wonde_id=wonde_id, erased_at=now, upn_digest=digest)
                )
        await self.session.flush()

    async def erased(self) -> set[str]:
        """The Wonde ids of the school's students erased on request."""
        return set(
            await self.session.scalars(select(ErasedStudent.wonde_id).where(ErasedStudent.school_id == self.school_id))
        )
