"""Issue 16, item 6 (the sandbox's half): ``cursor=true`` pages keyed on the last id, page numbers by default."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from app.wonde.sandbox.events import joiner, leaver
from tests.fixtures.sandbox import Sandbox


def query(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def test_cursor_pages_walk_every_record_once_in_id_order(sandbox: Sandbox) -> None:
    first = sandbox.get("/students", cursor="true", per_page=7, include="year")
    pagination = first["meta"]["pagination"]
    assert pagination["more"] is True and pagination["per_page"] == 7 and pagination["previous"] is None
    following = query(pagination["next"])
    assert set(following) == {"cursor", "per_page", "include"}  # no page number; the rest of the query kept
    assert following["cursor"][0] not in ("true", first["data"][-1]["id"])  # opaque
    students = sandbox.walk("/students", cursor="true", per_page=7, include="year")
    ids = [student["id"] for student in students]
    assert len(ids) == len(set(ids)) == 300 and ids == sorted(ids)
    assert all("year" in student for student in students)


def test_the_page_after_a_cursor_starts_after_its_id_whatever_changed_before_it(sandbox: Sandbox) -> None:
    first = sandbox.get("/students", cursor="true", per_page=10)
    paged = sandbox.get("/students", per_page=10)
    assert [s["id"] for s in first["data"]] == [s["id"] for s in paged["data"]]
    everyone = sorted(sandbox.school.students)
    leaver(sandbox.state, sandbox.school_id, everyone[3])  # one of the first page leaves meanwhile
    after_cursor = sandbox.api.get(first["meta"]["pagination"]["next"]).json()["data"]
    assert [s["id"] for s in after_cursor] == everyone[10:20]  # nobody skipped
    page_two = sandbox.api.get(paged["meta"]["pagination"]["next"]).json()["data"]
    assert [s["id"] for s in page_two] == everyone[11:21]  # page numbers shift: everyone[10] is never seen


def test_a_record_joining_behind_the_cursor_is_not_repeated(sandbox: Sandbox) -> None:
    first = sandbox.get("/students", cursor="true", per_page=150)
    joined = joiner(sandbox.state, sandbox.school_id)["student_id"]
    rest = sandbox.walk("/students", cursor=query(first["meta"]["pagination"]["next"])["cursor"][0], per_page=150)
    seen = [s["id"] for s in first["data"]] + [s["id"] for s in rest]
    assert len(seen) == len(set(seen))
    assert (joined in seen) == (joined > first["data"][-1]["id"])


def test_cursor_mode_pages_every_list_and_always_says_so(sandbox: Sandbox) -> None:
    leaver(sandbox.state, sandbox.school_id)
    for endpoint in ("/classes", "/groups", "/deletions"):
        body = sandbox.get(endpoint, cursor="true")
        assert body["meta"]["pagination"]["next"] is None and body["meta"]["pagination"]["more"] is False
        assert len(sandbox.walk(endpoint, cursor="true", per_page=2)) == len(body["data"]) > 0
    assert "pagination" not in sandbox.get("/groups")["meta"]  # page numbers stay the default
    assert "page=2" in sandbox.get("/students")["meta"]["pagination"]["next"]
    assert "pagination" not in sandbox.get("/groups", cursor="false")["meta"]


def test_a_cursor_the_sandbox_did_not_make_is_refused(sandbox: Sandbox) -> None:
    for cursor in ("bm90IGpzb24", "e30", "%%%"):
        response = sandbox.api.get(sandbox.path("/students"), params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["error"] == "invalid_parameter", cursor


def test_a_fault_on_page_two_hits_the_second_cursor_page(sandbox: Sandbox) -> None:
    sandbox.admin.post("/faults", json={"kind": "500", "endpoint": "students", "page": 2})
    first = sandbox.get("/students", cursor="true", per_page=100)
    assert set(query(first["meta"]["pagination"]["next"])) == {"cursor", "per_page"}  # no page number to go by
    assert sandbox.api.get(first["meta"]["pagination"]["next"]).status_code == 500
    second = sandbox.api.get(first["meta"]["pagination"]["next"]).json()
    assert second["meta"]["pagination"]["current_page"] == 2
    assert sandbox.api.get(second["meta"]["pagination"]["next"]).status_code == 200
