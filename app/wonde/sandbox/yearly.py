"""Whole-school events: the new academic year, and a change of MIS.

Both replace ids wholesale, which is what makes them hard for a sync: at rollover every class and
group is recreated with a new id (the old ones get deletion rows) while pupils keep theirs; after a
migration every pupil, class, group, subject and member of staff has a new id (pupils and staff a new
``mis_id`` and ``upi`` too), and only UPNs and names still match. Teachers and tutors follow their
classes and forms across both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from app.wonde.sandbox.events import EventError
from app.wonde.sandbox.generate import TWIN_PAIRS_PER_PUPIL
from app.wonde.sandbox.names import TREES
from app.wonde.sandbox.people import draw_family, full_names, new_student, upi
from app.wonde.sandbox.placement import YearPlaces, place, place_like, student_year, year_places
from app.wonde.sandbox.records import Group, Links, MisClass, SandboxSchool
from app.wonde.sandbox.staff import carry_staff, leaving_staff, renumber_staff, staff_new_places
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.years import nc_code, shift_label, year_code, year_name

Json = dict[str, Any]
R = TypeVar("R", Group, MisClass)


def rollover(state: SandboxState, school_id: str, intake: int | None = None) -> Json:
    """A new academic year. The top year (6 in a primary, 11 or 13 in a secondary) leaves; everyone else
    moves up a year; every class and group is recreated with a new id, named for its new year ("7A" ->
    "8A"), keeping its pupils; and an intake (``intake`` pupils, by default as many as the old bottom
    year) joins Reception or Year 7 in copies of the old bottom year's forms and classes."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        years = {student.id: student_year(school, student) for student in school.students.values()}
        known = {year for year in years.values() if year is not None}
        if not known:
            raise EventError("no pupil has a known year, so no one can move up")
        bottom, top = _span(school, known)
        templates = year_places(school, bottom)
        intake_size = intake if intake is not None else sum(1 for year in years.values() if year == bottom)
        leavers = sorted(i for i, year in years.items() if year is not None and year >= top)
        for student_id in leavers:
            student = school.left[student_id] = school.students.pop(student_id)
            student.updated_at = now
            school.record_deletion("student", student_id, student.mis_id, now)
            school.class_links.drop_student(student_id)
            school.group_links.drop_student(student_id)
        freed = leaving_staff(school, top)
        successors = _recreate(school, top, now)
        carry_staff(school, successors)
        for student in school.students.values():
            year = years[student.id]
            if year is not None and student.nc_year is not None:
                student.nc_year = nc_code(year + 1)
            student.updated_at = now
        joiners, created = _intake(school, templates, bottom, intake_size, now)
        new_classes = [i for i in created if i in school.classes]
        staff_new_places(school, new_classes, [i for i in created if i in school.groups], freed)
        return {
            "kind": "rollover",
            "leavers": leavers,
            "joiners": joiners,
            "successors": successors,
            "created": created,
        }


def migration(state: SandboxState, school_id: str, to_mis: str | None = None) -> Json:
    """The school changes MIS (SIMS -> Arbor by default): every pupil, class, group and member of staff gets
    a new Wonde id and ``mis_id`` (people a new ``upi``), and the old ids get deletion rows. Names, UPNs,
    memberships and who teaches what stay."""
    with state.lock:
        school, now = state.school(school_id), state.clock.now()
        old_mis = str(school.info.get("mis") or "SIMS")
        new_mis = to_mis or ("Arbor" if old_mis != "Arbor" else "SIMS")
        students = {}
        for old in sorted(school.students):
            record = school.students.pop(old)
            school.record_deletion("student", old, record.mis_id, now)
            mis_id = school.new_mis_id()
            fresh = replace(record, id=school.new_id(), mis_id=mis_id, upi=upi(school.id, mis_id), restored_at=None)
            fresh.created_at = fresh.updated_at = now
            school.students[fresh.id] = fresh
            students[old] = fresh.id
        subjects: dict[str | None, str | None] = {None: None}
        classes = _renumber(school, school.classes, "class", now)
        for taught in school.classes.values():
            if taught.subject not in subjects:
                subjects[taught.subject] = school.new_id()
            taught.subject = subjects[taught.subject]
        school.subjects = {
            new: replace(school.subjects[old], id=new, created_at=now, updated_at=now)
            for old, new in subjects.items()
            if old in school.subjects and new is not None
        }
        groups = _renumber(school, school.groups, "group", now)
        school.class_links = _relink(school.class_links, classes, students)
        school.group_links = _relink(school.group_links, groups, students)
        employees = renumber_staff(school, classes, groups, now)
        school.left.clear()
        school.mis_history.append(old_mis)
        school.info["mis"] = new_mis
        last = school.migrated_at
        school.migrated_at = now if last is None or now - last >= timedelta(seconds=1) else last + timedelta(seconds=1)
        return {
            "kind": "migration",
            "from_mis": old_mis,
            "to_mis": new_mis,
            "students": students,
            "classes": classes,
            "groups": groups,
            "employees": employees,
        }


