"""The daily sync's shell: load a syncing school, plan the copycat reconcile, hold what the safeguards
hold, apply the rest in one transaction under the school's lock, and journal both.

Held changes are journal rows with status "held" carrying the change itself, so an admin's approval
applies exactly what was shown and a rejection leaves the pupils as they were. What undos reverted is
held too, and what an admin rejected after an undo is left out (``app.sync.core.undone``): the sync marks
the journal rows whose word has lapsed.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue
from app.kit.locking import ROW_FOR_CHANGE, lock_school
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.models.sync_run import ACTIVE_RUN_STATUSES, RunKind, RunStatus, RunTrigger
from app.schools.service import ConnectionRequired
from app.sync.apply import apply_plan
from app.sync.core import changes as kinds
from app.sync.core import undone
from app.sync.core.changes import Plan
from app.sync.journal import entries
from app.sync.journal.repository import ChangeRepository
from app.sync.mirror.flow import run_read
from app.sync.mirror.service import FULL_READ_EVERY
from app.sync.reconcile.held import hold
from app.sync.reconcile.migration import Relinked, relink_after_migration
from app.sync.reconcile.service import NotSyncing, decide, plan_sync, require_syncing
from app.sync.runs import service as runs
from app.sync.runs.failures import Failure, FailureCode, ReadFailed, failure_of
from app.sync.state.reconcile import reconcile_input
from app.wonde.client import WondeClient


async def reconcile(session: AsyncSession, run: SyncRun, box: SecretBox) -> dict[str, int]:
    """Plan, hold and apply for one school, in the caller's transaction (under the school's lock)."""
    await lock_school(session, run.school_id)
    school = await session.get(School, run.school_id, with_for_update=ROW_FOR_CHANGE)
    assert school is not None
    require_syncing(school)
    # The school is read once; the links made before planning are carried into what the plan sees.
    loaded = await reconcile_input(session, school.id)
    relinked = Relinked(0, loaded)
    if school.migrating_since is not None:
        relinked = await relink_after_migration(session, school, run, box, loaded)
    planned = plan_sync(relinked.loaded, relinked.pending)
    decision = decide(school, planned)
    applied = await apply_plan(
        session, school.id, run.id, run.actor, Plan(list(decision.apply)), relinked.loaded.lookup, box
    )
    await hold(session, school.id, run, decision.held)
    # What undos reverted has been looked at; a rejection of what this sync did not plan has lapsed.
    planned_now = [*relinked.planned, *planned.changes]
    await ChangeRepository(session, school.id).lapse(undone.lapsed(loaded.memos, planned_now), utc_now())
    remembered = [c for c in decision.apply if c in planned.remembered]
    relinked_count = relinked.count + sum(1 for c in remembered if isinstance(c, kinds.LinkPupil))
    return (
        entries.nonzero_counts(c for c in decision.apply if c not in remembered)
        | ({"pupils_relinked": relinked_count} if relinked_count else {})
        | {"held": len(decision.held), "pupils_created": len(applied.created_pupils)}
    )


# The read of an earlier attempt whose worker died: it wrote nothing, and this attempt reads again.
INTERRUPTED_READ = Failure(FailureCode.READ_INTERRUPTED)


async def _read_for(session: AsyncSession, run: SyncRun) -> uuid.UUID | None:
    """The read this attempt of the sync must carry out, recorded on the run's progress; None when a
    read of an earlier attempt already succeeded (only the reconcile is left to do).

    A run already "running" here means the worker of an earlier attempt died: arq never runs one job
    id twice at once. Its unfinished read is marked failed (``read_interrupted``), and a new read is made."""
    previous = run.progress.get("read_run_id") if run.status == RunStatus.RUNNING else None
    attempt = int(run.progress.get("attempt", 0)) + 1
    if previous:
        earlier = await session.get(SyncRun, uuid.UUID(previous), with_for_update=True)
        if earlier is not None and earlier.status == RunStatus.SUCCEEDED:
            run.progress = {**run.progress, "phase": "reconciling", "attempt": attempt}
            return None
        if earlier is not None and earlier.status in ACTIVE_RUN_STATUSES:
            runs.fail(earlier, INTERRUPTED_READ)
    school = await session.get(School, run.school_id)
    assert school is not None
    recent = (
        run.trigger != RunTrigger.SCHEDULE  # the nightly sync always reads everything
        and school.last_full_read_at is not None
        and utc_now() - school.last_full_read_at < FULL_READ_EVERY
    )
    read = runs.new_run(school.id, RunKind.DELTA_READ if recent else RunKind.FULL_READ, run.trigger, run.actor)
    session.add(read)
    if run.status == RunStatus.QUEUED:
        runs.start(run)
    run.progress = {**run.progress, "phase": "reading", "read_run_id": str(read.id), "attempt": attempt}
    return read.id


async def run_sync(
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue | None,
    wonde: WondeClient,
    box: SecretBox,
    run_id: uuid.UUID,
) -> str:
    """Read the school from Wonde (a full read if the last one is a day old, else a delta), then
    reconcile. A failed read applies nothing: the run fails with the read's code and text. A read that
    failed unexpectedly raises ``JobFailed`` (the read's run is recorded; recovery sends this job again).

    Safe to run again after its worker died at any point: the read and the reconcile each write in
    one transaction, the run's progress names the read (``{"phase", "read_run_id", "attempt"}``), and
    a second attempt resumes: it reads again unless the earlier read succeeded, then reconciles."""
    async with unit_of_work(sessionmaker, None) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return run.status if run else "missing"
        read_id = await _read_for(session, run)
        expected = run.progress["read_run_id"]
    if read_id is not None:
        status = await run_read(sessionmaker, wonde, box, read_id)
        async with unit_of_work(sessionmaker, None) as session:
            run = await session.get(SyncRun, run_id, with_for_update=True)
            if run is not None and run.status == RunStatus.RUNNING and status == RunStatus.SUCCEEDED:
                run.progress = {**run.progress, "phase": "reconciling"}
    else:
        status = RunStatus.SUCCEEDED
    async with unit_of_work(sessionmaker, queue) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        assert run is not None
        if run.status != RunStatus.RUNNING or run.progress.get("read_run_id") != expected:
            return run.status  # given up on by recovery, or taken over by a later attempt meanwhile
        # The school's locks before any write to this (active) run: a claim that holds the school's row
        # (a webhook, a disconnect) waits on a written run's row, and would deadlock with the reconcile.
        await lock_school(session, run.school_id)
        await session.get(School, run.school_id, with_for_update=ROW_FOR_CHANGE)
        run.progress = {**run.progress, "phase": "done"}
        if status != RunStatus.SUCCEEDED:
            runs.fail(run, _read_failure(await session.get(SyncRun, uuid.UUID(expected)), status))
            return "failed"
        try:
            async with session.begin_nested():
                run.counts = await reconcile(session, run, box)
        except (NotSyncing, ConnectionRequired) as exc:
            runs.fail(run, failure_of(exc))
            return "failed"
        runs.succeed(run)
    return "succeeded"


def _read_failure(read: SyncRun | None, status: str) -> Failure:
    """A sync whose read did not succeed fails with the read's code, saying the read's own text."""
    if read is None or read.failure_code is None or read.error is None:
        return Failure(FailureCode.INTERNAL_ERROR, f"its read ended {status}")
    return ReadFailed(FailureCode(read.failure_code), read_text=read.error)
