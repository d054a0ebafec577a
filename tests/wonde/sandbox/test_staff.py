"""Staff: generated teachers and tutors, their dumps, and the staff events (joiner, leaver, takeover)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from app.wonde.sandbox.dump import export_dump, load_dump
from app.wonde.sandbox.events import EventError, close_class, new_class
from app.wonde.sandbox.generate import generate_school
from app.wonde.sandbox.records import SandboxSchool
from app.wonde.sandbox.staff_events import staff_joiner, staff_leaver, takeover
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.yearly import migration, rollover
from tests.fixtures.sandbox import Sandbox, generated

Json = dict[str, Any]
TITLES = {"Mr", "Mrs", "Ms", "Miss", "Dr"}


def mains(dump: Json) -> Counter[str]:
    """How many main teachers each class has, from the employees' ``classes`` and their ``meta``."""
    return Counter(c["id"] for e in dump["employees"] for c in e["classes"]["data"] if c["meta"]["is_main_teacher"])


def tutors(dump: Json) -> Counter[str]:
    return Counter(g["id"] for e in dump["employees"] for g in e["groups"]["data"])


def assert_staffed(school: SandboxSchool) -> None:
    """Every class has one main teacher, on the class; every form has one tutor; links name live staff."""
    assert set(school.main_teachers) == set(school.classes)
    assert all(school.main_teachers[c] in school.class_staff.members_of(c) for c in school.classes)
    forms = [g.id for g in school.groups.values() if g.type == "REGISTRATION"]
    assert all(len(school.group_staff.members_of(f)) == 1 for f in forms)
    linked = {e for links in (school.class_staff, school.group_staff) for m in links.members.values() for e in m}
    assert linked <= set(school.employees)


@pytest.mark.parametrize(("phase", "pupils", "seed"), [("secondary", 600, 1), ("primary", 420, 2)])
def test_every_class_has_a_main_teacher_and_every_form_a_tutor(phase: Any, pupils: int, seed: int) -> None:
    dump = generated(phase, pupils, seed)
    assert mains(dump) == Counter({c["id"]: 1 for c in dump["classes"]})
    forms = [g["id"] for g in dump["groups"] if g["type"] == "REGISTRATION"]
    assert tutors(dump) == Counter(dict.fromkeys(forms, 1))
    co_taught = {c["id"] for e in dump["employees"] for c in e["classes"]["data"] if not c["meta"]["is_main_teacher"]}
    assert 0 < len(co_taught) < len(dump["classes"]) / 3
    assert sum(1 for e in dump["employees"] if not e["classes"]["data"] and not e["groups"]["data"]) == 3
    staff = dump["employees"]
    assert {e["title"] for e in staff} <= TITLES and all(e["forename"] and e["surname"] for e in staff)
    emails = [e["contact_details"]["data"]["emails"]["email"] for e in staff]
    assert len(set(emails)) == len(emails) and all(
        re.fullmatch(r"[a-z0-9]\.[a-z0-9]+\d*@[a-z0-9]+\.sch\.uk", m) for m in emails
    )
    assert len({e["id"] for e in staff} | {s["id"] for s in dump["students"]}) == len(staff) + pupils
    assert len({e["upi"] for e in staff}) == len(staff) and all(e["mis_id"].isdigit() for e in staff)


def test_a_primary_class_teacher_is_their_forms_tutor() -> None:
    dump = generated("primary", 420, 2)
    forms = {g["id"]: g["name"] for g in dump["groups"] if g["type"] == "REGISTRATION"}
    for employee in dump["employees"]:
        for form in employee["groups"]["data"]:
            led = [c["name"] for c in employee["classes"]["data"] if c["meta"]["is_main_teacher"]]
            assert led == [forms[form["id"]]]


def test_secondary_teachers_teach_one_subject_about_six_classes_each() -> None:
    dump = generated("secondary", 600, 1)
    assert {s["name"] for s in dump["subjects"]} == {"Mathematics", "English", "Science"}
    for employee in dump["employees"]:
        led = [c for c in employee["classes"]["data"] if c["meta"]["is_main_teacher"]]
        assert len({c["subject"] for c in employee["classes"]["data"]}) <= 1 and len(led) <= 8


