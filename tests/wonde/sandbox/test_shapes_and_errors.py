"""Issue 16, item 5: timestamps as Wonde shows them, ``per_page`` a number defaulting to 50, one error
body for every error, and the token checked before the school."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.wonde.sandbox.events import leaver, rename
from tests.fixtures.sandbox import Sandbox

SECONDS_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.000000$")
ERROR_KEYS = {"error", "error_description"}


def date_times(value: Any) -> list[dict[str, Any]]:
    """Every Wonde DateTime object anywhere in ``value``."""
    if isinstance(value, dict):
        if set(value) == {"date", "timezone_type", "timezone"}:
            return [value]
        return [found for item in value.values() for found in date_times(item)]
    if isinstance(value, list):
        return [found for item in value for found in date_times(item)]
    return []


def test_timestamps_have_whole_seconds_and_a_zero_fraction(sandbox: Sandbox) -> None:
    sandbox.state.clock.advance(0.123456)  # the sandbox's clock has microseconds; Wonde's answers do not
    leaver(sandbox.state, sandbox.school_id)
    rename(sandbox.state, sandbox.school_id)
    bodies = [
        sandbox.get("/students", include="classes,year,education_details,groups", per_page=20),
        sandbox.get("/classes", include="students", per_page=5),
        sandbox.get("/groups", include="students", per_page=5),
        sandbox.get("/deletions"),
        sandbox.get("/students", updated_after="2000-01-01 00:00:00", per_page=200, page=2),
    ]
    stamps = [stamp for body in bodies for stamp in date_times(body)]
    assert len(stamps) > 100
    assert all(SECONDS_ONLY.match(stamp["date"]) for stamp in stamps), [s["date"] for s in stamps][:5]


def test_a_time_read_back_from_an_answer_does_not_return_that_record(sandbox: Sandbox) -> None:
    before = sandbox.state.clock.now()
    sandbox.state.clock.advance(3600.5)
    changed = rename(sandbox.state, sandbox.school_id)["student_id"]
    [student] = sandbox.get("/students", updated_after=before.strftime("%Y-%m-%d %H:%M:%S"))["data"]
    shown = student["updated_at"]["date"]
    assert student["id"] == changed and shown.endswith(".000000")
    assert sandbox.get("/students", updated_after=shown[:19])["data"] == []  # strictly after, to the second


def test_per_page_is_a_number_and_fifty_by_default(sandbox: Sandbox) -> None:
    pagination = sandbox.get("/students")["meta"]["pagination"]
    assert pagination["per_page"] == 50 and type(pagination["per_page"]) is int
    assert type(sandbox.get("/students", per_page="7")["meta"]["pagination"]["per_page"]) is int
    assert len(sandbox.get("/students")["data"]) == 50


def test_every_error_has_the_sandbox_shape(sandbox: Sandbox) -> None:
    api = sandbox.api
    cases = {
        "unknown path": (api.get("/schools/" + sandbox.school_id + "/no-such-list"), 404, "not_found"),
        "unknown root": (api.get("/nothing-here"), 404, "not_found"),
        "wrong method": (api.post(sandbox.path("/students")), 405, "method_not_allowed"),
        "per_page not a number": (api.get(sandbox.path("/students"), params={"per_page": "lots"}), 422, None),
        "page zero": (api.get(sandbox.path("/students"), params={"page": 0}), 422, None),
        "bad updated_after": (api.get(sandbox.path("/students"), params={"updated_after": "soon"}), 422, None),
        "admin unknown school": (sandbox.admin.get("/schools/A0/dump"), 404, "not_found"),
        "admin bad event": (sandbox.admin.post(f"/schools/{sandbox.school_id}/events", json={"kind": "x"}), 422, None),
        "admin bad body": (sandbox.admin.post("/clock", content=b"{"), 422, None),
    }
    for name, (response, status, code) in cases.items():
        body = response.json()
        assert response.status_code == status, (name, response.text)
        assert set(body) == ERROR_KEYS and isinstance(body["error_description"], str), (name, body)
        assert body["error"] == (code or "invalid_parameter"), (name, body)
    assert "GET" in cases["wrong method"][0].headers["allow"]
    assert "per_page" in cases["per_page not a number"][0].json()["error_description"]


def test_a_bad_token_learns_nothing_of_which_schools_exist(sandbox: Sandbox) -> None:
    base = sandbox.server.base_url
    for auth in ({"Authorization": "Bearer " + "0" * 40}, {"Authorization": "Basic b25seTo="}, {}):
        known = httpx.get(f"{base}/schools/{sandbox.school_id}/students", headers=auth)
        unknown = httpx.get(f"{base}/schools/A123456789/students", headers=auth)
        unknown_meta = httpx.get(f"{base}/meta/schools/A123456789", headers=auth)
        assert known.status_code == unknown.status_code == unknown_meta.status_code == 401
        assert known.json() == unknown.json() == unknown_meta.json()
    assert sandbox.api.get("/schools/A123456789/students").status_code == 404  # a good token may learn it
    sandbox.api.delete(sandbox.path("/revoke-access"))
    assert sandbox.api.get("/schools/A123456789/students").status_code == 401  # revoked: a bad token now


def test_basic_auth_with_the_token_as_user_is_accepted(sandbox: Sandbox) -> None:
    base = sandbox.server.base_url + sandbox.path("/students")
    assert httpx.get(base, auth=(sandbox.token, "")).status_code == 200
    assert httpx.get(base, auth=("0" * 40, "")).status_code == 401
