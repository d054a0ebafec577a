from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ErasedStudent(Base):
    """A child erased on request: only the Wonde student id is kept, so that no later read brings the
    child's record back into the mirror and no sync makes them a new account without the admin's say;
    and, when the MIS gave a UPN, a keyed digest of it (never the UPN), so that the child is still
    recognised after an MIS migration gives them a new Wonde id."""

    __tablename__ = "erased_students"

    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    wonde_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    upn_digest: Mapped[str | None] = mapped_column(String(64))
