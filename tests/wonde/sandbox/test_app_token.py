"""The app-wide token: it lists schools by access state, asks for access, and reads approved schools."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.wonde.sandbox.state import APP_TOKEN
from tests.fixtures.sandbox import Sandbox


@pytest.fixture
def app(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """The Wonde API with the app's own token, as the admin interface gives it."""
    state = sandbox.admin.get("/state").json()
    assert state["app_token"] == APP_TOKEN and len(APP_TOKEN) == 40
    assert state["domain"] == sandbox.server.domain
    headers = {"Authorization": f"Bearer {state['app_token']}"}
    with httpx.Client(base_url=sandbox.server.base_url, headers=headers) as client:
        yield client


def more_schools(sandbox: Sandbox, count: int) -> list[str]:
    made = [
        sandbox.admin.post("/schools/generate", json={"phase": "primary", "pupils": 20, "seed": seed}).json()
        for seed in range(11, 11 + count)
    ]
    return [school["school_id"] for school in made]


def set_access(sandbox: Sandbox, school_id: str, access: str, **extra: Any) -> dict[str, Any]:
    response = sandbox.admin.post(f"/schools/{school_id}/access", json={"access": access, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [school["id"] for school in response.json()["data"]]


def test_the_app_token_reads_approved_schools(sandbox: Sandbox, app: httpx.Client) -> None:
    path = sandbox.path()
    assert app.get(path).json()["data"]["id"] == sandbox.school_id
    assert len(app.get(f"{path}/students").json()["data"]) == 50
    class_id = next(iter(sandbox.school.classes))
    assert app.get(f"{path}/classes/{class_id}").status_code == 200
    assert app.get(f"{path}/counts", params={"include": "students"}).json()["data"]["students"]["data"]["count"] == 300
    sandbox.api.delete(sandbox.path("/revoke-access"))
    assert app.get(f"{path}/students").status_code == 401


def test_schools_are_listed_by_access_state(sandbox: Sandbox, app: httpx.Client) -> None:
    pending, declined, revoked, unaudited, stranger = more_schools(sandbox, 5)
    set_access(sandbox, pending, "pending")
    set_access(sandbox, declined, "declined")
    set_access(sandbox, revoked, "revoked")
    set_access(sandbox, unaudited, "approved", audited=False)
    set_access(sandbox, stranger, "none")
    assert ids(app.get("/schools")) == sorted([sandbox.school_id, unaudited])
    assert ids(app.get("/schools/audited")) == [sandbox.school_id]
    assert ids(app.get("/schools/pending")) == [pending]
    assert ids(app.get("/schools/declined")) == [declined]
    assert ids(app.get("/schools/revoked")) == [revoked]
    assert len(ids(app.get("/schools/all"))) == 6
    school = app.get("/schools").json()["data"][0]
    assert {"id", "name", "urn", "la_code", "region"} <= set(school)
    assert school["region"]["domain"] == sandbox.server.domain
    assert app.get(f"/meta/schools/{unaudited}").json()["data"]["audited"] is False
    assert app.get(f"/schools/{pending}/students").status_code == 401  # no access yet


def test_school_lists_filter_and_paginate(sandbox: Sandbox, app: httpx.Client) -> None:
    more_schools(sandbox, 3)
    info = sandbox.school.info
    assert ids(app.get("/schools", params={"urn": info["urn"]})) == [sandbox.school_id]
    assert sandbox.school_id in ids(app.get("/schools", params={"la_code": info["la_code"]}))
    outward = info["address"]["address_postcode"].split()[0]
    assert sandbox.school_id in ids(app.get("/schools", params={"postcode": outward.lower()}))
    assert ids(app.get("/schools", params={"urn": "1"})) == []
    first = app.get("/schools", params={"per_page": 3}).json()
    assert len(first["data"]) == 3 and first["meta"]["pagination"]["more"] is True
    rest = app.get(first["meta"]["pagination"]["next"]).json()
    assert len(rest["data"]) == 1 and rest["meta"]["pagination"]["more"] is False


def test_only_the_app_token_lists_or_asks(sandbox: Sandbox, app: httpx.Client) -> None:
    for path in ("/schools", "/schools/pending", "/schools/audited", "/schools/declined", "/schools/revoked"):
        response = sandbox.api.get(path)  # the school's own token
        assert response.status_code == 401 and set(response.json()) == {"error", "error_description"}
        assert httpx.get(sandbox.server.base_url + path).status_code == 401
    assert sandbox.api.post(sandbox.path("/request-access")).status_code == 401


def test_request_access_makes_a_school_pending_until_it_answers(sandbox: Sandbox, app: httpx.Client) -> None:
    [school_id] = more_schools(sandbox, 1)
    set_access(sandbox, school_id, "none")
    contact = {"first_name": "Amy", "last_name": "Jones", "email_address": "office@example.org"}
    answer = app.post(f"/schools/{school_id}/request-access", json={"contacts": [contact]})
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "state": "pending",
        "message": f"Access to school {school_id} has been requested.",
    }
    assert ids(app.get("/schools/pending")) == [school_id]
    assert app.post(f"/schools/{school_id}/request-access").json()["state"] == "pending"  # asking again
    [row] = [row for row in sandbox.admin.get("/state").json()["schools"] if row["school_id"] == school_id]
    assert row["access"] == "pending" and len(row["access_requests"]) == 2
    assert row["access_requests"][0]["contacts"][0]["first_name"] == "Amy"
    token = set_access(sandbox, school_id, "approved")["token"]
    assert school_id in ids(app.get("/schools"))
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{sandbox.server.base_url}/schools/{school_id}", headers=headers).status_code == 200
    assert app.post(f"/schools/{school_id}/request-access").json()["state"] == "approved"


def test_request_access_refusals(sandbox: Sandbox, app: httpx.Client) -> None:
    assert app.post("/schools/A123/request-access").status_code == 404
    bad = app.post(sandbox.path("/request-access"), json={"contacts": [{"shoe_size": 9}]})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_parameter"
    assert sandbox.admin.post("/schools/A123/access", json={"access": "pending"}).status_code == 404
    assert sandbox.admin.post(sandbox.path("/access"), json={"access": "maybe"}).status_code == 422


def test_the_app_token_withdraws_a_pending_request_and_sees_meta_after_a_revoke(
    sandbox: Sandbox, app: httpx.Client
) -> None:
    pending, revoked = more_schools(sandbox, 2)
    set_access(sandbox, pending, "none")
    assert app.post(f"/schools/{pending}/request-access").json()["state"] == "pending"
    withdrawn = app.delete(f"/schools/{pending}/revoke-access")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "revoked"
    assert set_access(sandbox, pending, "none")["access"] == "none"
    assert app.delete(f"/schools/{pending}/revoke-access").status_code == 401  # never asked: nothing to revoke
    assert app.get(f"/meta/schools/{revoked}").json()["data"]["approved"] is True
    assert app.delete(f"/schools/{revoked}/revoke-access").json()["state"] == "revoked"
    assert app.get(f"/meta/schools/{revoked}").json()["data"]["approved"] is False
    assert app.get(f"/schools/{revoked}/students").status_code == 401
