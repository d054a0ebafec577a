from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, LargeBinary, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import UUIDPrimaryKey


class Credential(TimestampMixin, Base):
    """A newly generated password, kept encrypted only until the admin confirms the login details as
    handed out (``confirmed_at``) or ``expires_at`` passes; then ``password_encrypted`` is cleared and only
    the record remains. Downloading the login details never clears it."""

    __tablename__ = "credentials"
    __table_args__ = (
        ForeignKeyConstraint(["school_id", "pupil_id"], ["pupils.school_id", "pupils.id"], ondelete="CASCADE"),
        Index(None, "run_id"),
        # At most one password waiting to be handed out per pupil; a reset supersedes the last.
        Index(
            "uq_credentials_pending_pupil",
            "pupil_id",
            unique=True,
            postgresql_where=text("password_encrypted IS NOT NULL"),
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sync_runs.id"))
    pupil_id: Mapped[uuid.UUID]
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
