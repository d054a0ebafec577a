from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import YEAR_GROUP_CHECK, UUIDPrimaryKey


class MisStudent(TimestampMixin, Base):
    """Mirror of one Wonde student: only what matching, linking and re-linking need.

    No date of birth, contacts or gender (data minimisation). ``upi`` and ``upn`` are kept as
    re-link keys for re-enrolment and MIS migration. Never hard-deleted: ``deleted_at`` marks a
    record a complete read no longer returned, or that Wonde reported deleted.
    """

    __tablename__ = "mis_students"
    __table_args__ = (
        UniqueConstraint("school_id", "wonde_id"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
        Index(None, "school_id", "upi"),
        Index(None, "school_id", "upn"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    wonde_id: Mapped[str] = mapped_column(String(64))
    upi: Mapped[str | None] = mapped_column(String(64))
    mis_id: Mapped[str | None] = mapped_column(String(64))
    upn: Mapped[str | None] = mapped_column(String(32))
    forename: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100))
    legal_forename: Mapped[str | None] = mapped_column(String(100))
    legal_surname: Mapped[str | None] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    year_group: Mapped[int | None] = mapped_column(SmallInteger)
    # The school's own free-text year code, kept for display when it cannot be normalised.
    year_code: Mapped[str | None] = mapped_column(String(32))
    leaving_date: Mapped[date | None]
    wonde_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
