"""Webhook events stored before events were reduced when acted on: the daily job reduces every one that
was acted on (processed, rejected, ignored) to its type and ids, and drops its token, in batches; an event
still waiting for its worker keeps everything. In the test's transaction (the job's commits are
savepoints)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.config import RetentionSettings
from app.kit.time import pinned
from app.models import WebhookEvent
from app.models.webhook_event import acted_on_payload
from app.sync.retention.flow import apply_retention
from tests.fixtures.database import Sessionmaker, savepoint_sessionmaker

NOW = datetime(2027, 5, 4, 0, 41, tzinfo=UTC)
APPROVED = {
    "payload_type": "schoolApproved",
    "school_id": "A1",
    "school_name": "Oak Primary",
    "school_urn": "100001",
    "school_la_code": "873",
}
# (payload_type, Wonde school, status, payload as stored, a token?) as the code before retention stored them.
STORED: list[tuple[str, str | None, str, dict[str, Any], bool]] = [
    ("schoolApproved", "A1", "processed", APPROVED, True),
    ("schoolApproved", "A1", "rejected", APPROVED, True),
    (
        "accessRevoked",
        "A1",
        "processed",
        {"payload_type": "accessRevoked", "school_id": "A1", "revoke_reason": "x"},
        False,
    ),
    ("writeback", "A1", "ignored", {"payload_type": "writeback", "school_id": "A1", "status": "done"}, False),
    ("unknown", None, "ignored", {"whatever": "Amelia Hartley"}, False),
    ("unreadable", None, "rejected", {"unreadable_body_bytes": 12}, False),  # nothing more to drop
]


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> Sessionmaker:
    return savepoint_sessionmaker(connection)


async def test_events_acted_on_are_reduced_to_their_type_and_ids_and_those_waiting_are_not(
    session: AsyncSession, sessionmaker: Sessionmaker
) -> None:
    keys = {}
    for payload_type, wonde_school, status, payload, token in STORED:
        event = WebhookEvent(
            dedupe_key=uuid.uuid4().hex,
            payload_type=payload_type,
            wonde_school_id=wonde_school,
            payload=payload,
            token_encrypted=b"sealed" if token else None,
            status=status,
            error="why" if status == "rejected" else None,
        )
        session.add(event)
        await session.flush()
        keys[event.id] = (event.dedupe_key, payload_type, wonde_school, status, payload)
    waiting = WebhookEvent(
        dedupe_key=uuid.uuid4().hex,
        payload_type="schoolApproved",
        wonde_school_id="A2",
        payload=APPROVED,
        token_encrypted=b"sealed",
        status="received",
    )
    session.add(waiting)
    await session.commit()
    waiting_id = waiting.id

    with pinned(NOW):
        done = await apply_retention(sessionmaker, RetentionSettings(), batch=2)
    assert done["webhook_events_reduced"] == 5
    session.expire_all()
    for event_id, (dedupe_key, payload_type, wonde_school, status, payload) in keys.items():
        reduced = await session.get(WebhookEvent, event_id)
        assert reduced is not None
        expected = acted_on_payload(payload_type, wonde_school, payload)  # as when acted on, in Python
        assert (reduced.payload, reduced.token_encrypted) == (expected, None), payload_type
        assert (reduced.dedupe_key, reduced.status, reduced.payload_type, reduced.wonde_school_id) == (
            dedupe_key,
            status,
            payload_type,
            wonde_school,
        )
    assert {tuple(sorted(acted_on_payload(t, w, p))) for _, t, w, _, p in keys.values()} == {
        ("payload_type", "school_id"),
        ("payload_type",),
        ("unreadable_body_bytes",),
    }
    kept = await session.scalar(select(WebhookEvent).where(WebhookEvent.id == waiting_id))
    assert kept is not None
    assert (kept.payload, kept.token_encrypted) == (APPROVED, b"sealed")

    with pinned(NOW):  # run again: nothing left to do
        assert (await apply_retention(sessionmaker, RetentionSettings()))["webhook_events_reduced"] == 0