def test_staff_are_the_same_for_a_seed_and_round_trip_through_a_dump() -> None:
    dump = generate_school("secondary", 300, 7)
    assert dump == generate_school("secondary", 300, 7)
    state = SandboxState()
    school = state.school(load_dump(state, dump))
    assert len(school.employees) == len(dump["employees"]) and len(school.subjects) == 3
    assert_staffed(school)
    assert export_dump(state, school.id) == dump


def test_a_real_export_with_staff_only_on_classes_and_groups_loads() -> None:
    """Teachers from classes' and groups' ``employees`` includes, a subject from ``subject.data``."""
    teacher = {"id": "A9", "title": "Dr", "forename": "Sam", "surname": "Patel", "meta": {"is_main_teacher": True}}
    helper = {"id": "A8", "forename": "Jo", "surname": "Ng", "meta": {"is_main_teacher": False}}
    subject = {"id": "A5", "mis_id": "3", "code": "BI", "name": "Biology", "active": True}
    dump = {
        "school": {"id": "A1930499544", "name": "Wonde Testing School"},
        "classes": [
            {"id": "A300", "name": "10x/Bi1", "subject": {"data": subject}, "employees": {"data": [helper, teacher]}}
        ],
        "groups": [{"id": "A400", "name": "10X", "type": "REGISTRATION", "employees": {"data": [{"id": "A9"}]}}],
    }
    state = SandboxState()
    school = state.school(load_dump(state, dump))
    assert school.main_teachers == {"A300": "A9"} and school.class_staff.members_of("A300") == {"A8", "A9"}
    assert school.group_staff.members_of("A400") == {"A9"} and school.employees["A9"].title == "Dr"
    exported = export_dump(state, school.id)
    assert exported["subjects"] == [exported["subjects"][0] | subject]
    [sam] = [e for e in exported["employees"] if e["id"] == "A9"]
    assert sam["classes"]["data"][0]["meta"]["is_main_teacher"] is True and sam["groups"]["data"][0]["id"] == "A400"


def since(sandbox: Sandbox) -> str:
    moment = sandbox.state.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    sandbox.state.clock.advance(60)
    return moment


def ids(records: list[Json]) -> set[str]:
    return {record["id"] for record in records}


def test_staff_joiner(sandbox: Sandbox) -> None:
    mark = since(sandbox)
    class_id = min(sandbox.school.classes)
    event = staff_joiner(sandbox.state, sandbox.school_id, class_id=class_id)
    joined = sandbox.get(f"/employees/{event['employee_id']}", include="classes,contact_details")["data"]
    assert joined["contact_details"]["data"]["emails"]["email"] == event["email"]
    [taught] = joined["classes"]["data"]
    assert taught["id"] == class_id and taught["meta"]["is_main_teacher"] is False  # alongside the main teacher
    assert ids(sandbox.get("/employees", updated_after=mark)["data"]) == {joined["id"]}
    assert ids(sandbox.get("/classes", updated_after=mark)["data"]) == {class_id}
    with pytest.raises(EventError):
        staff_joiner(sandbox.state, sandbox.school_id, class_id="A1")


def test_staff_leaver(sandbox: Sandbox) -> None:
    school = sandbox.school
    class_id = min(school.classes)
    leaving = school.main_teachers[class_id]
    helper = staff_joiner(sandbox.state, sandbox.school_id, class_id=class_id)["employee_id"]
    mark = since(sandbox)
    event = staff_leaver(sandbox.state, sandbox.school_id, employee_id=leaving)
    assert leaving not in ids(sandbox.walk("/employees", per_page=200))
    [row] = sandbox.get("/deletions", type="employee")["data"]
    assert (row["id"], row["restored_at"]) == (leaving, None)
    assert school.main_teachers[class_id] == helper  # the co-teacher leads the class now
    assert class_id not in event["untaught"] and set(event["classes"]) == ids(
        sandbox.get("/classes", updated_after=mark)["data"]
    )
    assert ids(sandbox.get("/groups", updated_after=mark)["data"]) == set(event["groups"])
    led_alone = [c for c, e in school.main_teachers.items() if len(school.class_staff.members_of(c)) == 1]
    alone = staff_leaver(sandbox.state, sandbox.school_id, employee_id=school.main_teachers[led_alone[0]])
    assert led_alone[0] in alone["untaught"] and led_alone[0] not in school.main_teachers
    assert sandbox.get(f"/classes/{led_alone[0]}", include="employees")["data"]["employees"] == {"data": []}


