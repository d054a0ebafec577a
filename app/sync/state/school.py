"""Everything the uploader and the merge read about one school, loaded in a fixed number of queries,
and turned into the inputs of the pure matcher and planner."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Band,
    BandMembership,
    MisClass,
    MisGroup,
    MisMembership,
    MisStudent,
    Pupil,
    UploaderDecision,
)
from app.sync.core.matching import AppBand, AppPupil, MatchInput, MatchResult, MisContainer
from app.sync.core.matching import MisStudent as MatchStudent
from app.sync.core.merge_plan import MergeState, StudentFacts
from app.sync.journal.repository import ChangeRepository


@dataclass(frozen=True)
class Container:
    id: uuid.UUID
    wonde_id: str
    name: str
    kind: str  # "class" or "group"
    year_group: int | None


@dataclass
class SchoolState:
    containers: dict[str, Container]  # by Wonde id
    students: dict[str, MisStudent]  # by Wonde id
    student_wonde_ids: dict[uuid.UUID, str]
    members: dict[str, frozenset[str]]  # container Wonde id -> student Wonde ids
    bands: dict[uuid.UUID, Band]
    pupils: dict[uuid.UUID, Pupil]
    band_members: dict[uuid.UUID, set[uuid.UUID]]
    class_decisions: dict[str, UploaderDecision]  # container Wonde id -> decision
    student_decisions: dict[str, UploaderDecision]  # student Wonde id -> resolution
    # Student Wonde id -> the account it was linked to before a disconnect (from the journal), where
    # that account is still there and unlinked: a reconnecting school gets its children's accounts back.
    remembered: dict[str, uuid.UUID]
    # Archived accounts (leavers): never matched on names, but a child who comes back is linked to
    # theirs (remembered, or chosen by the admin) and the merge restores it.
    archived: dict[uuid.UUID, Pupil]

    def band_link(self, band: Band) -> str | None:
        """The Wonde id of the container a band is linked to now."""
        linked = band.mis_class_id or band.mis_group_id
        return next((c.wonde_id for c in self.containers.values() if c.id == linked), None) if linked else None

    @property
    def returning(self) -> dict[str, uuid.UUID]:
        """The remembered links the admin has not overridden with a decision about the student."""
        return {w: p for w, p in self.remembered.items() if w not in self.student_decisions}

    @property
    def scope(self) -> dict[str, str | None]:
        """Containers the admin chose to sync: Wonde id -> matched band id (None: import as a new band)."""
        return {
            wonde_id: str(d.band_id) if d.action == "match" and d.band_id else None
            for wonde_id, d in self.class_decisions.items()
            if d.action in ("match", "import")
        }


async def load_state(session: AsyncSession, school_id: str) -> SchoolState:
    classes = await session.scalars(
        select(MisClass).where(MisClass.school_id == school_id, MisClass.deleted_at.is_(None))
    )
    groups = await session.scalars(
        select(MisGroup).where(
            MisGroup.school_id == school_id, MisGroup.deleted_at.is_(None), MisGroup.type == "REGISTRATION"
        )
    )
    containers = {c.wonde_id: Container(c.id, c.wonde_id, c.name, "class", c.year_group) for c in classes}
    containers |= {g.wonde_id: Container(g.id, g.wonde_id, g.name, "group", g.year_group) for g in groups}
    by_id = {c.id: c.wonde_id for c in containers.values()}
    students = {
        s.wonde_id: s
        for s in await session.scalars(
            select(MisStudent).where(MisStudent.school_id == school_id, MisStudent.deleted_at.is_(None))
        )
    }
    student_wonde_ids = {s.id: s.wonde_id for s in students.values()}
    members: dict[str, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(MisMembership.mis_student_id, MisMembership.mis_class_id, MisMembership.mis_group_id).where(
            MisMembership.school_id == school_id, MisMembership.deleted_at.is_(None)
        )
    )
    for student_id, class_id, group_id in rows:
        subject = class_id or group_id
        container = by_id.get(subject) if subject is not None else None
        if container and student_id in student_wonde_ids:
            members[container].add(student_wonde_ids[student_id])
    bands = {
        b.id: b
        for b in await session.scalars(select(Band).where(Band.school_id == school_id, Band.archived_at.is_(None)))
    }
    everyone = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id)))
    pupils = {p.id: p for p in everyone if p.archived_at is None}
    archived = {p.id: p for p in everyone if p.archived_at is not None}
    band_members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for band_id, pupil_id in await session.execute(
        select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
    ):
        band_members[band_id].add(pupil_id)
    decisions = list(await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school_id)))
    class_decisions = {
        by_id[subject]: d
        for d in decisions
        if (subject := d.mis_class_id or d.mis_group_id) is not None and subject in by_id
    }
    student_decisions = {
        student_wonde_ids[d.mis_student_id]: d for d in decisions if d.mis_student_id in student_wonde_ids
    }
    return SchoolState(
        containers,
        students,
        student_wonde_ids,
        {k: frozenset(v) for k, v in members.items()},
        bands,
        pupils,
        band_members,
        class_decisions,
        student_decisions,
        await remembered_links(session, school_id, students.values(), pupils | archived),
        archived,
    )


# Journal actions that took an account from its student while keeping the account.
TAKEN_FROM_STUDENT = ("unlink_pupil", "undo_create_pupil", "undo_link_pupil")


async def remembered_links(
    session: AsyncSession, school_id: str, live_students: Iterable[MisStudent], pupils: Mapping[uuid.UUID, Pupil]
) -> dict[str, uuid.UUID]:
    """Student Wonde id -> the account taken from that student by a disconnect (``unlink_pupil``) or
    by undoing the run that created or linked it, where the account still follows no one (the latest
    such change of each account counts): the student gets that account back, not a second one. A
    student the MIS has since renumbered (a migration while disconnected) is found again by UPN, when
    exactly one live student has it."""
    rows = await ChangeRepository(session, school_id).taken_from_student()
    live = {s.id: s for s in live_students}
    live_ids = {s.wonde_id: s.id for s in live.values()}
    latest: dict[uuid.UUID, uuid.UUID] = {}
    for pupil_id, before in rows:
        # A disconnect journals our student id; create and link changes name the Wonde id.
        if (student := (before or {}).get("mis_student_id")) and pupil_id is not None:
            latest[pupil_id] = uuid.UUID(student)
        elif (wonde_id := (before or {}).get("student")) in live_ids and pupil_id is not None:
            latest[pupil_id] = live_ids[wonde_id]
    if not latest:
        return {}
    by_upn: dict[str, list[str]] = defaultdict(list)
    for student in live.values():
        if student.upn:
            by_upn[student.upn].append(student.wonde_id)
    gone = set(latest.values()) - live.keys()
    gone_upns: dict[uuid.UUID, str | None] = {}
    if gone:
        for student_id, upn in await session.execute(
            select(MisStudent.id, MisStudent.upn).where(MisStudent.id.in_(gone))
        ):
            gone_upns[student_id] = upn
    remembered: dict[str, uuid.UUID] = {}
    for pupil_id, student_id in latest.items():
        pupil = pupils.get(pupil_id)
        if pupil is None or pupil.mis_student_id is not None:
            continue
        if student_id in live:
            remembered.setdefault(live[student_id].wonde_id, pupil_id)
        elif (upn := gone_upns.get(student_id)) and len(by_upn.get(upn, [])) == 1:
            remembered.setdefault(by_upn[upn][0], pupil_id)
    return remembered


def match_input(state: SchoolState) -> MatchInput:
    """The matcher's view: decided containers are taken as given; no-action and import ones are out."""
    excluded = {w for w, d in state.class_decisions.items() if d.action in ("no_action", "import")}
    class_decisions: dict[str, str | None] = {
        str(d.band_id): w for w, d in state.class_decisions.items() if d.action == "match" and d.band_id
    }
    for band in state.bands.values():
        if (linked := state.band_link(band)) is not None:
            class_decisions.setdefault(str(band.id), linked)
    pupil_links = {
        str(p.id): state.student_wonde_ids[p.mis_student_id]
        for p in state.pupils.values()
        if p.mis_student_id in state.student_wonde_ids
    }
    # A remembered link is certain (the same MIS record, the same account), unless the admin decided
    # otherwise for the student or the account.
    decided = {str(d.pupil_id) for d in state.student_decisions.values() if d.pupil_id}
    taken = set(pupil_links.values())
    remembered = {w: p for w, p in state.returning.items() if w not in taken and str(p) not in decided}
    chosen = {w: d.pupil_id for w, d in state.student_decisions.items() if d.resolution == "link" and d.pupil_id}
    # Links to live accounts anchor the matcher; a student linked to an archived account is settled.
    pupil_links |= {str(p): w for w, p in (remembered | chosen).items() if p not in state.archived}
    settled = frozenset(w for w, d in state.student_decisions.items() if d.resolution in ("create", "skip"))
    settled |= {w for w, p in (remembered | chosen).items() if p in state.archived}
    pupil_bands: dict[uuid.UUID, list[str]] = defaultdict(list)
    for band_id, pupil_ids in state.band_members.items():
        for pupil_id in pupil_ids:
            pupil_bands[pupil_id].append(str(band_id))
    return MatchInput(
        bands=tuple(AppBand(str(b.id), b.name, b.year_group) for b in state.bands.values()),
        pupils=tuple(
            AppPupil(str(p.id), p.first_name, p.last_name, p.year_group, tuple(sorted(pupil_bands[p.id])))
            for p in state.pupils.values()
        ),
        containers=tuple(
            MisContainer(c.wonde_id, c.name, c.kind, c.year_group)  # type: ignore[arg-type]
            for c in state.containers.values()
            if c.wonde_id not in excluded
        ),
        students=tuple(
            MatchStudent(
                s.wonde_id, s.forename, s.surname, s.legal_forename, s.legal_surname, s.middle_names, s.year_group
            )
            for s in state.students.values()
        ),
        members={w: m for w, m in state.members.items() if w not in excluded},
        class_decisions=class_decisions,
        pupil_links=pupil_links,
        settled_students=settled,
    )


def merge_state(state: SchoolState, result: MatchResult) -> MergeState:
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
        skipped=frozenset(w for w, d in state.student_decisions.items() if d.resolution == "skip"),
        band_links=band_links,
        band_members={str(b): frozenset(str(p) for p in ps) for b, ps in state.band_members.items()},
        archived=frozenset(p for p in to_link.values() if uuid.UUID(p) in state.archived),
    )
