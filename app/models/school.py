from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, LargeBinary, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import StrEnumColumn, in_list


class SchoolState(StrEnum):
    """pending -> approved (Wonde access granted) -> syncing (merged) -> disconnected (and approved again)."""

    PENDING = "pending"
    APPROVED = "approved"
    SYNCING = "syncing"
    DISCONNECTED = "disconnected"


SCHOOL_STATES = tuple(SchoolState)


class School(TimestampMixin, Base):
    """A tenant. Its id is the app's own school id, the one carried in the caller's token."""

    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint(in_list("state", SCHOOL_STATES), name="state"),
        CheckConstraint("length(id) BETWEEN 1 AND 64", name="id_length"),
        CheckConstraint("leaver_grace_days BETWEEN 0 AND 3660", name="leaver_grace_days"),
        CheckConstraint("hold_min_pupils >= 0", name="hold_min_pupils"),
        CheckConstraint("hold_fraction BETWEEN 0 AND 1", name="hold_fraction"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), server_default=text("'Europe/London'"))
    state: Mapped[SchoolState] = mapped_column(StrEnumColumn(SchoolState), server_default=text("'pending'"))
    wonde_school_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    wonde_domain: Mapped[str | None] = mapped_column(String(255))
    # Fernet ciphertext of the school's Wonde token (app.kit.crypto); never stored in clear.
    wonde_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_full_read_at: Mapped[datetime | None]
    last_delta_read_at: Mapped[datetime | None]
    # Set by Wonde's schoolMigration (a new MIS: every id changes); cleared once pupils are re-linked.
    migrating_since: Mapped[datetime | None]
    # Tokens for this school issued before this moment (or without an ``iat``) are refused
    # (``bandsync revoke-tokens``); checked where each request already loads the school.
    tokens_valid_after: Mapped[datetime | None]
    # Safeguard settings (design §2): leavers are kept restorable for the grace period; removals
    # beyond both thresholds in one run are held for an admin.
    leaver_grace_days: Mapped[int] = mapped_column(server_default=text("183"))
    hold_min_pupils: Mapped[int] = mapped_column(server_default=text("5"))
    hold_fraction: Mapped[Decimal] = mapped_column(Numeric(4, 3), server_default=text("0.100"))
