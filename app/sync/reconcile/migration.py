"""After an MIS migration (every Wonde id changes): re-link each pupil to its student's new record, by UPN, else by
the matcher where it is certain; hold the rest for the admin, and end the migration once no pupil is stranded."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.crypto import SecretBox
from app.models import School, SyncRun
from app.sync.apply import apply_plan
from app.sync.core import changes as kinds
from app.sync.core.changes import Plan
from app.sync.core.matching import AppPupil as MatchPupil
from app.sync.core.matching import MatchInput, match
from app.sync.core.matching import MisStudent as MatchStudent
from app.sync.core.reconcile_plan import ReconcileState, plan_relinks
from app.sync.core.safeguards import Held
from app.sync.core.undone import key_of
from app.sync.journal.entries import ended_migration
from app.sync.journal.writer import record
from app.sync.reconcile.held import hold
from app.sync.state.reconcile import ReconcileInput, after


@dataclass(frozen=True)
class Relinked:
    """What the migration's re-linking did before the sync plans."""

    count: int  # pupils re-linked
    loaded: ReconcileInput  # the school with those links made
    # Re-links an undo had reverted, not made: the sync's safeguards hold them (or, rejected since, leave
    # them out), and the plan sees them made, so that it plans no second account for these children and
    # holds (or leaves out) each of their pupils whole.
    pending: list[kinds.Change] = field(default_factory=list)
    planned: list[kinds.Change] = field(default_factory=list)  # every re-link it found, made or not


async def relink_after_migration(
    session: AsyncSession, school: School, run: SyncRun, box: SecretBox, loaded: ReconcileInput
) -> Relinked:
    """Re-link pupils whose students came back under new ids: by UPN where the MIS gives one, else by
    the matcher on names and year (automatic only where it is certain). What stays uncertain is held
    for the admin (the likeliest student, or archiving when there is none), and so is a re-link an undo
    reverted; once no linked pupil points at a vanished student, the migration is over and the normal
    reconcile resumes."""
    relinks = plan_relinks(loaded.state)
    matched, doubtful = _match_stranded(after(loaded, relinks).state)
    relinks += matched
    # A re-link an undo reverted is not made again here: the sync's safeguards hold it (or leave it out).
    words = loaded.undone
    made = [c for c in relinks if key_of(c) not in words.hold | words.keep_undone]
    if made:
        await apply_plan(session, school.id, run.id, run.actor, Plan(made), loaded.lookup, box)
    loaded = after(loaded, made)
    state = loaded.state
    stranded = [
        p for p in state.pupils.values() if p.student is not None and not p.archived and p.student not in state.students
    ]
    if stranded:
        await hold(session, school.id, run, [Held(change, reason) for change, reason in doubtful])
    elif school.migrating_since is not None:
        # Journalled, so that undoing this run also puts the school back to migrating: the links it
        # restores point at the old records, which only the migration's re-linking follows.
        await record(session, school.id, run.id, run.actor, [ended_migration(school.id, school.migrating_since)])
        school.migrating_since = None
        await session.flush()
    return Relinked(len(made), loaded, [c for c in relinks if c not in made], relinks)


def _match_stranded(state: ReconcileState) -> tuple[list[kinds.Change], list[tuple[kinds.Change, str]]]:
    """The matcher over the pupils still pointing at vanished students and the students nobody claims."""
    claimed = {p.student for p in state.pupils.values() if p.student is not None}
    stranded = {
        pid: p
        for pid, p in state.pupils.items()
        if p.student is not None and not p.archived and p.student not in state.students
    }
    if not stranded:
        return [], []
    # Every live student goes in, so names weigh what they weigh in this school; the claimed ones are
    # settled (never candidates).
    result = match(
        MatchInput(
            bands=(),
            pupils=tuple(MatchPupil(pid, p.first_name, p.last_name, p.year_group) for pid, p in stranded.items()),
            containers=(),
            students=tuple(
                MatchStudent(w, s.facts.forename, s.facts.surname, year_group=s.facts.year_group)
                for w, s in state.students.items()
            ),
            members={},
            settled_students=frozenset(claimed & state.students.keys()),
        )
    )
    matched: list[kinds.Change] = []
    doubtful: list[tuple[kinds.Change, str]] = []
    for decision in result.pupils:
        old = stranded[decision.pupil_id].student or ""
        if decision.status == "auto" and decision.student_id:
            matched.append(kinds.LinkPupil(decision.pupil_id, decision.student_id))
        elif decision.candidates:
            reason = (
                "re-link after the MIS migration: the likeliest student, not certain ("
                + "; ".join(decision.evidence)
                + ")"
            )
            doubtful.append((kinds.LinkPupil(decision.pupil_id, decision.candidates[0].id), reason))
        else:
            doubtful.append(
                (
                    kinds.ArchivePupil(decision.pupil_id, old, "not found after the MIS migration"),
                    "no student matches after the MIS migration",
                )
            )
    return matched, doubtful
