"""Receiving Wonde's webhooks: check the secret, store the event, and only then say 2xx.

Wonde signs nothing and cannot send a header, so the secret travels in the URL; it is read from the raw
query string, because form-style decoding would turn a "+" in a base64 secret into a space. Every
event is stored before it is acknowledged (Wonde retries a non-2xx three times), the school token it
may carry only encrypted, and a redelivered event is recognised and stored once. An event of a kind we
do not act on is stored ignored, keeping only its type and ids.

Wonde's bodies carry no time, so the same body is not always the same event: a school that revokes,
approves and revokes again sends the first revocation's body twice. A delivery is a redelivery only
when the same body was stored within the redelivery window (``BANDSYNC_WONDE__REDELIVERY_WINDOW_SECONDS``)
and that event still stands: it was not rejected (what it waited for, the school's registration or
Wonde, may have come since), and no event undoing it (an approval after a revocation, a revocation
after an approval) has arrived for the school since. Anything else is stored as a new event, and the
worker acts on it as the school's state then calls for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.crypto import SecretBox
from app.kit.jobs import WEBHOOK, enqueue
from app.kit.time import utc_now
from app.models import WebhookEvent
from app.models.webhook_event import WebhookStatus, acted_on_payload

KNOWN_EVENTS = frozenset({"schoolApproved", "accessRevoked", "accessDeclined", "schoolMigration"})
SECRET_FIELDS = ("school_token",)
# The default of ``WondeSettings.redelivery_window_seconds``.
REDELIVERY_WINDOW = timedelta(minutes=10)
# Consent given and withdrawn: an event of one of these kinds undoes the effect of the other's.
UNDONE_BY: dict[str, tuple[str, ...]] = {
    "schoolApproved": ("accessRevoked", "accessDeclined"),
    "accessRevoked": ("schoolApproved",),
    "accessDeclined": ("schoolApproved",),
}
# First key of the two-key advisory lock that makes deliveries of one body wait for each other.
_LOCK_NAMESPACE = 0x686F6F6B  # "hook"


def secret_from_query(raw_query: bytes) -> str | None:
    """The ``secret`` parameter, percent-decoded but with "+" kept as "+"."""
    for part in raw_query.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "secret":
            return unquote(value)
    return None


def secret_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# Wonde's events are flat objects; a body nested deeper is refused before it is parsed (Python's
# parser would run out of stack at about a thousand levels).
MAX_NESTING = 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# The bytes that matter when measuring nesting: quotes and backslashes (strings) and brackets.
_STRUCTURE = re.compile(rb'["\\\[\]{}]')


class Unreadable(Exception):
    """The body cannot be read as an event that can be stored; the message says why."""


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The event as a dict: JSON, or form-encoded (unconfirmed whether Wonde ever sends that).

    Raises ``Unreadable`` for anything else, and for JSON that PostgreSQL cannot store or Python
    cannot parse safely: a NUL character, a lone surrogate, NaN or an infinite number, deep nesting.
    """
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            parsed: Any = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise Unreadable("the body is not UTF-8 text") from exc
    else:
        if _nested_deeper_than(body, MAX_NESTING):
            raise Unreadable(f"the body is nested deeper than {MAX_NESTING} levels")
        try:
            parsed = json.loads(body, parse_constant=_no_constant)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of thousands of digits
            raise Unreadable("the body is not JSON") from exc
    if not isinstance(parsed, dict):
        raise Unreadable("the body is not a JSON object")
    _check_storable(parsed)
    return parsed


