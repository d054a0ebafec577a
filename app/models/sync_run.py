from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import UUIDPrimaryKey, in_list

RUN_KINDS = ("full_read", "delta_read", "merge", "reconcile", "disconnect", "undo", "ping")
RUN_TRIGGERS = ("schedule", "webhook", "manual")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")
# Runs that change the app's state; at most one of them is queued or running per school.
MUTATING_RUN_KINDS = ("merge", "reconcile", "disconnect", "undo")


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
            postgresql_where=text(f"status IN ('queued', 'running') AND {in_list('kind', MUTATING_RUN_KINDS)}"),
        ),
    )

    id: Mapped[UUIDPrimaryKey]
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'queued'"))
    actor: Mapped[str | None] = mapped_column(String(200))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    requests_made: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
