from __future__ import annotations

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._mis_container import MisContainerColumns
from app.models._types import YEAR_GROUP_CHECK


class MisClass(MisContainerColumns, TimestampMixin, Base):
    """Mirror of one Wonde class (a teaching class: ``10x/Bi1``, ``6Ma1``)."""

    __tablename__ = "mis_classes"
    __table_args__ = (
        UniqueConstraint("school_id", "wonde_id"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
    )

    subject_wonde_id: Mapped[str | None] = mapped_column(String(64))
