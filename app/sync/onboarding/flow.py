"""The merge job: apply the plan the admin has settled, all or nothing, and start the school syncing."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.locking import ROW_FOR_CHANGE, lock_school
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import FINISHED_RUN_STATUSES
from app.schools.service import ConnectionRequired, require_connected
from app.sync.apply import apply_plan
from app.sync.onboarding.service import UnresolvedIssues, compute_plan, unresolved
from app.sync.runs import service as runs
from app.sync.runs.failures import Failure, JobFailed, failure_of
from app.sync.state.lookup import Lookup

logger = logging.getLogger(__name__)


async def run_merge(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, run_id: uuid.UUID) -> str:
    """Apply the merge plan, all or nothing. A worker killed half-way leaves everything as it was and
    the run queued; the retried job then completes it. A merge that cannot run (pupils to decide, an
    approval to confirm, a school no longer connected to Wonde) fails and returns "failed"; any other
    failure is recorded on the run by its code, then raises ``JobFailed`` (the code and the run's id:
    never the exception's text)."""
    try:
        async with unit_of_work(sessionmaker, None) as session:
            run = await session.get(SyncRun, run_id, with_for_update=True)
            if run is None or run.status in FINISHED_RUN_STATUSES:
                return run.status if run else "missing"
            await lock_school(session, run.school_id)
            runs.start(run)
            school = await session.get(School, run.school_id, with_for_update=ROW_FOR_CHANGE)
            assert school is not None
            # Disconnected, or its approval questioned, since the merge was queued: it must not become syncing.
            require_connected(school)
            state, result, plan = await compute_plan(session, run.school_id)
            if waiting := unresolved(state, result):
                raise UnresolvedIssues.waiting(len(waiting))
            applied = await apply_plan(session, run.school_id, run.id, run.actor, plan, Lookup.of(state), box)
            school.state = SchoolState.SYNCING
            runs.succeed(run, counts=applied.counts)
            run.progress = {**run.progress, "done": len(plan.changes), "total": len(plan.changes)}
    except Exception as exc:
        failure, expected = failure_of(exc), isinstance(exc, UnresolvedIssues | ConnectionRequired)
    else:
        return "succeeded"
    # Recorded outside the except block: an error recording it does not carry the first one along.
    await _record_failure(sessionmaker, run_id, failure)
    if expected:
        return "failed"
    logger.error("merge failed unexpectedly", extra={"failure_code": failure.code, "detail": failure.detail})
    raise JobFailed(failure.code, run_id) from None


async def _record_failure(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, failure: Failure) -> None:
    async with unit_of_work(sessionmaker, None) as session:
        failed = await session.get(SyncRun, run_id, with_for_update=True)
        if failed is not None:
            runs.fail(failed, failure)
