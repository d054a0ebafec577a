"""Every route under /v1/schools/{school_id} is walked, not listed by hand: a new endpoint is
covered as soon as it exists, and fails here until it has a sample request.

- another school's admin gets 404 (the school is not theirs, so it "does not exist");
- no token, an expired one, one signed with another key, or an unsigned one gets 401;
- a teacher of the school may read but gets 403 on anything that changes state;
- the platform (registers schools, confirms Wonde approvals) reads no pupil data: every route inside a
  school is a 403 for it, but the school's own row and the approval's confirmation, which are its alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.time import utc_now
from app.main import create_app
from app.models import (
    Band,
    BandMembership,
    ChangeRow,
    MisClass,
    MisMembership,
    MisStudent,
    Pupil,
    School,
    SyncRun,
    UploaderDecision,
)
from app.models.school import SchoolState
from tests.fixtures.app import TokenFactory

ROSTER = "pupil_id,first_name,last_name,band,year_group\np1,Amy,Jones,4B,4\n"
# A request that would succeed for the school's own admin, for each route.
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/schools/{school_id}"): {},
    ("PATCH", "/v1/schools/{school_id}"): {"json": {"hold_min_pupils": 10, "hold_fraction": 0.2}},
    ("GET", "/v1/schools/{school_id}/bands"): {},
    ("POST", "/v1/schools/{school_id}/bands"): {"json": {"name": "5C"}},
    ("GET", "/v1/schools/{school_id}/bands/{band_id}"): {},
    ("PATCH", "/v1/schools/{school_id}/bands/{band_id}"): {"json": {"name": "4B (new)"}},
    ("GET", "/v1/schools/{school_id}/pupils"): {},
    ("POST", "/v1/schools/{school_id}/pupils"): {"json": {"first_name": "Ben", "last_name": "Brown"}},
    ("GET", "/v1/schools/{school_id}/pupils/{pupil_id}"): {},
    ("PATCH", "/v1/schools/{school_id}/pupils/{pupil_id}"): {"json": {"year_group": 5}},
    ("POST", "/v1/schools/{school_id}/roster"): {"content": ROSTER, "headers": {"content-type": "text/csv"}},
    ("GET", "/v1/schools/{school_id}/runs"): {},
    ("GET", "/v1/schools/{school_id}/runs/{run_id}"): {},
    ("POST", "/v1/schools/{school_id}/ping"): {},
    ("POST", "/v1/schools/{school_id}/disconnect"): {},
    ("GET", "/v1/schools/{school_id}/uploader"): {},
    ("PUT", "/v1/schools/{school_id}/uploader/classes/{wonde_class_id}"): {"json": {"action": "no_action"}},
    ("DELETE", "/v1/schools/{school_id}/uploader/classes/{wonde_class_id}"): {},
    ("PUT", "/v1/schools/{school_id}/uploader/decisions"): {
        "json": {"decisions": [{"wonde_class_id": "{wonde_class_id}", "action": "match", "band_id": "{band_id}"}]}
    },
    ("GET", "/v1/schools/{school_id}/uploader/classes/{wonde_class_id}/students"): {},
    ("GET", "/v1/schools/{school_id}/uploader/issues"): {},
    ("PUT", "/v1/schools/{school_id}/uploader/pupils/{wonde_student_id}"): {"json": {"resolution": "skip"}},
    ("DELETE", "/v1/schools/{school_id}/uploader/pupils/{wonde_student_id}"): {},
    ("GET", "/v1/schools/{school_id}/uploader/preview"): {},
    ("POST", "/v1/schools/{school_id}/uploader/merge"): {},
    ("GET", "/v1/schools/{school_id}/runs/{run_id}/credentials"): {},
    ("POST", "/v1/schools/{school_id}/runs/{run_id}/credentials/confirm"): {},
    ("POST", "/v1/schools/{school_id}/bands/{band_id}/passwords"): {},
    ("POST", "/v1/schools/{school_id}/pupils/{pupil_id}/password"): {},
    ("POST", "/v1/schools/{school_id}/pupils/{pupil_id}/erase"): {},
    ("POST", "/v1/schools/{school_id}/sync"): {},
    ("GET", "/v1/schools/{school_id}/sync/preview"): {},
    ("GET", "/v1/schools/{school_id}/held-changes"): {},
    ("POST", "/v1/schools/{school_id}/held-changes/{change_id}/approve"): {},
    ("POST", "/v1/schools/{school_id}/held-changes/{change_id}/reject"): {},
    ("POST", "/v1/schools/{school_id}/held-changes/approve-all"): {},
    ("POST", "/v1/schools/{school_id}/held-changes/reject-all"): {},
    ("GET", "/v1/schools/{school_id}/held-changes/grouped"): {},
    # Strings in a sample's JSON are formatted with the target's ids, like its path.
    ("POST", "/v1/schools/{school_id}/held-changes/decide"): {"json": {"reject": ["band:{band_id}"]}},
    ("GET", "/v1/schools/{school_id}/changes"): {"params": {"action": "held"}},
    ("GET", "/v1/schools/{school_id}/pupils/{pupil_id}/timeline"): {},
    ("POST", "/v1/schools/{school_id}/runs/{run_id}/undo"): {},
    ("POST", "/v1/schools/{school_id}/held-changes/{change_id}/accept-suggestion"): {},
    ("POST", "/v1/schools/{school_id}/approval/confirm"): {},
    ("POST", "/v1/schools/{school_id}/approval/reject"): {},
    ("GET", "/v1/schools/{school_id}/data-quality"): {"params": {"code": "no_upn"}},
}
# The platform's acts on a school (a school's own tokens get 403), and what it may see of a school.
PLATFORM_ROUTES = {
    ("POST", "/v1/schools/{school_id}/approval/confirm"),
    ("POST", "/v1/schools/{school_id}/approval/reject"),
}
PLATFORM_READS = {("GET", "/v1/schools/{school_id}")}
# Reads only an admin may make: the uploader is the admin's screen, and login details are passwords.
ADMIN_ONLY_READS = {
    "/v1/schools/{school_id}/uploader",
    "/v1/schools/{school_id}/uploader/issues",
    "/v1/schools/{school_id}/uploader/preview",
    "/v1/schools/{school_id}/uploader/classes/{wonde_class_id}/students",
    "/v1/schools/{school_id}/runs/{run_id}/credentials",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _school_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document under a school."""
    paths: dict[str, dict[str, Any]] = create_app(Settings()).openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/schools/{school_id}")
        for method in operations
    )


