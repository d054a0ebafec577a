from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import UUIDPrimaryKey


class MisMembership(TimestampMixin, Base):
    """A student's place in one MIS class or group, as the last complete read saw it."""

    __tablename__ = "mis_memberships"
    __table_args__ = (
        CheckConstraint("num_nonnulls(mis_class_id, mis_group_id) = 1", name="one_container"),
        ForeignKeyConstraint(
            ["school_id", "mis_student_id"], ["mis_students.school_id", "mis_students.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["school_id", "mis_class_id"], ["mis_classes.school_id", "mis_classes.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["school_id", "mis_group_id"], ["mis_groups.school_id", "mis_groups.id"], ondelete="CASCADE"
        ),
        Index(
            "uq_mis_memberships_student_class",
            "mis_student_id",
            "mis_class_id",
            unique=True,
            postgresql_where=text("mis_class_id IS NOT NULL"),
        ),
        Index(
            "uq_mis_memberships_student_group",
            "mis_student_id",
            "mis_group_id",
            unique=True,
            postgresql_where=text("mis_group_id IS NOT NULL"),
        ),
        Index(None, "school_id", "mis_class_id"),
        Index(None, "school_id", "mis_group_id"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    mis_student_id: Mapped[uuid.UUID]
    mis_class_id: Mapped[uuid.UUID | None]
    mis_group_id: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime | None]
