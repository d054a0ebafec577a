"""The school as the reconcile sees it, in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import (
    Band,
    BandMembership,
    MisClass,
    MisGroup,
    MisMembership,
    MisStudent,
    Pupil,
    School,
)
from app.sync.apply import Lookup
from app.sync.core.merge_plan import StudentFacts
from app.sync.core.reconcile_plan import (
    AppPupil,
    MisPupil,
    ReconcileState,
)
from app.sync.state.school import remembered_links


async def load(session: AsyncSession, school_id: str) -> tuple[ReconcileState, Lookup, int]:
    """The school as the reconcile sees it, in a fixed number of queries; and how many pupils are linked."""
    school = await session.get(School, school_id)
    classes = list(await session.scalars(select(MisClass).where(MisClass.school_id == school_id)))
    groups = list(
        await session.scalars(select(MisGroup).where(MisGroup.school_id == school_id, MisGroup.type == "REGISTRATION"))
    )
    containers = {c.id: (c.wonde_id, c.name, c.deleted_at is None, "class") for c in classes}
    containers |= {g.id: (g.wonde_id, g.name, g.deleted_at is None, "group") for g in groups}
    students = list(await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id)))
    wonde_of = {s.id: s.wonde_id for s in students}
    live = {s.wonde_id: s for s in students if s.deleted_at is None}
    members: dict[str, set[str]] = defaultdict(set)
    for student_id, class_id, group_id in await session.execute(
        select(MisMembership.mis_student_id, MisMembership.mis_class_id, MisMembership.mis_group_id).where(
            MisMembership.school_id == school_id, MisMembership.deleted_at.is_(None)
        )
    ):
        container = containers.get(class_id or group_id)  # type: ignore[arg-type]
        if container and container[2] and wonde_of.get(student_id) in live:
            members[container[0]].add(wonde_of[student_id])
    bands = {
        b.id: b
        for b in await session.scalars(select(Band).where(Band.school_id == school_id, Band.archived_at.is_(None)))
    }
    pupils = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id)))
    band_members: dict[str, set[str]] = defaultdict(set)
    for band_id, pupil_id in await session.execute(
        select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
    ):
        band_members[str(band_id)].add(str(pupil_id))
    synced = {
        str(b.id): containers[link][0]
        for b in bands.values()
        if (link := b.mis_class_id or b.mis_group_id) in containers
    }
    state = ReconcileState(
        today=utc_now().date(),
        synced=synced,
        band_names={str(b.id): b.name for b in bands.values()},
        container_names={w: name for w, name, alive, _ in containers.values() if alive},
        members={k: frozenset(v) for k, v in members.items()},
        students={
            w: MisPupil(StudentFacts(s.forename, s.surname, s.year_group), s.leaving_date, s.upn)
            for w, s in live.items()
        },
        pupils={
            str(p.id): AppPupil(
                p.first_name,
                p.last_name,
                p.year_group,
                wonde_of.get(p.mis_student_id) if p.mis_student_id else None,
                p.archived_at is not None,
                p.archived_at.date() if p.archived_at else None,
            )
            for p in pupils
        },
        band_members={k: frozenset(v) for k, v in band_members.items()},
        gone_upns={s.wonde_id: s.upn for s in students if s.deleted_at is not None and s.upn},
        leaver_grace_days=school.leaver_grace_days if school else 183,
        remembered={
            w: str(p)
            for w, p in (await remembered_links(session, school_id, live.values(), {p.id: p for p in pupils})).items()
        },
    )
    lookup = Lookup(
        {s.wonde_id: s.id for s in students},
        {w: (cid, kind) for cid, (w, _, _, kind) in containers.items()},
        bands,
    )
    linked = sum(1 for p in pupils if p.mis_student_id is not None and p.archived_at is None)
    return state, lookup, linked
