"""Held changes: journal rows with status "held" carrying the change itself (``held_rows.py``), so an
admin's approval applies exactly what was shown and a rejection leaves the pupils as they were.

Changes are held and decided per pupil (``subject_of``): one decision covers every held change waiting
for that pupil, whichever run held it, and a decision on many pupils (approve-all, reject-all, a list)
is one run. Rejecting a change held after an undo keeps the undo's state until the MIS changes again
(``app.sync.core.undone``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.kit.crypto import SecretBox
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.models import ChangeRow, ChangeStatus, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.apply import apply_plan
from app.sync.core import changes as kinds
from app.sync.core.changes import Plan
from app.sync.core.reconcile_plan import ReconcileState, skipped_on_roll
from app.sync.core.safeguards import Held
from app.sync.journal.entries import nonzero_counts
from app.sync.journal.repository import ChangeRepository
from app.sync.journal.writer import record
from app.sync.reconcile.held_rows import canonical, change_of, held_entry, serialise, subject_of_row, view
from app.sync.reconcile.schemas import HeldChange
from app.sync.runs import service as runs
from app.sync.state.reconcile import after, reconcile_input


class ChangeAlreadyDecided(Conflict):
    """This change was already applied or rejected."""


class HeldChangeNotFound(NotFound):
    """No held change with this id in the school."""


class HeldGroupNotFound(NotFound):
    """No held change waits for a decision for this pupil, child or band."""


async def _decision_run(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """The run an admin's decision on held changes is journalled under."""
    now = utc_now()
    run = runs.new_run(school_id, RunKind.RECONCILE, RunTrigger.MANUAL, actor)
    runs.start(run, now)
    runs.succeed(run, now=now)
    session.add(run)
    await session.flush()
    return run


def _child_of(change: kinds.Change, state: ReconcileState) -> str | None:
    """The MIS student a change is about, where it is about one: the child an account would be made
    for or linked to, or the student the pupil it changes follows."""
    student: str | None = getattr(change, "student", None)
    pupil: str | None = getattr(change, "pupil", None)
    if student is None and pupil is not None:
        if pupil.startswith(kinds.NEW):
            return pupil.removeprefix(kinds.NEW)
        found = state.pupils.get(pupil)
        return found.student if found else None
    return student


def _not_skipped_since(held: Sequence[kinds.Change], state: ReconcileState) -> list[kinds.Change]:
    """The held changes but those of a pupil or child the admin has skipped since they were held: a
    skipped child on roll gets no account and no change, so none of what waits for them applies (their
    whole group, as it is decided: an account an undo unlinked is restored, linked and put back in its
    band together, or not at all)."""
    skipped = skipped_on_roll(state)
    if not skipped:
        return list(held)
    about_skipped = {kinds.subject_of(c) for c in held if _child_of(c, state) in skipped}
    return [c for c in held if kinds.subject_of(c) not in about_skipped]


def still_applies(change: kinds.Change, state: ReconcileState) -> bool:
    """Whether a held change still makes sense now: a later run (or the MIS, or the admin by hand) may
    have done it already, or changed what it would change."""
    if isinstance(change, kinds.CreatePupil | kinds.LinkPupil):
        return all(p.student != change.student for p in state.pupils.values())
    if isinstance(change, kinds.AddToBand):
        return change.pupil.startswith(kinds.NEW) or change.pupil not in state.band_members.get(
            change.band, frozenset()
        )
    if isinstance(change, kinds.RemoveFromBand):
        return change.pupil in state.band_members.get(change.band, frozenset())
    if isinstance(change, kinds.UnlinkBand):
        return state.synced.get(change.band) == change.container
    if isinstance(change, kinds.ArchivePupil):
        # Planned because the student this pupil followed left; a pupil since linked to another student
        # (a re-link after an MIS migration, approved with it) is not that leaver.
        pupil = state.pupils.get(change.pupil)
        return pupil is not None and not pupil.archived and pupil.student == change.student
    if isinstance(change, kinds.RenamePupil):
        pupil = state.pupils.get(change.pupil)
        return pupil is not None and (pupil.first_name, pupil.last_name) == tuple(change.before)
    if isinstance(change, kinds.ChangeYear):
        return change.pupil in state.pupils and state.pupils[change.pupil].year_group == change.before
    if isinstance(change, kinds.RenameBand):
        return state.band_names.get(change.band) == change.before
    return True


async def listing(session: AsyncSession, school_id: str) -> list[HeldChange]:
    """The changes waiting for an admin, oldest first."""
    return [view(row) for row in await ChangeRepository(session, school_id).held()]


