"""MIS events on one school: what happens in a school office, seen through Wonde.

Each event bumps ``updated_at`` on what it changed and writes deletion rows as Wonde does, so a delta
sync (``updated_after`` plus ``/deletions``) sees it, and returns a small JSON-able description of what
changed (ids). An omitted id is picked with the school's seeded generator, so a run can be repeated.
Whole-school events (rollover, MIS migration) are in ``yearly.py``; ``admin.py`` runs them by name.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from app.wonde.sandbox.people import draw_family, draw_origin, draw_surname, full_names, initials, new_student
from app.wonde.sandbox.placement import place, student_year, unplace, year_places
from app.wonde.sandbox.records import MisClass, SandboxSchool, Student
from app.wonde.sandbox.staff import drop_class, staff_new_places
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.years import nc_code
from app.year_groups import normalise_year

Json = dict[str, Any]


class EventError(ValueError):
    """The event cannot be applied as asked (unknown pupil or class, missing argument, nothing to pick)."""


def joiner(state: SandboxState, school_id: str, year: str | int | None = None) -> Json:
    """A new pupil joins ``year`` (any year with forms when omitted): a form, and the classes of that year."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        years = sorted({g.year for g in school.groups.values() if g.type == "REGISTRATION" and g.year is not None})
        if year is not None:
            target = _year(year)
        elif years:
            target = school.rng.choice(years)
        else:
            raise EventError("the school has no forms to join; give a year")
        names = draw_family(school.rng, False, full_names(school))[0]
        student = new_student(school, names, target, now, now.date())
        school.students[student.id] = student
        placement = place(school, student.id, year_places(school, target), now)
        return {"kind": "joiner", "student_id": student.id, "year": nc_code(target), **vars(placement)}


def leaver(state: SandboxState, school_id: str, student_id: str | None = None) -> Json:
    """A pupil leaves: gone from every list, a ``student`` deletion row, their memberships dropped."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _student(school, student_id)
        placement = unplace(school, student.id, now)
        school.left[student.id] = school.students.pop(student.id)
        school.record_deletion("student", student.id, student.mis_id, now)
        return {"kind": "leaver", "student_id": student.id, **vars(placement)}


def return_student(state: SandboxState, school_id: str, student_id: str | None = None) -> Json:
    """A pupil who left comes back with the same id: listed again, ``restored_at`` set, back in a form
    and classes of their year."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _take_back(school, school.left, student_id, "has left")
        student.restored_at = student.updated_at = now
        school.record_restore("student", student.id, now)
        return {"kind": "return", "student_id": student.id, **_placed_again(school, student, now)}


def exclude(state: SandboxState, school_id: str, student_id: str | None = None) -> Json:
    """A pupil is put on the school's exclude list: they vanish from every list and lookup of the API,
    with no deletion row and no leaving date (they did not leave: the app may no longer see them)."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _student(school, student_id)
        placement = unplace(school, student.id, now)
        school.excluded[student.id] = school.students.pop(student.id)
        return {"kind": "exclude", "student_id": student.id, **vars(placement)}


def include(state: SandboxState, school_id: str, student_id: str | None = None) -> Json:
    """A pupil taken off the exclude list is seen again, as they were, in a form and classes of their year."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _take_back(school, school.excluded, student_id, "is excluded")
        student.updated_at = now
        return {"kind": "include", "student_id": student.id, **_placed_again(school, student, now)}


def _take_back(school: SandboxSchool, away: dict[str, Student], student_id: str | None, being: str) -> Student:
    """A pupil out of ``away`` (those who left, or the excluded) and on the school's list again; one
    picked with the school's generator when ``student_id`` is omitted. ``being`` says what ``away`` holds."""
    if student_id is None:
        if not away:
            raise EventError(f"no pupil {being}")
        student_id = school.rng.choice(sorted(away))
    if student_id not in away:
        raise EventError(f"pupil {student_id} is not one who {being}")
    student = school.students[student_id] = away.pop(student_id)
    return student


def _placed_again(school: SandboxSchool, student: Student, now: datetime) -> Json:
    """Back in a form and classes of their year (nowhere when their year is unknown): what they joined."""
    year = student_year(school, student)
    return vars(place(school, student.id, year_places(school, year), now)) if year is not None else {}


