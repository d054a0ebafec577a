"""``bandsync demo`` on one database, again and again: each run walks the whole onboarding against a
sandbox of its own, checks every answer, and leaves no school behind (removing one an earlier run left)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.demo import DEMO_SCHOOL, SANDBOX_SCHOOL, DemoFailed, _call, main, walk_through
from app.models import School, WebhookEvent
from app.wonde.sandbox.generate import generate_school
from tests.fixtures.database import Committed

pytestmark = pytest.mark.slow

WONDE_SCHOOL = str(generate_school("primary", SANDBOX_SCHOOL["pupils"], SANDBOX_SCHOOL["seed"])["school"]["id"])  # type: ignore[arg-type]


async def _left_behind(committed: Committed) -> tuple[int, int]:
    async with committed.sessionmaker() as session:
        schools = await session.scalar(
            select(func.count()).where((School.id == DEMO_SCHOOL) | (School.wonde_school_id == WONDE_SCHOOL))
        )
        events = await session.scalar(select(func.count()).where(WebhookEvent.wonde_school_id == WONDE_SCHOOL))
    return schools or 0, events or 0


async def test_the_demo_runs_twice_and_leaves_no_school(settings: Settings, committed: Committed) -> None:
    # What the demo's earlier versions left: a school of their naming, bound to the sandbox's school.
    async with committed.sessionmaker() as session:
        session.add(School(id="demo-0a1b2c", name="Demo Primary", wonde_school_id=WONDE_SCHOOL))
        await session.commit()

    runs: list[list[str]] = []
    for _ in range(2):
        said: list[str] = []
        await walk_through(settings, said.append)
        runs.append(said)
        assert await _left_behind(committed) == (0, 0)

    first, second = runs
    assert first[0] == "0. Removed what an earlier run of the demo left behind: school demo-0a1b2c."
    assert not second[0].startswith("0.")
    for said in runs:
        assert [line.split(".")[0] for line in said if not line.startswith(" ")][-8:] == list("12345678")
        assert any(line.startswith("6. Merge queued") for line in said)
        assert any(line.startswith("   Run succeeded") for line in said)


async def test_a_school_not_the_demos_bound_to_its_wonde_school_stops_it(
    settings: Settings, committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    async with committed.sessionmaker() as session:
        session.add(School(id=committed.track("someone-elses"), name="Elm", wonde_school_id=WONDE_SCHOOL))
        await session.commit()

    assert await asyncio_main(settings) == 1

    err = capsys.readouterr().err
    assert "the demo stopped: the sandbox's Wonde school" in err
    assert "bound to school 'someone-elses', which is not the demo's" in err
    async with committed.sessionmaker() as session:
        assert await session.get(School, "someone-elses") is not None


async def asyncio_main(settings: Settings) -> int:
    """``main`` runs its own event loop: off this test's loop, in a thread."""
    import asyncio

    return await asyncio.to_thread(main, settings)


async def test_an_unexpected_answer_names_the_step_and_the_answer_not_the_secret() -> None:
    def refuse(_: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": "SchoolAlreadyExists", "detail": "A school with this id exists."})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://bandsync") as client:
        with pytest.raises(DemoFailed) as failed:
            await _call(client, "2. Wonde's approval", "POST", "/v1/webhooks/wonde?secret=s3cret", expect=202)

    assert str(failed.value) == (
        "2. Wonde's approval: POST /v1/webhooks/wonde answered 409 (expected 202): "
        "SchoolAlreadyExists: A school with this id exists."
    )
