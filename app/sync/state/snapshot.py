"""A school as the sync sees it at one moment: its MIS mirror, its bands and pupils, the admin's uploader
decisions and the links the journal remembers. Loaded once by ``repository.load_snapshot``; the matcher's,
the planner's and the reconcile's inputs are all derived from it (``matcher``, ``merge``, ``reconcile``),
so the uploader, the merge and the daily sync can never see one school two ways."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models import Band, MisStudent, Pupil, UploaderDecision
from app.sync.core.undone import Memo


@dataclass(frozen=True)
class Container:
    """An MIS class or registration group."""

    id: uuid.UUID
    wonde_id: str
    name: str
    kind: str  # "class" or "group"
    year_group: int | None
    alive: bool = True  # False once the MIS no longer has it (soft-deleted in the mirror)


@dataclass
class SchoolSnapshot:
    # Every container the mirror has, the deleted ones too (a band may still be linked to one): by our id.
    every_container: dict[uuid.UUID, Container]
    # Every MIS student the mirror has, the deleted ones too: our id -> Wonde id.
    every_student: dict[uuid.UUID, str]
    gone_upns: dict[str, str]  # Wonde id -> UPN of the students the MIS no longer has
    containers: dict[str, Container]  # the live ones, by Wonde id
    students: dict[str, MisStudent]  # the live ones, by Wonde id
    student_wonde_ids: dict[uuid.UUID, str]  # the live ones: our id -> Wonde id
    members: dict[str, frozenset[str]]  # live container Wonde id -> live student Wonde ids
    bands: dict[uuid.UUID, Band]  # not archived
    pupils: dict[uuid.UUID, Pupil]  # not archived
    # Archived accounts (leavers): never matched on names, but a child who comes back is linked to
    # theirs (remembered, or chosen by the admin) and the merge restores it.
    archived: dict[uuid.UUID, Pupil]
    every_pupil: dict[uuid.UUID, Pupil]  # archived or not, in one order (the planner's output follows it)
    band_members: dict[uuid.UUID, set[uuid.UUID]]
    # Student Wonde id -> the account it was linked to before a disconnect or an undo (from the journal),
    # where that account is still there and unlinked: a returning child gets their account back.
    remembered: dict[str, uuid.UUID]
    # Journal rows carrying an admin's word for the next sync: what undos reverted, and what was held
    # after one, waiting or rejected (``app.sync.core.undone``).
    memos: list[Memo] = field(default_factory=list)
    class_decisions: dict[str, UploaderDecision] = field(default_factory=dict)  # container Wonde id -> decision
    student_decisions: dict[str, UploaderDecision] = field(default_factory=dict)  # student Wonde id -> decision
    # Live student Wonde id -> the admin's "skip" that covers them (``skipped_students``): no account,
    # not synced, until the admin takes it back. Loaded for the daily sync too, which honours it.
    skipped: dict[str, UploaderDecision] = field(default_factory=dict)

    def band_link(self, band: Band) -> str | None:
        """The Wonde id of the container a band is linked to now (a deleted one included)."""
        linked = band.mis_class_id or band.mis_group_id
        container = self.every_container.get(linked) if linked else None
        return container.wonde_id if container else None

    @property
    def linked_pupils(self) -> int:
        """How many accounts follow an MIS student now (the safeguards' measure of the school's size)."""
        return sum(1 for p in self.pupils.values() if p.mis_student_id is not None)

    @property
    def returning(self) -> dict[str, uuid.UUID]:
        """The remembered links the admin has not overridden with a decision about the student (a skip
        carried over from the record the MIS renumbered included)."""
        return {w: p for w, p in self.remembered.items() if w not in self.student_decisions and w not in self.skipped}

    @property
    def scope(self) -> dict[str, str | None]:
        """Containers the admin chose to sync: Wonde id -> matched band id (None: import as a new band)."""
        return {
            wonde_id: str(d.band_id) if d.action == "match" and d.band_id else None
            for wonde_id, d in self.class_decisions.items()
            if d.action in ("match", "import")
        }


def live_members(
    memberships: Iterable[tuple[uuid.UUID, uuid.UUID]],
    containers: Mapping[uuid.UUID, Container],
    students: Mapping[uuid.UUID, str],
) -> dict[str, frozenset[str]]:
    """Container Wonde id -> the Wonde ids of its live students, from (student id, container id) pairs."""
    members: dict[str, set[str]] = defaultdict(set)
    for student_id, container_id in memberships:
        container = containers.get(container_id)
        if container is not None and container.alive and student_id in students:
            members[container.wonde_id].add(students[student_id])
    return {k: frozenset(v) for k, v in members.items()}


def remembered_links(
    taken: Iterable[tuple[uuid.UUID | None, dict[str, Any] | None]],
    live: Mapping[uuid.UUID, MisStudent],
    gone_upn_of: Mapping[uuid.UUID, str],
    pupils: Mapping[uuid.UUID, Pupil],
) -> dict[str, uuid.UUID]:
    """Student Wonde id -> the account taken from that student by a disconnect (``unlink_pupil``) or by
    undoing the run that created or linked it, where the account still follows no one (the latest such
    change of each account counts): the student gets that account back, not a second one. A student the
    MIS has since renumbered (a migration while disconnected) is found again by UPN, when exactly one
    live student has it; one whose mirror row was deleted (consent ended long ago) and read afresh, by
    the Wonde id the disconnect journalled beside it. ``taken`` are the journal's (pupil id, before) of
    those changes, oldest first."""
    live_ids = {s.wonde_id: s.id for s in live.values()}
    latest: dict[uuid.UUID, uuid.UUID] = {}
    for pupil_id, before in taken:
        if pupil_id is None:
            continue
        # A disconnect journals our student id (and, since retention, the Wonde id); create and link
        # changes name the Wonde id.
        values = before or {}
        student, wonde_id = values.get("mis_student_id"), values.get("student")
        known = student is not None and (uuid.UUID(student) in live or uuid.UUID(student) in gone_upn_of)
        if student and (known or wonde_id not in live_ids):
            latest[pupil_id] = uuid.UUID(student)
        elif wonde_id in live_ids:
            latest[pupil_id] = live_ids[wonde_id]
    by_upn: dict[str, list[str]] = defaultdict(list)
    for student in live.values():
        if student.upn:
            by_upn[student.upn].append(student.wonde_id)
    remembered: dict[str, uuid.UUID] = {}
    for pupil_id, student_id in latest.items():
        pupil = pupils.get(pupil_id)
        if pupil is None or pupil.mis_student_id is not None:
            continue
        if student_id in live:
            remembered.setdefault(live[student_id].wonde_id, pupil_id)
        elif (upn := gone_upn_of.get(student_id)) and len(by_upn.get(upn, [])) == 1:
            remembered.setdefault(by_upn[upn][0], pupil_id)
    return remembered


def skipped_students(
    skips: Iterable[UploaderDecision],
    decided: Collection[uuid.UUID],
    live_wonde_ids: Mapping[uuid.UUID, str],
    upns: Mapping[uuid.UUID, str],
    gone: Collection[uuid.UUID],
) -> dict[str, UploaderDecision]:
    """Live student Wonde id -> the "skip" that covers them: their own, or, for a student with no
    decision of their own, one made about a record the MIS has since renumbered (an MIS migration gives
    every child a new id) and that carries the same UPN as exactly this one live student. A skip does
    not lapse because the MIS renumbered its records. ``decided``: our ids of the students with a
    decision of their own (any resolution); ``upns``: our id -> UPN, of every student."""
    by_upn: dict[str, list[uuid.UUID]] = defaultdict(list)
    for student_id in live_wonde_ids:
        if upn := upns.get(student_id):
            by_upn[upn].append(student_id)
    covered: dict[str, UploaderDecision] = {}
    carried: list[tuple[uuid.UUID, UploaderDecision]] = []
    for skip in skips:
        student = skip.mis_student_id
        if student is None:
            continue
        if student in live_wonde_ids:
            covered[live_wonde_ids[student]] = skip
        elif student in gone and (upn := upns.get(student)) and len(by_upn[upn]) == 1:
            carried.append((by_upn[upn][0], skip))
    for student_id, skip in carried:
        if student_id not in decided:
            covered.setdefault(live_wonde_ids[student_id], skip)
    return covered
