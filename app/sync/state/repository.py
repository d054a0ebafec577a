"""The one loader of a school's state: a fixed number of queries, whatever the size of the school."""

from __future__ import annotations

import uuid
from collections import defaultdict

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
    School,
    UploaderDecision,
)
from app.sync.journal.redo import memo_of
from app.sync.journal.repository import ChangeRepository
from app.sync.state.snapshot import Container, SchoolSnapshot, live_members, remembered_links, skipped_students


async def state_version(session: AsyncSession, school_id: str) -> int | None:
    """The school's state version (``app.sync.state.version``), None for no such school. Read it before
    the state it keys, in the same session."""
    version: int | None = await session.scalar(select(School.state_version).where(School.id == school_id))
    return version


async def load_snapshot(session: AsyncSession, school_id: str) -> SchoolSnapshot:
    """Read the school once, the uploader's decisions with it: the daily sync honours the admin's skips."""
    every_container = {
        c.id: Container(c.id, c.wonde_id, c.name, "class", c.year_group, c.deleted_at is None)
        for c in await session.scalars(select(MisClass).where(MisClass.school_id == school_id))
    }
    every_container |= {
        g.id: Container(g.id, g.wonde_id, g.name, "group", g.year_group, g.deleted_at is None)
        for g in await session.scalars(
            select(MisGroup).where(MisGroup.school_id == school_id, MisGroup.type == "REGISTRATION")
        )
    }
    every_student = list(await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id)))
    live = {s.id: s for s in every_student if s.deleted_at is None}
    student_wonde_ids = {s.id: s.wonde_id for s in live.values()}
    memberships = await session.execute(
        select(MisMembership.mis_student_id, MisMembership.mis_class_id, MisMembership.mis_group_id).where(
            MisMembership.school_id == school_id, MisMembership.deleted_at.is_(None)
        )
    )
    members = live_members(
        ((student, class_id or group_id) for student, class_id, group_id in memberships),  # type: ignore[misc]
        every_container,
        student_wonde_ids,
    )
    bands = {
        b.id: b
        for b in await session.scalars(select(Band).where(Band.school_id == school_id, Band.archived_at.is_(None)))
    }
    everyone = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id)))
    band_members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for band_id, pupil_id in await session.execute(
        select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
    ):
        band_members[band_id].add(pupil_id)
    journal = ChangeRepository(session, school_id)
    taken = await journal.taken_from_student()
    gone = [s for s in every_student if s.deleted_at is not None]
    snapshot = SchoolSnapshot(
        every_container=every_container,
        every_student={s.id: s.wonde_id for s in every_student},
        gone_upns={s.wonde_id: s.upn for s in gone if s.upn},
        containers={c.wonde_id: c for c in every_container.values() if c.alive},
        students={s.wonde_id: s for s in live.values()},
        student_wonde_ids=student_wonde_ids,
        members=members,
        bands=bands,
        pupils={p.id: p for p in everyone if p.archived_at is None},
        archived={p.id: p for p in everyone if p.archived_at is not None},
        every_pupil={p.id: p for p in everyone},
        band_members=band_members,
        remembered=remembered_links(taken, live, {s.id: s.upn for s in gone if s.upn}, {p.id: p for p in everyone}),
        memos=[memo_of(row) for row in await journal.carrying_a_word()],
    )
    by_id = {c.id: c.wonde_id for c in snapshot.containers.values()}
    decisions = list(await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school_id)))
    for d in decisions:
        subject = d.mis_class_id or d.mis_group_id
        if subject is not None and subject in by_id:
            snapshot.class_decisions[by_id[subject]] = d
        if d.mis_student_id in student_wonde_ids:
            snapshot.student_decisions[student_wonde_ids[d.mis_student_id]] = d
    snapshot.skipped = skipped_students(
        [d for d in decisions if d.resolution == "skip"],
        decided={d.mis_student_id for d in decisions if d.mis_student_id in student_wonde_ids},
        live_wonde_ids=student_wonde_ids,
        upns={s.id: s.upn for s in every_student if s.upn},
        gone={s.id for s in gone},
    )
    return snapshot
