"""The sync's rules for a request: who may sync, what a sync would do (the plan and what the safeguards hold),
and queueing "sync now"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.jobs import SYNC, enqueue
from app.models import School, SyncRun
from app.models.school import SchoolState
from app.models.sync_run import RunKind, RunTrigger
from app.schools.service import get_school, require_connected
from app.sync.core.changes import Change
from app.sync.core.reconcile_plan import ReconcileState, plan_reconcile, plan_remembered, skipped_on_roll
from app.sync.core.safeguards import Decision, Thresholds, safeguard
from app.sync.erasure.repository import ErasureRepository
from app.sync.journal.entries import nonzero_counts, sentence
from app.sync.reconcile.schemas import SkippedStudent, SyncPreview
from app.sync.runs.failures import FailureCode
from app.sync.runs.service import claim_school, new_run
from app.sync.state.reconcile import ReconcileInput, after, reconcile_input


class NotSyncing(Conflict):
    """The school is not syncing: finish onboarding (merge) first."""

    failure_code: ClassVar[FailureCode] = FailureCode.NOT_SYNCING


def require_syncing(school: School) -> None:
    """Refuse to sync a school that is not syncing, naming why: no Wonde connection (never, or no
    longer, or an approval waiting for the platform) before "finish onboarding first"."""
    if school.state != SchoolState.SYNCING:
        require_connected(school)
        raise NotSyncing()


def thresholds_of(school: School) -> Thresholds:
    return Thresholds(min_pupils=school.hold_min_pupils, fraction=float(school.hold_fraction))


MIGRATING = "the school's MIS is being migrated (every id changes): changes wait until pupils are re-linked"


@dataclass(frozen=True)
class Planned:
    """Every change a sync would make now, and the school as the copycat plan saw it."""

    remembered: list[Change]  # accounts given back to the children they were taken from
    changes: list[Change]  # the pending re-links, the remembered ones, then the copycat plan
    planning: ReconcileInput


def plan_sync(loaded: ReconcileInput, pending: Sequence[Change] = ()) -> Planned:
    """Accounts an undo or a disconnect took from children still in the MIS go back to them
    (``plan_remembered``); the copycat plan sees the school as it would be with them back, and with
    ``pending`` (re-links after an MIS migration that an undo had reverted), so that it never plans a
    second account for such a child: what waits for one of these pupils waits with them (held per pupil)."""
    remembered = plan_remembered(loaded.state)
    planning = after(loaded, [*pending, *remembered])
    return Planned(remembered, [*pending, *remembered, *plan_reconcile(planning.state).changes], planning)


def decide(school: School, planned: Planned) -> Decision:
    """The sync's changes, split by the safeguards into what applies, what is held (whole pupils) and
    what an admin rejected after an undo (left out)."""
    hold_all = MIGRATING if school.migrating_since is not None else None
    loaded = planned.planning
    return safeguard(planned.changes, loaded.linked, thresholds_of(school), hold_all=hold_all, undone=loaded.undone)


async def preview(session: AsyncSession, school_id: str) -> SyncPreview:
    """What a sync would do now from the last read of the MIS: what applies at once and what would be held."""
    school = await get_school(session, school_id)
    loaded = await reconcile_input(session, school_id)
    decision = decide(school, plan_sync(loaded))
    apply = nonzero_counts(decision.apply)
    held = nonzero_counts(h.change for h in decision.held)
    reasons = sorted({h.reason for h in decision.held})
    erased = sorted(await ErasureRepository(session, school_id).erased())
    return SyncPreview(
        summary=sentence(apply | held),
        apply=apply,
        held=held,
        held_reasons=reasons,
        erased_on_request=erased,
        skipped=skipped_students(loaded.state),
    )


def skipped_students(state: ReconcileState) -> list[SkippedStudent]:
    """The students the admin skipped who are on roll (a leaver is archived as any other), by name,
    with the account each had before the skip (if any)."""
    skipped = skipped_on_roll(state)
    accounts = {p.student: pupil_id for pupil_id, p in state.pupils.items() if p.student in skipped}
    return [
        SkippedStudent(
            wonde_student_id=wonde_id,
            name=f"{state.students[wonde_id].facts.forename} {state.students[wonde_id].facts.surname}",
            pupil_id=accounts.get(wonde_id),
        )
        for wonde_id in sorted(skipped, key=lambda w: (state.students[w].facts.surname, w))
    ]


async def start_sync(session: AsyncSession, school_id: str, *, trigger: RunTrigger, actor: str | None) -> SyncRun:
    """Queue "sync now": a read of the school, then a reconcile, as one run (409 while another runs)."""
    school = await session.get(School, school_id)
    if school is None:
        raise NotSyncing()
    require_syncing(school)
    run = new_run(school_id, RunKind.RECONCILE, trigger, actor)
    await claim_school(session, run)
    enqueue(session, SYNC, run.id)
    return run
