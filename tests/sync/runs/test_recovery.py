"""Recovery from dead workers and lost jobs: the pure verdict, one recovery pass over real PostgreSQL
and Redis, and a sync resumed after its worker died mid-read."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.time import utc_now
from app.models import School, SyncRun, WebhookEvent
from app.models.sync_run import RunTrigger
from app.sync.reconcile.flow import INTERRUPTED_READ, run_sync
from app.sync.reconcile.service import start_sync
from app.sync.runs.recovery import Policy, Waiting, plan_recovery, recover, verdict
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.checks import assert_copycat
from tests.fixtures.database import Committed
from tests.fixtures.schools import onboarded

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=utc_now().tzinfo)
POLICY = Policy()


def _run(kind: str = "merge", age: timedelta = timedelta(minutes=10), requeued: int = 0) -> Waiting:
    return Waiting("run", uuid.uuid4(), kind, NOW - age, requeued)


@pytest.mark.parametrize("job", ["queued", "deferred", "in_progress"])
def test_a_run_whose_job_is_still_in_redis_is_left_alone(job: str) -> None:
    assert verdict(_run(), job, NOW).action == "leave"  # type: ignore[arg-type]


def test_a_run_too_recent_is_left_alone_even_without_a_job() -> None:
    assert verdict(_run(age=timedelta(minutes=1)), "not_found", NOW).action == "leave"


def test_a_run_whose_job_was_lost_is_sent_again() -> None:
    decided = verdict(_run("reconcile"), "not_found", NOW)
    assert decided.action == "requeue"
    assert "lost by Redis" in decided.reason


def test_a_run_whose_job_ended_without_finishing_it_is_sent_again() -> None:
    decided = verdict(_run(), "complete", NOW)
    assert decided.action == "requeue"
    assert "ended without finishing" in decided.reason


def test_a_run_sent_again_too_often_is_given_up_with_the_reason() -> None:
    decided = verdict(_run(requeued=POLICY.max_requeues), "not_found", NOW)
    assert decided.action == "give_up"
    assert f"sent again {POLICY.max_requeues} time(s)" in decided.reason


def test_a_run_too_old_is_given_up_even_while_its_job_waits() -> None:
    decided = verdict(_run(age=POLICY.max_run_age + timedelta(minutes=1)), "queued", NOW)
    assert decided.action == "give_up"
    assert "6 hour(s)" in decided.reason


def test_an_undo_left_active_has_no_job_and_is_given_up() -> None:
    decided = verdict(_run("undo"), "not_found", NOW)
    assert decided.action == "give_up"
    assert "undo run" in decided.reason


def test_a_webhook_event_gives_up_after_its_attempts_not_its_requeues() -> None:
    event = Waiting("event", uuid.uuid4(), "webhook", NOW - timedelta(hours=1), 0, POLICY.max_event_attempts - 1)
    assert verdict(event, "not_found", NOW).action == "requeue"
    tired = Waiting("event", uuid.uuid4(), "webhook", NOW - timedelta(hours=1), 0, POLICY.max_event_attempts)
    assert verdict(tired, "not_found", NOW).action == "give_up"
    # Events may wait on Wonde longer than runs do.
    old = Waiting("event", uuid.uuid4(), "webhook", NOW - timedelta(hours=12), 0, 1)
    assert verdict(old, "not_found", NOW).action == "requeue"


def test_plan_recovery_looks_up_each_items_own_job_id() -> None:
    merge, sync, event = _run("merge"), _run("reconcile"), Waiting("event", uuid.uuid4(), "webhook", NOW, 0)
    assert [(w.job.name if w.job else None, w.job_id) for w in (merge, sync, event)] == [
        ("merge_school", f"merge:{merge.id}"),
        ("sync_school", f"sync:{sync.id}"),
        ("process_webhook", f"webhook:{event.id}"),
    ]
    decided = plan_recovery([merge, sync], {f"merge:{merge.id}": "in_progress"}, NOW)
    assert [v.action for _, v in decided] == ["leave", "requeue"]


async def _school(committed: Committed, state: str = "syncing") -> str:
    school_id = committed.track(f"rcv-{uuid.uuid4().hex[:8]}")
    async with committed.sessionmaker() as session:
        session.add(School(id=school_id, name="Recovery Primary", state=state))
        await session.commit()
    return school_id


async def _add(committed: Committed, row: SyncRun | WebhookEvent) -> uuid.UUID:
    async with committed.sessionmaker() as session:
        session.add(row)
        await session.commit()
        return row.id


async def test_a_run_whose_job_redis_lost_is_sent_again_then_given_up_and_the_school_unblocked(
    committed: Committed, queue: JobQueue
) -> None:
    school_id = await _school(committed)
    run_id = await _add(
        committed, SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="queued", actor="t")
    )
    later = utc_now() + timedelta(minutes=10)
    for attempt in range(1, POLICY.max_requeues + 1):
        done = await recover(committed.sessionmaker, queue, later, schools=[school_id])
        assert done == {"left": 0, "requeued": 1, "given_up": 0}
        assert await queue.state(f"sync:{run_id}") == "queued"
        # While the job is there, recovery leaves it (and sending it again would be deduped anyway).
        assert (await recover(committed.sessionmaker, queue, later, schools=[school_id]))["left"] == 1
        async with committed.sessionmaker() as session:
            run = await session.get(SyncRun, run_id)
            assert run is not None
            assert (run.status, run.progress["requeued"]) == ("queued", attempt)
        await queue.redis.delete(queue.queue_name, f"arq:job:sync:{run_id}")  # Redis restarts and loses it again
    assert (await recover(committed.sessionmaker, queue, later, schools=[school_id]))["given_up"] == 1
    async with committed.sessionmaker() as session:
        run = await session.get(SyncRun, run_id)
        assert run is not None
        assert (run.status, run.failure_code) == ("failed", "given_up")
        assert run.error and "kept stopping" in run.error
        # The school is no longer blocked: a new sync can be queued.
        assert (await start_sync(session, school_id, trigger=RunTrigger.MANUAL, actor="t")).status == "queued"
        await session.commit()


async def test_a_finished_job_that_left_its_run_active_is_sent_again(committed: Committed, queue: JobQueue) -> None:
    school_id = await _school(committed)
    run_id = await _add(
        committed, SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued", actor="t")
    )
    await queue.redis.set(f"arq:result:merge:{run_id}", b"failed: database down", ex=60)
    assert await queue.state(f"merge:{run_id}") == "complete"
    done = await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert done["requeued"] == 1
    assert await queue.state(f"merge:{run_id}") == "queued"


async def test_a_job_key_no_queue_points_at_does_not_swallow_the_new_copy(
    committed: Committed, queue: JobQueue
) -> None:
    school_id = await _school(committed)
    run_id = await _add(
        committed, SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued", actor="t")
    )
    await queue.redis.set(f"arq:job:merge:{run_id}", b"left over", ex=60)
    assert await queue.state(f"merge:{run_id}") == "not_found"
    await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert await queue.state(f"merge:{run_id}") == "queued"


async def test_giving_up_on_a_sync_fails_its_read_and_its_read_is_never_sent_alone(
    committed: Committed, queue: JobQueue
) -> None:
    school_id = await _school(committed)
    read_id = await _add(
        committed, SyncRun(school_id=school_id, kind="full_read", trigger="manual", status="running", actor="t")
    )
    sync = SyncRun(
        school_id=school_id,
        kind="reconcile",
        trigger="manual",
        status="running",
        actor="t",
        progress={"phase": "reading", "read_run_id": str(read_id), "requeued": POLICY.max_requeues},
    )
    sync_id = await _add(committed, sync)
    done = await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert done == {"left": 0, "requeued": 0, "given_up": 1}
    assert await queue.state(f"read:{read_id}") == "not_found"
    async with committed.sessionmaker() as session:
        runs = {r.id: r for r in await session.scalars(select(SyncRun).where(SyncRun.school_id == school_id))}
    assert runs[sync_id].status == runs[read_id].status == "failed"
    assert runs[sync_id].failure_code == runs[read_id].failure_code == "given_up"
    assert "its sync was given up on" in (runs[read_id].error or "")


async def test_a_standalone_read_and_a_received_webhook_event_are_sent_again(
    committed: Committed, queue: JobQueue
) -> None:
    school_id = await _school(committed, state="approved")
    read_id = await _add(
        committed, SyncRun(school_id=school_id, kind="full_read", trigger="webhook", status="queued", actor=None)
    )
    event_id = await _add(
        committed,
        WebhookEvent(
            dedupe_key=uuid.uuid4().hex,
            payload_type="schoolMigration",
            school_id=school_id,
            payload={},
            status="received",
        ),
    )
    done = await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert done["requeued"] == 2
    assert await queue.state(f"read:{read_id}") == "queued"
    assert await queue.state(f"webhook:{event_id}") == "queued"


async def test_a_pending_wonde_revocation_whose_job_was_lost_is_sent_again(
    committed: Committed, queue: JobQueue
) -> None:
    school_id = await _school(committed, state="disconnected")
    run_id = await _add(
        committed,
        SyncRun(
            school_id=school_id,
            kind="disconnect",
            trigger="manual",
            status="succeeded",
            actor="t",
            counts={"revoke": "pending"},
        ),
    )
    done = await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert done["requeued"] == 1
    assert await queue.state(f"revoke:{run_id}") == "queued"


async def test_a_sync_whose_worker_died_mid_read_resumes_and_converges(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, wonde_school = await onboarded(committed, sandbox, wonde, box, name="Reconcile Primary")
    async with httpx.AsyncClient(base_url=sandbox.admin_url) as admin:
        for event in ({"kind": "joiner"}, {"kind": "rename"}, {"kind": "leaver"}):
            assert (await admin.post(f"/schools/{wonde_school}/events", json=event)).status_code == 200
    # What a worker killed during the read leaves: the sync and its read both "running".
    read_id = await _add(
        committed, SyncRun(school_id=school_id, kind="full_read", trigger="manual", status="running", actor="t")
    )
    sync_id = await _add(
        committed,
        SyncRun(
            school_id=school_id,
            kind="reconcile",
            trigger="manual",
            status="running",
            actor="t",
            started_at=utc_now(),
            progress={"phase": "reading", "read_run_id": str(read_id), "attempt": 1},
        ),
    )
    assert await run_sync(committed.sessionmaker, None, wonde, box, sync_id) == "succeeded"
    async with committed.sessionmaker() as session:
        sync = await session.get(SyncRun, sync_id)
        first = await session.get(SyncRun, read_id)
        assert sync is not None
        assert first is not None
        second = await session.get(SyncRun, uuid.UUID(sync.progress["read_run_id"]))
    assert (first.status, first.failure_code, first.error) == ("failed", "read_interrupted", INTERRUPTED_READ.text)
    assert second is not None
    assert second.id != read_id
    assert second.status == "succeeded"
    assert sync.progress | {"read_run_id": None} == {"phase": "done", "read_run_id": None, "attempt": 2}
    assert sync.counts["pupils_created"] == 1
    await assert_copycat(committed.sessionmaker, sandbox, school_id, wonde_school)
    # A third call (arq delivering the finished job again) changes nothing.
    assert await run_sync(committed.sessionmaker, None, wonde, box, sync_id) == "succeeded"


async def test_a_sync_whose_worker_died_after_its_read_reconciles_without_reading_again(
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    settings: Settings,
) -> None:
    box = SecretBox(settings.encryption_key)
    school_id, _ = await onboarded(committed, sandbox, wonde, box, name="Reconcile Primary")
    read_id = await _add(
        committed, SyncRun(school_id=school_id, kind="full_read", trigger="manual", status="succeeded", actor="t")
    )
    sync_id = await _add(
        committed,
        SyncRun(
            school_id=school_id,
            kind="reconcile",
            trigger="manual",
            status="running",
            actor="t",
            progress={"phase": "reconciling", "read_run_id": str(read_id), "attempt": 1},
        ),
    )
    assert await run_sync(committed.sessionmaker, None, wonde, box, sync_id) == "succeeded"
    async with committed.sessionmaker() as session:
        sync = await session.get(SyncRun, sync_id)
        reads = list(
            await session.scalars(
                select(SyncRun).where(SyncRun.school_id == school_id, SyncRun.kind.in_(("full_read", "delta_read")))
            )
        )
    assert sync is not None
    assert sync.progress == {"phase": "done", "read_run_id": str(read_id), "attempt": 2}
    assert len(reads) == 2  # the onboarding read and the earlier attempt's: no third


async def test_a_webhook_event_given_up_on_keeps_only_its_type_and_ids(committed: Committed, queue: JobQueue) -> None:
    school_id = await _school(committed, state="pending")
    payload = {"payload_type": "schoolApproved", "school_id": "A1", "school_name": "Oak", "school_urn": "100001"}
    event_id = await _add(
        committed,
        WebhookEvent(
            dedupe_key=uuid.uuid4().hex,
            payload_type="schoolApproved",
            wonde_school_id="A1",
            school_id=school_id,
            payload=payload,
            token_encrypted=b"sealed token",
            status="received",
            attempts=POLICY.max_event_attempts,
        ),
    )
    done = await recover(committed.sessionmaker, queue, utc_now() + timedelta(minutes=10), schools=[school_id])
    assert done["given_up"] == 1
    async with committed.sessionmaker() as session:
        event = await session.get(WebhookEvent, event_id)
    assert event is not None
    assert (event.status, event.payload, event.token_encrypted) == (
        "rejected",
        {"payload_type": "schoolApproved", "school_id": "A1"},
        None,
    )