SCHOOL_ROUTES = _school_routes()


@dataclass
class Target:
    school: School
    ids: dict[str, str]

    def url(self, path: str) -> str:
        return path.format(school_id=self.school.id, **self.ids)


@pytest.fixture
async def target(session: AsyncSession, school: School) -> Target:
    band = Band(school_id=school.id, name="4B")
    pupil = Pupil(school_id=school.id, first_name="Amy", last_name="Jones", username="amy.jones")
    run = SyncRun(school_id=school.id, kind="ping", trigger="manual", status="succeeded")
    mis_class = MisClass(school_id=school.id, wonde_id="C-4B", name="4B")
    student = MisStudent(school_id=school.id, wonde_id="S-1", forename="Amy", surname="Jones")
    session.add_all([band, pupil, run, mis_class, student])
    await session.flush()
    session.add_all(
        [
            MisMembership(school_id=school.id, mis_student_id=student.id, mis_class_id=mis_class.id),
            UploaderDecision(school_id=school.id, mis_class_id=mis_class.id, action="import"),
            BandMembership(school_id=school.id, band_id=band.id, pupil_id=pupil.id),
        ]
    )
    held = ChangeRow(
        school_id=school.id,
        run_id=run.id,
        entity_type="band",
        entity_id=str(band.id),
        action="held",
        status="held",
        after={
            "change": {"type": "UnlinkBand", "band": str(band.id), "container": "C-OLD", "suggestion": "C-4B"},
            "reason": "the class vanished",
        },
    )
    renamed = ChangeRow(
        school_id=school.id,
        run_id=run.id,
        entity_type="band",
        entity_id=str(band.id),
        band_id=band.id,
        action="rename_band",
        status="applied",
        before={"name": "4B"},
        after={"name": "4B"},
    )
    session.add_all([held, renamed])
    (await session.get(School, school.id)).state = "syncing"  # type: ignore[union-attr]
    await session.commit()
    ids = {"band_id": str(band.id), "pupil_id": str(pupil.id), "run_id": str(run.id), "change_id": str(held.id)}
    return Target(school, ids | {"wonde_class_id": "C-4B", "wonde_student_id": "S-1"})


def test_every_school_route_has_a_sample() -> None:
    assert SCHOOL_ROUTES, "no routes found"
    missing = [route for route in SCHOOL_ROUTES if route not in SAMPLES]
    assert missing == [], "add a sample request for these routes to SAMPLES"


async def _call(
    client: httpx.AsyncClient, method: str, path: str, target: Target, headers: dict[str, str]
) -> httpx.Response:
    sample = SAMPLES[(method, path)]
    all_headers = {**sample.get("headers", {}), **headers}
    kwargs = {key: value for key, value in sample.items() if key != "headers"}
    if "json" in kwargs:
        kwargs["json"] = _with_ids(kwargs["json"], target)
    return await client.request(method, target.url(path), headers=all_headers, **kwargs)


