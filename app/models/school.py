from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, LargeBinary, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import StrEnumColumn, in_list


class SchoolState(StrEnum):
    """pending -> approved (Wonde access granted) -> syncing (merged) -> disconnected (and approved again).

    An approval from a Wonde school whose URN is not the registered one makes the school
    ``needs_confirmation`` instead: nothing is read until the platform confirms or rejects it."""

    PENDING = "pending"
    NEEDS_CONFIRMATION = "needs_confirmation"
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
    state: Mapped[SchoolState] = mapped_column(StrEnumColumn(SchoolState, 32), server_default=text("'pending'"))
    # The DfE's unique reference number (LA code and establishment number optional); Wonde's approval is
    # acted on only when Wonde's school carries the same URN.
    urn: Mapped[str | None] = mapped_column(String(8))
    la_code: Mapped[str | None] = mapped_column(String(3))
    establishment_number: Mapped[str | None] = mapped_column(String(4))
    wonde_school_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The URN Wonde gave with an approval that waits for the platform's confirmation (needs_confirmation).
    wonde_urn: Mapped[str | None] = mapped_column(String(8))
    wonde_domain: Mapped[str | None] = mapped_column(String(255))
    # Fernet ciphertext of the school's Wonde token (app.kit.crypto); never stored in clear.
    wonde_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_full_read_at: Mapped[datetime | None]
    last_delta_read_at: Mapped[datetime | None]
    # Set by Wonde's schoolMigration (a new MIS: every id changes); cleared once pupils are re-linked.
    migrating_since: Mapped[datetime | None]
    # When the school's consent to share its MIS data ended: it disconnected, Wonde told us access was
    # revoked or declined, or the platform rejected its approval. Cleared when Wonde approves again. The
    # MIS mirror is deleted ``retention.mirror_after_consent_days`` later (``app.sync.retention``).
    consent_ended_at: Mapped[datetime | None]
    # Tokens for this school issued before this moment (or without an ``iat``) are refused
    # (``bandsync revoke-tokens``); checked where each request already loads the school.
    tokens_valid_after: Mapped[datetime | None]
    # Safeguard settings (design §2): leavers are kept restorable for the grace period; removals
    # beyond both thresholds in one run are held for an admin.
    leaver_grace_days: Mapped[int] = mapped_column(server_default=text("183"))
    hold_min_pupils: Mapped[int] = mapped_column(server_default=text("5"))
    hold_fraction: Mapped[Decimal] = mapped_column(Numeric(4, 3), server_default=text("0.100"))
    # Changed by PostgreSQL on every write to the school's state (app/sync/state/version.py says which):
    # read it with ``app.sync.state.repository.state_version``, never from a loaded School (stale at once).
    state_version: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('school_state_versions')"))
