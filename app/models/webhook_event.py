from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.models._types import StrEnumColumn, UUIDPrimaryKey, in_list


class WebhookStatus(StrEnum):
    """received (its job queued) -> processed | rejected; an unknown payload type is stored ignored."""

    RECEIVED = "received"
    PROCESSED = "processed"
    REJECTED = "rejected"
    IGNORED = "ignored"


WEBHOOK_STATUSES = tuple(WebhookStatus)


class WebhookEvent(TimestampMixin, Base):
    """A Wonde webhook as received, stored before it is acknowledged.

    ``payload`` holds the event without its secrets; a ``school_token`` is kept only encrypted in
    ``token_encrypted``. ``dedupe_key`` is the sha256 of the event's body: Wonde's bodies carry no time,
    so one key may be stored more than once (the same event sent again later, consent given or
    withdrawn again); ``app.webhooks.intake`` decides which deliveries are redeliveries.
    ``created_at`` is the service's clock (``utc_now()``) when the delivery arrived.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(in_list("status", WEBHOOK_STATUSES), name="status"),
        Index(None, "dedupe_key", "created_at"),
    )

    id: Mapped[UUIDPrimaryKey]
    dedupe_key: Mapped[str] = mapped_column(String(64))
    payload_type: Mapped[str] = mapped_column(String(64))
    wonde_school_id: Mapped[str | None] = mapped_column(String(64), index=True)
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[WebhookStatus] = mapped_column(StrEnumColumn(WebhookStatus), server_default=text("'received'"))
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
