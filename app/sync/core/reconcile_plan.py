"""The copycat reconcile: what makes a syncing school's app follow its MIS (design §1 step 5).

Pure: from the mirror, the app's state and the links, the typed changes that make every synced band
hold exactly the linked pupils of its MIS class, every MIS student of a synced class linked to exactly
one account, linked pupils carry the MIS preferred names and year, and leavers archived (never
deleted). Memberships of pupils who are not linked to the MIS (app-only accounts) are never touched;
app-only bands are not in ``synced`` and so never appear. Students the admin skipped are not synced at
all while they are on roll: no account, no link, and an account they already have is left exactly as it
is. A school in step gives an empty plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from app.sync.core.changes import (
    NEW,
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreatePupil,
    LinkPupil,
    Plan,
    RemoveFromBand,
    RenameBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.core.merge_plan import StudentFacts


@dataclass(frozen=True)
class MisPupil:
    """A MIS student as the reconcile sees it."""

    facts: StudentFacts
    leaving_date: date | None = None
    upn: str | None = None


@dataclass(frozen=True)
class AppPupil:
    first_name: str
    last_name: str
    year_group: int | None
    student: str | None  # the linked MIS student's Wonde id
    archived: bool
    archived_on: date | None = None


@dataclass(frozen=True)
class ReconcileState:
    today: date
    synced: Mapping[str, str]  # band -> container it follows
    band_names: Mapping[str, str]
    container_names: Mapping[str, str]  # live containers only
    members: Mapping[str, frozenset[str]]  # live container -> live students
    students: Mapping[str, MisPupil]  # live students (on roll or not)
    pupils: Mapping[str, AppPupil]
    band_members: Mapping[str, frozenset[str]]
    # UPNs of students the MIS no longer has, to re-link their pupils after an MIS migration.
    gone_upns: Mapping[str, str] = field(default_factory=dict)
    leaver_grace_days: int = 183
    # Student -> the account a disconnect or an undo took from them (see ``plan_remembered``).
    remembered: Mapping[str, str] = field(default_factory=dict)
    # Students the admin skipped in the uploader: nothing is planned for them until the skip is taken
    # back, or they leave the school (``skipped_on_roll``).
    skipped: frozenset[str] = frozenset()


def plan_relinks(state: ReconcileState) -> list[Change]:
    """After an MIS migration every student has a new id; a pupil whose old student is gone is re-linked
    to the one live, unclaimed student with the same UPN. No UPN, or two candidates: left for review."""
    claimed = {p.student for p in state.pupils.values() if p.student is not None}
    by_upn: dict[str, list[str]] = {}
    for wonde_id, student in state.students.items():
        if student.upn and wonde_id not in claimed:
            by_upn.setdefault(student.upn, []).append(wonde_id)
    relinks: list[Change] = []
    for pupil_id, pupil in sorted(state.pupils.items()):
        if pupil.student is None or pupil.student in state.students:
            continue
        found = by_upn.get(state.gone_upns.get(pupil.student, ""), [])
        if len(found) == 1:
            relinks.append(LinkPupil(pupil_id, found[0]))
    return relinks


def plan_remembered(state: ReconcileState) -> list[Change]:
    """A student nobody's account follows, whose own account was taken from them by a disconnect or an
    undo (and follows no one now), gets that account back — restored if it was archived — rather than
    a second one: a child who left and came back while the school was disconnected, or a joiner whose
    account an undone sync had created, still in the MIS at the next sync."""
    claimed = {p.student for p in state.pupils.values() if p.student is not None}
    relinks: list[Change] = []
    for student, pupil_id in sorted(state.remembered.items()):
        pupil = state.pupils.get(pupil_id)
        if (
            student in state.skipped
            or student in claimed
            or student not in state.students
            or pupil is None
            or pupil.student is not None
        ):
            continue
        if pupil.archived:
            relinks.append(RestorePupil(pupil_id, student))
        relinks.append(LinkPupil(pupil_id, student))
    return relinks


def _successors(state: ReconcileState, pupil_of: Mapping[str, str]) -> dict[str, str]:
    """For bands whose class vanished: the unsynced live class holding most of each band's linked
    pupils (at least half of them), each class offered to one band at most — the strongest claim wins."""
    synced = set(state.synced.values())
    vanished = [b for b, c in state.synced.items() if c not in state.container_names]
    claims = []
    for band in vanished:
        pupils = state.band_members.get(band, frozenset())
        linked = sum(1 for p in pupils if p in state.pupils and state.pupils[p].student is not None)
        for container, students in state.members.items():
            if container in synced:
                continue
            count = sum(1 for s in students if pupil_of.get(s) in pupils)
            if count and count * 2 >= max(linked, 1):
                claims.append((-count, band, container))
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for _, band, container in sorted(claims):
        if band not in chosen and container not in taken:
            chosen[band] = container
            taken.add(container)
    return chosen


def _on_roll(student: MisPupil | None, today: date) -> bool:
    return student is not None and (student.leaving_date is None or student.leaving_date > today)


def skipped_on_roll(state: ReconcileState) -> frozenset[str]:
    """The skips in force: a skipped child who leaves the school is a leaver like any other (an account
    they had is archived and leaves its synced bands), so that no account outlives its child because it
    was skipped; while on roll, nothing is planned for them."""
    return frozenset(s for s in state.skipped if _on_roll(state.students.get(s), state.today))


def plan_reconcile(state: ReconcileState) -> Plan:
    plan = Plan()
    changes: list[Change] = []
    pupil_of: dict[str, str] = {p.student: pid for pid, p in sorted(state.pupils.items()) if p.student is not None}
    skipped = skipped_on_roll(state)
    # A skipped student's account (linked before the skip) follows the MIS no more: it is not synced.
    linked = {pid for pid, p in state.pupils.items() if p.student is not None and p.student not in skipped}

    # Leavers and returners first: they decide who may be in a band.
    for pupil_id, pupil in sorted(state.pupils.items()):
        if pupil.student is None or pupil.student in skipped:
            continue
        record = state.students.get(pupil.student)
        on_roll = _on_roll(record, state.today)
        if on_roll and pupil.archived:
            late = pupil.archived_on is not None and (state.today - pupil.archived_on).days > state.leaver_grace_days
            changes.append(RestorePupil(pupil_id, pupil.student, after_grace=late))
        elif not on_roll and not pupil.archived:
            reason = "left the school (off roll)" if record is not None else "no longer in the MIS"
            changes.append(ArchivePupil(pupil_id, pupil.student, reason))
        if record is not None and on_roll:
            names = (record.facts.forename, record.facts.surname)
            if names != (pupil.first_name, pupil.last_name):
                changes.append(RenamePupil(pupil_id, (pupil.first_name, pupil.last_name), names))
            if record.facts.year_group is not None and record.facts.year_group != pupil.year_group:
                changes.append(ChangeYear(pupil_id, pupil.year_group, record.facts.year_group))

    created: set[str] = set()
    successors = _successors(state, pupil_of)
    for band, container in sorted(state.synced.items()):
        current = state.band_members.get(band, frozenset()) & linked
        if container not in state.container_names:
            changes.append(UnlinkBand(band, container, successors.get(band)))
            continue
        if state.band_names.get(band) != state.container_names[container]:
            changes.append(RenameBand(band, state.band_names.get(band, ""), state.container_names[container]))
        wanted: set[str] = set()
        for student in sorted(state.members.get(container, frozenset())):
            if student in skipped or not _on_roll(state.students.get(student), state.today):
                continue
            member = pupil_of.get(student)
            if member is None:
                member = NEW + student
                if student not in created:
                    facts = state.students[student].facts
                    changes.append(CreatePupil(member, student, facts.forename, facts.surname, facts.year_group))
                    created.add(student)
            wanted.add(member)
        changes += [AddToBand(band, member) for member in sorted(wanted - current)]
        changes += [RemoveFromBand(band, member) for member in sorted(current - wanted)]
    plan.changes = changes
    return plan
