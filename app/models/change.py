from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, ForeignKeyConstraint, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import in_list


class ChangeStatus(StrEnum):
    """Where a journalled change stands (stored as these strings)."""

    APPLIED = "applied"
    HELD = "held"  # waiting for an admin
    REJECTED = "rejected"  # held, and the admin said no
    UNDONE = "undone"


class Entity(StrEnum):
    """What a journalled change is about (``entity_type``; stored as these strings)."""

    SCHOOL = "school"
    BAND = "band"
    PUPIL = "pupil"
    BAND_MEMBERSHIP = "band_membership"


CHANGE_STATUSES = tuple(status.value for status in ChangeStatus)
CHANGE_ENTITIES = tuple(entity.value for entity in Entity)


class ChangeRow(TimestampMixin, Base):
    """The journal: one row per change a run applied or held, with before and after (named apart from
    ``app.sync.core.changes.Change``, the change a plan makes, which a row journals); and one row per act
    of a person outside any run (``app.audit``: a password reset, a download of login details ...), with
    no run, always applied and always naming its actor.

    It is the audit log, the per-pupil timeline (``pupil_id``) and the source for undo. Its values are
    redacted after ``retention.journal_values_days``; its rows are kept.
    """

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(in_list("status", CHANGE_STATUSES), name="status"),
        CheckConstraint(in_list("entity_type", CHANGE_ENTITIES), name="entity_type"),
        # An entry without a run is an audit entry: applied, and by someone.
        CheckConstraint("run_id IS NOT NULL OR (actor IS NOT NULL AND status = 'applied')", name="audit_entry"),
        ForeignKeyConstraint(["school_id", "pupil_id"], ["pupils.school_id", "pupils.id"]),
        ForeignKeyConstraint(["school_id", "band_id"], ["bands.school_id", "bands.id"]),
        Index(None, "run_id"),
        Index(None, "school_id", "pupil_id", "id"),
        Index("ix_changes_held", "school_id", postgresql_where=text("status = 'held'")),
        # The rows that may carry an admin's word for the next sync (``app.sync.core.undone``).
        Index(
            "ix_changes_remembered",
            "school_id",
            postgresql_where=text("lapsed_at IS NULL AND status IN ('undone', 'rejected')"),
        ),
        # What the retention job still has to redact, oldest first.
        Index("ix_changes_unredacted", "created_at", postgresql_where=text("redacted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sync_runs.id"))  # None: an audit entry
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(100))
    pupil_id: Mapped[uuid.UUID | None]
    band_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'applied'"))
    actor: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    # When the retention job replaced the values in ``before`` and ``after`` that can hold a child's data
    # (``app.sync.journal.redaction``); such a row is still listed, but its run can no longer be undone.
    redacted_at: Mapped[datetime | None]
    # When a sync stopped taking this row as the admin's word (``app.sync.core.undone``): a change an undo
    # reverted, once the next sync looked at it; a change rejected after an undo, once a sync no longer
    # planned it (the MIS changed again). Null on every other row.
    lapsed_at: Mapped[datetime | None]
