"""A child erased on request never comes back into the mirror: not under their Wonde id, and not under
a new one an MIS migration gives them (known by their UPN's keyed digest; the UPN itself is not kept)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import ErasedStudent, MisMembership, MisStudent, School
from app.sync.erasure.digests import upn_digest
from app.sync.mirror.flow import write_read
from app.sync.mirror.read import MisRead
from app.wonde.schemas import WondeDeletion, WondeStudent


def _student(wonde_id: str, upn: str) -> WondeStudent:
    data: dict[str, Any] = {
        "id": wonde_id,
        "forename": f"Child{wonde_id}",
        "surname": "Hill",
        "education_details": {"data": {"upn": upn}},
        "classes": {"data": [{"id": "C1", "name": "Maths"}]},
    }
    return WondeStudent.model_validate(data)


def _read(*students: WondeStudent) -> MisRead:
    read = MisRead()
    for student in students:
        read.add_student(student)
    return read.finish()


async def test_an_erased_child_is_left_out_by_wonde_id_and_after_a_migration_by_upn(
    session: AsyncSession, school: School, other_school: School, settings: Settings
) -> None:
    box = SecretBox(settings.encryption_key)
    session.add(
        ErasedStudent(
            school_id=school.id, wonde_id="S1", erased_at=utc_now(), upn_digest=upn_digest(box, school.id, "A123")[0]
        )
    )
    await session.flush()
    read = _read(_student("S1", "A123"), _student("S2", "B456"), _student("S9", " a123"))
    counts = await write_read(session, school.id, read, complete=True, box=box)
    stored = set(await session.scalars(select(MisStudent.wonde_id).where(MisStudent.school_id == school.id)))
    assert stored == {"S2"}
    assert counts["read"]["students"] == 1
    members = await session.scalars(select(MisMembership).where(MisMembership.school_id == school.id))
    assert len(list(members)) == 1
    # Erasure is one school's: the same child's UPN in another school is that school's record.
    await write_read(session, other_school.id, _read(_student("S9", "A123")), complete=True, box=box)
    assert list(await session.scalars(select(MisStudent.wonde_id).where(MisStudent.school_id == other_school.id))) == [
        "S9"
    ]


async def test_a_restored_deletion_row_never_brings_an_erased_child_back(
    session: AsyncSession, school: School, settings: Settings
) -> None:
    """A child who once left and came back has a restored deletion row; a delta read after their erasure
    must not take it to restore their (erased) mirror record."""
    box = SecretBox(settings.encryption_key)
    await write_read(session, school.id, _read(_student("S1", "A123"), _student("S2", "B456")), complete=True)
    await session.execute(
        update(MisStudent)
        .where(MisStudent.school_id == school.id, MisStudent.wonde_id == "S1")
        .values(deleted_at=utc_now(), forename="", surname="")
    )
    session.add(ErasedStudent(school_id=school.id, wonde_id="S1", erased_at=utc_now()))
    await session.flush()
    delta = MisRead()
    delta.add_deletion(
        WondeDeletion.model_validate({"type": "student", "id": "S1", "restored_at": "2026-11-02 10:00:00"})
    )
    await write_read(session, school.id, delta.finish(), complete=False, box=box)
    erased = await session.scalar(
        select(MisStudent.deleted_at).where(MisStudent.school_id == school.id, MisStudent.wonde_id == "S1")
    )
    assert erased is not None
