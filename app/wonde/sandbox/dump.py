"""Wonde school dumps: a whole school as one JSON object, written and read back.

A dump is ``{"school": {...}, "students": [...], "classes": [...], "groups": [...], "employees": [...],
"subjects": [...], "deletions": [...]}`` whose items are exactly what the Wonde API returns: students as
with ``include=classes,year,education_details,groups``, classes and groups with their own fields only,
employees as with ``include=contact_details,classes,groups`` (each class with the teacher's role in
``meta``), subjects as ``include=subject`` shows one, deletion rows as ``/deletions`` returns them.
Reading is lenient so a real export loads too: lists may be missing or wrapped in ``{"data": ...}``,
fields may be null or unknown, and memberships are taken from the students' includes and from classes'
or groups' ``students`` includes, and teaching from employees' ``classes``/``groups`` or classes' and
groups' ``employees``, whichever are present.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from app.wonde.sandbox.includes import EMPLOYEE_INCLUDES, employee, include_tree
from app.wonde.sandbox.records import Deletion, Employee, Group, Links, MisClass, SandboxSchool, Student, Subject
from app.wonde.sandbox.shapes import (
    STUDENT_INCLUDES,
    class_json,
    deletion_json,
    group_json,
    read_date,
    read_time,
    school_json,
    student_json,
)
from app.wonde.sandbox.staff import subject_json
from app.wonde.sandbox.state import SandboxState, school_token
from app.wonde.sandbox.years import leading_year
from app.year_groups import normalise_year

Json = dict[str, Any]
EMPLOYEE_DUMP = include_tree(("contact_details", "classes", "groups"), EMPLOYEE_INCLUDES)


class DumpInvalid(ValueError):
    """The dump cannot be read as a school."""


def school_dump(school: SandboxSchool, domain: str) -> Json:
    """The school as a dump, every list in id order (so equal schools give equal dumps)."""
    return {
        "school": school_json(school, domain),
        "students": [student_json(school, s, STUDENT_INCLUDES) for s in _by_id(school.students.values())],
        "classes": [class_json(record) for record in _by_id(school.classes.values())],
        "groups": [group_json(record) for record in _by_id(school.groups.values())],
        "employees": [employee(school, record, EMPLOYEE_DUMP) for record in _by_id(school.employees.values())],
        "subjects": [subject_json(record) for record in _by_id(school.subjects.values())],
        "deletions": [deletion_json(row) for row in sorted(school.deletions.values(), key=lambda d: (d.id, d.type))],
    }


def export_dump(state: SandboxState, school_id: str) -> Json:
    """The current state of one school as a dump (students who left are not in it, as in Wonde's lists)."""
    with state.lock:
        return school_dump(state.school(school_id), state.domain)


def load_dump(state: SandboxState, dump: Mapping[str, Any]) -> str:
    """Load a dump as a school (replacing one with the same id); returns the school id."""
    try:
        school = read_dump(dump, state.clock.now())
    except (ValueError, TypeError, AttributeError) as exc:
        raise DumpInvalid(f"the dump cannot be read: {exc}") from exc
    return state.add_school(school)


def read_dump(dump: Mapping[str, Any], now: datetime) -> SandboxSchool:
    info = _unwrap(dump.get("school"))
    if not isinstance(info, dict) or not info.get("id"):
        raise DumpInvalid("the dump has no school object with an id")
    school_id = str(info["id"])
    school = SandboxSchool(
        info=dict(info),
        token=school_token(school_id),
        rng=random.Random(f"bandsync-sandbox-events/{school_id}"),  # noqa: S311 (test data, not secrets)
        used_ids={school_id},
    )
    reader = _Reader(school, now)
    for item in _items(dump.get("subjects")):
        reader.add_subject(item)
    for item in _items(dump.get("classes")):
        reader.add_class(item)
    for item in _items(dump.get("groups")):
        reader.add_group(item)
    for item in _items(dump.get("students")):
        reader.add_student(item)
    for item in _items(dump.get("classes")):
        reader.link_included_students(item, school.class_links)
    for item in _items(dump.get("groups")):
        reader.link_included_students(item, school.group_links)
    for item in _items(dump.get("employees")):
        reader.add_employee(item)
    for item in _items(dump.get("deletions")):
        reader.add_deletion(item)
    reader.finish()
    return school


def _by_id(records: Iterable[Any]) -> list[Any]:
    return sorted(records, key=lambda record: record.id)


def _unwrap(value: Any) -> Any:
    return value["data"] if isinstance(value, dict) and "data" in value and "id" not in value else value


def _items(value: Any) -> list[Json]:
    items = _unwrap(value)
    return [item for item in items if isinstance(item, dict) and item.get("id")] if isinstance(items, list) else []


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class _Reader:
    """Turns dump items into records; the first time an id is seen wins."""

    def __init__(self, school: SandboxSchool, now: datetime) -> None:
        self.school = school
        self.now = now

    def _stamps(self, item: Json) -> tuple[datetime, datetime]:
        created = read_time(item.get("created_at")) or self.now
        return created, read_time(item.get("updated_at")) or created

    def add_class(self, item: Json) -> str:
        class_id = str(item["id"])
        if class_id not in self.school.classes:
            created, updated = self._stamps(item)
            subject = _unwrap(item.get("subject"))
            self.school.classes[class_id] = MisClass(
                id=class_id,
                mis_id=_text(item.get("mis_id")) or class_id,
                name=_text(item.get("name")) or "",
                created_at=created,
                updated_at=updated,
                code=_text(item.get("code")),
                description=_text(item.get("description")),
                subject=_text(subject.get("id") if isinstance(subject, dict) else subject),
                alternative=_text(item.get("alternative")),
                restored_at=read_time(item.get("restored_at")),
            )
            if isinstance(subject, dict) and subject.get("id"):
                self.add_subject(subject)
        for included in _items(item.get("employees")):
            self._teach(class_id, self.add_employee(included), included.get("meta"))
        return class_id

    def add_group(self, item: Json) -> str:
        group_id = str(item["id"])
        if group_id not in self.school.groups:
            created, updated = self._stamps(item)
            self.school.groups[group_id] = Group(
                id=group_id,
                mis_id=_text(item.get("mis_id")) or group_id,
                name=_text(item.get("name")) or "",
                type=_text(item.get("type")) or "",
                created_at=created,
                updated_at=updated,
                code=_text(item.get("code")),
                description=_text(item.get("description")),
            )
        for included in _items(item.get("employees")):
            self.school.group_staff.add(group_id, self.add_employee(included))
        return group_id

    def add_subject(self, item: Json) -> None:
        subject_id = str(item["id"])
        if subject_id not in self.school.subjects:
            created, updated = self._stamps(item)
            self.school.subjects[subject_id] = Subject(
                id=subject_id,
                mis_id=_text(item.get("mis_id")) or subject_id,
                code=_text(item.get("code")),
                name=_text(item.get("name")) or "",
                created_at=created,
                updated_at=updated,
                active=item.get("active") is not False,
            )

    def add_employee(self, item: Json) -> str:
        employee_id = str(item["id"])
        if employee_id not in self.school.employees:
            created, updated = self._stamps(item)
            contact = _unwrap(item.get("contact_details"))
            emails = contact.get("emails") if isinstance(contact, dict) else None
            emails = emails if isinstance(emails, dict) else {}
            self.school.employees[employee_id] = Employee(
                id=employee_id,
                upi=_text(item.get("upi")) or "",
                mis_id=_text(item.get("mis_id")) or employee_id,
                forename=_text(item.get("forename")),
                surname=_text(item.get("surname")),
                created_at=created,
                updated_at=updated,
                title=_text(item.get("title")),
                initials=_text(item.get("initials")),
                middle_names=_text(item.get("middle_names")),
                legal_forename=_text(item.get("legal_forename")),
                legal_surname=_text(item.get("legal_surname")),
                email=_text(emails.get("email") or emails.get("primary") or emails.get("work")),
                restored_at=read_time(item.get("restored_at")),
            )
        for included in _items(item.get("classes")):
            self._teach(self.add_class(included), employee_id, included.get("meta"))
        for included in _items(item.get("groups")):
            self.school.group_staff.add(self.add_group(included), employee_id)
        return employee_id

    def _teach(self, class_id: str, employee_id: str, meta: Any) -> None:
        """A teacher on a class; without a ``meta`` role, the first teacher seen is the main one."""
        self.school.class_staff.add(class_id, employee_id)
        main = meta.get("is_main_teacher") if isinstance(meta, dict) else None
        if main or (main is None and class_id not in self.school.main_teachers):
            self.school.main_teachers[class_id] = employee_id

    def add_student(self, item: Json) -> str:
        student_id = str(item["id"])
        if student_id not in self.school.students:
            self.school.students[student_id] = self._student(student_id, item)
        for included in _items(item.get("classes")):
            self.school.class_links.add(self.add_class(included), student_id)
        year = _unwrap(item.get("year"))
        for included in _items(item.get("groups")) + _items([year]):
            self.school.group_links.add(self.add_group(included), student_id)
        return student_id

    def _student(self, student_id: str, item: Json) -> Student:
        created, updated = self._stamps(item)
        education = _unwrap(item.get("education_details"))
        education = education if isinstance(education, dict) else {}
        return Student(
            id=student_id,
            upi=_text(item.get("upi")) or "",
            mis_id=_text(item.get("mis_id")) or student_id,
            forename=_text(item.get("forename")),
            surname=_text(item.get("surname")),
            legal_forename=_text(item.get("legal_forename")),
            legal_surname=_text(item.get("legal_surname")),
            middle_names=_text(item.get("middle_names")),
            created_at=created,
            updated_at=updated,
            title=_text(item.get("title")),
            initials=_text(item.get("initials")),
            admission_number=_text(education.get("admission_number")),
            upn=_text(education.get("upn")),
            local_upn=_text(education.get("local_upn")),
            former_upn=_text(education.get("former_upn")),
            learner_number=_text(education.get("learner_number")),
            nc_year=_text(education.get("current_nc_year")),
            part_time=education.get("part_time"),
            admission_date=read_date(education.get("admission_date")),
            leaving_date=read_date(education.get("leaving_date")),
            restored_at=read_time(item.get("restored_at")),
            gender=_text(item.get("gender")),
            date_of_birth=read_date(item.get("date_of_birth")),
        )

    def link_included_students(self, item: Json, links: Links) -> None:
        for included in _items(item.get("students")):
            links.add(str(item["id"]), self.add_student(included))

    def add_deletion(self, item: Json) -> None:
        kind = _text(item.get("type")) or "student"
        deleted_at = read_time(item.get("deleted_at")) or self.now
        row = Deletion(kind, str(item["id"]), _text(item.get("mis_id")), deleted_at, read_time(item.get("restored_at")))
        self.school.deletions[(kind, row.id)] = row

    def finish(self) -> None:
        """Work out each class's and group's year, where new ids and numbers continue from, and whether
        the school grants personal details (a dump shows them only where it did)."""
        school = self.school
        school.personal_details = any(s.gender or s.date_of_birth for s in school.students.values())
        for group in school.groups.values():
            if group.type == "YEAR":
                from_code = normalise_year(group.code)
                group.year = from_code if from_code is not None else normalise_year(group.name)
            else:
                group.year = self._members_year(school.group_links.members_of(group.id), group.name)
        for record in school.classes.values():
            record.year = self._members_year(school.class_links.members_of(record.id), record.name)
        subjects = {record.subject for record in school.classes.values() if record.subject}
        school.used_ids |= set(school.students) | set(school.classes) | set(school.groups) | subjects
        school.used_ids |= set(school.employees) | set(school.subjects)
        school.used_ids |= {row.id for row in school.deletions.values()}
        school.upns = {student.upn for student in school.students.values() if student.upn}
        mis_ids = [s.mis_id for s in school.students.values()] + [c.mis_id for c in school.classes.values()]
        mis_ids += [g.mis_id for g in school.groups.values()]
        school.next_mis_id = max((int(m) for m in mis_ids if m.isdigit()), default=0) + 1
        admissions = [s.admission_number or "" for s in school.students.values()]
        school.next_admission = max((int(a) for a in admissions if a.isdigit()), default=0) + 1

    def _members_year(self, members: set[str], name: str) -> int | None:
        """The year most members are in; for an empty class or group, the year its name starts with."""
        years = Counter(normalise_year(self.school.students[i].nc_year) for i in members)
        years.pop(None, None)
        return years.most_common(1)[0][0] if years else leading_year(name)
