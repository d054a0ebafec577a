"""Merge: one action links the school's chosen classes and pupils and creates the missing bands and
accounts. A queued run, then a worker applies the whole plan in one transaction under the school's
lock, journalled change by change, and the school starts syncing. A second merge applies only what
changed since the first (often nothing)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import InvalidInput
from app.kit.crypto import SecretBox
from app.kit.jobs import enqueue
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import School, SyncRun
from app.sync.apply import Lookup, apply_plan
from app.sync.core.matching import MatchResult, match
from app.sync.core.merge_plan import Plan, plan_merge
from app.sync.runs.service import claim_school
from app.sync.state.school import SchoolState, load_state, match_input, merge_state


class NothingToMerge(InvalidInput):
    """No MIS class is set to "match" or "import": choose at least one in the uploader."""


class UnresolvedIssues(InvalidInput):
    """Some pupils still need a decision in the uploader before merge."""


def unresolved(state: SchoolState, result: MatchResult) -> list[str]:
    """Students of the chosen classes the matcher left in review and the admin has not yet resolved."""
    in_scope = {s for container in state.scope for s in state.members.get(container, frozenset())}
    waiting = set(result.in_review_students) & in_scope
    return sorted(waiting - set(state.student_decisions))


async def compute_plan(session: AsyncSession, school_id: str) -> tuple[SchoolState, MatchResult, Plan]:
    state = await load_state(session, school_id)
    result = match(match_input(state))
    return state, result, plan_merge(merge_state(state, result))


async def start_merge(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """Check the merge can run, then queue it (a second one while it is queued or running is a 409)."""
    state, result, _ = await compute_plan(session, school_id)
    if not state.scope:
        raise NothingToMerge()
    if waiting := unresolved(state, result):
        raise UnresolvedIssues(f"{len(waiting)} pupil(s) need a decision first (GET .../uploader/issues).")
    run = SyncRun(id=uuid.uuid4(), school_id=school_id, kind="merge", trigger="manual", status="queued", actor=actor)
    await claim_school(session, run)
    enqueue(session, "merge_school", str(run.id), job_id=f"merge:{run.id}")
    return run


async def run_merge(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, run_id: uuid.UUID) -> str:
    """Apply the merge plan, all or nothing. A worker killed half-way leaves everything as it was and
    the run queued; the retried job then completes it."""
    try:
        async with unit_of_work(sessionmaker, None) as session:
            run = await session.get(SyncRun, run_id, with_for_update=True)
            if run is None or run.status in ("succeeded", "failed"):
                return run.status if run else "missing"
            await lock_school(session, run.school_id)
            run.status, run.started_at = "running", utc_now()
            state, result, plan = await compute_plan(session, run.school_id)
            if waiting := unresolved(state, result):
                raise UnresolvedIssues(f"{len(waiting)} pupil(s) need a decision first.")
            applied = await apply_plan(session, run.school_id, run.id, run.actor, plan, Lookup.of(state), box)
            school = await session.get(School, run.school_id, with_for_update=True)
            assert school is not None
            school.state = "syncing"
            run.status, run.finished_at, run.counts = "succeeded", utc_now(), applied.counts
            run.progress = {**run.progress, "done": len(plan.changes), "total": len(plan.changes)}
    except Exception as exc:
        async with unit_of_work(sessionmaker, None) as session:
            failed = await session.get(SyncRun, run_id, with_for_update=True)
            if failed is not None:
                failed.status, failed.finished_at = "failed", utc_now()
                failed.error = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, UnresolvedIssues):
            return "failed"
        raise
    return "succeeded"
