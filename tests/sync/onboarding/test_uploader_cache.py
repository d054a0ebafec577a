"""The uploader's view, issues and preview are computed once per state of the school (its state version)
and kept, sealed, in Redis; any write to the school's state (a decision, a roster import, a read of the
MIS) has them computed again. The matcher runs in the app's process pool, so the API answers meanwhile.
How fast is ``bench.api_latency``'s to say, not these tests'."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit import cpu, sealed_cache
from app.kit.crypto import SecretBox
from app.sync.mirror.flow import write_read
from app.sync.mirror.read import MisRead
from app.sync.onboarding import service
from app.sync.state.repository import load_snapshot
from app.wonde.schemas import WondeClass
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import Committed
from tests.fixtures.schools import decide, school_with_forms_matched, small_school

SCREENS = ("uploader", "uploader/issues", "uploader/preview")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The schools the uploader loaded from the database, one entry a load: a kept answer loads nothing."""
    seen: list[str] = []

    async def counted(session: AsyncSession, school_id: str) -> Any:
        seen.append(school_id)
        return await load_snapshot(session, school_id)

    monkeypatch.setattr(service, "load_snapshot", counted)
    return seen


async def test_answers_are_kept_until_the_schools_state_changes(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, loads: list[str]
) -> None:
    school = await small_school(session)
    headers, base = auth(school.school_id), f"/v1/schools/{school.school_id}"

    async def screens() -> dict[str, Any]:
        answers = {}
        for screen in SCREENS:
            response = await client.get(f"{base}/{screen}", headers=headers)
            assert response.status_code == 200, response.text
            answers[screen] = response.json()
        return answers

    async def after(write: Callable[[], Awaitable[object]]) -> dict[str, Any]:
        await write()
        loads.clear()
        answers = await screens()
        assert len(loads) == len(SCREENS), "a write to the school's state did not have its screens computed again"
        return answers

    first = await screens()
    assert len(loads) == len(SCREENS)
    loads.clear()
    assert await screens() == first
    assert await screens() == first
    assert loads == [], "a screen asked again, with nothing changed, loaded the school again"

    # A decision.
    decided = await after(
        lambda: client.put(f"{base}/uploader/classes/C-4C", json={"action": "import"}, headers=headers)
    )
    row = next(r for r in decided["uploader"] if r["wonde_class_id"] == "C-4C")
    assert row["decision"]["action"] == "import"
    assert decided["uploader/preview"]["counts"] != first["uploader/preview"]["counts"]

    # A roster import: a new band, named as the MIS names a class.
    roster = "pupil_id,first_name,last_name,band,year_group\np9,Freya,MacLeod,Class 4x/Ma1,4\n"
    imported = await after(
        lambda: client.post(f"{base}/roster", content=roster, headers={**headers, "content-type": "text/csv"})
    )
    assert imported != decided

    # A read of the MIS that renames a class.
    read = MisRead()
    read.add_class(WondeClass.model_validate({"id": "C-4B", "name": "4B Willow"}))
    renamed = await after(lambda: write_read(session, school.school_id, read.finish(), complete=False))
    assert {r["name"] for r in renamed["uploader"] if r["wonde_class_id"] == "C-4B"} == {"4B Willow"}

    # Nothing changed since: kept again.
    loads.clear()
    assert await screens() == renamed
    assert loads == []


async def test_what_is_kept_is_sealed(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, settings: Settings
) -> None:
    school = await small_school(session)
    session.add(decide(school, school.other_form, "import"))
    await session.flush()
    response = await client.get(f"/v1/schools/{school.school_id}/uploader/preview", headers=auth(school.school_id))
    assert "Zain" in response.text  # of 4C: the merge would make him an account
    redis = Redis.from_url(settings.redis_url)
    try:
        namespace = sealed_cache.namespace_for(settings.database_url)
        keys = [k async for k in redis.scan_iter(f"{namespace}:uploader.preview:*:{school.school_id}")]
        assert len(keys) == 1
        assert b"Zain" not in keys[0]
        sealed = await redis.get(keys[0])
        assert 0 < await redis.ttl(keys[0]) <= 15 * 60
    finally:
        await redis.aclose()
    assert b"Zain" not in sealed
    assert "Zain" in SecretBox(settings.encryption_key).decrypt(sealed)


async def test_requests_together_compute_once(
    committed: Committed, committing_client: httpx.AsyncClient, auth: TokenFactory, loads: list[str]
) -> None:
    school_id = committed.track(await school_with_forms_matched(committed.sessionmaker, pupils=300, seed=3))
    headers = auth(school_id)
    answers = await asyncio.gather(
        *(committing_client.get(f"/v1/schools/{school_id}/uploader", headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.content for a in answers}) == 1
    assert loads == [school_id]


async def test_the_api_answers_while_the_matcher_runs(
    committed: Committed, committing_client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    school_id = committed.track(await school_with_forms_matched(committed.sessionmaker, pupils=600, seed=4))
    pool = cpu.current()
    assert pool is not None, "the app's lifespan runs no process pool"
    view = asyncio.create_task(committing_client.get(f"/v1/schools/{school_id}/uploader", headers=auth(school_id)))
    while pool.in_flight == 0:
        assert not view.done(), "the view was computed without the process pool"
        await asyncio.sleep(0.001)
    health = await committing_client.get("/healthz")
    assert health.status_code == 200
    assert pool.in_flight > 0, "the matcher had finished before /healthz answered: it did not answer meanwhile"
    assert (await view).status_code == 200
