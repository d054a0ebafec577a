"""Writing reads into the MIS mirror, against the real database (no HTTP: reads are built by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import MisClass, MisGroup, MisMembership, MisStudent, School
from app.sync.mirror.flow import write_read
from app.sync.mirror.quality.codes import Record
from app.sync.mirror.read import MisRead
from app.wonde.errors import WondeProtocolError
from app.wonde.schemas import WondeClass, WondeDeletion, WondeGroup, WondeStudent


def student(
    wonde_id: str, forename: str, surname: str, *, year: str = "4", classes: Sequence[str] = (), form: str | None = "G1"
) -> WondeStudent:
    data: dict[str, Any] = {
        "id": wonde_id,
        "forename": forename,
        "surname": surname,
        "upi": f"upi-{wonde_id}",
        "education_details": {"data": {"upn": f"UPN{wonde_id}", "current_nc_year": year}},
        "classes": {"data": [{"id": c, "name": f"Class {c}"} for c in classes]},
        "groups": {"data": [{"id": form, "name": form, "type": "REGISTRATION"}] if form else []},
    }
    return WondeStudent.model_validate(data)


def build(
    students: Sequence[WondeStudent],
    classes: Sequence[str] = (),
    groups: Sequence[str] = ("G1",),
    deletions: Sequence[dict[str, Any]] = (),
) -> MisRead:
    read = MisRead()
    for s in students:
        read.add_student(s)
    for c in classes:
        read.add_class(WondeClass.model_validate({"id": c, "name": f"Class {c}"}))
    for g in groups:
        read.add_group(WondeGroup.model_validate({"id": g, "name": f"Form {g}", "type": "REGISTRATION"}))
    for d in deletions:
        read.add_deletion(WondeDeletion.model_validate(d))
    return read.finish()


async def mirror(session: AsyncSession, school: School) -> dict[str, Any]:
    """The live mirror by Wonde ids: what a read is supposed to determine."""
    students = {
        s.wonde_id: (s.forename, s.surname, s.year_group, s.upn)
        for s in await session.scalars(
            select(MisStudent).where(MisStudent.school_id == school.id, MisStudent.deleted_at.is_(None))
        )
    }
    classes = {
        c.wonde_id: (c.name, c.year_group)
        for c in await session.scalars(
            select(MisClass).where(MisClass.school_id == school.id, MisClass.deleted_at.is_(None))
        )
    }
    groups = {
        g.wonde_id
        for g in await session.scalars(
            select(MisGroup).where(MisGroup.school_id == school.id, MisGroup.deleted_at.is_(None))
        )
    }
    rows = await session.execute(
        select(MisStudent.wonde_id, MisClass.wonde_id, MisGroup.wonde_id)
        .select_from(MisMembership)
        .join(MisStudent, MisStudent.id == MisMembership.mis_student_id)
        .outerjoin(MisClass, MisClass.id == MisMembership.mis_class_id)
        .outerjoin(MisGroup, MisGroup.id == MisMembership.mis_group_id)
        .where(MisMembership.school_id == school.id, MisMembership.deleted_at.is_(None))
    )
    return {"students": students, "classes": classes, "groups": groups, "members": {tuple(r) for r in rows}}


SCHOOL = [
    student("S1", "Amy", "Jones", classes=["C1"]),
    student("S2", "Ben", "Brown", classes=["C1", "C2"]),
    student("S3", "Zoë", "Nowak", year="5", classes=["C2"], form=None),
]


async def test_a_full_read_fills_the_mirror_and_a_second_changes_nothing(session: AsyncSession, school: School) -> None:
    first = await write_read(session, school.id, build(SCHOOL, classes=["C1", "C2", "C3"]), complete=True)
    assert first["students"] == {"inserted": 3, "updated": 0, "deleted": 0}
    assert first["classes"]["inserted"] == 3
    assert first["memberships"]["inserted"] == 4 + 2
    state = await mirror(session, school)
    assert state["students"]["S3"] == ("Zoë", "Nowak", 5, "UPNS3")
    assert state["classes"] == {"C1": ("Class C1", 4), "C2": ("Class C2", 4), "C3": ("Class C3", None)}
    assert ("S1", None, "G1") in state["members"]

    again = await write_read(session, school.id, build(SCHOOL, classes=["C1", "C2", "C3"]), complete=True)
    for kind in ("students", "classes", "groups", "memberships"):
        assert again[kind] == {"inserted": 0, "updated": 0, "deleted": 0}, kind
    assert await mirror(session, school) == state


async def test_a_full_read_soft_deletes_what_it_did_not_return_and_restores_it_later(
    session: AsyncSession, school: School
) -> None:
    await write_read(session, school.id, build(SCHOOL, classes=["C1", "C2"]), complete=True)
    without_ben = [SCHOOL[0], SCHOOL[2]]
    changed = await write_read(session, school.id, build(without_ben, classes=["C1"]), complete=True)
    assert changed["students"]["deleted"] == 1
    assert changed["classes"]["deleted"] == 0  # C2 still reached through Zoë's include
    state = await mirror(session, school)
    assert set(state["students"]) == {"S1", "S3"}
    assert not any(m[0] == "S2" for m in state["members"])
    ben = (await session.scalars(select(MisStudent).where(MisStudent.wonde_id == "S2"))).one()
    assert ben.deleted_at is not None  # kept, not hard-deleted

    back = await write_read(session, school.id, build(SCHOOL, classes=["C1", "C2"]), complete=True)
    assert back["students"]["updated"] == 1
    assert ("S2", "C2", None) in (await mirror(session, school))["members"]


async def test_an_empty_full_read_changes_nothing(session: AsyncSession, school: School) -> None:
    await write_read(session, school.id, build(SCHOOL, classes=["C1"]), complete=True)
    before = await mirror(session, school)
    with pytest.raises(WondeProtocolError, match="no students"):
        await write_read(session, school.id, build([], classes=[]), complete=True)
    assert await mirror(session, school) == before


async def test_a_delta_touches_only_the_students_it_read(session: AsyncSession, school: School) -> None:
    await write_read(session, school.id, build(SCHOOL, classes=["C1", "C2"]), complete=True)
    # Amy moved from C1 to C2; Ben left (a deletion); nobody else was returned.
    moved = student("S1", "Amy", "Jones-Smith", classes=["C2"])
    delta = build(
        [moved],
        groups=[],
        deletions=[{"type": "student", "id": "S2", "deleted_at": "2026-11-01 10:00:00"}],
    )
    changed = await write_read(session, school.id, delta, complete=False)
    assert changed["students"] == {"inserted": 0, "updated": 1, "deleted": 1}
    state = await mirror(session, school)
    assert state["students"]["S1"][1] == "Jones-Smith"
    assert ("S1", "C2", None) in state["members"]
    assert ("S1", "C1", None) not in state["members"]
    assert ("S1", None, "G1") in state["members"]  # a delta with no groups list keeps known forms
    assert ("S3", "C2", None) in state["members"]  # untouched
    assert "S2" not in state["students"]

    restored = build(
        [],
        groups=[],
        deletions=[
            {"type": "student", "id": "S2", "deleted_at": "2026-11-01 10:00:00", "restored_at": "2026-11-02 10:00:00"}
        ],
    )
    assert (await write_read(session, school.id, restored, complete=False))["students"]["updated"] == 1


def test_a_read_refuses_duplicates_and_sets_nameless_students_aside() -> None:
    read = MisRead()
    read.add_student(student("S1", "Amy", "Jones"))
    with pytest.raises(WondeProtocolError, match="returned twice"):
        read.add_student(student("S1", "Amy", "Jones"))
    read.add_student(WondeStudent.model_validate({"id": "S9", "forename": None, "surname": "X"}))
    assert read.quarantined(Record.STUDENT) == {"S9"}
    assert "S9" not in read.students
    with pytest.raises(WondeProtocolError, match="returned twice"):
        read.add_student(WondeStudent.model_validate({"id": "S9", "forename": "Now", "surname": "Named"}))


def test_deletions_do_not_remove_what_the_same_read_returned() -> None:
    read = build(
        [student("S1", "Amy", "Jones")], deletions=[{"type": "student", "id": "S1"}, {"type": "student", "id": "S2"}]
    )
    assert read.deleted_ids("student") == {"S2"}
