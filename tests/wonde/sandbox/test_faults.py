"""Fault rules: each kind, and which requests they hit (endpoint, page, Nth request, times)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fixtures.sandbox import Sandbox


def add(sandbox: Sandbox, **rule: Any) -> dict[str, Any]:
    response = sandbox.admin.post("/faults", json=rule)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def status(sandbox: Sandbox, endpoint: str = "/students", **params: Any) -> int:
    return sandbox.api.get(sandbox.path(endpoint), params=params).status_code


def test_429_carries_retry_after(sandbox: Sandbox) -> None:
    add(sandbox, kind="429", retry_after=7)
    response = sandbox.api.get(sandbox.path("/students"))
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "too_many_requests"
    assert status(sandbox) == 200


def test_500_and_401_are_served_whatever_the_token(sandbox: Sandbox) -> None:
    add(sandbox, kind="500")
    add(sandbox, kind="401")
    assert status(sandbox) == 500
    response = sandbox.api.get(sandbox.path("/students"))
    assert response.status_code == 401 and set(response.json()) == {"error", "error_description"}
    assert status(sandbox) == 200


def test_slow_answers_late_but_whole(sandbox: Sandbox) -> None:
    add(sandbox, kind="slow", seconds=0.3)
    started = time.monotonic()
    assert len(sandbox.get("/students", per_page=10)["data"]) == 10
    assert time.monotonic() - started >= 0.3


def test_truncated_is_a_200_with_half_a_body(sandbox: Sandbox) -> None:
    whole = sandbox.api.get(sandbox.path("/students"), params={"per_page": 20}).content
    add(sandbox, kind="truncated", endpoint="students")
    response = sandbox.api.get(sandbox.path("/students"), params={"per_page": 20})
    assert response.status_code == 200
    assert response.content == whole[: len(whole) // 2]
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_rule_hits_only_its_endpoint_and_page(sandbox: Sandbox) -> None:
    add(sandbox, kind="500", endpoint="students", page=2)
    assert status(sandbox, "/classes", page=2, per_page=10) == 200
    assert status(sandbox, "/students") == 200  # no page parameter means page 1
    assert status(sandbox, "/students", page=2, per_page=50) == 500
    assert status(sandbox, "/students", page=2, per_page=50) == 200  # fired its one time


def test_times_and_always(sandbox: Sandbox) -> None:
    add(sandbox, kind="500", endpoint="classes", times=2)
    assert [status(sandbox, "/classes") for _ in range(3)] == [500, 500, 200]
    add(sandbox, kind="429", endpoint="groups", times=-1)
    assert {status(sandbox, "/groups") for _ in range(4)} == {429}


def test_the_nth_request_counts_from_when_the_rule_was_added(sandbox: Sandbox) -> None:
    status(sandbox)
    add(sandbox, kind="500", request=3)
    assert [status(sandbox, endpoint) for endpoint in ("/students", "/classes", "/groups", "/deletions")] == [
        200,
        200,
        500,
        200,
    ]


def test_a_rule_can_target_one_school(sandbox: Sandbox) -> None:
    add(sandbox, kind="500", school_id="A999999999", times=-1)
    assert status(sandbox) == 200
    assert sandbox.api.get("/schools/A999999999").status_code == 500


def test_rules_are_listed_and_cleared(sandbox: Sandbox) -> None:
    added = add(sandbox, kind="slow", endpoint="deletions", seconds=0.5)
    assert added["id"] >= 1 and added["fired"] == 0
    assert [rule["kind"] for rule in sandbox.admin.get("/faults").json()] == ["slow"]
    assert sandbox.admin.delete("/faults").json() == {"cleared": True}
    assert sandbox.admin.get("/faults").json() == []


def test_bad_rules_are_refused(sandbox: Sandbox) -> None:
    for rule in ({"kind": "502"}, {"kind": "500", "times": 0}, {"kind": "500", "endpoint": "pupils"}):
        assert sandbox.admin.post("/faults", json=rule).status_code == 422
    assert add(sandbox, kind=429)["kind"] == "429"  # a number is read as the status it names


def test_an_inactive_school_a_503_and_a_maintenance_page(sandbox: Sandbox) -> None:
    add(sandbox, kind="423", times=1)
    add(sandbox, kind="503", times=1)
    add(sandbox, kind="html", times=1)
    assert status(sandbox) == 423
    assert status(sandbox) == 503
    page = sandbox.api.get(sandbox.path("/students"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        page.json()
    assert status(sandbox) == 200


def test_the_mis_changes_while_a_read_walks_the_pages(sandbox: Sandbox) -> None:
    """A leaver just before page 2 shifts every later student one place: page-number paging skips one."""
    everyone = sorted(s["id"] for s in sandbox.walk("/students", per_page=10))
    add(sandbox, kind="leaver_during_walk", endpoint="students", page=2)
    first = sandbox.get("/students", per_page=10, page=1)["data"]
    second = sandbox.get("/students", per_page=10, page=2)["data"]
    seen = [s["id"] for s in first + second]
    assert everyone[0] not in sandbox.school.students  # the first pupil left
    assert everyone[20] in seen and everyone[10] not in seen  # skipped: shifted onto page 1, already read
    assert everyone[10] in sandbox.school.students
    add(sandbox, kind="joiner_during_walk", endpoint="students", page=1)
    before = len(sandbox.school.students)
    sandbox.get("/students", per_page=10, page=1)
    assert len(sandbox.school.students) == before + 1


def test_one_student_leavers_and_the_exclude_list(sandbox: Sandbox) -> None:
    student = sorted(sandbox.school.students)[0]
    one = sandbox.get(f"/students/{student}", include="education_details")
    assert one["data"]["id"] == student and "education_details" in one["data"]
    assert (
        sandbox.admin.post(
            f"/schools/{sandbox.school_id}/events", json={"kind": "exclude", "student_id": student}
        ).status_code
        == 200
    )
    assert status(sandbox, f"/students/{student}") == 404
    assert student not in [s["id"] for s in sandbox.walk("/students")]
    assert student not in [d["id"] for d in sandbox.walk("/deletions")]  # excluded: no deletion row
    assert student not in [s["id"] for s in sandbox.walk("/students-leaver")]
    assert (
        sandbox.admin.post(
            f"/schools/{sandbox.school_id}/events", json={"kind": "include", "student_id": student}
        ).status_code
        == 200
    )
    assert status(sandbox, f"/students/{student}") == 200
    other = sorted(sandbox.school.students)[1]
    sandbox.admin.post(f"/schools/{sandbox.school_id}/events", json={"kind": "leaver", "student_id": other})
    assert other in [s["id"] for s in sandbox.walk("/students-leaver")]
    assert status(sandbox, f"/students/{other}") == 404


def test_rosters_undated_leaves_a_class_whose_only_change_is_a_new_pupil_out_of_a_delta(sandbox: Sandbox) -> None:
    since = max(record.updated_at for record in sandbox.school.classes.values()).strftime("%Y-%m-%d %H:%M:%S")
    joined = sandbox.admin.post(f"/schools/{sandbox.school_id}/events", json={"kind": "joiner"}).json()
    changed = {c["id"] for c in sandbox.walk("/classes", updated_after=since)}
    assert changed == set(joined["classes"])  # Wonde may date them so; the sandbox does unless told
    add(sandbox, kind="rosters_undated", endpoint="classes", times=-1)
    add(sandbox, kind="rosters_undated", endpoint="groups", times=-1)
    assert [c["id"] for c in sandbox.walk("/classes", updated_after=since)] == []
    assert [g["id"] for g in sandbox.walk("/groups", updated_after=since)] == []
    assert len(sandbox.walk("/classes")) == len(sandbox.school.classes)  # a full list is whole
    student = sandbox.get(f"/students/{joined['student_id']}", include="classes")["data"]
    assert {c["id"] for c in student["classes"]["data"]} == set(joined["classes"])  # the pupil's record says it


@pytest.mark.parametrize("endpoint", ["employees", "counts"])
def test_the_staff_list_and_the_counts_can_fail_too(sandbox: Sandbox, endpoint: str) -> None:
    add(sandbox, kind="503", endpoint=endpoint)
    assert status(sandbox, "/students") == 200  # another endpoint: untouched
    assert status(sandbox, f"/{endpoint}") == 503
    assert status(sandbox, f"/{endpoint}") == 200


def test_asking_for_access_and_listing_schools_can_fail_too(sandbox: Sandbox) -> None:
    app = {"Authorization": f"Bearer {sandbox.state.app_token}"}
    add(sandbox, kind="500", endpoint="request-access")
    add(sandbox, kind="429", endpoint="schools", retry_after=3)
    asked = sandbox.api.post(sandbox.path("/request-access"), headers=app)
    assert asked.status_code == 500
    listed = sandbox.api.get("/schools", headers=app)
    assert listed.status_code == 429 and listed.headers["Retry-After"] == "3"
    assert sandbox.api.get("/schools", headers=app).status_code == 200
