"""MIS events change the school as Wonde would show it: ids, memberships, timestamps and deletion rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from app.wonde.sandbox.dump import load_dump
from app.wonde.sandbox.events import (
    EventError,
    change_year,
    close_class,
    joiner,
    leaver,
    move,
    new_class,
    rename,
    return_student,
)
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.yearly import migration, rollover
from tests.fixtures.sandbox import Sandbox, generated


def since(sandbox: Sandbox) -> str:
    """A moment before the next event: the clock moves on so the event is strictly later."""
    moment = sandbox.state.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    sandbox.state.clock.advance(60)
    return moment


def ids(records: list[dict[str, Any]]) -> set[str]:
    return {record["id"] for record in records}


def student(sandbox: Sandbox, student_id: str) -> dict[str, Any]:
    everyone = sandbox.walk("/students", include="classes,year,groups,education_details", per_page=200)
    [found] = [s for s in everyone if s["id"] == student_id]
    return found


def test_joiner_gets_a_form_and_classes_of_their_year(sandbox: Sandbox) -> None:
    mark = since(sandbox)
    event = joiner(sandbox.state, sandbox.school_id, year=8)
    new = student(sandbox, event["student_id"])
    assert new["education_details"]["data"]["current_nc_year"] == "8"
    assert new["year"]["data"]["name"] == "Year 8"
    [form] = [g for g in new["groups"]["data"] if g["type"] == "REGISTRATION"]
    assert form["name"].startswith("8")
    names = sorted(c["name"] for c in new["classes"]["data"])
    assert [name.split("/")[1][:2] for name in names] == ["En", "Ma", "Sc"] and names[0] == f"{form['name']}/En"
    assert all(name.startswith("8") for name in names)
    assert ids(sandbox.get("/students", updated_after=mark)["data"]) == {new["id"]}
    assert ids(sandbox.get("/classes", updated_after=mark)["data"]) == set(event["classes"])
    assert ids(sandbox.get("/groups", updated_after=mark)["data"]) == set(event["groups"])


def test_leaver_goes_with_memberships_and_a_deletion_row(sandbox: Sandbox) -> None:
    school = sandbox.school
    mark = since(sandbox)
    event = leaver(sandbox.state, sandbox.school_id)
    gone = event["student_id"]
    assert gone not in school.students and len(event["classes"]) >= 3 and len(event["groups"]) == 2
    for record in sandbox.get("/classes", include="students")["data"]:
        assert gone not in ids(record["students"]["data"])
    assert ids(sandbox.get("/classes", updated_after=mark)["data"]) == set(event["classes"])
    [row] = sandbox.get("/deletions", updated_after=mark)["data"]
    assert (row["type"], row["id"], row["restored_at"]) == ("student", gone, None)


def test_new_class_takes_pupils_of_its_year_and_shows_in_a_delta(sandbox: Sandbox) -> None:
    mark = since(sandbox)
    event = new_class(sandbox.state, sandbox.school_id, year=9, size=5)
    [record] = sandbox.get("/classes", updated_after=mark, include="students")["data"]
    assert record["id"] == event["class_id"] and record["name"] == "9I/In1"
    assert ids(record["students"]["data"]) == set(event["students"]) and len(event["students"]) == 5
    assert all(student(sandbox, i)["year"]["data"]["name"] == "Year 9" for i in event["students"])
    assert ids(sandbox.get("/students", updated_after=mark)["data"]) == set(event["students"])
    assert new_class(sandbox.state, sandbox.school_id, year=9)["class_id"] != event["class_id"]


def test_close_class_removes_it_with_a_deletion_row(sandbox: Sandbox) -> None:
    victim = sorted(sandbox.school.classes)[0]
    members = set(sandbox.school.class_links.members_of(victim))
    mark = since(sandbox)
    event = close_class(sandbox.state, sandbox.school_id, class_id=victim)
    assert set(event["students"]) == members and members
    assert victim not in ids(sandbox.walk("/classes", per_page=200))
    [row] = sandbox.get("/deletions", updated_after=mark)["data"]
    assert (row["type"], row["id"]) == ("class", victim)
    assert ids(sandbox.get("/students", updated_after=mark)["data"]) == members
    with pytest.raises(EventError):
        close_class(sandbox.state, sandbox.school_id, class_id=victim)


def test_return_restores_the_same_id(sandbox: Sandbox) -> None:
    gone = leaver(sandbox.state, sandbox.school_id)["student_id"]
    year = sandbox.school.left[gone].nc_year
    mark = since(sandbox)
    event = return_student(sandbox.state, sandbox.school_id)
    assert event["student_id"] == gone
    back = student(sandbox, gone)
    assert back["restored_at"] is not None and back["education_details"]["data"]["current_nc_year"] == year
    assert {g["type"] for g in back["groups"]["data"]} == {"YEAR", "REGISTRATION"}
    [row] = sandbox.get("/deletions", updated_after=mark)["data"]
    assert row["id"] == gone and row["restored_at"] is not None
    with pytest.raises(EventError):
        return_student(sandbox.state, sandbox.school_id)


def test_rename_changes_only_the_names_given(sandbox: Sandbox) -> None:
    mark = since(sandbox)
    event = rename(sandbox.state, sandbox.school_id, forename="Zoë", legal_forename="Zoe")
    renamed = student(sandbox, event["student_id"])
    assert (renamed["forename"], renamed["legal_forename"]) == ("Zoë", "Zoe")
    assert renamed["initials"].startswith("Z")
    assert set(event["changes"]) <= {"forename", "legal_forename"}
    assert ids(sandbox.get("/students", updated_after=mark)["data"]) == {renamed["id"]}
    assert sandbox.get("/classes", updated_after=mark)["data"] == []


def test_rename_without_names_changes_the_surname(sandbox: Sandbox) -> None:
    event = rename(sandbox.state, sandbox.school_id)
    assert set(event["changes"]) == {"surname", "legal_surname"}


def test_move_between_sets_bumps_the_pupil_and_both_classes(sandbox: Sandbox) -> None:
    mark = since(sandbox)
    event = move(sandbox.state, sandbox.school_id)
    school = sandbox.school
    old, new = school.classes[event["from_class_id"]], school.classes[event["to_class_id"]]
    assert (old.subject, old.year) == (new.subject, new.year)
    assert event["student_id"] in school.class_links.members_of(new.id)
    assert event["student_id"] not in school.class_links.members_of(old.id)
    assert ids(sandbox.get("/classes", updated_after=mark)["data"]) == {old.id, new.id}
    assert ids(sandbox.get("/students", updated_after=mark)["data"]) == {event["student_id"]}


def test_move_refuses_a_class_the_pupil_is_not_in(sandbox: Sandbox) -> None:
    pupil = sorted(sandbox.school.students)[0]
    with pytest.raises(EventError, match="not in class"):
        move(sandbox.state, sandbox.school_id, student_id=pupil, from_class_id="A0", to_class_id="A1")


def test_change_year_moves_year_group_form_and_classes(sandbox: Sandbox) -> None:
    pupil = next(s for s in sandbox.school.students.values() if s.nc_year == "9")
    event = change_year(sandbox.state, sandbox.school_id, student_id=pupil.id, year="Year 8")
    assert (event["from_year"], event["to_year"]) == ("9", "8")
    moved = student(sandbox, pupil.id)
    assert moved["year"]["data"]["name"] == "Year 8"
    assert all(c["name"].startswith("8") for c in moved["classes"]["data"])
    assert all(g["name"].startswith("8") or g["type"] == "YEAR" for g in moved["groups"]["data"])
    with pytest.raises(EventError):
        change_year(sandbox.state, sandbox.school_id, student_id=pupil.id, year="Year Twelve")


def test_rollover_recreates_classes_moves_pupils_up_and_takes_an_intake(sandbox: Sandbox) -> None:
    school = sandbox.school
    before_students = {s.id: s.nc_year for s in school.students.values()}
    old_classes, old_groups = set(school.classes), set(school.groups)
    year_11 = {i for i, year in before_students.items() if year == "11"}
    a_set = next(c for c in school.classes.values() if c.name == "8x/Ma1")
    a_set_members = set(school.class_links.members_of(a_set.id))
    leaving_class = next(c for c in school.classes.values() if c.name == "11A/En")
    mark = since(sandbox)
    event = rollover(sandbox.state, sandbox.school_id)
    assert set(event["leavers"]) == year_11
    assert len(event["joiners"]) == 60
    assert not (set(school.classes) | set(school.groups)) & (old_classes | old_groups)
    for pupil_id, year in before_students.items():
        if pupil_id not in year_11:
            assert school.students[pupil_id].nc_year == str(int(str(year)) + 1)
    assert Counter(s.nc_year for s in school.students.values()) == {str(y): 60 for y in range(7, 12)}
    deletions = Counter(row["type"] for row in sandbox.walk("/deletions", updated_after=mark, per_page=200))
    assert deletions == {"class": len(old_classes), "group": len(old_groups), "student": 60}
    form_names = {g.name for g in school.groups.values() if g.type == "REGISTRATION"}
    assert form_names == {f"{year}{letter}" for year in range(7, 12) for letter in "ABC"}
    year_groups = sorted(g.name for g in school.groups.values() if g.type == "YEAR")
    assert year_groups == ["Year 10", "Year 11", "Year 7", "Year 8", "Year 9"]
    successor = school.classes[event["successors"][a_set.id]]
    assert successor.name == "9x/Ma1" and school.class_links.members_of(successor.id) == a_set_members
    assert event["successors"][leaving_class.id] is None
    intake = set(event["joiners"])
    assert all(school.students[i].nc_year == "7" for i in intake)
    assert len(set(event["created"])) == 1 + 3 + 9  # Year 7, three forms, nine classes


def test_primary_rollover_keeps_tree_names_unique() -> None:
    state = SandboxState()
    dump = generated("primary", 400, 5)
    school_id = load_dump(state, dump)
    rollover(state, school_id)
    school = state.school(school_id)
    names = [g.name for g in school.groups.values() if g.type == "REGISTRATION"]
    assert len(names) == len(set(names))
    assert {c.name for c in school.classes.values()} == set(names)  # classes still mirror forms
    assert Counter(s.nc_year for s in school.students.values())["R"] > 0
    assert "6" in {s.nc_year for s in school.students.values()}


def test_migration_gives_new_ids_and_keeps_upns_and_names(sandbox: Sandbox) -> None:
    school = sandbox.school
    before = {s.upn: (s.id, s.upi, s.mis_id, s.forename, s.surname) for s in school.students.values()}
    old_ids = set(school.classes) | set(school.groups) | set(school.students) | set(school.employees)
    memberships = sorted(len(school.class_links.members_of(c)) for c in school.classes)
    mark = since(sandbox)
    event = migration(sandbox.state, sandbox.school_id)
    assert (event["from_mis"], event["to_mis"]) == ("SIMS", "Arbor")
    assert sandbox.get("")["data"]["mis"] == "Arbor"
    after = {s.upn: s for s in school.students.values()}
    assert set(after) == set(before)
    for upn, (old_id, old_upi, old_mis_id, forename, surname) in before.items():
        new = after[upn]
        assert new.id == event["students"][old_id] and new.id != old_id
        assert new.upi != old_upi and new.mis_id != old_mis_id
        assert (new.forename, new.surname) == (forename, surname)
    assert not (set(school.classes) | set(school.groups) | set(school.students) | set(school.employees)) & old_ids
    assert sorted(len(school.class_links.members_of(c)) for c in school.classes) == memberships
    assert ids(sandbox.walk("/deletions", updated_after=mark, per_page=200)) == old_ids


def test_omitted_ids_are_picked_the_same_way_every_run() -> None:
    def run() -> list[dict[str, Any]]:
        state = SandboxState()
        school_id = load_dump(state, generated("secondary", 200, 3))
        return [
            joiner(state, school_id),
            leaver(state, school_id),
            move(state, school_id),
            rename(state, school_id),
            return_student(state, school_id),
            rollover(state, school_id),
        ]

    assert run() == run()


def test_events_over_http_and_their_errors(sandbox: Sandbox) -> None:
    post = sandbox.admin.post
    path = f"/schools/{sandbox.school_id}/events"
    pupil = sorted(sandbox.school.students)[0]
    for body in (
        {"kind": "joiner", "year": "7"},
        {"kind": "rename", "student_id": pupil, "surname": "Smith-Jones"},
        {"kind": "move", "student_id": pupil},
        {"kind": "change_year", "student_id": pupil, "year": 10},
        {"kind": "leaver", "student_id": pupil},
        {"kind": "return", "student_id": pupil},
        {"kind": "rollover", "intake": 10},
        {"kind": "migration", "to_mis": "Bromcom"},
    ):
        response = post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == body["kind"]
    assert post(path, json={"kind": "leaver", "year": 3}).status_code == 422
    assert post(path, json={"kind": "leaver", "student_id": "A1"}).status_code == 422
    assert post(path, json={"kind": "graduation"}).status_code == 422
    assert post("/schools/A1/events", json={"kind": "joiner"}).status_code == 404
