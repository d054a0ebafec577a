"""Recovery: no run or webhook event stays stuck because its worker died or Redis lost its job.

arq retries a job whose worker died once the job's in-progress key expires, but only while Redis
still holds the job: Redis here keeps nothing on disk, so a restart loses every queued job, and a job
that ended without finishing its run (the database was down when it tried to record the outcome, or
arq gave up after its tries) leaves the run active for ever — and an exclusive run (merge, reconcile,
undo, disconnect) blocks every later sync of its school.

A cron job (``workers.jobs.recover_runs``) looks at what is still waiting a few minutes after it was
created: active runs, webhook events not yet processed, and Wonde revocations still pending after a
disconnect. ``verdict`` (pure) decides for each: leave it (its job is queued or running), send its job
again under the same job id (so arq's job-id dedupe makes a second copy harmless), or give up with a
reason once it was sent again too often or is too old, so a school is never blocked for ever.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.jobs import MERGE, PING, READ, REVOKE, SYNC, WEBHOOK, JobQueue, JobSpec, JobState, enqueue
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import SyncRun, WebhookEvent
from app.models.sync_run import ACTIVE_RUN_STATUSES, RunKind
from app.models.webhook_event import WebhookStatus
from app.sync.runs.failures import Failure, FailureCode
from app.sync.runs.repository import pending_revokes, received_events, waiting_runs
from app.sync.runs.service import fail

logger = logging.getLogger(__name__)

# The job that carries out each kind of run. Undo and disconnect runs are created and finished in one
# transaction, so they have none (one still active is given up on).
RUN_JOBS: dict[str, JobSpec] = {
    RunKind.MERGE: MERGE,
    RunKind.RECONCILE: SYNC,
    RunKind.FULL_READ: READ,
    RunKind.DELTA_READ: READ,
    RunKind.PING: PING,
}


@dataclass(frozen=True)
class Policy:
    # Younger than this, an item may simply not have been sent yet (its request has not committed).
    stale_after: timedelta = timedelta(minutes=3)
    # How often a run's (or event's, or revocation's) job is sent again before it is given up on.
    max_requeues: int = 3
    # How often a webhook event may be attempted (each processing attempt counts) before giving up.
    max_event_attempts: int = 12
    # Older than this, a run is given up on whatever its job's state: no school waits longer.
    max_run_age: timedelta = timedelta(hours=6)
    # Webhook events and Wonde revocations wait on Wonde, which may be down for a while.
    max_event_age: timedelta = timedelta(days=2)


Action = Literal["leave", "requeue", "give_up"]


@dataclass(frozen=True)
class Waiting:
    """Something whose job should exist: an active run, a received event or a pending revocation."""

    what: Literal["run", "event", "revoke"]
    id: uuid.UUID
    kind: str  # the run's kind, "webhook" or "revoke"
    created_at: datetime
    requeued: int  # how often recovery sent its job again (runs and revocations)
    attempts: int = 0  # for events: processing attempts so far (their own count)

    @property
    def job(self) -> JobSpec | None:
        """The job that carries it out; None when it has none."""
        if self.what == "event":
            return WEBHOOK
        if self.what == "revoke":
            return REVOKE
        return RUN_JOBS.get(self.kind)

    @property
    def job_id(self) -> str | None:
        return self.job.job_id(self.id) if self.job else None


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str = ""


def verdict(item: Waiting, job: JobState, now: datetime, policy: Policy = Policy()) -> Verdict:
    """What to do with one waiting item whose job is in ``job`` state (pure)."""
    age = now - item.created_at
    max_age = policy.max_run_age if item.what == "run" else policy.max_event_age
    if age < policy.stale_after:
        return Verdict("leave", "too recent: its job may not have been sent yet")
    if age > max_age:
        return Verdict(
            "give_up", f"not finished {_hours(max_age)} after it was queued; given up so the school can move on"
        )
    if job in ("queued", "deferred", "in_progress"):
        return Verdict("leave", f"its job is {job}")
    if item.job is None:
        return Verdict("give_up", f"a {item.kind} run left unfinished (its worker stopped); nothing was applied by it")
    if item.requeued >= policy.max_requeues or (item.what == "event" and item.attempts >= policy.max_event_attempts):
        tries = f"sent again {item.requeued} time(s)" + (
            f", attempted {item.attempts} time(s)" if item.attempts else ""
        )
        return Verdict("give_up", f"its job kept stopping before it finished ({tries}); given up")
    lost = "lost by Redis" if job == "not_found" else "ended without finishing it"
    return Verdict("requeue", f"its job was {lost}; sent again")


def plan_recovery(
    items: list[Waiting], jobs: dict[str, JobState], now: datetime, policy: Policy = Policy()
) -> list[tuple[Waiting, Verdict]]:
    """The verdict on each item, given the state of each job id (a missing id: not found)."""
    return [
        (item, verdict(item, jobs.get(item.job_id, "not_found") if item.job_id else "not_found", now, policy))
        for item in items
    ]


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour(s)" if hours < 48 else f"{hours / 24:g} day(s)"


async def recover(
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    now: datetime | None = None,
    policy: Policy = Policy(),
    *,
    schools: Collection[str] | None = None,
) -> dict[str, int]:
    """One pass: send again the jobs that were lost, give up on what waited too long. Returns counts.
    ``schools`` limits the pass to those schools (tests; an operator looking at one school)."""
    now = now or utc_now()
    before = now - policy.stale_after
    done = {"left": 0, "requeued": 0, "given_up": 0}
    async with unit_of_work(sessionmaker, queue) as session:
        runs = {r.id: r for r in await waiting_runs(session, before, schools)}
        revokes = {r.id: r for r in await pending_revokes(session, before, schools)}
        events = {e.id: e for e in await received_events(session, before, schools)}
        items = (
            [Waiting("run", r.id, r.kind, r.created_at, int(r.progress.get("requeued", 0))) for r in runs.values()]
            + [
                Waiting("revoke", r.id, "revoke", r.created_at, int(r.counts.get("revoke_requeued", 0)))
                for r in revokes.values()
            ]
            + [Waiting("event", e.id, "webhook", e.created_at, 0, e.attempts) for e in events.values()]
        )
        jobs = {item.job_id: await queue.state(item.job_id) for item in items if item.job_id}
        for item, decided in plan_recovery(items, jobs, now, policy):
            if decided.action == "leave":
                done["left"] += 1
                continue
            extra = {"run_id": str(item.id), "what": item.what, "kind": item.kind, "reason": decided.reason}
            if decided.action == "requeue":
                job, job_id = item.job, item.job_id
                assert job is not None
                assert job_id is not None
                await queue.forget(job_id)  # what is left of it (a kept result) would swallow the new copy
                enqueue(session, job, item.id)
                _count_requeue(item, runs, revokes)
                done["requeued"] += 1
                logger.warning("recovery sent a lost job again", extra=extra)
            else:
                await _give_up(session, item, decided.reason, runs, revokes, events, now)
                done["given_up"] += 1
                logger.error("recovery gave up on a stuck run", extra=extra)
    return done


def _count_requeue(item: Waiting, runs: dict[uuid.UUID, SyncRun], revokes: dict[uuid.UUID, SyncRun]) -> None:
    if item.what == "run":
        run = runs[item.id]
        run.progress = {**run.progress, "requeued": item.requeued + 1}
    elif item.what == "revoke":
        revoke = revokes[item.id]
        revoke.counts = {**revoke.counts, "revoke_requeued": item.requeued + 1}
    # An event counts its processing attempts itself (``WebhookEvent.attempts``).


async def _give_up(
    session: AsyncSession,
    item: Waiting,
    reason: str,
    runs: dict[uuid.UUID, SyncRun],
    revokes: dict[uuid.UUID, SyncRun],
    events: dict[uuid.UUID, WebhookEvent],
    now: datetime,
) -> None:
    if item.what == "run":
        run = runs[item.id]
        await fail_run(session, run, Failure(FailureCode.GIVEN_UP, reason), now)
    elif item.what == "revoke":
        revoke = revokes[item.id]
        revoke.counts = {**revoke.counts, "revoke": f"gave up: {reason} (last: {revoke.counts.get('revoke')})"}
    else:
        event = events[item.id]
        event.status, event.processed_at = WebhookStatus.REJECTED, now
        event.error = f"not processed: {reason}" + (f" (last error: {event.error})" if event.error else "")
        event.forget_payload()
    await session.flush()


async def fail_run(session: AsyncSession, run: SyncRun, failure: Failure, now: datetime) -> None:
    """Mark an active run failed with ``failure``, and the read a sync was carrying out with it."""
    fail(run, failure, now)
    if run.kind == RunKind.RECONCILE and (read_id := run.progress.get("read_run_id")):
        read = await session.get(SyncRun, uuid.UUID(read_id), with_for_update=True)
        if read is not None and read.status in ACTIVE_RUN_STATUSES:
            fail(read, Failure(failure.code, f"its sync was given up on: {failure.detail or failure.code}"), now)
        run.progress = {**run.progress, "phase": "done"}
