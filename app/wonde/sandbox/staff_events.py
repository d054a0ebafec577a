"""Staff events: a teacher joins, a teacher leaves, a teacher takes over a class.

As with the pupils' events (``events.py``), each bumps ``updated_at`` on what it changed (the
employee and every class or group whose staff changed: Wonde does not document which side changes, so
both do), writes an ``employee`` deletion row for a leaver, and picks omitted ids with the school's
seeded generator.
"""

from __future__ import annotations

from typing import Any

from app.wonde.sandbox.events import EventError, pick_class
from app.wonde.sandbox.records import Employee, SandboxSchool
from app.wonde.sandbox.staff import add_teacher, new_employee, remove_teacher
from app.wonde.sandbox.state import SandboxState

Json = dict[str, Any]


def staff_joiner(state: SandboxState, school_id: str, class_id: str | None = None) -> Json:
    """A new member of staff joins; with ``class_id`` they also start teaching that class, alongside its
    main teacher (or as the main teacher of a class that has none)."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        if class_id is not None and class_id not in school.classes:
            raise EventError(f"unknown class {class_id!r}")
        record = new_employee(school, school.rng, now, now)
        school.employees[record.id] = record
        classes = []
        if class_id is not None:
            add_teacher(school, class_id, record.id, main=class_id not in school.main_teachers)
            school.classes[class_id].updated_at = now
            classes.append(class_id)
        return {"kind": "staff_joiner", "employee_id": record.id, "email": record.email, "classes": classes}


def staff_leaver(state: SandboxState, school_id: str, employee_id: str | None = None) -> Json:
    """A member of staff leaves: gone from ``/employees`` with an ``employee`` deletion row, off every
    class and form. A class they led passes to its co-teacher if it has one, else has no teacher yet."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        record = _employee(school, employee_id)
        classes = sorted(school.class_staff.owners_of(record.id))
        for class_id in classes:
            remove_teacher(school, class_id, record.id)
            school.classes[class_id].updated_at = now
        groups = sorted(school.group_staff.drop_student(record.id))
        for group_id in groups:
            school.groups[group_id].updated_at = now
        del school.employees[record.id]
        school.record_deletion("employee", record.id, record.mis_id, now)
        untaught = [class_id for class_id in classes if class_id not in school.main_teachers]
        return {
            "kind": "staff_leaver",
            "employee_id": record.id,
            "classes": classes,
            "groups": groups,
            "untaught": untaught,
        }


def takeover(state: SandboxState, school_id: str, class_id: str | None = None, employee_id: str | None = None) -> Json:
    """A teacher takes over a class: ``employee_id`` (by default another teacher of the same subject, or
    anyone teaching) becomes its main teacher, and the teacher they replace leaves the class."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        class_id = pick_class(school, class_id)
        previous = school.main_teachers.get(class_id)
        if employee_id is None:
            employee_id = _successor(school, class_id)
        new = _employee(school, employee_id)
        if new.id == previous:
            raise EventError(f"{new.id} already teaches class {class_id}")
        if previous is not None:
            remove_teacher(school, class_id, previous)
            school.employees[previous].updated_at = now
        add_teacher(school, class_id, new.id, main=True)
        new.updated_at = school.classes[class_id].updated_at = now
        return {"kind": "takeover", "class_id": class_id, "from_employee_id": previous, "to_employee_id": new.id}


def _successor(school: SandboxSchool, class_id: str) -> str:
    """Another teacher of the class's subject not on it already, else anyone who teaches a class."""
    subject = school.classes[class_id].subject
    on_class = school.class_staff.members_of(class_id)
    teaching = {e for members in school.class_staff.members.values() for e in members} & set(school.employees)
    taught = {c: r.subject for c, r in school.classes.items()}
    same = {e for e in teaching if any(taught.get(c, "") == subject for c in school.class_staff.owners_of(e))}
    options = sorted((same or teaching) - on_class) or sorted(set(school.employees) - on_class)
    if not options:
        raise EventError(f"no one else could take over class {class_id}; give an employee_id")
    return school.rng.choice(options)


def _employee(school: SandboxSchool, employee_id: str | None) -> Employee:
    if employee_id is None:
        if not school.employees:
            raise EventError("the school has no staff")
        return school.employees[school.rng.choice(sorted(school.employees))]
    if employee_id not in school.employees:
        raise EventError(f"no member of staff {employee_id!r}")
    return school.employees[employee_id]