def _with_ids(value: Any, target: Target) -> Any:
    """A sample's JSON with the target's ids put into its strings."""
    if isinstance(value, str):
        return target.url(value)
    if isinstance(value, list):
        return [_with_ids(item, target) for item in value]
    if isinstance(value, dict):
        return {key: _with_ids(item, target) for key, item in value.items()}
    return value


SCHOOLS_OWN_ROUTES = [route for route in SCHOOL_ROUTES if route not in PLATFORM_ROUTES]


@pytest.mark.parametrize(("method", "path"), SCHOOLS_OWN_ROUTES)
async def test_the_schools_own_admin_succeeds(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target, method: str, path: str
) -> None:
    response = await _call(client, method, path, target, auth(target.school.id))
    assert response.status_code < 300, response.text


@pytest.mark.parametrize(("method", "path"), SCHOOLS_OWN_ROUTES)
async def test_another_schools_token_gets_404(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target, other_school: School, method: str, path: str
) -> None:
    response = await _call(client, method, path, target, auth(other_school.id))
    assert response.status_code == 404
    assert response.json()["error"] == "SchoolNotFound"


def _bad_tokens(settings: Settings, school_id: str) -> dict[str, str]:
    now = utc_now()
    claims = {
        "sub": "u",
        "school_ids": [school_id],
        "role": "admin",
        "iss": settings.jwt.issuer,
        "aud": settings.jwt.audience,
    }
    secret = settings.jwt.secret.get_secret_value()
    return {
        "expired": jwt.encode({**claims, "exp": now - timedelta(hours=1)}, secret, algorithm="HS256"),
        "bad-signature": jwt.encode(
            {**claims, "exp": now + timedelta(hours=1)}, "not-the-secret-" * 3, algorithm="HS256"
        ),
        "unsigned": jwt.encode({**claims, "exp": now + timedelta(hours=1)}, "", algorithm="none"),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(("method", "path"), SCHOOL_ROUTES)
async def test_missing_or_bad_tokens_get_401(
    client: httpx.AsyncClient, settings: Settings, target: Target, method: str, path: str
) -> None:
    cases: dict[str, dict[str, str]] = {"missing": {}} | {
        name: {"Authorization": f"Bearer {token}"} for name, token in _bad_tokens(settings, target.school.id).items()
    }
    for name, headers in cases.items():
        response = await _call(client, method, path, target, headers)
        assert response.status_code == 401, f"{name}: {response.status_code}"
        assert response.json()["error"] == "NotAuthenticated"


@pytest.mark.parametrize(
    ("method", "path"), [r for r in SCHOOL_ROUTES if r[0] in WRITE_METHODS or r[1] in ADMIN_ONLY_READS]
)
async def test_a_teacher_cannot_change_anything(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target, method: str, path: str
) -> None:
    response = await _call(client, method, path, target, auth(target.school.id, role="teacher"))
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


@pytest.mark.parametrize(
    ("method", "path"), [r for r in SCHOOL_ROUTES if r[0] not in WRITE_METHODS and r[1] not in ADMIN_ONLY_READS]
)
async def test_a_teacher_can_read(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target, method: str, path: str
) -> None:
    response = await _call(client, method, path, target, auth(target.school.id, role="teacher"))
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), [r for r in SCHOOL_ROUTES if r not in PLATFORM_ROUTES | PLATFORM_READS])
async def test_the_platform_reads_no_pupil_data(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target, method: str, path: str
) -> None:
    response = await _call(client, method, path, target, auth(role="platform"))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "Forbidden"
    assert "Amy" not in response.text


async def test_the_platform_sees_the_school_row_and_nothing_of_its_pupils(
    client: httpx.AsyncClient, auth: TokenFactory, target: Target
) -> None:
    response = await client.get(target.url("/v1/schools/{school_id}"), headers=auth(role="platform"))
    assert response.status_code == 200
    assert response.json()["id"] == target.school.id
    assert "Amy" not in response.text and "amy" not in response.text


@pytest.mark.parametrize(("method", "path"), sorted(PLATFORM_ROUTES))
async def test_only_the_platform_answers_an_approval(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    session: AsyncSession,
    target: Target,
    other_school: School,
    method: str,
    path: str,
) -> None:
    target.school.state = SchoolState.NEEDS_CONFIRMATION
    await session.commit()
    for headers in (auth(target.school.id), auth(target.school.id, role="teacher"), auth(other_school.id)):
        refused = await _call(client, method, path, target, headers)
        assert (refused.status_code, refused.json()["error"]) == (403, "Forbidden")
    response = await _call(client, method, path, target, auth(role="platform"))
    assert response.status_code == 200, response.text
    assert "Amy" not in response.text


async def test_a_school_not_in_the_token_is_404_even_when_it_does_not_exist(
    client: httpx.AsyncClient, auth: TokenFactory, school: School
) -> None:
    response = await client.get(f"/v1/schools/{uuid.uuid4().hex}", headers=auth(school.id))
    assert response.status_code == 404
