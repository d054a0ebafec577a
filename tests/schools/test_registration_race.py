"""Registering one school from many requests at once (issue 13, item 8): exactly one 201, every other
answer a 409, never a 500 from the database's unique index. Requests commit for real, each on its own
connection; a barrier holds every request after its "is it taken?" check until all have made it, so the
race that happens only now and then in production happens every time here."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from app.models import School
from app.schools.repository import SchoolRepository
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed

REQUESTS = 8


@pytest.fixture
def everyone_checks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every registration looks its id up, then waits until all ``REQUESTS`` have looked."""
    barrier = asyncio.Barrier(REQUESTS)
    lookup = SchoolRepository.get

    async def get_then_wait(self: SchoolRepository, school_id: str) -> School | None:
        found = await lookup(self, school_id)
        async with asyncio.timeout(20):
            await barrier.wait()
        return found

    monkeypatch.setattr(SchoolRepository, "get", get_then_wait)


async def _count(committed: Committed, *where: object) -> int:
    async with committed.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(School).where(*where)) or 0)  # type: ignore[arg-type]


@pytest.mark.usefixtures("everyone_checks_first")
async def test_eight_registrations_of_one_id_at_once_are_one_201_and_409s(
    racing_client: httpx.AsyncClient, auth: TokenFactory, committed: Committed
) -> None:
    school_id = committed.track(f"race-{uuid.uuid4().hex[:8]}")
    body = {"id": school_id, "name": "Race Primary", "urn": "100200"}
    responses = await asyncio.gather(
        *(racing_client.post("/v1/schools", json=body, headers=auth(role="platform")) for _ in range(REQUESTS))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: REQUESTS - 1}  # today: 500s
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"SchoolAlreadyExists"}
    assert await _count(committed, School.id == school_id) == 1


@pytest.mark.usefixtures("everyone_checks_first")
async def test_eight_schools_claiming_one_wonde_id_at_once_are_one_201_and_409s(
    racing_client: httpx.AsyncClient, auth: TokenFactory, committed: Committed
) -> None:
    wonde_id = f"A{uuid.uuid4().int % 10**10:010d}"
    ids = [committed.track(f"race-{uuid.uuid4().hex[:8]}") for _ in range(REQUESTS)]
    responses = await asyncio.gather(
        *(
            racing_client.post(
                "/v1/schools",
                json={"id": i, "name": "Race Primary", "urn": "100200", "wonde_school_id": wonde_id},
                headers=auth(role="platform"),
            )
            for i in ids
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: REQUESTS - 1}  # today: 500s
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"SchoolAlreadyExists"}
    assert await _count(committed, School.wonde_school_id == wonde_id) == 1
    assert await _count(committed, School.id.in_(ids)) == 1
