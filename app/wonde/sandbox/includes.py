"""Includes, nested ones too: ``include=classes.employees,year`` turned into a tree and answered.

Each include comes wrapped in ``{"data": ...}`` (an object for a "one" relation, a list for a "many"),
and a nested include brings its parent (``classes.employees`` answers ``classes``, each with its
``employees``). A name the sandbox does not know is ignored, as before, but a nested one that is
unknown only below a known parent (``classes.lessons``) still brings the parent. ``meta.includes``
lists every include an endpoint supports (the ``*_INCLUDES`` tuples), as Wonde's does.

Our own client's student read (``classes,year,education_details,groups``) is answered exactly as
``shapes.student_json`` answers it; a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from app.wonde.sandbox.records import Employee, Group, MisClass, SandboxSchool, Student
from app.wonde.sandbox.shapes import class_json, education_json, group_json, student_json
from app.wonde.sandbox.staff import contact_details_json, employee_json, subject_json, teaching_meta

Json = dict[str, Any]
Tree = Mapping[str, "Tree"]

STUDENT_INCLUDES = (
    "classes", "classes.employees", "classes.subject", "education_details", "groups", "groups.employees",
    "registration", "registration.employees", "year", "year.employees",
)  # fmt: skip
CLASS_INCLUDES = (
    "subject", "students", "students.education_details", "students.registration", "students.year", "employees",
    "employees.contact_details",
)  # fmt: skip
GROUP_INCLUDES = (
    "students", "students.education_details", "students.registration", "students.year", "employees",
    "employees.contact_details",
)  # fmt: skip
EMPLOYEE_INCLUDES = ("contact_details", "classes", "classes.subject", "classes.students", "groups", "groups.students")


def include_tree(names: Iterable[str], supported: Collection[str]) -> Tree:
    """The includes asked for, as a tree: each name cut back to its longest supported prefix."""
    tree: dict[str, Any] = {}
    for name in sorted(names):
        parts = name.split(".")
        while parts and ".".join(parts) not in supported:
            parts.pop()
        node = tree
        for part in parts:
            node = node.setdefault(part, {})
    return tree


def student_body(school: SandboxSchool, record: Student, includes: Iterable[str] = ()) -> Json:
    """A student with the named includes (as a list endpoint or ``students/{id}`` takes them)."""
    return student(school, record, include_tree(includes, STUDENT_INCLUDES))


def student(school: SandboxSchool, record: Student, tree: Tree) -> Json:
    body = student_json(school, record)
    if "education_details" in tree:
        body["education_details"] = {"data": education_json(record)}
    if "classes" in tree:
        classes = _existing(school.classes, school.class_links.owners_of(record.id))
        body["classes"] = {"data": [mis_class(school, c, tree["classes"]) for c in classes]}
    groups = _existing(school.groups, school.group_links.owners_of(record.id))
    if "groups" in tree:
        body["groups"] = {"data": [group(school, g, tree["groups"]) for g in groups]}
    for name, kind in (("registration", "REGISTRATION"), ("year", "YEAR")):
        if name in tree:
            found = next((g for g in groups if g.type == kind), None)
            body[name] = {"data": group(school, found, tree[name]) if found else None}
    return body


def mis_class(school: SandboxSchool, record: MisClass, tree: Tree, teacher: str | None = None) -> Json:
    """A class; ``teacher`` (an employee id) adds that teacher's role in it as ``meta``."""
    body = class_json(record)
    if "subject" in tree:
        subject = school.subjects.get(record.subject or "")
        body["subject"] = {"data": subject_json(subject) if subject else None}
    if "students" in tree:
        students = _existing(school.students, school.class_links.members_of(record.id))
        body["students"] = {"data": [student(school, s, tree["students"]) for s in students]}
    if "employees" in tree:
        staff = _existing(school.employees, school.class_staff.members_of(record.id))
        body["employees"] = {"data": [employee(school, e, tree["employees"], class_id=record.id) for e in staff]}
    if teacher is not None:
        body["meta"] = teaching_meta(school, record.id, teacher)
    return body


def group(school: SandboxSchool, record: Group, tree: Tree) -> Json:
    body = group_json(record)
    if "students" in tree:
        students = _existing(school.students, school.group_links.members_of(record.id))
        body["students"] = {"data": [student(school, s, tree["students"]) for s in students]}
    if "employees" in tree:
        staff = _existing(school.employees, school.group_staff.members_of(record.id))
        body["employees"] = {"data": [employee(school, e, tree["employees"]) for e in staff]}
    return body


def employee(school: SandboxSchool, record: Employee, tree: Tree, class_id: str | None = None) -> Json:
    """An employee; listed under a class (``class_id``), with their role in it as ``meta``."""
    body = employee_json(record)
    if "contact_details" in tree:
        body["contact_details"] = {"data": contact_details_json(record)}
    if "classes" in tree:
        classes = _existing(school.classes, school.class_staff.owners_of(record.id))
        body["classes"] = {"data": [mis_class(school, c, tree["classes"], teacher=record.id) for c in classes]}
    if "groups" in tree:
        groups = _existing(school.groups, school.group_staff.owners_of(record.id))
        body["groups"] = {"data": [group(school, g, tree["groups"]) for g in groups]}
    if class_id is not None:
        body["meta"] = teaching_meta(school, class_id, record.id)
    return body


def _existing(records: Mapping[str, Any], ids: Iterable[str]) -> list[Any]:
    """The linked records still there, in id order (a closed class may linger in a link for a moment)."""
    return [records[i] for i in sorted(ids) if i in records]
