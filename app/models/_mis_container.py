"""Columns shared by the two kinds of MIS container a band can follow: classes and groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models._types import UUIDPrimaryKey


class MisContainerColumns:
    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    wonde_id: Mapped[str] = mapped_column(String(64))
    mis_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    # Wonde gives neither a year of its own: this is derived from the members or the name.
    year_group: Mapped[int | None] = mapped_column(SmallInteger)
    wonde_updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
