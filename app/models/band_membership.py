from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import in_list

MEMBERSHIP_SOURCES = ("app", "mis")


class BandMembership(TimestampMixin, Base):
    """A pupil in a band. ``source`` says who put them there: the sync only removes what it added."""

    __tablename__ = "band_memberships"
    __table_args__ = (
        CheckConstraint(in_list("source", MEMBERSHIP_SOURCES), name="source"),
        ForeignKeyConstraint(["school_id", "band_id"], ["bands.school_id", "bands.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["school_id", "pupil_id"], ["pupils.school_id", "pupils.id"], ondelete="CASCADE"),
        Index(None, "school_id", "pupil_id"),
    )

    band_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pupil_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(8), server_default=text("'app'"))
