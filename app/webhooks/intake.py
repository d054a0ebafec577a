"""Receiving Wonde's webhooks: check the secret, store the event, and only then say 2xx.

Wonde signs nothing and cannot send a header, so the secret travels in the URL; it is read from the raw
query string, because form-style decoding would turn a "+" in a base64 secret into a space. Every
event is stored before it is acknowledged (Wonde retries a non-2xx three times), the school token it
may carry only encrypted, and a redelivered event is recognised and stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.crypto import SecretBox
from app.kit.jobs import WEBHOOK, enqueue
from app.models import WebhookEvent
from app.models.webhook_event import WebhookStatus

KNOWN_EVENTS = frozenset({"schoolApproved", "accessRevoked", "accessDeclined", "schoolMigration"})
SECRET_FIELDS = ("school_token",)


def secret_from_query(raw_query: bytes) -> str | None:
    """The ``secret`` parameter, percent-decoded but with "+" kept as "+"."""
    for part in raw_query.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "secret":
            return unquote(value)
    return None


def secret_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def parse_body(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The event as a dict: JSON, or form-encoded (unconfirmed whether Wonde ever sends that)."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            parsed: Any = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        else:
            parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass(frozen=True)
class Stored:
    event_id: str
    status: str  # "received" (to be processed), "ignored", "rejected", or "duplicate"


async def store_event(session: AsyncSession, body: bytes, content_type: str, box: SecretBox) -> Stored:
    """Store the event (once, however often it is delivered) and queue its processing after commit."""
    payload = parse_body(body, content_type)
    error: str | None
    status: WebhookStatus
    if payload is None:
        kept: dict[str, Any] = {"unreadable_body_bytes": len(body)}
        payload_type, status, error = "unreadable", WebhookStatus.REJECTED, "the body is not a JSON object"
        dedupe_source = body
    else:
        payload_type = str(payload.get("payload_type") or "unknown")[:64]
        known = payload_type in KNOWN_EVENTS
        status, error = (
            (WebhookStatus.RECEIVED, None)
            if known
            else (WebhookStatus.IGNORED, f"unknown payload_type {payload_type!r}")
        )
        kept = {k: v for k, v in payload.items() if k not in SECRET_FIELDS}
        dedupe_source = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    token = payload.get("school_token") if payload else None
    wonde_school_id = payload.get("school_id") if payload else None
    statement = (
        insert(WebhookEvent)
        .values(
            dedupe_key=hashlib.sha256(dedupe_source).hexdigest(),
            payload_type=payload_type,
            wonde_school_id=str(wonde_school_id)[:64] if wonde_school_id else None,
            payload=kept,
            token_encrypted=box.encrypt(str(token)) if token else None,
            status=status,
            error=error,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(WebhookEvent.id)
    )
    event_id = await session.scalar(statement)
    if event_id is None:
        return Stored("", "duplicate")
    if status == WebhookStatus.RECEIVED:
        enqueue(session, WEBHOOK, event_id)
    return Stored(str(event_id), status)
