"""The job table: names and id prefixes are written into Redis with every queued job, so they are
pinned here to the strings the workers have always used (a job queued before a deploy must still be
found and run after it)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit import jobs
from app.kit.jobs import Job, enqueue, take_pending


def test_job_names_and_id_prefixes_are_the_ones_already_in_redis() -> None:
    assert [(spec.name, spec.prefix) for spec in jobs.JOBS] == [
        ("ping_school", "ping"),
        ("read_school", "read"),
        ("process_webhook", "webhook"),
        ("revoke_wonde_access", "revoke"),
        ("merge_school", "merge"),
        ("sync_school", "sync"),
    ]
    assert (jobs.PING.name, jobs.READ.name, jobs.WEBHOOK.name) == ("ping_school", "read_school", "process_webhook")
    assert (jobs.REVOKE.name, jobs.MERGE.name, jobs.SYNC.name) == ("revoke_wonde_access", "merge_school", "sync_school")


def test_cron_jobs_keep_the_names_arq_gave_them_and_their_minutes() -> None:
    hours = {spec.name: sorted(spec.hour) if spec.hour is not None else None for spec in jobs.CRONS}
    assert [(spec.name, sorted(spec.minute), hours[spec.name], spec.run_at_startup) for spec in jobs.CRONS] == [
        ("cron:expire_credentials", [17], None, False),
        ("cron:nightly_syncs", [0, 15, 30, 45], None, False),
        ("cron:recover_runs", [2, 7, 12, 17, 22, 27, 32, 37, 42, 47, 52, 57], None, True),
        ("cron:apply_retention", [41], [0], False),  # once a day, 00:41 UTC
    ]


def test_names_and_prefixes_are_unique() -> None:
    names = [spec.name for spec in jobs.JOBS] + [spec.name for spec in jobs.CRONS]
    assert len(set(names)) == len(names)
    assert len({spec.prefix for spec in jobs.JOBS}) == len(jobs.JOBS)


async def test_enqueue_sends_the_key_under_the_specs_name_and_job_id(session: AsyncSession) -> None:
    run_id = uuid.uuid4()
    enqueue(session, jobs.SYNC, run_id)
    enqueue(session, jobs.WEBHOOK, "an-event")
    assert take_pending(session) == [
        Job("sync_school", (str(run_id),), f"sync:{run_id}"),
        Job("process_webhook", ("an-event",), "webhook:an-event"),
    ]
    assert take_pending(session) == []
