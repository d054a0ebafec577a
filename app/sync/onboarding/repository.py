"""The admin's uploader decisions: one row per MIS class or registration group, and one per student;
and who is in an MIS class, for the admin choosing what to do with it."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import and_, delete, func, select

from app.kit.pagination import PageParams
from app.kit.repository import SchoolScoped
from app.models import MisClass, MisGroup, MisMembership, MisStudent, Pupil, UploaderDecision


class DecisionRepository(SchoolScoped[UploaderDecision]):
    model = UploaderDecision

    def new_for_container(self, container_id: uuid.UUID, kind: str) -> UploaderDecision:
        decision = UploaderDecision(school_id=self.school_id)
        if kind == "class":
            decision.mis_class_id = container_id
        else:
            decision.mis_group_id = container_id
        self.session.add(decision)
        return decision

    def new_for_student(self, student_id: uuid.UUID) -> UploaderDecision:
        decision = UploaderDecision(school_id=self.school_id, mis_student_id=student_id)
        self.session.add(decision)
        return decision

    async def forget_band(self, band_id: uuid.UUID, *, keep: Collection[uuid.UUID]) -> None:
        """Drop the decisions that match ``band_id`` except ``keep``: decisions about classes that have
        since gone from the MIS, which must not keep holding the band."""
        await self.session.execute(
            delete(UploaderDecision).where(
                UploaderDecision.school_id == self.school_id,
                UploaderDecision.band_id == band_id,
                UploaderDecision.id.not_in(keep),
            )
        )

    async def forget(self, ids: Collection[uuid.UUID]) -> None:
        """Drop these decisions (the admin took them back)."""
        if ids:
            await self.session.execute(
                delete(UploaderDecision).where(
                    UploaderDecision.school_id == self.school_id, UploaderDecision.id.in_(list(ids))
                )
            )

    async def forget_students(self) -> None:
        """Drop every decision about a student but the skips (a disconnect: links and new accounts were
        answers for that connection; a skip is the admin's word about the child, kept until taken back)."""
        await self.session.execute(
            delete(UploaderDecision).where(
                UploaderDecision.school_id == self.school_id,
                UploaderDecision.mis_student_id.is_not(None),
                UploaderDecision.resolution != "skip",
            )
        )


class ClassRosterRepository(SchoolScoped[MisClass]):
    """The pupils of one live MIS class or registration group, with the account each is linked to."""

    model = MisClass

    async def container(self, wonde_id: str) -> tuple[uuid.UUID, str] | None:
        """(our id, "class" or "group") of the live class, or registration group, with this Wonde id."""
        class_id = await self.session.scalar(
            select(MisClass.id).where(
                MisClass.school_id == self.school_id, MisClass.wonde_id == wonde_id, MisClass.deleted_at.is_(None)
            )
        )
        if class_id is not None:
            return class_id, "class"
        group_id = await self.session.scalar(
            select(MisGroup.id).where(
                MisGroup.school_id == self.school_id,
                MisGroup.wonde_id == wonde_id,
                MisGroup.type == "REGISTRATION",
                MisGroup.deleted_at.is_(None),
            )
        )
        return (group_id, "group") if group_id is not None else None

    async def students(
        self, container_id: uuid.UUID, kind: str, page: PageParams
    ) -> tuple[list[tuple[MisStudent, Pupil | None]], int]:
        """One page of the container's live students by surname, each with their linked account; the total."""
        column = MisMembership.mis_class_id if kind == "class" else MisMembership.mis_group_id
        members = (
            select(MisStudent, Pupil)
            .join(MisMembership, MisMembership.mis_student_id == MisStudent.id)
            .outerjoin(Pupil, and_(Pupil.mis_student_id == MisStudent.id, Pupil.school_id == self.school_id))
            .where(
                MisMembership.school_id == self.school_id,
                MisStudent.school_id == self.school_id,
                column == container_id,
                MisMembership.deleted_at.is_(None),
                MisStudent.deleted_at.is_(None),
            )
        )
        total = await self.session.scalar(select(func.count()).select_from(members.subquery()))
        ordered = members.order_by(MisStudent.surname, MisStudent.forename, MisStudent.wonde_id)
        rows = await self.session.execute(ordered.limit(page.per_page).offset(page.offset))
        return [(student, pupil) for student, pupil in rows], int(total or 0)
