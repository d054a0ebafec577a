from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import School, SyncRun
from app.sync.reconcile.schedule import WINDOW_START, due, queue_nightly_syncs, slot


def test_every_school_has_a_stable_slot_inside_the_window() -> None:
    slots = {slot(f"school-{i}") for i in range(200)}
    assert all(WINDOW_START <= s < WINDOW_START.replace(hour=5) for s in slots)
    assert len(slots) > 100  # spread, not all at 02:00
    assert slot("school-1") == slot("school-1")


def test_due_in_the_local_night_once_a_day() -> None:
    school = "oak"
    start = slot(school)
    # London in winter is UTC: the slot itself is due, a minute before is not.
    at_slot = datetime(2026, 12, 1, start.hour, start.minute, tzinfo=UTC)
    assert due(school, "Europe/London", at_slot, None)
    assert not due(school, "Europe/London", at_slot.replace(hour=1), None)
    assert not due(school, "Europe/London", at_slot.replace(hour=6), None)
    assert not due(school, "Europe/London", at_slot, last_scheduled=at_slot.replace(minute=0, hour=2))
    assert due(school, "Europe/London", at_slot, last_scheduled=datetime(2026, 11, 30, 3, tzinfo=UTC))
    # Sydney's night is the afternoon before in UTC.
    sydney = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 13:00 in Sydney
    assert not due(school, "Australia/Sydney", sydney, None)


async def test_due_syncing_schools_are_queued_once(session: AsyncSession) -> None:
    school = School(id="night-owl", name="Night Owl Primary", state="syncing")
    idle = School(id="night-idle", name="Not Syncing", state="approved")
    session.add_all([school, idle])
    await session.flush()
    start = slot(school.id)
    now = datetime(2026, 12, 1, start.hour, start.minute, 30, tzinfo=UTC)
    assert await queue_nightly_syncs(session, now) == ["night-owl"]
    runs = list(await session.scalars(select(SyncRun).where(SyncRun.school_id == "night-owl")))
    assert [(r.kind, r.trigger, r.status) for r in runs] == [("reconcile", "schedule", "queued")]
    assert await queue_nightly_syncs(session, now) == []
