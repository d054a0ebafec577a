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
# The payload_type of a body that could not be read (``app.webhooks.intake``): its payload is its size.
UNREADABLE = "unreadable"


def acted_on_payload(payload_type: str, wonde_school_id: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    """What an event keeps once acted on: its type and Wonde school id (from the columns, so already cut
    to their length); an unreadable body only ever kept its size, and keeps that.
    ``app.sync.retention.repository`` says the same in SQL for the events it sweeps."""
    kept: dict[str, Any]
    if payload_type == UNREADABLE:
        kept = {"unreadable_body_bytes": payload.get("unreadable_body_bytes")}
    else:
        kept = {"payload_type": payload_type, "school_id": wonde_school_id}
    return {key: value for key, value in kept.items() if value is not None}


class WebhookEvent(TimestampMixin, Base):
    """A Wonde webhook as received, stored before it is acknowledged.

    ``payload`` holds the event without its secrets; a ``school_token`` is kept only encrypted in
    ``token_encrypted``. ``dedupe_key`` is the sha256 of the event's body: Wonde's bodies carry no time,
    so one key may be stored more than once (the same event sent again later, consent given or
    withdrawn again); ``app.webhooks.intake`` decides which deliveries are redeliveries.
    ``created_at`` is the service's clock (``utc_now()``) when the delivery arrived.

    Once the event is acted on (processed, rejected or ignored) it keeps only its type and ids
    (``forget_payload``): nothing reads the rest again, and the redelivery check reads the columns.
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

    def forget_payload(self) -> None:
        """Drop what the event carried beyond its type and ids, and its token: it has been acted on."""
        self.payload = acted_on_payload(self.payload_type, self.wonde_school_id, self.payload)
        self.token_encrypted = None
