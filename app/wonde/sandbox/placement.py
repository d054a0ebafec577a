"""Putting a pupil into (and out of) a year's groups and classes, as a school office would.

A pupil who joins a year goes into its YEAR group, the least full form, the form's own classes (where
classes mirror forms, or are named after the form like "7A/En"), and one class of every other subject
taught to that year, preferring classes the form already uses (the same half of the year) and then the
least full. Every class and group that gains or loses a pupil has its ``updated_at`` bumped, and so does
the pupil: Wonde does not document which side changes, so the sandbox changes both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.wonde.sandbox.records import Group, MisClass, SandboxSchool, Student
from app.year_groups import normalise_year


@dataclass
class YearPlaces:
    """The groups and classes of one year."""

    year_group: Group | None = None
    forms: list[Group] = field(default_factory=list)
    classes: list[MisClass] = field(default_factory=list)


@dataclass
class Placement:
    """The ids of the groups and classes a pupil joined or left."""

    groups: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


def student_year(school: SandboxSchool, student: Student) -> int | None:
    """The pupil's year: ``current_nc_year``, else the year of their YEAR group."""
    year = normalise_year(student.nc_year)
    if year is not None:
        return year
    groups = (school.groups[i] for i in school.group_links.owners_of(student.id))
    return next((group.year for group in groups if group.type == "YEAR"), None)


def year_places(school: SandboxSchool, year: int) -> YearPlaces:
    groups = sorted((g for g in school.groups.values() if g.year == year), key=lambda g: g.id)
    return YearPlaces(
        year_group=next((group for group in groups if group.type == "YEAR"), None),
        forms=[group for group in groups if group.type == "REGISTRATION"],
        classes=sorted((c for c in school.classes.values() if c.year == year), key=lambda c: c.id),
    )


def place(school: SandboxSchool, student_id: str, places: YearPlaces, now: datetime) -> Placement:
    """Add the pupil to a year's YEAR group, one form and its classes; returns what was joined."""
    form = min(places.forms, key=lambda g: (len(school.group_links.members_of(g.id)), g.name, g.id), default=None)
    groups = [group for group in (places.year_group, form) if group is not None]
    own = [c for c in places.classes if form and (c.name == form.name or c.name.startswith(f"{form.name}/"))]
    form_members = school.group_links.members_of(form.id) if form else set()
    chosen = list(own)
    covered = {record.subject for record in own}
    for subject in sorted({record.subject or "" for record in places.classes} - {s or "" for s in covered}):
        options = [record for record in places.classes if (record.subject or "") == subject]
        chosen.append(
            min(
                options,
                key=lambda c: (
                    not school.class_links.members_of(c.id) & form_members,
                    len(school.class_links.members_of(c.id)),
                    c.id,
                ),
            )
        )
    placement = Placement(groups=[group.id for group in groups], classes=[record.id for record in chosen])
    _join(school, student_id, placement, now)
    return placement


def place_like(school: SandboxSchool, student_id: str, sibling_id: str, now: datetime) -> Placement:
    """Put a pupil in exactly the groups and classes of another (a twin joining with their sibling)."""
    placement = Placement(
        groups=sorted(school.group_links.owners_of(sibling_id)),
        classes=sorted(school.class_links.owners_of(sibling_id)),
    )
    _join(school, student_id, placement, now)
    return placement


def unplace(school: SandboxSchool, student_id: str, now: datetime) -> Placement:
    """Take a pupil out of every group and class; returns what was left."""
    placement = Placement(
        groups=sorted(school.group_links.drop_student(student_id)),
        classes=sorted(school.class_links.drop_student(student_id)),
    )
    _touch(school, placement, now)
    if student_id in school.students:
        school.students[student_id].updated_at = now
    return placement


def _join(school: SandboxSchool, student_id: str, placement: Placement, now: datetime) -> None:
    for group_id in placement.groups:
        school.group_links.add(group_id, student_id)
    for class_id in placement.classes:
        school.class_links.add(class_id, student_id)
    _touch(school, placement, now)
    school.students[student_id].updated_at = now


def _touch(school: SandboxSchool, placement: Placement, now: datetime) -> None:
    for group_id in placement.groups:
        school.groups[group_id].updated_at = now
    for class_id in placement.classes:
        school.classes[class_id].updated_at = now
