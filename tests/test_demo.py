"""``bandsync demo`` on one database, again and again: each run walks the whole onboarding against a
sandbox of its own, checks every answer, and leaves no school behind (removing one an earlier run left)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.demo import DEMO_SCHOOL, SANDBOX_PUPILS, SANDBOX_SEED, DemoFailed, _call, main, walk_through
from app.models import School, WebhookEvent
from app.wonde.sandbox.generate import generate_school
from tests.fixtures.database import Committed

pytestmark = pytest.mark.slow

# The Wonde school the demo generates in its sandbox (the same every time).
WONDE_SCHOOL = str(generate_school("primary", SANDBOX_PUPILS, SANDBOX_SEED)["school"]["id"])


async def _left_behind(committed: Committed) -> tuple[int, int]:
    async with committed.sessionmaker() as session:
        schools = await session.scalar(
            select(func.count()).where((School.id == DEMO_SCHOOL) | (School.wonde_school_id == WONDE_SCHOOL))
        )
        events = await session.scalar(select(func.count()).where(WebhookEvent.wonde_school_id == WONDE_SCHOOL))
    return schools or 0, events or 0


async def test_the_demo_runs_twice_and_leaves_no_school(
    settings: Settings, committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the demo's earlier versions left: a school of their naming, bound to the sandbox's school.
    async with committed.sessionmaker() as session:
        session.add(School(id=committed.track("demo-0a1b2c"), name="Demo Primary", wonde_school_id=WONDE_SCHOOL))
        await session.commit()
    committed.track(DEMO_SCHOOL)  # should a run fail before its own clean-up

    first: list[str] = []
    await walk_through(settings, first.append)
    assert await _left_behind(committed) == (0, 0)
    assert first[0] == "0. Removed what an earlier run of the demo left behind: school demo-0a1b2c."

    # The second run as `make demo` runs it: the narration alone on stdout, no logs below WARNING.
    capsys.readouterr()
    assert await asyncio.to_thread(main, settings) == 0  # main runs its own event loop, off the test's
    out, err = capsys.readouterr()
    second = out.splitlines()
    assert await _left_behind(committed) == (0, 0)
    assert not second[0].startswith("0.")
    assert not any(line.startswith("{") for line in second)
    assert '"level": "INFO"' not in err

    for said in (first, second):
        assert [line.split(".")[0] for line in said if not line.startswith(" ")][-8:] == list("12345678")
        assert any(line.startswith("6. Merge queued") for line in said)
        assert any(line.startswith("   Run succeeded") for line in said)


async def test_a_school_not_the_demos_bound_to_its_wonde_school_stops_it(
    settings: Settings, committed: Committed, capsys: pytest.CaptureFixture[str]
) -> None:
    async with committed.sessionmaker() as session:
        session.add(School(id=committed.track("someone-elses"), name="Elm", wonde_school_id=WONDE_SCHOOL))
        await session.commit()

    assert await asyncio.to_thread(main, settings) == 1

    err = capsys.readouterr().err
    assert "the demo stopped: the sandbox's Wonde school" in err
    assert "bound to school 'someone-elses', which is not the demo's" in err
    async with committed.sessionmaker() as session:
        assert await session.get(School, "someone-elses") is not None


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
