"""The daily retention job end to end, over real Redis and a real arq worker (its own start-up, engine and
transactions): two years after a school disconnected, its MIS mirror is gone, its journal's values are
redacted, the webhook event that disconnected it keeps only its type and ids, and the account of a child
who left is anonymised; its accounts stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from sqlalchemy import func, select

from app.config import Settings
from app.kit.time import pinned
from app.models import ChangeRow, MisStudent, Pupil, School, WebhookEvent
from app.models.sync_run import RunTrigger
from app.sync.connection.service import disconnect_school
from tests.fixtures.database import Committed
from tests.fixtures.queue import drop_queue
from tests.fixtures.schools import small_school
from tests.fixtures.worker import run_burst_worker
from workers import jobs

DISCONNECTED = datetime(2027, 6, 30, 18, 5, tzinfo=UTC)


async def test_the_daily_job_applies_every_rule_through_a_worker(
    committed: Committed, settings: Settings, redis: ArqRedis
) -> None:
    async with committed.sessionmaker() as session:
        school = await small_school(session, committed.track(f"keep-{uuid.uuid4().hex[:8]}"))
        school.pupils[0].mis_student_id = school.students[0].id
        school.pupils[1].archived_at = DISCONNECTED - timedelta(days=1)  # a leaver
        leaver = school.pupils[1].id
        await session.commit()
        with pinned(DISCONNECTED):
            await disconnect_school(session, school.school_id, trigger=RunTrigger.WEBHOOK, actor="wonde", revoke=False)
            session.add(
                WebhookEvent(
                    dedupe_key=uuid.uuid4().hex,
                    payload_type="accessRevoked",
                    wonde_school_id="A-keep",
                    school_id=school.school_id,
                    payload={"payload_type": "accessRevoked", "school_id": "A-keep", "revoke_reason": "moved on"},
                    status="processed",
                )
            )
            await session.commit()

    queue = f"{settings.queue_name}:retention:{uuid.uuid4().hex[:6]}"
    try:
        with pinned(DISCONNECTED + timedelta(days=731)):
            job = await redis.enqueue_job("apply_retention", _queue_name=queue)
            assert job is not None
            await run_burst_worker(settings.model_copy(update={"queue_name": queue}), [jobs.apply_retention])
            done = await job.result(timeout=5)
    finally:
        await drop_queue(redis, queue)

    assert done["mirrors_purged"] >= 1
    assert done["journal_rows_redacted"] >= 1
    assert done["webhook_events_reduced"] >= 1
    assert done["pupils_anonymised"] >= 1
    async with committed.sessionmaker() as session:
        students = await session.scalar(
            select(func.count()).select_from(MisStudent).where(MisStudent.school_id == school.school_id)
        )
        pupils = await session.scalar(
            select(func.count()).select_from(Pupil).where(Pupil.school_id == school.school_id)
        )
        journal = list(await session.scalars(select(ChangeRow).where(ChangeRow.school_id == school.school_id)))
        event = await session.scalar(select(WebhookEvent).where(WebhookEvent.school_id == school.school_id))
        row = await session.get(School, school.school_id)
    assert (students, pupils) == (0, len(school.pupils))
    unlinked = [c for c in journal if c.action == "unlink_pupil"]
    assert len(unlinked) == 1 and all(c.redacted_at is not None for c in unlinked)
    assert [c.pupil_id for c in journal if c.action == "anonymise_pupil"] == [leaver]
    assert unlinked[0].before == {"mis_student_id": str(school.students[0].id), "student": "S0"}  # ids stay
    assert event is not None
    assert event.payload == {"payload_type": "accessRevoked", "school_id": "A-keep"}
    assert row is not None
    assert (row.state, row.consent_ended_at) == ("disconnected", DISCONNECTED)
