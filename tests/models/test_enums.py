"""Run kind, status and trigger, school state and webhook status are ``StrEnum``s in Python only: the
columns stay VARCHAR holding the same strings as ever, and a row read back carries the enum member."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import School, SyncRun, WebhookEvent
from app.models.school import SCHOOL_STATES, SchoolState
from app.models.sync_run import (
    ACTIVE_RUN_STATUSES,
    FINISHED_RUN_STATUSES,
    MUTATING_RUN_KINDS,
    RUN_KINDS,
    RUN_STATUSES,
    RUN_TRIGGERS,
    RunKind,
    RunStatus,
    RunTrigger,
)
from app.models.webhook_event import WEBHOOK_STATUSES, WebhookStatus


def test_the_stored_strings_are_todays() -> None:
    assert RUN_KINDS == (
        "full_read",
        "delta_read",
        "merge",
        "reconcile",
        "disconnect",
        "undo",
        "ping",
        "anonymise",
        "new_passwords",
    )
    assert RUN_TRIGGERS == ("schedule", "webhook", "manual")
    assert RUN_STATUSES == ("queued", "running", "succeeded", "failed")
    assert ACTIVE_RUN_STATUSES == ("queued", "running")
    assert FINISHED_RUN_STATUSES == ("succeeded", "failed")
    assert MUTATING_RUN_KINDS == ("merge", "reconcile", "disconnect", "undo", "anonymise")
    assert SCHOOL_STATES == ("pending", "needs_confirmation", "approved", "syncing", "disconnected")
    assert WEBHOOK_STATUSES == ("received", "processed", "rejected", "ignored")


async def test_rows_hold_strings_and_read_back_as_enum_members(session: AsyncSession, school: School) -> None:
    school.state = SchoolState.SYNCING
    run = SyncRun(school_id=school.id, kind=RunKind.MERGE, trigger=RunTrigger.MANUAL, status=RunStatus.SUCCEEDED)
    event = WebhookEvent(dedupe_key="enum-test", payload_type="schoolApproved", payload={}, school_id=school.id)
    session.add_all([run, event])
    await session.flush()
    raw = await session.execute(
        text("SELECT kind, trigger, status, pg_typeof(status)::text FROM sync_runs WHERE id = :id"), {"id": run.id}
    )
    assert tuple(raw.one()) == ("merge", "manual", "succeeded", "character varying")
    assert await session.scalar(text("SELECT status FROM webhook_events WHERE id = :id"), {"id": event.id}) == (
        "received"
    )
    session.expunge_all()

    read = await session.scalar(select(SyncRun).where(SyncRun.id == run.id))
    assert read is not None
    assert (type(read.kind), type(read.trigger), type(read.status)) == (RunKind, RunTrigger, RunStatus)
    assert (read.kind, read.trigger, read.status) == (RunKind.MERGE, RunTrigger.MANUAL, RunStatus.SUCCEEDED)
    assert read.status == "succeeded"  # a StrEnum is its string
    stored_school = await session.get(School, school.id)
    assert stored_school is not None
    assert stored_school.state is SchoolState.SYNCING
    stored_event = await session.get(WebhookEvent, event.id)
    assert stored_event is not None
    assert stored_event.status is WebhookStatus.RECEIVED  # the server default, read back as the enum
    # Queries take members and plain strings alike.
    assert await session.scalar(select(SyncRun.status).where(SyncRun.kind == "merge", SyncRun.id == run.id)) is (
        RunStatus.SUCCEEDED
    )
