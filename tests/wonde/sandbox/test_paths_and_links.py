"""Issue 16, items 1 and 2: both path forms served without a redirect, and links that lead back the
way the client came (its path, scheme and host, or a proxy's ``X-Forwarded-*``)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from app.wonde.sandbox.api import create_sandbox_app
from tests.fixtures.sandbox import Sandbox

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "wonde.proxy.test:8443"}


def api_routes() -> list[tuple[str, str]]:
    """Every Wonde route the sandbox serves, as (method, path template), from its OpenAPI document."""
    paths = create_sandbox_app().openapi()["paths"]
    return sorted(
        (method.upper(), path) for path, item in paths.items() if path.startswith("/v1.0/") for method in item
    )


def test_every_api_route_answers_with_and_without_a_trailing_slash(sandbox: Sandbox) -> None:
    routes = api_routes()
    assert ("GET", "/v1.0/schools/{school_id}/students") in routes and len(routes) >= 7
    for method, template in routes:
        if method != "GET":
            continue
        # Other ids (a student's, a class's) get one that does not exist: a 404, the same in both forms.
        path = re.sub(r"\{[a-z_]+\}", "A0", template.replace("{school_id}", sandbox.school_id))
        # The app-level calls (the lists of schools) take the app's own token.
        token = {} if "{school_id}" in template else {"Authorization": f"Bearer {sandbox.state.app_token}"}
        plain = sandbox.api.get(path.removeprefix("/v1.0"), params={"per_page": 3}, headers=token)
        slashed = sandbox.api.get(path.removeprefix("/v1.0") + "/", params={"per_page": 3}, headers=token)
        assert slashed.status_code == plain.status_code, (template, slashed.text)
        assert slashed.status_code < 300 or (slashed.status_code == 404 and "A0" in path), (template, slashed.text)
        assert slashed.json()["data"] == plain.json()["data"] if plain.status_code == 200 else slashed.json()
    [(method, template)] = [r for r in routes if r[1].endswith("/revoke-access")]
    path = template.removeprefix("/v1.0").replace("{school_id}", sandbox.school_id) + "/"
    assert sandbox.api.request(method, path).json()["success"] is True  # served, not redirected
    assert sandbox.admin.get("/schools/").status_code == 200


def test_the_php_clients_request_is_served_and_its_links_keep_the_slash(sandbox: Sandbox) -> None:
    response = sandbox.api.get(sandbox.path("/students/"), params={"include": "classes,year", "per_page": 10})
    assert response.status_code == 200, response.text
    pagination = response.json()["meta"]["pagination"]
    following = urlsplit(pagination["next"])
    assert following.path == f"/v1.0/schools/{sandbox.school_id}/students/"
    assert parse_qs(following.query) == {"include": ["classes,year"], "per_page": ["10"], "page": ["2"]}
    assert sandbox.api.get(pagination["next"]).status_code == 200


def test_links_use_the_scheme_and_host_a_proxy_forwards(sandbox: Sandbox) -> None:
    response = sandbox.api.get(sandbox.path("/students"), params={"per_page": 10, "page": 2}, headers=FORWARDED)
    pagination = response.json()["meta"]["pagination"]
    for link in (pagination["next"], pagination["previous"]):
        assert link.startswith(f"https://wonde.proxy.test:8443/v1.0/schools/{sandbox.school_id}/students?"), link
    proto_only = sandbox.api.get(
        sandbox.path("/students"), params={"per_page": 10}, headers={"X-Forwarded-Proto": "https"}
    )
    assert proto_only.json()["meta"]["pagination"]["next"].startswith(f"https://{sandbox.server.domain}/")
    plain = sandbox.get("/students", per_page=10)["meta"]["pagination"]["next"]
    assert plain.startswith(f"{sandbox.server.root_url}/v1.0/")


def test_the_schools_region_names_the_address_the_client_reaches(sandbox: Sandbox) -> None:
    region = sandbox.get("")["data"]["region"]
    assert region["domain"] == sandbox.server.domain
    assert region["school_url"] == f"http://{sandbox.server.domain}/v1.0/schools/{sandbox.school_id}"
    behind = sandbox.api.get(sandbox.path(), headers=FORWARDED).json()["data"]["region"]
    assert behind["domain"] == "wonde.proxy.test:8443"
    assert behind["school_url"] == f"https://wonde.proxy.test:8443/v1.0/schools/{sandbox.school_id}"
    odd = sandbox.api.get(sandbox.path(), headers={"X-Forwarded-Host": "evil.test/x@y", "X-Forwarded-Proto": "gopher"})
    assert odd.json()["data"]["region"]["domain"] == sandbox.server.domain  # nonsense is not echoed
    assert odd.json()["data"]["region"]["school_url"].startswith("http://")
