"""The reconcile planner's input, from a school's snapshot."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import School
from app.sync.core.changes import Change, LinkPupil, RestorePupil
from app.sync.core.merge_plan import StudentFacts
from app.sync.core.reconcile_plan import AppPupil, MisPupil, ReconcileState
from app.sync.core.undone import Memo, Undone
from app.sync.state.lookup import Lookup
from app.sync.state.repository import load_snapshot
from app.sync.state.snapshot import SchoolSnapshot


def reconcile_state(snapshot: SchoolSnapshot, *, today: date, leaver_grace_days: int) -> ReconcileState:
    containers = snapshot.every_container
    return ReconcileState(
        today=today,
        synced={
            str(b.id): containers[link].wonde_id
            for b in snapshot.bands.values()
            if (link := b.mis_class_id or b.mis_group_id) in containers
        },
        band_names={str(b.id): b.name for b in snapshot.bands.values()},
        container_names={c.wonde_id: c.name for c in containers.values() if c.alive},
        members=snapshot.members,
        students={
            w: MisPupil(StudentFacts(s.forename, s.surname, s.year_group), s.leaving_date, s.upn)
            for w, s in snapshot.students.items()
        },
        pupils={
            str(p.id): AppPupil(
                p.first_name,
                p.last_name,
                p.year_group,
                snapshot.every_student.get(p.mis_student_id) if p.mis_student_id else None,
                p.archived_at is not None,
                p.archived_at.date() if p.archived_at else None,
            )
            for p in snapshot.every_pupil.values()
        },
        band_members={str(b): frozenset(str(p) for p in ps) for b, ps in snapshot.band_members.items()},
        gone_upns=snapshot.gone_upns,
        leaver_grace_days=leaver_grace_days,
        remembered={w: str(p) for w, p in snapshot.remembered.items()},
        skipped=frozenset(snapshot.skipped),
    )


@dataclass(frozen=True)
class ReconcileInput:
    """What the daily sync plans from and applies with, the school's size for its safeguards, and the
    admin's word on what undos reverted (``memos``, and what the safeguards make of them)."""

    state: ReconcileState
    lookup: Lookup
    linked: int
    memos: tuple[Memo, ...] = ()

    @property
    def undone(self) -> Undone:
        return Undone.of(self.memos)


async def reconcile_input(session: AsyncSession, school_id: str) -> ReconcileInput:
    """The school's snapshot as the reconcile planner sees it."""
    school = await session.get(School, school_id)
    snapshot = await load_snapshot(session, school_id)
    state = reconcile_state(
        snapshot, today=utc_now().date(), leaver_grace_days=school.leaver_grace_days if school else 183
    )
    return ReconcileInput(state, Lookup.of(snapshot), snapshot.linked_pupils, tuple(snapshot.memos))


def after(loaded: ReconcileInput, changes: Iterable[Change]) -> ReconcileInput:
    """The school as it is once ``changes`` (links and restores of accounts) are applied: what loading it
    again would give, without reading it again. The reconcile applies MIS-migration and remembered
    links before it plans, and plans from this."""
    pupils = dict(loaded.state.pupils)
    for change in changes:
        if isinstance(change, LinkPupil):
            pupils[change.pupil] = dataclasses.replace(pupils[change.pupil], student=change.student)
        elif isinstance(change, RestorePupil):
            pupils[change.pupil] = dataclasses.replace(pupils[change.pupil], archived=False, archived_on=None)
        else:
            raise ValueError(f"{type(change).__name__} is not a link or a restore")
    # A remembered link counts only while its account follows no one.
    remembered = {w: p for w, p in loaded.state.remembered.items() if pupils[p].student is None}
    state = dataclasses.replace(loaded.state, pupils=pupils, remembered=remembered)
    linked = sum(1 for p in pupils.values() if p.student is not None and not p.archived)
    return ReconcileInput(state, loaded.lookup, linked, loaded.memos)
