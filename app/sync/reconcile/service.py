"""The sync's rules for a request: who may sync, what a sync would do (the plan and what the safeguards hold),
and queueing "sync now"."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.jobs import SYNC, enqueue
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.schools.service import get_school
from app.sync.core.reconcile_plan import plan_reconcile
from app.sync.core.safeguards import Decision, Thresholds, safeguard
from app.sync.erasure.repository import ErasureRepository
from app.sync.journal.entries import nonzero_counts, sentence
from app.sync.reconcile.schemas import SyncPreview
from app.sync.runs.failures import FailureCode
from app.sync.runs.service import claim_school, new_run
from app.sync.state.reconcile import ReconcileInput, reconcile_input


class NotSyncing(Conflict):
    """The school is not syncing: finish onboarding (merge) first."""

    failure_code: ClassVar[FailureCode] = FailureCode.NOT_SYNCING


def thresholds_of(school: School) -> Thresholds:
    return Thresholds(min_pupils=school.hold_min_pupils, fraction=float(school.hold_fraction))


MIGRATING = "the school's MIS is being migrated (every id changes): changes wait until pupils are re-linked"


def decide(school: School, loaded: ReconcileInput) -> Decision:
    """The reconcile's plan for the school, split by the safeguards into what applies and what is held."""
    plan = plan_reconcile(loaded.state)
    hold_all = MIGRATING if school.migrating_since is not None else None
    return safeguard(plan.changes, loaded.linked, thresholds_of(school), hold_all=hold_all)


async def preview(session: AsyncSession, school_id: str) -> SyncPreview:
    """What a sync would do now from the last read of the MIS: what applies at once and what would be held."""
    school = await get_school(session, school_id)
    decision = decide(school, await reconcile_input(session, school_id))
    apply = nonzero_counts(decision.apply)
    held = nonzero_counts(h.change for h in decision.held)
    reasons = sorted({h.reason for h in decision.held})
    erased = sorted(await ErasureRepository(session, school_id).erased())
    return SyncPreview(
        summary=sentence(apply | held), apply=apply, held=held, held_reasons=reasons, erased_on_request=erased
    )


async def start_sync(session: AsyncSession, school_id: str, *, trigger: RunTrigger, actor: str | None) -> SyncRun:
    """Queue "sync now": a read of the school, then a reconcile, as one run (409 while another runs)."""
    school = await session.get(School, school_id)
    if school is None or school.state != SchoolState.SYNCING:
        raise NotSyncing()
    run = new_run(school_id, RunKind.RECONCILE, trigger, actor)
    await claim_school(session, run)
    enqueue(session, SYNC, run.id)
    return run
