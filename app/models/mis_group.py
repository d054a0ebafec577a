from __future__ import annotations

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._mis_container import MisContainerColumns
from app.models._types import YEAR_GROUP_CHECK


class MisGroup(MisContainerColumns, TimestampMixin, Base):
    """Mirror of one Wonde group; registration groups stand in for classes in MIS without them."""

    __tablename__ = "mis_groups"
    __table_args__ = (
        UniqueConstraint("school_id", "wonde_id"),
        UniqueConstraint("school_id", "id"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
    )

    type: Mapped[str] = mapped_column(String(32))
