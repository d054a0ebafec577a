from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import UUIDPrimaryKey, in_list

CLASS_ACTIONS = ("no_action", "match", "import")
STUDENT_RESOLUTIONS = ("link", "create", "skip")


class UploaderDecision(TimestampMixin, Base):
    """An admin's decision in the uploader: an action for one MIS class or group, or a resolution
    for one MIS student. Decisions are inputs to matching and merge, never re-decided by them."""

    __tablename__ = "uploader_decisions"
    __table_args__ = (
        CheckConstraint("num_nonnulls(mis_class_id, mis_group_id, mis_student_id) = 1", name="one_subject"),
        CheckConstraint(
            "(mis_student_id IS NULL AND action IS NOT NULL AND resolution IS NULL)"
            " OR (mis_student_id IS NOT NULL AND action IS NULL AND resolution IS NOT NULL)",
            name="action_or_resolution",
        ),
        CheckConstraint(in_list("action", CLASS_ACTIONS), name="action"),
        CheckConstraint(in_list("resolution", STUDENT_RESOLUTIONS), name="resolution"),
        CheckConstraint("action <> 'match' OR band_id IS NOT NULL", name="match_has_band"),
        CheckConstraint("resolution <> 'link' OR pupil_id IS NOT NULL", name="link_has_pupil"),
        ForeignKeyConstraint(
            ["school_id", "mis_class_id"], ["mis_classes.school_id", "mis_classes.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["school_id", "mis_group_id"], ["mis_groups.school_id", "mis_groups.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["school_id", "mis_student_id"], ["mis_students.school_id", "mis_students.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["school_id", "band_id"], ["bands.school_id", "bands.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["school_id", "pupil_id"], ["pupils.school_id", "pupils.id"], ondelete="CASCADE"),
        Index(
            "uq_uploader_decisions_class",
            "school_id",
            "mis_class_id",
            unique=True,
            postgresql_where=text("mis_class_id IS NOT NULL"),
        ),
        Index(
            "uq_uploader_decisions_group",
            "school_id",
            "mis_group_id",
            unique=True,
            postgresql_where=text("mis_group_id IS NOT NULL"),
        ),
        Index(
            "uq_uploader_decisions_student",
            "school_id",
            "mis_student_id",
            unique=True,
            postgresql_where=text("mis_student_id IS NOT NULL"),
        ),
        # One band is matched to at most one MIS class or group.
        Index(
            "uq_uploader_decisions_band", "school_id", "band_id", unique=True, postgresql_where=text("action = 'match'")
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    mis_class_id: Mapped[uuid.UUID | None]
    mis_group_id: Mapped[uuid.UUID | None]
    mis_student_id: Mapped[uuid.UUID | None]
    action: Mapped[str | None] = mapped_column(String(16))
    band_id: Mapped[uuid.UUID | None]
    resolution: Mapped[str | None] = mapped_column(String(16))
    pupil_id: Mapped[uuid.UUID | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
