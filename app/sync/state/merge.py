"""The merge planner's input, from a school's snapshot and what the matcher and the admin settled."""

from __future__ import annotations

import uuid

from app.sync.core.matching import MatchResult
from app.sync.core.merge_plan import MergeState, StudentFacts
from app.sync.state.snapshot import SchoolSnapshot


def merge_state(state: SchoolSnapshot, result: MatchResult) -> MergeState:
    """The planner's inputs: the admin's scope, and every link the matcher or the admin settled."""
    linked = {
        state.student_wonde_ids[p.mis_student_id]: str(p.id)
        for p in state.pupils.values()
        if p.mis_student_id in state.student_wonde_ids
    }
    created = {w for w, d in state.student_decisions.items() if d.resolution == "create"}
    to_link = {
        m.student_id: m.pupil_id
        for m in result.pupils
        if m.status == "auto" and m.student_id and m.student_id not in created
    }
    to_link |= {w: str(d.pupil_id) for w, d in state.student_decisions.items() if d.resolution == "link" and d.pupil_id}
    to_link |= {w: str(p) for w, p in state.returning.items() if p in state.archived}
    band_links = {str(b.id): link for b in state.bands.values() if (link := state.band_link(b)) is not None}
    return MergeState(
        scope=state.scope,
        container_names={w: c.name for w, c in state.containers.items()},
        container_years={w: c.year_group for w, c in state.containers.items()},
        members=state.members,
        students={w: StudentFacts(s.forename, s.surname, s.year_group) for w, s in state.students.items()},
        linked=linked,
        to_link={s: p for s, p in to_link.items() if s not in linked},
        skipped=frozenset(state.skipped),
        band_links=band_links,
        band_members={str(b): frozenset(str(p) for p in ps) for b, ps in state.band_members.items()},
        archived=frozenset(p for p in to_link.values() if uuid.UUID(p) in state.archived),
        left_alone=frozenset(
            [linked[w] for w in state.skipped if w in linked]
            + [str(p) for w, p in state.remembered.items() if w in state.skipped]
        ),
    )
