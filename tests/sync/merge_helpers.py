"""A small connected school in the database, ready for the uploader and merge tests (no HTTP)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, BandMembership, MisClass, MisMembership, MisStudent, Pupil, School, UploaderDecision

NAMES = [
    ("Amelia", "Hartley"), ("Oscar", "Nowak"), ("Priya", "Raman"), ("Tobias", "Wren"), ("Ruby", "Okafor"),
    ("Isaac", "Doyle"), ("Maya", "Fischer"), ("Leo", "Castellano"), ("Freya", "MacLeod"), ("Zain", "Qureshi"),
]  # fmt: skip


@dataclass
class SmallSchool:
    school_id: str
    form: MisClass  # "4B": the app's band "Class 4B" holds its pupils
    maths: MisClass  # "4x/Ma1": half of 4B and half of 4C
    other_form: MisClass  # "4C"
    band: Band
    students: list[MisStudent]
    pupils: list[Pupil]


async def small_school(session: AsyncSession, school_id: str | None = None) -> SmallSchool:
    """Ten MIS students: five in 4B (all with app accounts in band "Class 4B"), five in 4C (no accounts);
    a maths set takes three from each form."""
    school = School(id=school_id or f"small-{uuid.uuid4().hex[:8]}", name="Small Primary", state="approved")
    session.add(school)
    await session.flush()
    form = MisClass(school_id=school.id, wonde_id="C-4B", name="4B", year_group=4)
    other = MisClass(school_id=school.id, wonde_id="C-4C", name="4C", year_group=4)
    maths = MisClass(school_id=school.id, wonde_id="C-MA1", name="4x/Ma1", year_group=4)
    students = [
        MisStudent(school_id=school.id, wonde_id=f"S{i}", forename=first, surname=last, year_group=4)
        for i, (first, last) in enumerate(NAMES)
    ]
    # The rest of the school (another year), so names weigh what they would in a real school.
    year5 = MisClass(school_id=school.id, wonde_id="C-5A", name="5A", year_group=5)
    others = [
        MisStudent(
            school_id=school.id, wonde_id=f"Y5-{i}", forename=f"Child{i:02d}", surname=f"Other{i:02d}", year_group=5
        )
        for i in range(60)
    ]
    session.add_all([form, other, maths, year5, *students, *others])
    await session.flush()
    session.add_all(MisMembership(school_id=school.id, mis_student_id=s.id, mis_class_id=year5.id) for s in others)
    for i, student in enumerate(students):
        container = form if i < 5 else other
        session.add(MisMembership(school_id=school.id, mis_student_id=student.id, mis_class_id=container.id))
        if i in (0, 1, 2, 5, 6, 7):
            session.add(MisMembership(school_id=school.id, mis_student_id=student.id, mis_class_id=maths.id))
    band = Band(school_id=school.id, name="Class 4B", year_group=4)
    pupils = [
        Pupil(school_id=school.id, first_name=first, last_name=last, year_group=4, username=f"{first}.{last}".lower())
        for first, last in NAMES[:5]
    ]
    session.add_all([band, *pupils])
    await session.flush()
    session.add_all(BandMembership(band_id=band.id, pupil_id=p.id, school_id=school.id) for p in pupils)
    await session.flush()
    return SmallSchool(school.id, form, maths, other, band, students, pupils)


def decide(school: SmallSchool, container: MisClass, action: str, band: Band | None = None) -> UploaderDecision:
    return UploaderDecision(
        school_id=school.school_id, mis_class_id=container.id, action=action, band_id=band.id if band else None
    )
