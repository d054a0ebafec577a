"""Staff: new employees (names, ids, e-mail) and who teaches which class or tutors which form.

Each class has a main teacher and sometimes co-teachers; each registration group has a form tutor.
An employee's ``classes`` include carries the per-class role as ``meta`` (``is_main_teacher``,
``is_class_teacher``, ``role``, ``all_roles``), as captured from the Wonde Testing School. Shared by
the generator, the staff events and the whole-school events, so staff who join later look the same.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.wonde.sandbox.names import ENGLISH, STAFF_MEN, STAFF_TITLES_MEN, STAFF_TITLES_WOMEN, STAFF_WOMEN
from app.wonde.sandbox.people import draw_origin, draw_surname, initials, upi
from app.wonde.sandbox.records import Employee, Links, SandboxSchool, Subject
from app.wonde.sandbox.shapes import person_json, wonde_time

Json = dict[str, Any]

MAIN_TEACHER = "Main Class Teacher"
CLASS_TEACHER = "Class Teacher"
WOMEN_RATE = 0.75  # about three in four teachers in England are women
FIRST_STAFF_MIS_ID = 20


@dataclass
class Freed:
    """Staff whose classes (main teachers, by subject) or forms (tutors) went at rollover."""

    teachers: dict[str | None, list[str]] = field(default_factory=dict)
    tutors: list[str] = field(default_factory=list)


def new_employee(school: SandboxSchool, rng: random.Random, created_at: datetime, updated_at: datetime) -> Employee:
    """A member of staff with fresh ids and a unique school e-mail; the caller adds them to the school."""
    origin = draw_origin(rng)
    woman = rng.random() < WOMEN_RATE
    if origin is ENGLISH or rng.random() < 0.5:
        forename = rng.choice(STAFF_WOMEN if woman else STAFF_MEN)
    else:
        forename = rng.choice(origin.girls if woman else origin.boys)
    surname = draw_surname(rng, origin)
    titles = STAFF_TITLES_WOMEN if woman else STAFF_TITLES_MEN
    title = rng.choices([t for t, _ in titles], weights=[w for _, w in titles])[0]
    mis_id = next_staff_mis_id(school)
    return Employee(
        id=school.new_id(),
        upi=upi(school.id, f"employee/{mis_id}"),  # a namespace of its own: staff mis_ids are not pupils'
        mis_id=mis_id,
        forename=forename,
        surname=surname,
        created_at=created_at,
        updated_at=updated_at,
        title=title,
        initials=initials(forename, surname),
        legal_forename=forename,
        legal_surname=surname,
        email=_free_email(school, forename, surname),
    )


def next_staff_mis_id(school: SandboxSchool) -> str:
    """Staff numbers run on from the highest in use, counting staff who have left."""
    used = [e.mis_id for e in school.employees.values()]
    used += [row.mis_id or "" for row in school.deletions.values() if row.type == "employee"]
    return str(max((int(m) for m in used if m.isdigit()), default=FIRST_STAFF_MIS_ID - 1) + 1)


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def _free_email(school: SandboxSchool, forename: str, surname: str) -> str:
    domain = _ascii(str(school.info.get("name") or school.id).replace("School", "")) + ".sch.uk"
    local = f"{_ascii(forename)[:1]}.{_ascii(surname)}"
    taken = {e.email for e in school.employees.values()}
    number = 1
    while (email := f"{local}{number if number > 1 else ''}@{domain}") in taken:
        number += 1
    return email


def teaching_meta(school: SandboxSchool, class_id: str, employee_id: str) -> Json:
    """The per-class role of a teacher, in the ``meta`` block Wonde puts on an employee's classes."""
    main = school.main_teachers.get(class_id) == employee_id
    roles = [MAIN_TEACHER, CLASS_TEACHER] if main else [CLASS_TEACHER]
    return {"is_main_teacher": main, "is_class_teacher": True, "role": roles[0], "all_roles": roles}


def add_teacher(school: SandboxSchool, class_id: str, employee_id: str, *, main: bool) -> None:
    """Put a teacher on a class; a new main teacher makes the old one a co-teacher."""
    school.class_staff.add(class_id, employee_id)
    if main:
        school.main_teachers[class_id] = employee_id


def remove_teacher(school: SandboxSchool, class_id: str, employee_id: str) -> None:
    """Take a teacher off a class; when the main teacher goes, a co-teacher (the lowest id) becomes main."""
    school.class_staff.remove(class_id, employee_id)
    if school.main_teachers.get(class_id) == employee_id:
        del school.main_teachers[class_id]
        if others := sorted(school.class_staff.members_of(class_id)):
            school.main_teachers[class_id] = others[0]


def drop_class(school: SandboxSchool, class_id: str) -> None:
    """Forget a closed class's teachers."""
    school.class_staff.drop_owner(class_id)
    school.main_teachers.pop(class_id, None)


def carry_staff(school: SandboxSchool, successors: Mapping[str, str | None]) -> None:
    """Move the teachers of recreated classes, and the tutors of recreated groups, to their successors
    (a class or group without one loses its staff)."""
    for links in (school.class_staff, school.group_staff):
        for old_id in sorted(set(links.members) & set(successors)):
            members = links.drop_owner(old_id)
            main = school.main_teachers.pop(old_id, None)
            new_id = successors[old_id]
            if new_id is None:
                continue
            for employee_id in members:
                links.add(new_id, employee_id)
            if main is not None:
                school.main_teachers[new_id] = main


