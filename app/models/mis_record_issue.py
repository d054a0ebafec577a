from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models._types import UUIDPrimaryKey, in_list

# The record kinds and codes a read records (``app.sync.mirror.quality.codes``: ``Record`` and
# ``RECORDED``); spelled out here because the models know nothing of the sync.
RECORD_KINDS = ("student", "class", "group")
RECORDED_CODES = ("quarantined", "cleaned", "excluded")


class MisRecordIssue(Base):
    """A record of a school's MIS that its reads set aside (``quarantined``: it could not be used, and
    the mirror keeps what it had of it) or changed on the way in (``cleaned``).

    Ids and field names only, never a value: the admin is told which record and which fields to fix
    in the MIS, and the names come from the mirror when it has them. Kept while reads keep finding
    it: a read that finds the record clean (or a full read that no longer finds it) removes the row.
    """

    __tablename__ = "mis_record_issues"
    __table_args__ = (
        UniqueConstraint("school_id", "record", "wonde_id", "code"),
        CheckConstraint(in_list("record", RECORD_KINDS), name="record"),
        CheckConstraint(in_list("code", RECORDED_CODES), name="code"),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    record: Mapped[str] = mapped_column(String(16))
    wonde_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    # The names of the fields at fault, comma-separated.
    fields: Mapped[str] = mapped_column(String(500))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