def _no_constant(name: str) -> Any:
    raise Unreadable(f"the body holds a number JSON cannot carry ({name})")


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text opens more than ``limit`` arrays or objects inside one another; linear,
    and without parsing (so without recursion)."""
    depth, in_string, escaped_at = 0, False, -1
    for match in _STRUCTURE.finditer(body):
        at = match.start()
        if at == escaped_at:
            continue
        char = body[at]
        if in_string:
            if char == ord("\\"):
                escaped_at = at + 1
            elif char == ord('"'):
                in_string = False
        elif char == ord('"'):
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif char in b"]}":
            depth -= 1
    return False


def _check_storable(payload: dict[str, Any]) -> None:
    """Refuse what a JSONB column (or Python's encoder) cannot take: walked without recursion."""
    pending: list[Any] = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise Unreadable("the body holds a NUL character (\\u0000)")
            if _LONE_SURROGATE.search(value):
                raise Unreadable("the body holds a lone surrogate (an unpaired \\ud800-\\udfff)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise Unreadable("the body holds a number JSON cannot carry (out of range)")


@dataclass(frozen=True)
class Stored:
    event_id: str
    status: str  # "received" (to be processed), "ignored", "rejected", or "duplicate"
    error: str | None = None  # why it was rejected or ignored


async def store_event(
    session: AsyncSession,
    body: bytes,
    content_type: str,
    box: SecretBox,
    *,
    redelivery_window: timedelta = REDELIVERY_WINDOW,
) -> Stored:
    """Store the event (once, however often it is redelivered) and queue its processing after commit."""
    payload: dict[str, Any] | None
    kept: dict[str, Any]
    error: str | None
    status: WebhookStatus
    try:
        payload = parse_body(body, content_type)
    except Unreadable as exc:
        # Only the body's size is kept: what it held may be exactly what PostgreSQL cannot store.
        payload, kept = None, {"unreadable_body_bytes": len(body)}
        payload_type, status, error = "unreadable", WebhookStatus.REJECTED, str(exc)
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
        if not known:  # ignored: acted on already, so it keeps only its type and ids
            kept = acted_on_payload(payload_type, _wonde_school(payload), kept)
        dedupe_source = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    token = payload.get("school_token") if payload and status == WebhookStatus.RECEIVED else None
    dedupe_key = hashlib.sha256(dedupe_source).hexdigest()
    school = _wonde_school(payload) if payload else None
    if await _redelivered(session, dedupe_key, payload_type, school, redelivery_window):
        return Stored("", "duplicate")
    statement = (
        insert(WebhookEvent)
        .values(
            dedupe_key=dedupe_key,
            payload_type=payload_type,
            wonde_school_id=school,
            payload=kept,
            token_encrypted=box.encrypt(str(token)) if token else None,
            status=status,
            error=error,
            created_at=utc_now(),
        )
        .returning(WebhookEvent.id)
    )
    event_id = await session.scalar(statement)
    assert event_id is not None
    if status == WebhookStatus.RECEIVED:
        enqueue(session, WEBHOOK, event_id)
    return Stored(str(event_id), status, error)


def _wonde_school(payload: dict[str, Any]) -> str | None:
    """The Wonde school id an event names, cut to its column."""
    wonde_school_id = payload.get("school_id")
    return str(wonde_school_id)[:64] if wonde_school_id else None


async def _redelivered(
    session: AsyncSession, dedupe_key: str, payload_type: str, wonde_school_id: str | None, window: timedelta
) -> bool:
    """Whether a delivery of this body is a redelivery of an event that still stands (module docstring).
    Deliveries of one body wait for each other until the first commits, so two at once store one."""
    await session.execute(select(func.pg_advisory_xact_lock(_LOCK_NAMESPACE, func.hashtext(dedupe_key))))
    earlier = (
        await session.execute(
            select(WebhookEvent.created_at, WebhookEvent.status, WebhookEvent.payload_type)
            .where(WebhookEvent.dedupe_key == dedupe_key, WebhookEvent.created_at >= utc_now() - window)
            .order_by(WebhookEvent.created_at.desc())
            .limit(1)
        )
    ).first()
    if earlier is None:
        return False
    if earlier.status == WebhookStatus.REJECTED and earlier.payload_type in KNOWN_EVENTS:
        return False  # it could not be acted on then (say, the school was not registered yet)
    undoing = UNDONE_BY.get(payload_type, ())
    if not undoing or wonde_school_id is None:
        return True
    undone = await session.scalar(
        select(WebhookEvent.id)
        .where(
            WebhookEvent.wonde_school_id == wonde_school_id,
            WebhookEvent.payload_type.in_(undoing),
            WebhookEvent.created_at >= earlier.created_at,
            WebhookEvent.status != WebhookStatus.REJECTED,
        )
        .limit(1)
    )
    return undone is None
