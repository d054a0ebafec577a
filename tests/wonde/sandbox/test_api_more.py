"""One class, one group, the employees and the counts, as real clients call them."""

from __future__ import annotations

import httpx

from app.wonde.sandbox.events import close_class
from app.wonde.sandbox.staff_events import staff_joiner
from tests.fixtures.sandbox import Sandbox
from tests.wonde.sandbox.test_api import assert_wonde_time

EMPLOYEE_KEYS = {
    "id", "upi", "mis_id", "initials", "title", "surname", "forename", "middle_names", "legal_surname",
    "legal_forename", "gender", "date_of_birth", "restored_at", "created_at", "updated_at",
}  # fmt: skip


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == "not_found"


def test_one_class_with_includes(sandbox: Sandbox) -> None:
    record = min(sandbox.school.classes.values(), key=lambda c: c.id)
    body = sandbox.get(f"/classes/{record.id}", include="students,employees")
    assert set(body) == {"data", "meta"}
    taught = body["data"]
    assert (taught["id"], taught["name"], taught["subject"]) == (record.id, record.name, record.subject)
    assert {s["id"] for s in taught["students"]["data"]} == sandbox.school.class_links.members_of(record.id)
    assert {t["id"] for t in taught["employees"]["data"]} == sandbox.school.class_staff.members_of(record.id)
    assert sandbox.get(f"/classes/{record.id}")["data"] == sandbox.get("/classes")["data"][0]


def test_a_missing_or_closed_class_is_404(sandbox: Sandbox) -> None:
    assert_not_found(sandbox.api.get(sandbox.path("/classes/A1")))
    closed = close_class(sandbox.state, sandbox.school_id)["class_id"]
    assert_not_found(sandbox.api.get(sandbox.path(f"/classes/{closed}")))
    assert closed not in {
        c["id"] for t in sandbox.get("/employees", include="classes")["data"] for c in t["classes"]["data"]
    }


def test_one_group(sandbox: Sandbox) -> None:
    form = min((g for g in sandbox.school.groups.values() if g.type == "REGISTRATION"), key=lambda g: g.id)
    data = sandbox.get(f"/groups/{form.id}", include="employees")["data"]
    assert (data["id"], data["type"]) == (form.id, "REGISTRATION") and len(data["employees"]["data"]) == 1
    assert_not_found(sandbox.api.get(sandbox.path("/groups/A1")))


def test_employees_list_and_filters(sandbox: Sandbox) -> None:
    staff = sandbox.get("/employees")["data"]
    assert len(staff) == len(sandbox.school.employees) == 18 and [e["id"] for e in staff] == sorted(
        e["id"] for e in staff
    )
    assert all(set(e) == EMPLOYEE_KEYS and e["gender"] is None for e in staff)
    assert_wonde_time(staff[0]["created_at"])
    teaching = sandbox.get("/employees", has_class="true")["data"]
    not_teaching = sandbox.get("/employees", has_class="false")["data"]
    assert len(teaching) + len(not_teaching) == 18 and len(teaching) == 9
    tutors = sandbox.get("/employees", has_group="true", has_class="true", include="groups")["data"]
    assert tutors and all(len(e["groups"]["data"]) == 1 for e in tutors)
    response = sandbox.api.get(sandbox.path("/employees"), params={"has_class": "maybe"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_parameter"
    page = sandbox.get("/employees", per_page=5, page=2)
    assert [e["id"] for e in page["data"]] == [e["id"] for e in staff[5:10]] and page["meta"]["pagination"]["more"]


def test_employees_delta(sandbox: Sandbox) -> None:
    mark = sandbox.state.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    sandbox.state.clock.advance(60)
    joined = staff_joiner(sandbox.state, sandbox.school_id)["employee_id"]
    assert [e["id"] for e in sandbox.get("/employees", updated_after=mark)["data"]] == [joined]


def test_one_employee_with_classes_and_roles(sandbox: Sandbox) -> None:
    school = sandbox.school
    main_of: dict[str, set[str]] = {}
    for class_id, employee_id in school.main_teachers.items():
        main_of.setdefault(employee_id, set()).add(class_id)
    teacher = min(main_of)
    body = sandbox.get(f"/employees/{teacher}", include="classes.subject,contact_details")
    data = body["data"]
    assert data["id"] == teacher and set(data) == EMPLOYEE_KEYS | {"classes", "contact_details"}
    emails = data["contact_details"]["data"]["emails"]
    assert emails["email"] == emails["primary"] == emails["work"] == school.employees[teacher].email
    for taught in data["classes"]["data"]:
        main = taught["id"] in main_of[teacher]
        roles = ["Main Class Teacher", "Class Teacher"] if main else ["Class Teacher"]
        assert taught["meta"] == {
            "is_main_teacher": main,
            "is_class_teacher": True,
            "role": roles[0],
            "all_roles": roles,
        }
        assert taught["subject"]["data"]["id"] == school.classes[taught["id"]].subject
    assert_not_found(sandbox.api.get(sandbox.path("/employees/A1")))


def test_counts(sandbox: Sandbox) -> None:
    body = sandbox.get("/counts", include="students,classes,groups,employees,subjects,contacts")
    assert body["data"] == {
        "students": {"data": {"count": 300}},
        "classes": {"data": {"count": 45}},
        "groups": {"data": {"count": 20}},
        "employees": {"data": {"count": 18}},
        "subjects": {"data": {"count": 3}},
    }
    assert body["meta"]["includes"] == ["students", "classes", "groups", "employees", "subjects"]
    assert sandbox.get("/counts", include="students")["data"] == {"students": {"data": {"count": 300}}}
    assert sandbox.get("/counts")["data"] == {}


def test_single_objects_are_counted_for_their_school(sandbox: Sandbox) -> None:
    class_id = next(iter(sandbox.school.classes))
    sandbox.get(f"/classes/{class_id}")
    sandbox.get("/employees")
    assert sandbox.state.stats() == {"total": 2, "by_school": {sandbox.school_id: 2}}