def _span(school: SandboxSchool, known: set[int]) -> tuple[int, int]:
    """The intake year and the leaving year."""
    phase = str(school.info.get("phase_of_education") or "").upper()
    if phase == "PRIMARY":
        return 0, 6
    if phase == "SECONDARY":
        return 7, 13 if max(known) >= 12 else 11
    return min(known), max(known)


def _recreate(school: SandboxSchool, top: int, now: datetime) -> dict[str, str | None]:
    """Delete every class and group; those of continuing years come back a year up with new ids."""
    successors = _recreate_all(school, school.classes, school.class_links, "class", top, now)
    return successors | _recreate_all(school, school.groups, school.group_links, "group", top, now)


def _recreate_all(
    school: SandboxSchool, records: dict[str, R], links: Links, kind: str, top: int, now: datetime
) -> dict[str, str | None]:
    successors: dict[str, str | None] = {}
    for old_id in sorted(records):
        record = records.pop(old_id)
        school.record_deletion(kind, old_id, record.mis_id, now)
        members = links.drop_owner(old_id)
        if record.year is None or record.year >= top:
            successors[old_id] = None
            continue
        old, new = record.year, record.year + 1
        fresh = _copy(school, record, now, new)
        fresh.name = shift_label(record.name, old, new) or record.name
        fresh.description = shift_label(record.description, old, new)
        fresh.code = shift_label(record.code, old, new)
        if isinstance(fresh, Group) and fresh.type == "YEAR":
            fresh.name = fresh.description = year_name(new)
            fresh.code = year_code(new, prefixed=(record.code or "").startswith("Year"))
        records[fresh.id] = fresh
        for student_id in members:
            links.add(fresh.id, student_id)
        successors[old_id] = fresh.id
    return successors


def _intake(
    school: SandboxSchool, templates: YearPlaces, year: int, size: int, now: datetime
) -> tuple[list[str], list[str]]:
    """New copies of the old bottom year's groups and classes, and new pupils placed in them."""
    taken = {record.name for record in school.classes.values()} | {group.name for group in school.groups.values()}
    names: dict[str, str] = {}
    places = YearPlaces()
    if templates.year_group is not None:
        places.year_group = _copy(school, templates.year_group, now, year)
        school.groups[places.year_group.id] = places.year_group
    for template in templates.forms:
        form = _copy(school, template, now, year)
        form.name = names.setdefault(template.name, _fresh_name(template.name, taken, school))
        form.code = form.name if template.code == template.name else template.code
        school.groups[form.id] = form
        places.forms.append(form)
    for template_class in templates.classes:
        record = _copy(school, template_class, now, year)
        record.name = names.setdefault(template_class.name, _fresh_name(template_class.name, taken, school))
        school.classes[record.id] = record
        places.classes.append(record)
    created = [g.id for g in places.forms] + [c.id for c in places.classes]
    created += [places.year_group.id] if places.year_group else []
    joiners: list[str] = []
    twin_pairs = round(size * TWIN_PAIRS_PER_PUPIL)
    taken_names = full_names(school)
    while len(joiners) < size:
        twins = twin_pairs > 0 and size - len(joiners) >= 2
        family = draw_family(school.rng, twins, taken_names)
        twin_pairs -= twins
        first: str | None = None
        for pupil in family:
            born = school.students[first].date_of_birth if first else None  # twins share a birthday
            student = new_student(school, pupil, year, now, now.date(), born=born)
            school.students[student.id] = student
            if first is None:
                place(school, student.id, places, now)
                first = student.id
            else:
                place_like(school, student.id, first, now)
            joiners.append(student.id)
    return joiners, sorted(created)


def _copy(school: SandboxSchool, record: R, now: datetime, year: int) -> R:
    return replace(record, id=school.new_id(), mis_id=school.new_mis_id(), created_at=now, updated_at=now, year=year)


def _fresh_name(name: str, taken: set[str], school: SandboxSchool) -> str:
    """``name`` if no class or group uses it; else a free tree name for a tree-named form, or "Oak 2"."""
    if name not in taken:
        fresh = name
    elif name in TREES and (free := [tree for tree in TREES if tree not in taken]):
        fresh = school.rng.choice(free)
    else:
        suffix = 2
        while f"{name} {suffix}" in taken:
            suffix += 1
        fresh = f"{name} {suffix}"
    taken.add(fresh)
    return fresh


def _renumber(school: SandboxSchool, records: dict[str, R], kind: str, now: datetime) -> dict[str, str]:
    """Give every record a new id and mis_id (deletion rows for the old); returns old id -> new id."""
    renamed = {}
    for old in sorted(records):
        record = records.pop(old)
        school.record_deletion(kind, old, record.mis_id, now)
        fresh = replace(record, id=school.new_id(), mis_id=school.new_mis_id(), created_at=now, updated_at=now)
        records[fresh.id] = fresh
        renamed[old] = fresh.id
    return renamed


def _relink(links: Links, owners: dict[str, str], students: dict[str, str]) -> Links:
    fresh = Links()
    for owner_id, members in links.members.items():
        for student_id in members & students.keys():
            if owner_id in owners:
                fresh.add(owners[owner_id], students[student_id])
    return fresh
