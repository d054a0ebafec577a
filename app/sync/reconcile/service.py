"""The sync's rules for a request: who may sync, what a sync would do (the plan and what the safeguards hold),
and queueing "sync now"."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.jobs import enqueue
from app.models import (
    School,
    SyncRun,
)
from app.schools.service import get_school
from app.sync.apply import Lookup
from app.sync.core.changes import Plan
from app.sync.core.reconcile_plan import (
    ReconcileState,
    plan_reconcile,
)
from app.sync.core.safeguards import Decision, Thresholds, safeguard
from app.sync.journal.entries import nonzero_counts, sentence
from app.sync.reconcile.schemas import SyncPreview
from app.sync.runs.service import claim_school
from app.sync.state.loader import load


class NotSyncing(Conflict):
    """The school is not syncing: finish onboarding (merge) first."""


def thresholds_of(school: School) -> Thresholds:
    return Thresholds(min_pupils=school.hold_min_pupils, fraction=float(school.hold_fraction))


MIGRATING = "the school's MIS is being migrated (every id changes): changes wait until pupils are re-linked"


async def plan_for(
    session: AsyncSession, school: School, loaded: tuple[ReconcileState, Lookup, int] | None = None
) -> tuple[Plan, Decision, Lookup]:
    state, lookup, linked = loaded or await load(session, school.id)
    plan = plan_reconcile(state)
    hold_all = MIGRATING if school.migrating_since is not None else None
    return plan, safeguard(plan.changes, linked, thresholds_of(school), hold_all=hold_all), lookup


async def preview(session: AsyncSession, school_id: str) -> SyncPreview:
    """What a sync would do now from the last read of the MIS: what applies at once and what would be held."""
    school = await get_school(session, school_id)
    decision = (await plan_for(session, school))[1]
    apply = nonzero_counts(decision.apply)
    held = nonzero_counts(h.change for h in decision.held)
    reasons = sorted({h.reason for h in decision.held})
    return SyncPreview(summary=sentence(apply | held), apply=apply, held=held, held_reasons=reasons)


async def start_sync(session: AsyncSession, school_id: str, *, trigger: str, actor: str | None) -> SyncRun:
    """Queue "sync now": a read of the school, then a reconcile, as one run (409 while another runs)."""
    school = await session.get(School, school_id)
    if school is None or school.state != "syncing":
        raise NotSyncing()
    run = SyncRun(id=uuid.uuid4(), school_id=school_id, kind="reconcile", trigger=trigger, status="queued", actor=actor)
    await claim_school(session, run)
    enqueue(session, "sync_school", str(run.id), job_id=f"sync:{run.id}")
    return run