async def _decide(
    session: AsyncSession,
    school_id: str,
    approved: Sequence[ChangeRow],
    rejected: Sequence[ChangeRow],
    *,
    actor: str,
    box: SecretBox,
) -> SyncRun | None:
    """Apply the approved changes (those that still make sense) and mark both sets decided, as one run."""
    if not approved and not rejected:
        return None
    run = await _decision_run(session, school_id, actor)
    plan = Plan()
    if approved:
        loaded = await reconcile_input(session, school_id)
        held = _not_skipped_since([change_of(row) for row in approved], loaded.state)
        links = [c for c in held if isinstance(c, kinds.LinkPupil) and still_applies(c, loaded.state)]
        # The rest is judged with the approved links made: a pupil re-linked is no longer a leaver.
        linked = after(loaded, links).state
        kept = [*links, *(c for c in held if not isinstance(c, kinds.LinkPupil) and still_applies(c, linked))]
        created = {c.ref for c in kept if isinstance(c, kinds.CreatePupil)}
        plan.changes = [
            c
            for c in kept
            if not (isinstance(c, kinds.AddToBand) and c.pupil.startswith(kinds.NEW) and c.pupil not in created)
        ]
        await apply_plan(session, school_id, run.id, actor, plan, loaded.lookup, box)
    now = utc_now()
    for rows, status in ((approved, ChangeStatus.APPLIED), (rejected, ChangeStatus.REJECTED)):
        for row in rows:
            row.status, row.decided_at, row.actor = status, now, actor
    decided = {"approved": len(approved), "rejected": len(rejected)}
    run.counts = nonzero_counts(plan.changes) | {k: n for k, n in decided.items() if n}
    await session.flush()
    return run


async def decide_held(
    session: AsyncSession, school_id: str, change_id: int | None, *, approve: bool, actor: str, box: SecretBox
) -> list[ChangeRow]:
    """Approve (apply exactly what was held, where it still makes sense) or reject (leave it) one held
    change together with every other change waiting for the same pupil, or every held change: one run."""
    await lock_school(session, school_id)
    changes = ChangeRepository(session, school_id)
    if change_id is None:
        waiting = await changes.waiting_held()
    else:
        rows = await changes.held_to_decide(change_id)
        if not rows:
            raise HeldChangeNotFound()
        if rows[0].status != ChangeStatus.HELD:
            raise ChangeAlreadyDecided()
        subject = subject_of_row(rows[0])
        waiting = [row for row in await changes.waiting_held() if subject_of_row(row) == subject]
    await _decide(session, school_id, waiting if approve else [], [] if approve else waiting, actor=actor, box=box)
    return waiting


async def decide_groups(
    session: AsyncSession,
    school_id: str,
    *,
    approve: Collection[str],
    reject: Collection[str],
    actor: str,
    box: SecretBox,
) -> tuple[SyncRun, list[ChangeRow]]:
    """Approve some pupils' held changes and reject others' (groups named as ``HeldGroup.id``), as one run."""
    await lock_school(session, school_id)
    waiting = await ChangeRepository(session, school_id).waiting_held()
    by_group: dict[str, list[ChangeRow]] = {}
    for row in waiting:
        by_group.setdefault(subject_of_row(row), []).append(row)
    missing = [group for group in [*approve, *reject] if group not in by_group]
    if missing:
        raise HeldGroupNotFound(f"No held change waits for {', '.join(sorted(set(missing))[:5])}.")
    approved = [row for group in dict.fromkeys(approve) for row in by_group[group]]
    rejected = [row for group in dict.fromkeys(reject) for row in by_group[group]]
    run = await _decide(session, school_id, approved, rejected, actor=actor, box=box)
    assert run is not None  # a request names at least one group
    return run, [*approved, *rejected]


class NoSuggestion(Conflict):
    """This held change has no suggested class to follow instead."""


async def accept_suggestion(
    session: AsyncSession, school_id: str, change_id: int, *, actor: str, box: SecretBox
) -> ChangeRow:
    """For a band whose class vanished (a new school year): follow the suggested new class instead."""
    await lock_school(session, school_id)
    rows = await ChangeRepository(session, school_id).held_to_decide(change_id)
    if not rows:
        raise HeldChangeNotFound()
    row = rows[0]
    if row.status != ChangeStatus.HELD:
        raise ChangeAlreadyDecided()
    change = change_of(row)
    if not isinstance(change, kinds.UnlinkBand) or change.suggestion is None:
        raise NoSuggestion()
    now = utc_now()
    loaded = await reconcile_input(session, school_id)
    state, lookup = loaded.state, loaded.lookup
    if change.suggestion in state.synced.values():
        raise NoSuggestion("The suggested class is already followed by another band.")
    run = await _decision_run(session, school_id, actor)
    plan = Plan([kinds.LinkBand(change.band, change.suggestion)])
    await apply_plan(session, school_id, run.id, actor, plan, lookup, box)
    run.counts = nonzero_counts(plan.changes)
    row.status, row.decided_at, row.actor = ChangeStatus.APPLIED, now, actor
    await session.flush()
    return row


async def hold(session: AsyncSession, school_id: str, run: SyncRun, held: Sequence[Held]) -> None:
    """Journal changes for the admin to decide, each with its reason; a change still waiting from an
    earlier night is not held a second time."""
    waiting = {canonical((row.after or {}).get("change")) for row in await ChangeRepository(session, school_id).held()}
    fresh = [h for h in held if canonical(serialise(h.change)) not in waiting]
    await record(session, school_id, run.id, run.actor, [held_entry(school_id, h) for h in fresh])