def leaving_staff(school: SandboxSchool, top: int) -> Freed:
    """At rollover, before the top year's classes and forms go: their main teachers (by subject) and
    tutors, who are then free to take the intake's."""
    freed = Freed()
    for record in sorted(school.classes.values(), key=lambda c: c.id):
        main = school.main_teachers.get(record.id)
        if record.year is not None and record.year >= top and main is not None:
            freed.teachers.setdefault(record.subject, []).append(main)
    for group in sorted(school.groups.values(), key=lambda g: g.id):
        if group.year is not None and group.year >= top:
            freed.tutors += sorted(school.group_staff.members_of(group.id))
    return freed


def staff_new_places(
    school: SandboxSchool, class_ids: Iterable[str], group_ids: Iterable[str], freed: Freed | None = None
) -> None:
    """Give new classes a main teacher and new forms a tutor, as a timetabler would: a teacher ``freed``
    from a class of the same subject (or from a form), else the least busy teacher of the class's subject
    (of anyone teaching, for a subject nobody teaches yet); and the teacher of the new class of the same
    name (a primary's form), else a freed tutor, else a teacher who tutors no form yet.
    Deterministic, so events that call it stay repeatable."""
    freed = freed or Freed()
    load = dict.fromkeys(school.employees, 0)
    subjects: dict[str | None, set[str]] = {}
    for class_id, members in school.class_staff.members.items():
        subject = school.classes[class_id].subject if class_id in school.classes else None
        for employee_id in members & set(load):
            load[employee_id] += 1
            subjects.setdefault(subject, set()).add(employee_id)
    teaching = set().union(*subjects.values()) if subjects else set(load)
    class_ids = sorted(class_ids)
    for class_id in class_ids:
        subject = school.classes[class_id].subject
        spare = [e for e in freed.teachers.get(subject, []) if e in load]
        options = subjects.get(subject) or teaching
        if class_id in school.main_teachers or not (spare or options):
            continue
        chosen = spare[0] if spare else min(options, key=lambda e: (load[e], e))
        if spare:
            freed.teachers[subject].remove(chosen)
        add_teacher(school, class_id, chosen, main=True)
        load[chosen] += 1
        subjects.setdefault(subject, set()).add(chosen)
    tutors = {employee_id for members in school.group_staff.members.values() for employee_id in members}
    spare_tutors = [e for e in freed.tutors if e in load]
    class_teacher = {school.classes[c].name: school.main_teachers.get(c) for c in class_ids}  # a primary's form
    for group_id in sorted(group_ids):
        if school.groups[group_id].type != "REGISTRATION" or school.group_staff.members_of(group_id):
            continue
        own = class_teacher.get(school.groups[group_id].name)
        free = [own] if own and own not in tutors else []
        free = free or [e for e in spare_tutors if e not in tutors] or sorted(teaching - tutors)
        if free:
            school.group_staff.add(group_id, free[0])
            tutors.add(free[0])


def renumber_staff(
    school: SandboxSchool, classes: Mapping[str, str], groups: Mapping[str, str], now: datetime
) -> dict[str, str]:
    """After an MIS migration: every employee gets a new id, ``mis_id`` and ``upi`` (deletion rows for the
    old ids), and the links follow the classes and groups to their new ids. Returns old id -> new id."""
    renamed: dict[str, str] = {}
    for old in sorted(school.employees):
        record = school.employees.pop(old)
        school.record_deletion("employee", old, record.mis_id, now)
        mis_id = next_staff_mis_id(school)
        fresh = replace(record, id=school.new_id(), mis_id=mis_id, upi=upi(school.id, f"employee/{mis_id}"))
        fresh.created_at = fresh.updated_at = now
        fresh.restored_at = None
        school.employees[fresh.id] = fresh
        renamed[old] = fresh.id
    school.class_staff = _relink(school.class_staff, classes, renamed)
    school.group_staff = _relink(school.group_staff, groups, renamed)
    school.main_teachers = {
        classes[c]: renamed[e] for c, e in school.main_teachers.items() if c in classes and e in renamed
    }
    return renamed


def _relink(links: Links, owners: Mapping[str, str], members: Mapping[str, str]) -> Links:
    fresh, known = Links(), set(members)
    for owner_id, linked in links.members.items():
        for member_id in linked & known:
            if owner_id in owners:
                fresh.add(owners[owner_id], members[member_id])
    return fresh


def employee_json(record: Employee) -> Json:
    """An employee as Wonde's ``/employees`` shows one."""
    return person_json(record)


def contact_details_json(record: Employee) -> Json:
    """``contact_details``: the school e-mail under ``emails`` (the keys integrators read); no phones."""
    emails = {"email": record.email, "primary": record.email, "home": None, "work": record.email}
    phones = {"phone": None, "primary": None, "home": None, "work": None, "mobile": None}
    return {"emails": emails, "phones": phones}


def subject_json(record: Subject) -> Json:
    return {
        "id": record.id,
        "mis_id": record.mis_id,
        "code": record.code,
        "name": record.name,
        "active": record.active,
        "created_at": wonde_time(record.created_at),
        "updated_at": wonde_time(record.updated_at),
    }
