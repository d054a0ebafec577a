"""The admin's uploader decisions: one row per MIS class or registration group, and one per student."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import delete

from app.kit.repository import SchoolScoped
from app.models import UploaderDecision


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
