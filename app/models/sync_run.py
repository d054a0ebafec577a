from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import StrEnumColumn, UUIDPrimaryKey, in_list


class RunKind(StrEnum):
    FULL_READ = "full_read"
    DELTA_READ = "delta_read"
    MERGE = "merge"
    RECONCILE = "reconcile"
    DISCONNECT = "disconnect"
    UNDO = "undo"
    PING = "ping"
    ANONYMISE = "anonymise"  # leavers past the grace period, or a child erased on request
    NEW_PASSWORDS = "new_passwords"  # an admin reissued a band's passwords: the run holds their login details


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class RunStatus(StrEnum):
    """queued -> running -> succeeded | failed; ``app.sync.runs.service`` makes every transition."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


RUN_KINDS = tuple(RunKind)
RUN_TRIGGERS = tuple(RunTrigger)
RUN_STATUSES = tuple(RunStatus)
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED)
READ_RUN_KINDS = (RunKind.FULL_READ, RunKind.DELTA_READ)
# Runs that change the app's state; at most one of them is queued or running per school.
MUTATING_RUN_KINDS = (RunKind.MERGE, RunKind.RECONCILE, RunKind.DISCONNECT, RunKind.UNDO, RunKind.ANONYMISE)


class SyncRun(TimestampMixin, Base):
    """One fetch, merge, reconcile or disconnect of one school: what triggered it, how it went."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint(in_list("kind", RUN_KINDS), name="kind"),
        CheckConstraint(in_list("trigger", RUN_TRIGGERS), name="trigger"),
        CheckConstraint(in_list("status", RUN_STATUSES), name="status"),
        Index(None, "school_id", "created_at"),
        Index(
            "uq_sync_runs_one_active_mutation",
            "school_id",
            unique=True,
            postgresql_where=text(
                f"{in_list('status', ACTIVE_RUN_STATUSES)} AND {in_list('kind', MUTATING_RUN_KINDS)}"
            ),
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[RunKind] = mapped_column(StrEnumColumn(RunKind))
    trigger: Mapped[RunTrigger] = mapped_column(StrEnumColumn(RunTrigger))
    status: Mapped[RunStatus] = mapped_column(StrEnumColumn(RunStatus), server_default=text("'queued'"))
    actor: Mapped[str | None] = mapped_column(String(200))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    requests_made: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    # Why a failed run failed: one of ``app.sync.runs.failures.FailureCode`` (``error`` is its sentence).
    failure_code: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
