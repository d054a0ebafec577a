from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import YEAR_GROUP_CHECK, UUIDPrimaryKey, in_list

PUPIL_SOURCES = ("app", "mis")


class Pupil(TimestampMixin, Base):
    """An app account for one child.

    The promises live in the indexes: a username is unique in its school (and, because pupils are
    never hard-deleted, never reused); a MIS student is linked to at most one pupil, and the single
    ``mis_student_id`` column means a pupil links to at most one MIS student.
    """

    __tablename__ = "pupils"
    __table_args__ = (
        UniqueConstraint("school_id", "id"),
        UniqueConstraint("school_id", "username"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
        CheckConstraint(in_list("source", PUPIL_SOURCES), name="source"),
        CheckConstraint("username ~ '^[a-z0-9][a-z0-9._-]{0,39}$'", name="username_format"),
        CheckConstraint("length(btrim(first_name)) > 0 AND length(btrim(last_name)) > 0", name="names_not_blank"),
        ForeignKeyConstraint(["school_id", "mis_student_id"], ["mis_students.school_id", "mis_students.id"]),
        Index(
            "uq_pupils_school_id_mis_student_id",
            "school_id",
            "mis_student_id",
            unique=True,
            postgresql_where=text("mis_student_id IS NOT NULL"),
        ),
        Index(
            "uq_pupils_school_id_external_id",
            "school_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index(None, "school_id", "last_name", "first_name"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    # The app's own identifier for the pupil (the roster's pupil_id), when it has one.
    external_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[int | None] = mapped_column(SmallInteger)
    username: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    mis_student_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(8), server_default=text("'app'"))
    archived_at: Mapped[datetime | None]
    # When the account was anonymised (a leaver past the grace period, or erased on request): its names
    # are replaced, its passwords cleared and its username kept so that no one else is given it.
    anonymised_at: Mapped[datetime | None]
