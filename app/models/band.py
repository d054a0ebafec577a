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

BAND_SOURCES = ("app", "mis")


class Band(TimestampMixin, Base):
    """An app class. Linked to at most one MIS class or registration group; unlinked bands are app-only
    and the sync never touches them."""

    __tablename__ = "bands"
    __table_args__ = (
        UniqueConstraint("school_id", "id"),
        CheckConstraint(YEAR_GROUP_CHECK, name="year_group"),
        CheckConstraint(in_list("source", BAND_SOURCES), name="source"),
        CheckConstraint("num_nonnulls(mis_class_id, mis_group_id) <= 1", name="one_mis_link"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        ForeignKeyConstraint(["school_id", "mis_class_id"], ["mis_classes.school_id", "mis_classes.id"]),
        ForeignKeyConstraint(["school_id", "mis_group_id"], ["mis_groups.school_id", "mis_groups.id"]),
        # A MIS class (or group) is linked to at most one band.
        Index(
            "uq_bands_school_id_mis_class_id",
            "school_id",
            "mis_class_id",
            unique=True,
            postgresql_where=text("mis_class_id IS NOT NULL"),
        ),
        Index(
            "uq_bands_school_id_mis_group_id",
            "school_id",
            "mis_group_id",
            unique=True,
            postgresql_where=text("mis_group_id IS NOT NULL"),
        ),
        Index(None, "school_id", "name"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    year_group: Mapped[int | None] = mapped_column(SmallInteger)
    mis_class_id: Mapped[uuid.UUID | None]
    mis_group_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(8), server_default=text("'app'"))
    archived_at: Mapped[datetime | None]
