"""The uploader: the admin's one-off screen to choose, class by class, what bandsync will sync, and to
settle the pupils the matcher could not link with certainty. Reads run the matcher on the school's
current state; decisions are stored and become the matcher's and the planner's inputs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, InvalidInput, NotFound, PupilNotFound
from app.kit.cpu import off_loop
from app.kit.jobs import MERGE, enqueue
from app.kit.locking import lock_school
from app.models import SyncRun, UploaderDecision
from app.models.sync_run import RunKind, RunTrigger
from app.schools.service import get_school, require_connected
from app.sync.core.changes import MERGE_CHANGES
from app.sync.core.matching import MatchResult, match
from app.sync.core.merge_plan import (
    AddToBand,
    CreateBand,
    CreatePupil,
    LinkBand,
    LinkPupil,
    Plan,
    RemoveFromBand,
    plan_merge,
)
from app.sync.erasure.repository import ErasureRepository
from app.sync.journal.entries import counts
from app.sync.onboarding.classes import rows
from app.sync.onboarding.repository import DecisionRepository
from app.sync.onboarding.schemas import Issues, Preview, UploaderClass
from app.sync.runs.failures import FailureCode
from app.sync.runs.service import claim_school, new_run
from app.sync.state.cached import per_state_version
from app.sync.state.matcher import match_input
from app.sync.state.merge import merge_state
from app.sync.state.repository import load_snapshot
from app.sync.state.snapshot import SchoolSnapshot


class StudentNotFound(NotFound):
    """No MIS student with this id in the school."""


class PupilAlreadyLinked(Conflict):
    """This pupil is already linked to another MIS student."""


@per_state_version("uploader.view")
async def view(session: AsyncSession, school_id: str) -> list[UploaderClass]:
    """One row per MIS class (a primary's registration group folded into the class of its name): its
    size, the admin's decision, the suggested action and band."""
    state, result, _ = await compute_plan(session, school_id)
    return rows(state, result)


async def resolve_student(
    session: AsyncSession,
    school_id: str,
    wonde_student_id: str,
    resolution: str,
    pupil_id: uuid.UUID | None,
    actor: str,
) -> UploaderDecision:
    await lock_school(session, school_id)
    state = await load_snapshot(session, school_id)
    student = state.students.get(wonde_student_id)
    if student is None:
        raise StudentNotFound()
    if resolution == "link":
        if pupil_id is None:
            raise InvalidInput('A "link" needs the pupil_id of the account to link.')
        # An archived account may be chosen (a child back after leaving): the merge restores it.
        pupil = state.pupils.get(pupil_id) or state.archived.get(pupil_id)
        if pupil is None:
            raise PupilNotFound()
        taken = [
            w
            for w, d in state.student_decisions.items()
            if d.resolution == "link" and d.pupil_id == pupil_id and w != wonde_student_id
        ]
        if taken or (pupil.mis_student_id is not None and pupil.mis_student_id != student.id):
            raise PupilAlreadyLinked()
    decision = state.student_decisions.get(wonde_student_id)
    if decision is None:
        decision = DecisionRepository(session, school_id).new_for_student(student.id)
    decision.resolution, decision.pupil_id, decision.decided_by = (
        resolution,
        pupil_id if resolution == "link" else None,
        actor,
    )
    await session.flush()
    return decision


async def take_back_resolution(session: AsyncSession, school_id: str, wonde_student_id: str) -> None:
    """Forget the admin's decision about the student, a skip above all: the student is undecided again,
    and the next sync or merge treats them as any other (a sync gives a student of a synced class an
    account; a merge links them where the matcher is sure, else asks again). A skip made about the
    record the MIS has since renumbered, which covers this student, goes too. Nothing to forget is no
    error: taking back twice is taking back once."""
    await lock_school(session, school_id)
    state = await load_snapshot(session, school_id)
    if wonde_student_id not in state.students:
        raise StudentNotFound()
    decisions = (state.student_decisions.get(wonde_student_id), state.skipped.get(wonde_student_id))
    await DecisionRepository(session, school_id).forget({d.id for d in decisions if d is not None})


@per_state_version("uploader.issues")
async def issues(session: AsyncSession, school_id: str) -> Issues:
    """What needs the admin before merge: students of the chosen classes not linked automatically, and
    pupils of matched bands with no MIS partner (whom the merge would take out of the band)."""
    state, result, plan = await compute_plan(session, school_id)
    in_scope = {s for c in state.scope for s in state.members.get(c, frozenset())}
    auto = {m.student_id for m in result.pupils if m.status == "auto" and m.student_id}
    auto |= state.returning.keys()  # their own account comes back
    candidates: dict[str, list[dict[str, Any]]] = {}
    for decision in result.pupils:
        if decision.status != "review":
            continue
        pupil = state.pupils.get(uuid.UUID(decision.pupil_id))
        for candidate in decision.candidates:
            candidates.setdefault(candidate.id, []).append(
                {
                    "pupil_id": decision.pupil_id,
                    "name": f"{pupil.first_name} {pupil.last_name}" if pupil else None,
                    "score": candidate.score,
                    "evidence": list(candidate.evidence),
                }
            )
    linked = {state.student_wonde_ids.get(p.mis_student_id) for p in state.pupils.values() if p.mis_student_id}
    students = []
    for wonde_id in sorted(in_scope - auto - linked):
        student = state.students[wonde_id]
        resolution = state.student_decisions.get(wonde_id) or state.skipped.get(wonde_id)
        students.append(
            {
                "wonde_student_id": wonde_id,
                "name": f"{student.forename} {student.surname}",
                "year_group": student.year_group,
                "candidates": sorted(candidates.get(wonde_id, []), key=lambda c: -c["score"])[:3],
                "resolution": resolution.resolution if resolution else None,
                "merge_will": _student_outcome(resolution, bool(candidates.get(wonde_id))),
            }
        )
    leaving = [
        {"band_id": band, "pupil_id": pupil, "merge_will": "remove the pupil from this band (the account is kept)"}
        for band, pupils in plan.leaving().items()
        for pupil in pupils
    ]
    return Issues.model_validate(
        {"students": students, "unmatched_pupils": leaving, "unresolved": len(unresolved(state, result))}
    )


def _student_outcome(decision: UploaderDecision | None, has_candidates: bool) -> str:
    if decision is None:
        return "wait for your decision" if has_candidates else "create a new account"
    return {
        "link": "link to the chosen account",
        "create": "create a new account",
        "skip": "leave the student out: no account, not synced, until the skip is taken back",
    }[decision.resolution or ""]


@per_state_version("uploader.preview")
async def preview(session: AsyncSession, school_id: str) -> Preview:
    """Exactly what merge would do now, with counts, and a warning per band that would lose pupils."""
    state, result, plan = await compute_plan(session, school_id)
    names = {str(b.id): b.name for b in state.bands.values()}
    warnings = [
        {
            "band_id": band,
            "band_name": names.get(band, band),
            "pupils_leaving": len(pupils),
            "message": f"{len(pupils)} pupil(s) of {names.get(band, band)} are in other MIS classes and would leave "
            "this band. If it is a set rather than a form, match it to the set's MIS class, or choose no action.",
        }
        for band, pupils in plan.leaving().items()
    ]
    return Preview.model_validate(
        {
            "counts": counts(plan.changes, MERGE_CHANGES),
            "unresolved": len(unresolved(state, result)),
            "bands_to_create": [
                {"wonde_class_id": c.container, "name": c.name} for c in plan.changes if isinstance(c, CreateBand)
            ],
            "bands_to_link": [
                {"band_id": c.band, "wonde_class_id": c.container} for c in plan.changes if isinstance(c, LinkBand)
            ],
            "pupils_to_link": [
                {"pupil_id": c.pupil, "wonde_student_id": c.student} for c in plan.changes if isinstance(c, LinkPupil)
            ],
            "accounts_to_create": [
                {"wonde_student_id": c.student, "name": f"{c.first_name} {c.last_name}"}
                for c in plan.changes
                if isinstance(c, CreatePupil)
            ],
            "memberships_to_add": sum(isinstance(c, AddToBand) for c in plan.changes),
            "memberships_to_remove": sum(isinstance(c, RemoveFromBand) for c in plan.changes),
            "warnings": warnings,
            "erased_on_request": sorted(await ErasureRepository(session, school_id).erased()),
        }
    )


class NothingToMerge(InvalidInput):
    """No MIS class is set to "match" or "import": choose at least one in the uploader."""


class UnresolvedIssues(InvalidInput):
    """Some pupils still need a decision in the uploader before merge."""

    failure_code: ClassVar[FailureCode] = FailureCode.UNRESOLVED_ISSUES
    failure_detail: str | None = None

    @classmethod
    def waiting(cls, pupils: int) -> UnresolvedIssues:
        """The merge found ``pupils`` still to decide (a count: safe on the run, in the logs)."""
        refused = cls(f"{pupils} pupil(s) need a decision first (GET .../uploader/issues).")
        refused.failure_detail = f"{pupils} pupil(s) to decide"
        return refused


def unresolved(state: SchoolSnapshot, result: MatchResult) -> list[str]:
    """Students of the chosen classes the matcher left in review and the admin has not yet resolved."""
    in_scope = {s for container in state.scope for s in state.members.get(container, frozenset())}
    waiting = set(result.in_review_students) & in_scope
    return sorted(waiting - set(state.student_decisions) - set(state.skipped))


async def compute_plan(session: AsyncSession, school_id: str) -> tuple[SchoolSnapshot, MatchResult, Plan]:
    state = await load_snapshot(session, school_id)
    await asyncio.sleep(0)  # other requests' turn between the steps that keep the event loop busy
    data = match_input(state)
    await asyncio.sleep(0)
    result = await off_loop(match, data)  # in the app's process pool: the loop answers meanwhile
    return state, result, plan_merge(merge_state(state, result))


async def start_merge(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """Check the merge can run, then queue it (a second one while it is queued or running is a 409). A
    school not connected to Wonde (never, or no longer) is refused: the merge would make it syncing."""
    require_connected(await get_school(session, school_id))
    state, result, _ = await compute_plan(session, school_id)
    if not state.scope:
        raise NothingToMerge()
    if waiting := unresolved(state, result):
        raise UnresolvedIssues.waiting(len(waiting))
    run = new_run(school_id, RunKind.MERGE, RunTrigger.MANUAL, actor)
    await claim_school(session, run)
    enqueue(session, MERGE, run.id)
    return run
