from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import YEAR_GROUP_CHECK, UUIDPrimaryKey


class MisGroup(TimestampMixin, Base):
    """Mirror of one Wonde group; registration groups stand in for classes in MIS without them."""

    __tablename__ = "mis_groups"
    __table_args__ = (
        UniqueConstraint("school_id", "wonde_id"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    wonde_id: Mapped[str] = mapped_column(String(64))
    mis_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(500))
    year_group: Mapped[int | None] = mapped_column(SmallInteger)
    wonde_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
