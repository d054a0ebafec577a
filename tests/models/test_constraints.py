"""The promises the database itself keeps, whatever the code above it does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Band, MisClass, MisGroup, MisStudent, Pupil, School, UploaderDecision


def _student(school: School, wonde_id: str = "A1") -> MisStudent:
    return MisStudent(school_id=school.id, wonde_id=wonde_id, forename="Amy", surname="Jones")


def _pupil(school: School, username: str, **extra: Any) -> Pupil:
    return Pupil(school_id=school.id, first_name="Amy", last_name="Jones", username=username, **extra)


async def _refused(session: AsyncSession, *rows: object) -> IntegrityError:
    """Add rows in a savepoint and return the IntegrityError the database answered with."""
    with pytest.raises(IntegrityError) as caught:
        async with session.begin_nested():
            session.add_all(rows)
            await session.flush()
    return caught.value


async def test_a_mis_student_links_to_at_most_one_pupil(session: AsyncSession, school: School) -> None:
    student = _student(school)
    session.add(student)
    await session.flush()
    session.add(_pupil(school, "amy.jones", mis_student_id=student.id))
    await session.flush()
    error = await _refused(session, _pupil(school, "amy.jones2", mis_student_id=student.id))
    assert "uq_pupils_school_id_mis_student_id" in str(error)


async def test_usernames_are_unique_within_a_school(
    session: AsyncSession, school: School, other_school: School
) -> None:
    session.add(_pupil(school, "amy.jones"))
    await session.flush()
    error = await _refused(session, _pupil(school, "amy.jones"))
    assert "uq_pupils_school_id_username" in str(error)
    # The same username in another school is fine.
    session.add(_pupil(other_school, "amy.jones"))
    await session.flush()


async def test_a_pupil_cannot_link_to_another_schools_mis_student(
    session: AsyncSession, school: School, other_school: School
) -> None:
    student = _student(other_school)
    session.add(student)
    await session.flush()
    error = await _refused(session, _pupil(school, "amy.jones", mis_student_id=student.id))
    assert "fk_pupils_school_id_mis_student_id_mis_students" in str(error)


async def test_a_mis_class_links_to_at_most_one_band(session: AsyncSession, school: School) -> None:
    mis_class = MisClass(school_id=school.id, wonde_id="C1", name="4B")
    session.add(mis_class)
    await session.flush()
    session.add(Band(school_id=school.id, name="4B", mis_class_id=mis_class.id))
    await session.flush()
    error = await _refused(session, Band(school_id=school.id, name="Class 4B", mis_class_id=mis_class.id))
    assert "uq_bands_school_id_mis_class_id" in str(error)


async def test_bad_values_are_refused(session: AsyncSession, school: School) -> None:
    assert "ck_pupils_year_group" in str(await _refused(session, _pupil(school, "a.b", year_group=15)))
    assert "ck_pupils_username_format" in str(await _refused(session, _pupil(school, "Amy Jones")))
    assert "ck_pupils_names_not_blank" in str(
        await _refused(session, Pupil(school_id=school.id, first_name=" ", last_name="Jones", username="x"))
    )
    assert "ck_schools_state" in str(await _refused(session, School(id="s-bad", name="Bad", state="lost")))


async def test_an_uploader_decision_is_about_one_thing(session: AsyncSession, school: School) -> None:
    mis_class = MisClass(school_id=school.id, wonde_id="C1", name="4B")
    group = MisGroup(school_id=school.id, wonde_id="G1", name="4B", type="REGISTRATION")
    student = _student(school)
    session.add_all([mis_class, group, student])
    await session.flush()
    both = UploaderDecision(school_id=school.id, mis_class_id=mis_class.id, mis_group_id=group.id, action="import")
    assert "ck_uploader_decisions_one_subject" in str(await _refused(session, both))
    match_without_band = UploaderDecision(school_id=school.id, mis_class_id=mis_class.id, action="match")
    assert "ck_uploader_decisions_match_has_band" in str(await _refused(session, match_without_band))
    link_without_pupil = UploaderDecision(school_id=school.id, mis_student_id=student.id, resolution="link")
    assert "ck_uploader_decisions_link_has_pupil" in str(await _refused(session, link_without_pupil))


async def test_one_band_is_matched_to_at_most_one_class(session: AsyncSession, school: School) -> None:
    band = Band(school_id=school.id, name="4B")
    first, second = (MisClass(school_id=school.id, wonde_id=w, name="4B") for w in ("C1", "C2"))
    session.add_all([band, first, second])
    await session.flush()
    session.add(UploaderDecision(school_id=school.id, mis_class_id=first.id, action="match", band_id=band.id))
    await session.flush()
    again = UploaderDecision(school_id=school.id, mis_class_id=second.id, action="match", band_id=band.id)
    assert "uq_uploader_decisions_band" in str(await _refused(session, again))


async def test_deleting_a_school_takes_its_rows_with_it(session: AsyncSession, school: School) -> None:
    student = _student(school)
    session.add(student)
    await session.flush()
    pupil = _pupil(school, "amy.jones", mis_student_id=student.id)
    session.add(pupil)
    await session.flush()
    await session.delete(school)
    await session.flush()
    session.expunge_all()
    assert await session.get(Pupil, pupil.id) is None
    assert await session.get(MisStudent, student.id) is None
    assert uuid.UUID(str(pupil.id))
