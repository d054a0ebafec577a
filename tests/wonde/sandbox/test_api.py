"""The sandbox answers like Wonde: shapes, includes, pagination, deltas, deletions and auth, over real HTTP."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from app.wonde.sandbox.events import leaver, rename, return_student
from tests.fixtures.sandbox import Sandbox

WONDE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
STUDENT_KEYS = {
    "id", "upi", "mis_id", "initials", "title", "surname", "forename", "middle_names", "legal_surname",
    "legal_forename", "gender", "date_of_birth", "restored_at", "created_at", "updated_at",
}  # fmt: skip


def assert_wonde_time(value: Any) -> None:
    assert set(value) == {"date", "timezone_type", "timezone"}
    assert WONDE_TIME.match(value["date"]), value
    assert (value["timezone_type"], value["timezone"]) == (3, "UTC")


def test_school_and_meta(sandbox: Sandbox) -> None:
    school = sandbox.get("")["data"]
    assert school["id"] == sandbox.school_id
    assert school["phase_of_education"] == "SECONDARY"
    assert school["timezone"] == "Europe/London" and school["mis"] == "SIMS"
    assert school["region"]["domain"] == f"127.0.0.1:{sandbox.server.port}"
    assert school["region"]["school_url"] == f"{sandbox.server.base_url}/schools/{sandbox.school_id}"
    assert set(school["region"]["identifiers"]) == {"la_code", "establishment_number", "urn"}
    assert set(school["address"]) >= {"address_line_1", "address_town", "address_postcode", "address_country"}
    meta = sandbox.api.get(f"/meta/schools/{sandbox.school_id}").json()
    assert meta == {"data": {"online": True, "approved": True, "audited": True, "custom_attendance_codes": False}}


def test_student_shape_with_every_include(sandbox: Sandbox) -> None:
    body = sandbox.get("/students", include="classes,year,education_details,groups", per_page=5)
    assert {"classes", "education_details", "groups", "year"} <= set(body["meta"]["includes"])
    student = body["data"][0]
    assert set(student) == STUDENT_KEYS | {"classes", "year", "education_details", "groups"}
    assert re.fullmatch(r"A\d{9,10}", student["id"]) and re.fullmatch(r"[0-9a-f]{32}", student["upi"])
    assert student["gender"] in ("MALE", "FEMALE")  # a generated school grants them
    born = student["date_of_birth"]
    assert born["timezone"] == "Europe/London" and re.fullmatch(r"\d{4}-\d\d-\d\d 00:00:00\.000000", born["date"])
    for key in ("created_at", "updated_at"):
        assert_wonde_time(student[key])
    details = student["education_details"]["data"]
    assert re.fullmatch(r"[A-Z]\d{12}", details["upn"])
    assert details["current_nc_year"] in {"7", "8", "9", "10", "11"}
    assert details["admission_date"]["timezone"] == "Europe/London" and details["leaving_date"] is None
    year = student["year"]["data"]
    assert year["type"] == "YEAR" and year["name"] == f"Year {details['current_nc_year']}"
    assert {group["type"] for group in student["groups"]["data"]} == {"YEAR", "REGISTRATION"}
    assert len(student["classes"]["data"]) >= 3
    assert isinstance(student["classes"]["data"][0]["subject"], str)


def test_without_includes_students_are_bare(sandbox: Sandbox) -> None:
    student = sandbox.get("/students", per_page=1)["data"][0]
    assert set(student) == STUDENT_KEYS


def test_classes_and_groups_with_students(sandbox: Sandbox) -> None:
    classes = sandbox.get("/classes", include="students")
    assert "pagination" not in classes["meta"] and "students" in classes["meta"]["includes"]
    first = classes["data"][0]
    assert set(first) - {"students"} == {
        "id", "mis_id", "name", "code", "description", "subject", "alternative", "restored_at", "created_at",
        "updated_at",
    }  # fmt: skip
    assert first["students"]["data"] and "education_details" not in first["students"]["data"][0]
    forms = sandbox.get("/groups", type="REGISTRATION", include="students")["data"]
    assert len(forms) == 15 and all(form["type"] == "REGISTRATION" for form in forms)
    assert sum(len(form["students"]["data"]) for form in forms) == 300
    assert {group["type"] for group in sandbox.get("/groups")["data"]} == {"REGISTRATION", "YEAR"}


def test_no_pagination_block_for_one_small_page_without_per_page(sandbox: Sandbox) -> None:
    assert "pagination" not in sandbox.get("/groups")["meta"]
    assert sandbox.get("/groups", per_page=50)["meta"]["pagination"]["more"] is False


def test_pages_of_fifty_by_default_with_links_keeping_the_query(sandbox: Sandbox) -> None:
    body = sandbox.get("/students", include="year", updated_after="2000-01-01 00:00:00")
    assert len(body["data"]) == 50
    pagination = body["meta"]["pagination"]
    assert pagination["per_page"] == 50 and pagination["current_page"] == 1
    assert pagination["more"] is True and pagination["previous"] is None
    next_url = urlsplit(pagination["next"])
    assert f"{next_url.scheme}://{next_url.netloc}" == sandbox.server.root_url
    query = parse_qs(next_url.query)
    assert query == {"include": ["year"], "updated_after": ["2000-01-01 00:00:00"], "page": ["2"]}
    second = sandbox.api.get(pagination["next"]).json()["meta"]["pagination"]
    assert second["current_page"] == 2 and parse_qs(urlsplit(second["previous"]).query)["page"] == ["1"]


def test_per_page_is_capped_at_200(sandbox: Sandbox) -> None:
    body = sandbox.get("/students", per_page=500)
    assert len(body["data"]) == 200 and body["meta"]["pagination"]["per_page"] == 200


def test_walking_next_yields_every_record_once(sandbox: Sandbox) -> None:
    students = sandbox.walk("/students", per_page=7, include="classes")
    ids = [student["id"] for student in students]
    assert len(ids) == len(set(ids)) == 300
    assert ids == sorted(ids)
    last = sandbox.get("/students", per_page=7, page=43)["meta"]["pagination"]
    assert last["more"] is False and last["next"] is None


def test_updated_after_returns_only_later_changes(sandbox: Sandbox) -> None:
    before = sandbox.state.clock.now()
    sandbox.state.clock.advance(3600)
    changed = rename(sandbox.state, sandbox.school_id, forename="Changed")["student_id"]
    wonde_format, iso_format = before.strftime("%Y-%m-%d %H:%M:%S"), before.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for since in (wonde_format, iso_format):
        assert [s["id"] for s in sandbox.get("/students", updated_after=since)["data"]] == [changed]
    updated = sandbox.school.students[changed].updated_at
    assert sandbox.get("/students", updated_after=str(updated))["data"] == []  # strictly after
    assert sandbox.get("/classes", updated_after=wonde_format)["data"] == []
    assert len(sandbox.get("/students", updated_before=str(updated), per_page=200)["data"]) == 200


def test_a_bad_updated_after_is_refused(sandbox: Sandbox) -> None:
    response = sandbox.api.get(sandbox.path("/students"), params={"updated_after": "yesterday"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_parameter"


def test_deletions_show_leavers_and_restores(sandbox: Sandbox) -> None:
    state, school_id = sandbox.state, sandbox.school_id
    assert sandbox.get("/deletions") == {"data": [], "meta": {}}
    gone = leaver(state, school_id)["student_id"]
    assert gone not in {student["id"] for student in sandbox.walk("/students", per_page=200)}
    [row] = sandbox.get("/deletions", type="student")["data"]
    assert (row["type"], row["id"], row["restored_at"]) == ("student", gone, None)
    assert row["mis_id"] == sandbox.school.left[gone].mis_id
    assert_wonde_time(row["deleted_at"])
    state.clock.advance(600)
    between = state.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    state.clock.advance(600)
    return_student(state, school_id, gone)
    [row] = sandbox.get("/deletions", updated_after=between)["data"]
    assert row["id"] == gone and row["restored_at"] is not None
    assert sandbox.get("/deletions", type="class")["data"] == []
    students = sandbox.get("/students", updated_after=between)["data"]
    assert [s["id"] for s in students] == [gone] and students[0]["restored_at"] is not None


def test_wrong_or_missing_token_is_401_and_unknown_school_404(sandbox: Sandbox) -> None:
    url = sandbox.path("/students")
    for headers in ({"Authorization": "Bearer " + "0" * 40}, {"Authorization": ""}):
        response = httpx.get(sandbox.server.base_url + url, headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"error", "error_description"}
    assert httpx.get(sandbox.server.base_url + url, auth=(sandbox.token, "")).status_code == 200
    assert sandbox.api.get("/schools/A123456789/students").status_code == 404


def test_another_schools_token_does_not_open_a_school(sandbox: Sandbox) -> None:
    other = sandbox.admin.post("/schools/generate", json={"phase": "primary", "pupils": 30, "seed": 2}).json()
    headers = {"Authorization": f"Bearer {other['token']}"}
    assert httpx.get(sandbox.server.base_url + sandbox.path(), headers=headers).status_code == 401
    assert httpx.get(f"{sandbox.server.base_url}/schools/{other['school_id']}", headers=headers).status_code == 200


def test_revoke_access_then_the_token_is_refused_and_meta_says_not_approved(sandbox: Sandbox) -> None:
    response = sandbox.api.delete(sandbox.path("/revoke-access"))
    assert response.json()["success"] is True and response.json()["state"] == "revoked"
    assert sandbox.api.get(sandbox.path()).status_code == 401
    assert sandbox.api.get(sandbox.path("/students")).status_code == 401
    meta = sandbox.api.get(f"/meta/schools/{sandbox.school_id}")  # the revoked token may still ask
    assert meta.status_code == 200 and meta.json()["data"]["approved"] is False
    other = sandbox.admin.post("/schools/generate", json={"phase": "primary", "pupils": 30, "seed": 2}).json()
    headers = {"Authorization": f"Bearer {other['token']}"}  # another school's token learns nothing of it
    assert httpx.get(f"{sandbox.server.base_url}/meta/schools/{sandbox.school_id}", headers=headers).status_code == 401


def test_requests_are_counted_per_school(sandbox: Sandbox) -> None:
    sandbox.get("")
    sandbox.get("/students")
    sandbox.api.get("/schools/A123456789")
    sandbox.admin.get("/schools")
    assert sandbox.state.stats() == {"total": 3, "by_school": {sandbox.school_id: 2, "A123456789": 1}}


def test_gender_and_birth_dates_are_shown_only_while_the_school_grants_them(sandbox: Sandbox) -> None:
    """Born in the school year their National Curriculum year says (1 September to 31 August); twins on
    one day; null everywhere once the school withdraws the details, as Wonde shows a token without them."""
    students = sandbox.walk("/students", include="education_details")
    term = date(2025, 9, 1)  # the generated school's school year
    for student in students:
        year = int(student["education_details"]["data"]["current_nc_year"])
        born = date.fromisoformat(student["date_of_birth"]["date"][:10])
        assert date(term.year - year - 5, 9, 1) <= born < date(term.year - year - 4, 9, 1), student["id"]
    families: dict[tuple[Any, ...], list[Any]] = {}
    for record in sandbox.school.students.values():  # twins are made together: one surname, one moment
        families.setdefault((record.legal_surname, record.created_at), []).append(record.date_of_birth)
    twins = [days for days in families.values() if len(days) == 2]
    assert twins and all(len(set(days)) == 1 for days in twins)
    changed = sandbox.admin.post(
        f"/schools/{sandbox.school_id}/access", json={"access": "approved", "personal_details": False}
    )
    assert changed.json()["personal_details"] is False
    for student in sandbox.walk("/students") + sandbox.walk("/classes", include="students")[0]["students"]["data"]:
        assert student["gender"] is None and student["date_of_birth"] is None
    one = sandbox.get(f"/students/{students[0]['id']}")["data"]
    assert one["gender"] is None and one["date_of_birth"] is None