def rename(
    state: SandboxState,
    school_id: str,
    student_id: str | None = None,
    forename: str | None = None,
    surname: str | None = None,
    legal_forename: str | None = None,
    legal_surname: str | None = None,
) -> Json:
    """A pupil's names change; with no names given, their surname (legal and preferred) changes."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _student(school, student_id)
        wanted = {"forename": forename, "surname": surname, "legal_forename": legal_forename}
        wanted["legal_surname"] = legal_surname
        if all(value is None for value in wanted.values()):
            new_surname = draw_surname(school.rng, draw_origin(school.rng))
            wanted.update(surname=new_surname, legal_surname=new_surname)
        changes = {}
        for name, value in wanted.items():
            if value is not None and getattr(student, name) != value:
                changes[name] = [getattr(student, name), value]
                setattr(student, name, value)
        student.initials = initials(student.forename, student.surname)
        student.updated_at = now
        return {"kind": "rename", "student_id": student.id, "changes": changes}


def move(
    state: SandboxState,
    school_id: str,
    student_id: str | None = None,
    from_class_id: str | None = None,
    to_class_id: str | None = None,
) -> Json:
    """A pupil moves class (say, maths set 3 to set 2); the pupil and both classes are bumped. Omitted
    ids pick a pupil, one of their classes, and another class of the same subject and year."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        if student_id is None:
            taught = Counter((record.subject, record.year) for record in school.classes.values())
            movable = [
                i
                for i in sorted(school.students)
                if any(taught[(school.classes[c].subject, school.classes[c].year)] > 1 for c in _classes(school, i))
            ]
            if not movable:
                raise EventError("no pupil has a class with another of the same subject to move to")
            student_id = school.rng.choice(movable)
        student = _student(school, student_id)
        if from_class_id is None:
            options = [c for c in _classes(school, student.id) if _others(school, c, student.id)]
            if not options:
                raise EventError(f"pupil {student.id} has no class with another of its subject to move to")
            from_class_id = school.rng.choice(options)
        if from_class_id not in school.class_links.owners_of(student.id):
            raise EventError(f"pupil {student.id} is not in class {from_class_id!r}")
        if to_class_id is None:
            alternatives = _others(school, from_class_id, student.id)
            if not alternatives:
                raise EventError(f"class {from_class_id} has no other class of its subject and year; give one")
            to_class_id = school.rng.choice(alternatives)
        if to_class_id not in school.classes:
            raise EventError(f"unknown class {to_class_id!r}")
        school.class_links.remove(from_class_id, student.id)
        school.class_links.add(to_class_id, student.id)
        student.updated_at = school.classes[from_class_id].updated_at = school.classes[to_class_id].updated_at = now
        return {"kind": "move", "student_id": student.id, "from_class_id": from_class_id, "to_class_id": to_class_id}


def change_year(
    state: SandboxState, school_id: str, student_id: str | None = None, year: str | int | None = None
) -> Json:
    """A pupil moves to another year (kept back or moved up): new YEAR group, form and classes."""
    if year is None:
        raise EventError("change_year needs a year")
    target = _year(year)
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        student = _student(school, student_id)
        old = student_year(school, student)
        left = unplace(school, student.id, now)
        student.nc_year = nc_code(target)
        joined = place(school, student.id, year_places(school, target), now)
        return {
            "kind": "change_year",
            "student_id": student.id,
            "from_year": None if old is None else nc_code(old),
            "to_year": nc_code(target),
            "left": vars(left),
            "joined": vars(joined),
        }


def new_class(state: SandboxState, school_id: str, year: str | int | None = None, size: int | None = None) -> Json:
    """A new class starts (an intervention group, a new set): ``size`` pupils of ``year`` (a year with
    pupils when omitted; up to 8 of them by default) join a class with a new id."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        by_year: dict[int, list[str]] = {}
        for student in school.students.values():
            if (known := student_year(school, student)) is not None:
                by_year.setdefault(known, []).append(student.id)
        if year is not None:
            target = _year(year)
        elif by_year:
            target = school.rng.choice(sorted(by_year))
        else:
            raise EventError("no pupil has a known year; give a year")
        pupils = sorted(by_year.get(target, []))
        chosen = school.rng.sample(pupils, min(len(pupils), 8 if size is None else size))
        number = sum(1 for record in school.classes.values() if record.name.startswith(f"{target}I/")) + 1
        record = MisClass(
            id=school.new_id(),
            mis_id=school.new_mis_id(),
            name=f"{target}I/In{number}",
            created_at=now,
            updated_at=now,
            description="Intervention",
            year=target,
        )
        school.classes[record.id] = record
        for student_id in chosen:
            school.class_links.add(record.id, student_id)
            school.students[student_id].updated_at = now
        staff_new_places(school, [record.id], [])
        return {"kind": "new_class", "class_id": record.id, "year": nc_code(target), "students": sorted(chosen)}


def close_class(state: SandboxState, school_id: str, class_id: str | None = None) -> Json:
    """A class ends: gone from the class list with a ``class`` deletion row; its pupils' class lists
    lose it (and they are bumped, as their includes changed)."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        class_id = pick_class(school, class_id)
        record = school.classes.pop(class_id)
        school.record_deletion("class", class_id, record.mis_id, now)
        drop_class(school, class_id)
        members = school.class_links.drop_owner(class_id)
        for student_id in members:
            school.students[student_id].updated_at = now
        return {"kind": "close_class", "class_id": class_id, "students": sorted(members)}


def pick_class(school: SandboxSchool, class_id: str | None) -> str:
    """``class_id`` if the school has that class; one picked with the school's generator when omitted."""
    if class_id is None:
        if not school.classes:
            raise EventError("the school has no classes")
        class_id = school.rng.choice(sorted(school.classes))
    if class_id not in school.classes:
        raise EventError(f"unknown class {class_id!r}")
    return class_id


def _year(value: str | int) -> int:
    year = normalise_year(str(value))
    if year is None:
        raise EventError(f"{value!r} is not a year group")
    return year


def _student(school: SandboxSchool, student_id: str | None) -> Student:
    if student_id is None:
        if not school.students:
            raise EventError("the school has no pupils")
        return school.students[school.rng.choice(sorted(school.students))]
    if student_id not in school.students:
        raise EventError(f"no pupil {student_id!r} on roll")
    return school.students[student_id]


def _classes(school: SandboxSchool, student_id: str) -> list[str]:
    return sorted(school.class_links.owners_of(student_id))


def _others(school: SandboxSchool, class_id: str, student_id: str) -> list[str]:
    """Other classes of the same subject and year that the pupil is not in."""
    record = school.classes[class_id]
    mine = school.class_links.owners_of(student_id)
    return sorted(
        other.id
        for other in school.classes.values()
        if other.id != class_id
        and other.id not in mine
        and other.subject == record.subject
        and other.year == record.year
    )