def test_a_teacher_takes_over_a_class(sandbox: Sandbox) -> None:
    school = sandbox.school
    class_id = min(school.classes)
    mark = since(sandbox)
    event = takeover(sandbox.state, sandbox.school_id, class_id=class_id)
    old, new = event["from_employee_id"], event["to_employee_id"]
    assert old != new and school.main_teachers[class_id] == new
    teachers = sandbox.get(f"/classes/{class_id}", include="employees")["data"]["employees"]["data"]
    assert old not in ids(teachers) and [t["id"] for t in teachers if t["meta"]["is_main_teacher"]] == [new]
    new_classes = school.class_staff.owners_of(new) - {class_id}
    assert {school.classes[c].subject for c in new_classes} <= {school.classes[class_id].subject}
    assert ids(sandbox.get("/employees", updated_after=mark)["data"]) == {old, new}
    assert ids(sandbox.get("/classes", updated_after=mark)["data"]) == {class_id}
    with pytest.raises(EventError):
        takeover(sandbox.state, sandbox.school_id, class_id=class_id, employee_id=new)


def test_staff_events_through_the_admin_interface(sandbox: Sandbox) -> None:
    answer = sandbox.admin.post(sandbox.path("/events"), json={"kind": "takeover"})
    assert answer.status_code == 200 and answer.json()["kind"] == "takeover"
    leaver = sandbox.admin.post(sandbox.path("/events"), json={"kind": "staff_leaver", "employee_id": "A1"})
    assert leaver.status_code == 422
    assert sandbox.admin.post(sandbox.path("/events"), json={"kind": "staff_joiner"}).json()["classes"] == []


def test_closed_and_new_classes_keep_the_staff_consistent(sandbox: Sandbox) -> None:
    school = sandbox.school
    closed = close_class(sandbox.state, sandbox.school_id)["class_id"]
    assert closed not in school.class_staff.members and closed not in school.main_teachers
    opened = new_class(sandbox.state, sandbox.school_id, year=8)["class_id"]
    assert opened in school.main_teachers
    assert_staffed(school)


@pytest.mark.parametrize(("phase", "pupils"), [("primary", 210), ("secondary", 300)])
def test_at_rollover_staff_follow_their_classes_and_the_intake_is_staffed(phase: Any, pupils: int) -> None:
    state = SandboxState()
    school = state.school(load_dump(state, generated(phase, pupils, 3)))
    before = dict(school.main_teachers)
    top = max(c.year or 0 for c in school.classes.values())
    freed = {before[c.id] for c in school.classes.values() if c.year == top}
    tutors_before = {g: set(school.group_staff.members_of(g)) for g in school.groups}
    event = rollover(state, school.id)
    assert_staffed(school)
    moved = {old: new for old, new in event["successors"].items() if new is not None}
    assert moved
    for old, new in moved.items():  # a class moving up keeps its teacher, a form its tutor
        if old in before:
            assert school.main_teachers[new] == before[old]
        else:
            assert school.group_staff.members_of(new) == tutors_before[old]
    intake = [c for c in event["created"] if c in school.classes]
    assert intake and {school.main_teachers[c] for c in intake} <= freed  # the leavers' teachers take the intake
    if phase == "primary":  # the intake's class teacher is its form's tutor
        for form in (g for g in school.groups.values() if g.type == "REGISTRATION"):
            [taught] = [c for c in school.classes.values() if c.name == form.name]
            assert school.group_staff.members_of(form.id) == {school.main_teachers[taught.id]}


def test_a_migration_gives_staff_and_subjects_new_ids_and_keeps_who_teaches_what(sandbox: Sandbox) -> None:
    school = sandbox.school
    teaching = sorted((school.classes[c].name, school.employees[e].email) for c, e in school.main_teachers.items())
    old_staff = set(school.employees)
    event = migration(sandbox.state, sandbox.school_id)
    assert set(event["employees"]) == old_staff and not old_staff & set(school.employees)
    assert (
        sorted((school.classes[c].name, school.employees[e].email) for c, e in school.main_teachers.items()) == teaching
    )
    assert_staffed(school)
    subjects = {c["subject"]["data"]["name"] for c in sandbox.get("/classes", include="subject")["data"]}
    assert subjects == {"Mathematics", "English", "Science"}
    assert ids(sandbox.get("/deletions", type="employee", per_page=200)["data"]) == old_staff
