"""Includes, nested ones too, on students, classes and groups; our own client's read answered as before."""

from __future__ import annotations

from typing import Any

import pytest

from app.wonde.client import STUDENT_INCLUDES as CLIENT_INCLUDES
from app.wonde.sandbox.includes import (
    CLASS_INCLUDES,
    EMPLOYEE_INCLUDES,
    GROUP_INCLUDES,
    STUDENT_INCLUDES,
    include_tree,
)
from app.wonde.sandbox.shapes import STUDENT_INCLUDES as DUMP_INCLUDES
from app.wonde.sandbox.shapes import class_json, group_json, student_json
from tests.fixtures.sandbox import Sandbox
from tests.wonde.sandbox.test_api import STUDENT_KEYS

SUBJECT_KEYS = {"id", "mis_id", "code", "name", "active", "created_at", "updated_at"}
MAIN = {"is_main_teacher": True, "is_class_teacher": True, "role": "Main Class Teacher"}


@pytest.mark.parametrize(
    ("names", "tree"),
    [
        ([], {}),
        (["classes", "year"], {"classes": {}, "year": {}}),
        (["classes.employees"], {"classes": {"employees": {}}}),
        (["classes.employees", "classes", "classes.subject"], {"classes": {"employees": {}, "subject": {}}}),
        (["classes.lessons", "behaviours"], {"classes": {}}),  # unknown below a known parent: the parent
        (["subject"], {}),  # a class include, not a student one
    ],
)
def test_include_tree(names: list[str], tree: dict[str, Any]) -> None:
    assert include_tree(names, STUDENT_INCLUDES) == tree


def test_our_clients_student_read_is_answered_exactly_as_before(sandbox: Sandbox) -> None:
    assert set(CLIENT_INCLUDES.split(",")) == set(DUMP_INCLUDES)
    served = sandbox.walk("/students", include=CLIENT_INCLUDES, per_page=200)
    school = sandbox.school
    expected = [student_json(school, school.students[s["id"]], DUMP_INCLUDES) for s in served]
    assert served == expected and len(served) == 300
    assert [list(s) for s in served] == [list(s) for s in expected]  # the same keys in the same order
    assert sandbox.get("/classes")["data"] == [
        class_json(c) for c in sorted(school.classes.values(), key=lambda c: c.id)
    ]
    forms = sorted((g for g in school.groups.values() if g.type == "REGISTRATION"), key=lambda g: g.id)
    assert sandbox.get("/groups", type="REGISTRATION")["data"] == [group_json(g) for g in forms]


def test_a_nested_include_alone_brings_its_parent(sandbox: Sandbox) -> None:
    student = sandbox.get("/students", include="classes.employees", per_page=1)["data"][0]
    assert set(student) == STUDENT_KEYS | {"classes"}
    for taught in student["classes"]["data"]:
        teachers = taught["employees"]["data"]
        assert [t["meta"]["is_main_teacher"] for t in teachers].count(True) == 1
        assert all(t["meta"]["is_class_teacher"] and t["title"] and t["surname"] for t in teachers)
        assert isinstance(taught["subject"], str)  # a plain id: subject was not asked for


def test_student_includes_with_subjects_tutors_and_registration(sandbox: Sandbox) -> None:
    include = "classes.subject,groups.employees,registration,year.employees,education_details"
    student = sandbox.get("/students", include=include, per_page=1)["data"][0]
    assert set(student) == STUDENT_KEYS | {"classes", "groups", "registration", "year", "education_details"}
    subjects = {c["subject"]["data"]["name"] for c in student["classes"]["data"]}
    assert subjects == {"Mathematics", "English", "Science"}
    assert all(set(c["subject"]["data"]) == SUBJECT_KEYS for c in student["classes"]["data"])
    [form] = [g for g in student["groups"]["data"] if g["type"] == "REGISTRATION"]
    assert len(form["employees"]["data"]) == 1  # the form tutor
    assert student["registration"]["data"]["id"] == form["id"] and "employees" not in student["registration"]["data"]
    assert student["year"]["data"]["type"] == "YEAR" and student["year"]["data"]["employees"] == {"data": []}
    assert student["education_details"]["data"]["upn"]


def test_repeated_include_parameters_are_one_list(sandbox: Sandbox) -> None:
    response = sandbox.api.get(
        sandbox.path("/students"), params=[("include", "groups"), ("include", "groups.employees")]
    )
    student = response.json()["data"][0]
    assert set(student) == STUDENT_KEYS | {"groups"}
    assert all("employees" in group for group in student["groups"]["data"])


def test_unknown_includes_are_ignored(sandbox: Sandbox) -> None:
    student = sandbox.get("/students", include="behaviours,photo,classes.lessons", per_page=1)["data"][0]
    assert set(student) == STUDENT_KEYS | {"classes"}
    assert "lessons" not in student["classes"]["data"][0]


def test_class_includes(sandbox: Sandbox) -> None:
    classes = sandbox.get("/classes", include="students.year,employees.contact_details,subject")["data"]
    assert len(classes) == 45
    for taught in classes:
        assert set(taught["subject"]["data"]) == SUBJECT_KEYS
        assert taught["students"]["data"] and all(
            set(s) == STUDENT_KEYS | {"year"} and s["year"]["data"]["type"] == "YEAR"
            for s in taught["students"]["data"]
        )
        teachers = taught["employees"]["data"]
        [main] = [t for t in teachers if t["meta"]["is_main_teacher"]]
        assert main["meta"].items() >= MAIN.items() and main["meta"]["all_roles"] == [
            "Main Class Teacher",
            "Class Teacher",
        ]
        assert all(t["contact_details"]["data"]["emails"]["email"].endswith(".sch.uk") for t in teachers)
    assert any(len(taught["employees"]["data"]) > 1 for taught in classes)  # some classes have a co-teacher


def test_group_includes(sandbox: Sandbox) -> None:
    forms = sandbox.get("/groups", type="REGISTRATION", include="employees,students.education_details")["data"]
    assert len(forms) == 15
    assert all(len(form["employees"]["data"]) == 1 and "meta" not in form["employees"]["data"][0] for form in forms)
    assert len({form["employees"]["data"][0]["id"] for form in forms}) == 15  # one form each
    assert all("education_details" in s for form in forms for s in form["students"]["data"])
    years = sandbox.get("/groups", type="YEAR", include="employees")["data"]
    assert all(year["employees"] == {"data": []} for year in years)


def test_meta_includes_lists_every_supported_include(sandbox: Sandbox) -> None:
    assert sandbox.get("/students", per_page=1)["meta"]["includes"] == list(STUDENT_INCLUDES)
    assert sandbox.get("/classes", include="students")["meta"]["includes"] == list(CLASS_INCLUDES)
    assert sandbox.get("/groups")["meta"]["includes"] == list(GROUP_INCLUDES)
    assert sandbox.get("/employees")["meta"]["includes"] == list(EMPLOYEE_INCLUDES)
    class_id = next(iter(sandbox.school.classes))
    assert sandbox.get(f"/classes/{class_id}")["meta"] == {"includes": list(CLASS_INCLUDES)}
    group_id = next(iter(sandbox.school.groups))
    assert sandbox.get(f"/groups/{group_id}")["meta"] == {"includes": list(GROUP_INCLUDES)}
    employee_id = next(iter(sandbox.school.employees))
    assert sandbox.get(f"/employees/{employee_id}")["meta"] == {"includes": list(EMPLOYEE_INCLUDES)}
